"""Vote burst: N delegates' screens, connected over socket.io, cast their ballots within one
second; then every one of them tries a second ballot.

For each database (SQLite, PostgreSQL) the bench starts its own ``meetingd serve`` (seeded
with ``meetingd demo`` plus enough bridge points, through bench/realtime_fanout.py's cluster
helpers), connects N light socket.io clients (bench/_sio_light.py), opens an open vote whose
named electorate is the N bridge points (each voting for its room), and sends the N
``vote.cast`` commands spread evenly over one second. Measured: ack latency p50/p90/p99/max
(send to ack, wall clock, one machine; the clients run in the bench's own process on the
same cores, so the server's CPU, the time it waited for a CPU and the clients' CPU over the
burst are reported beside it), ballots accepted and committed (the closed vote's
result counts them, read from the database), duplicates refused (each client then casts
again: every one must be ``already_voted``), the live ``vote.counted`` events one client received
during the burst (coalesced), and the machine's load average around each run (others run
tests on this machine: figures taken under load say so).

Output: one JSON document on stdout; progress on stderr. Bounded; stops what it started.

    .venv/bin/python bench/vote_burst.py                 # N=500 on SQLite and PostgreSQL
    .venv/bin/python bench/vote_burst.py --n 100 --db sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sio_light import AckError, LightSocket
from realtime_fanout import (
    Cluster,
    _json,
    git_rev,
    kill_all_children,
    loadavg,
    pct,
    proc_cpu_s,
    proc_run_delay_s,
    progress,
    r,
    start_cluster,
    stop_cluster,
    wait_quiet,
)


def _subject(token: str) -> str:
    """The ``sub`` claim of a (signed) token: ``bridge_point:17``."""
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def _own_cpu_s() -> float:
    """CPU seconds of this process (the N clients run in it)."""
    t = os.times()
    return t.user + t.system


async def _connect_all(
    http: aiohttp.ClientSession, cl: Cluster, n: int, counted: list[float]
) -> list[LightSocket]:
    url = cl.servers[0].url
    sem = asyncio.Semaphore(20)

    def on_event(body: str, t: float) -> None:
        if body.startswith('["vote.counted"'):
            counted.append(t)

    async def one(i: int) -> LightSocket:
        async with sem:
            s = LightSocket(http, url, {"token": cl.bp_tokens[i]}, on_event if i == 0 else None)
            await s.connect()
            await s.call("meeting.join", {"meeting_id": cl.meeting_id})
            return s

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def run_one(db: str, n: int) -> dict[str, Any]:
    args = argparse.Namespace(
        redis=False, postgres=db == "postgresql", server="meetingd", server_env=[]
    )
    load_before = loadavg()
    cl = await start_cluster(args, n)
    socks: list[LightSocket] = []
    # One session for every socket: no connection limit (aiohttp's default is 100).
    sockets_http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        mid = cl.meeting_id
        base = cl.servers[0].url + f"/api/v1/meetings/{mid}"
        counted: list[float] = []
        socks = await _connect_all(sockets_http, cl, n, counted)
        progress(f"{db}: {n} connections joined")
        async with aiohttp.ClientSession() as http:
            # The electorate named: the n bridge points, each voting for its room. (With
            # "present" a roll call first sends every screen every answer, n x n events,
            # which is bench/realtime_fanout.py's subject, not this one's.)
            voters = [_subject(t) for t in cl.bp_tokens[:n]]
            vote = await _json(
                http, "POST", f"{base}/votes", cl.chair_token,
                {"question": "Thông qua nghị quyết?", "bridge_points_vote": True,
                 "electorate": "named", "voters": voters},
            )  # fmt: skip
            assert len(vote["electors"]) == n, len(vote["electors"])
            payload = {"meeting_id": mid, "vote_id": vote["id"]}

            acks: list[float] = []
            errors: dict[str, int] = {}

            async def cast(i: int, s: LightSocket, t0: float) -> None:
                await asyncio.sleep(max(0.0, t0 + i / n - time.monotonic()))
                sent = time.monotonic()
                try:
                    got = await s.call("vote.cast", {**payload, "choice": [i % 3]}, within=30)
                except AckError as exc:
                    errors[str(exc)] = errors.get(str(exc), 0) + 1
                    return
                if got.get("ok"):
                    acks.append(time.monotonic() - sent)
                else:
                    code = got["error"]["code"]
                    errors[code] = errors.get(code, 0) + 1

            pid = cl.servers[0].pid
            await wait_quiet([pid])  # the vote's opening and the joins' echoes are over
            cpu0, delay0, own0 = proc_cpu_s(pid), proc_run_delay_s(pid), _own_cpu_s()
            t0 = time.monotonic()
            counted.clear()
            await asyncio.gather(*(cast(i, s, t0) for i, s in enumerate(socks)))
            burst = time.monotonic() - t0
            server_cpu = proc_cpu_s(pid) - cpu0
            server_delay = proc_run_delay_s(pid) - delay0
            clients_cpu = _own_cpu_s() - own0
            events_in_burst = len(counted)
            load_during = loadavg()

            dup: dict[str, int] = {}

            async def again(i: int, s: LightSocket) -> None:
                got = await s.call("vote.cast", {**payload, "choice": [(i + 1) % 3]}, within=30)
                key = "accepted" if got.get("ok") else got["error"]["code"]
                dup[key] = dup.get(key, 0) + 1

            await asyncio.gather(*(again(i, s) for i, s in enumerate(socks)))
            closed = await _json(http, "POST", f"{base}/votes/{vote['id']}/close", cl.chair_token)
        acks.sort()
        result = closed["result"]
        return {
            "database": db,
            "n": n,
            "burst_seconds": r(burst, 3),
            "ack_ms": {
                "p50": r((pct(acks, 50) or 0) * 1000),
                "p90": r((pct(acks, 90) or 0) * 1000),
                "p99": r((pct(acks, 99) or 0) * 1000),
                "max": r((acks[-1] if acks else 0) * 1000),
            },
            "accepted": len(acks),
            "refused_in_burst": errors,
            "committed": result["ballots"],
            "counts": result["counts"],
            "duplicates": {"sent": n, **dup},
            "vote_counted_events_during_burst": events_in_burst,
            # the server's CPU over the burst, the time its main thread waited for a CPU
            # that others (the clients, other jobs) held, and the clients' own CPU
            "server_cpu_s": r(server_cpu, 3),
            "server_run_queue_delay_s": r(server_delay, 3),
            "clients_cpu_s": r(clients_cpu, 3),
            "loadavg_before": load_before,
            "loadavg_during": load_during,
            "goal_met": len(acks) == n == result["ballots"]
            and dup.get("accepted", 0) == 0
            and (pct(acks, 99) or 1) < 0.2,
        }
    finally:
        await asyncio.gather(*(s.close() for s in socks), return_exceptions=True)
        await sockets_http.close()
        await stop_cluster(cl)


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    runs = [await run_one(db, args.n) for db in args.db.split(",")]
    return {
        "bench": "vote_burst",
        "git": git_rev(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "note": "shared machine: other engineers run tests on it; see loadavg"},
        "runs": runs,
    }  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=500, help="voters (bridge points)")
    p.add_argument("--db", default="sqlite,postgresql", help="sqlite, postgresql or both")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    args = p.parse_args()
    try:
        out = asyncio.run(asyncio.wait_for(amain(args), 900))
    finally:
        kill_all_children()
    text = json.dumps(out, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
