"""Benchmark: a province meeting on three meetingd processes (PostgreSQL, Redis, cascade).

One meeting, ``--servers`` (3) ``meetingd serve`` processes on one throwaway PostgreSQL
database and Redis (their own channel), each with its media plane and, once the control
plane wires it, a cascade node. The chair (a user, on process 0) and ``--bridge-points``
bridge points (round-robin over the processes) join over socket.io, each with a real aiortc
peer signalled through ``rtc.offer`` / ``rtc.offered`` / ``rtc.answer`` on its meeting
socket. Every participant publishes Opus audio and a low-rate VP8 video (pre-encoded,
160x120 at 10 fps by default); one bridge point on process 1 asks for the floor and the chair
grants it, so every bridge point should receive the chair and that speaker whatever process
it is on. Clients live in ``--client-procs`` processes (``_province_clients.py``) and count
complete frames per receive slot without decoding.

Reported over a fixed window: CPU (utime+stime from /proc) of every server and client
process; the inter-node streams of each process from its ``/metrics``
(``meetingd_media_cascade_streams{peer, direction}``; goal: one per published stream and
node pair); per server process, min / median receive fps of the chair's and the speaker's
video at its bridge points and their freezes (gaps > 1 s); join-to-first-frame; ``uptime``
load before and after; the git revision.

    .venv/bin/python bench/province.py --bridge-points 30 --window 10
    .venv/bin/python bench/province.py --quick
    .venv/bin/python bench/province.py --placement one    # everyone on process 0 (no cascade)

Prints one JSON document on stdout; progress on stderr. Every process it starts is bounded
(``--max-seconds``) and stopped by its PID at the end, on error too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent), str(BENCH_DIR)]
import realtime_fanout as rf  # noqa: E402
from _media_common import CpuWindow, loadavg, percentile, progress, wait_for_quiet  # noqa: E402
from _media_harness import Child  # noqa: E402

CASCADE_SERIES = "meetingd_media_cascade"
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def uptime() -> str:
    with contextlib.suppress(OSError):
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return " ".join(str(x) for x in loadavg())


# -- servers ------------------------------------------------------------------------------


async def start_province(args: argparse.Namespace) -> rf.Cluster:
    """``args.servers`` meetingd processes on one new PostgreSQL database and Redis."""
    data_dir = Path(tempfile.mkdtemp(prefix="meetingd-province-"))
    pg_db = f"meetingd_province_{os.getpid()}_{int(time.time())}"
    await rf._pg(f'CREATE DATABASE "{pg_db}"')
    env = {
        "MEETINGD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE_ADDRESS": "10000",
        "MEETINGD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE_ACCOUNT": "10000",
        "MEETINGD_DATABASE_URL": (
            rf.PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
            + "/" + pg_db),
        "MEETINGD_REALTIME_REDIS_URL": rf.REDIS_URL,
        # our own channel: other engineers' runs share this Redis (and its meeting ids)
        "MEETINGD_REALTIME_REDIS_CHANNEL": f"bench-province-{os.getpid()}",
        "MEETINGD_MEDIA_LISTEN_IPS": "127.0.0.1",
        "MEETINGD_MEDIA_CASCADE_ADDRESS": "127.0.0.1:0",
    }
    env.update(dict(kv.split("=", 1) for kv in args.server_env))
    cl = rf.Cluster("meetingd", [], data_dir, env_overrides=env, pg_db=pg_db)
    cl.database = "postgresql"
    senv = rf._server_env(env)
    seed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "meetingd", "demo", "--data-dir", str(data_dir),
        cwd=rf.REPO, env=senv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    rf._CHILDREN[seed.pid] = "seed"
    _, seed_err = await asyncio.wait_for(seed.communicate(), 120)
    rf._CHILDREN.pop(seed.pid, None)
    if seed.returncode != 0:
        raise RuntimeError(f"meetingd demo failed: {seed_err.decode()[-2000:]}")
    for i in range(args.servers):
        port = rf.free_port()
        cmd = [sys.executable, "-m", "meetingd", "serve", "--data-dir", str(data_dir),
               "--port", str(port)]
        cl.servers.append(rf._spawn_server(cmd, senv, data_dir / f"server{i}.log", port))
    for s in cl.servers:
        await rf._wait_healthy(s)
    await rf._seed_meeting(cl, args.bridge_points)
    return cl


def parse_metrics(text: str, prefix: str = CASCADE_SERIES) -> list[dict[str, Any]]:
    """Samples of the Prometheus text whose name starts with ``prefix``."""
    out = []
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        with contextlib.suppress(ValueError):
            out.append({"name": m.group(1), "labels": labels, "value": float(m.group(3))})
    return out


async def cascade_metrics(http: aiohttp.ClientSession, cl: rf.Cluster) -> list[dict[str, Any]]:
    """Per process: the cascade's series of its /metrics (empty when it has none)."""
    out = []
    for s in cl.servers:
        try:
            async with http.get(s.url + "/metrics") as r:
                text = await r.text()
            out.append({"samples": parse_metrics(text), "status": r.status})
        except (aiohttp.ClientError, OSError) as exc:
            out.append({"samples": [], "error": repr(exc)})
    return out


def streams_by_pair(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """``meetingd_media_cascade_streams`` per process, peer and direction."""
    per: dict[str, Any] = {}
    for i, m in enumerate(metrics):
        d: dict[str, float] = {}
        for s in m["samples"]:
            if s["name"] == "meetingd_media_cascade_streams":
                key = f'{s["labels"].get("direction", "?")}:{s["labels"].get("peer", "?")}'
                d[key] = d.get(key, 0) + s["value"]
        per[f"server{i}"] = d
    return per


def node_ids(per: dict[str, Any]) -> dict[str, str]:
    """node id -> ``server<i>``: a process's own id is the one its peers know and it lacks."""
    peers = {k: {key.split(":", 1)[1] for key in d} for k, d in per.items()}
    every = set().union(*peers.values()) if peers else set()
    out: dict[str, str] = {}
    for k, ids in peers.items():
        own = every - ids
        if len(own) == 1:
            out[own.pop()] = k
    return out


def inter_node(metrics: list[dict[str, Any]], reports: list[dict[str, Any]],
               server_of: dict[str, int]) -> dict[str, Any]:
    """Streams on each ordered node pair, from /metrics, against what the receivers show.

    ``needed``: the distinct (source, kind) that some participant on the receiving process
    got frames of from a source on the origin process: what must cross that pair, once.
    """
    per = streams_by_pair(metrics)
    names = node_ids(per)
    clients = [c for r in reports for c in r["clients"]]
    home = {c["subject"]: f"server{server_of[c['id']]}" for c in clients if c.get("subject")}
    needed: dict[str, set[str]] = {}
    for c in clients:
        at = f"server{server_of[c['id']]}"
        for s in c["slots"]:
            origin = home.get(s["subject"] or "")
            if origin and origin != at and s["frames_total"] > 0:
                needed.setdefault(f"{origin}->{at}", set()).add(f"{s['kind']}:{s['subject']}")
    pairs: dict[str, Any] = {}
    for k, d in per.items():
        for key, v in d.items():
            direction, peer = key.split(":", 1)
            other = names.get(peer, peer)
            pair = f"{k}->{other}" if direction == "out" else f"{other}->{k}"
            e = pairs.setdefault(pair, {"needed": len(needed.get(pair, ())),
                                        "out_at_origin": None, "in_at_receiver": None})
            e["out_at_origin" if direction == "out" else "in_at_receiver"] = v
    for pair, want in needed.items():
        pairs.setdefault(pair, {"needed": len(want), "out_at_origin": None,
                                "in_at_receiver": None})
    ok = bool(pairs) and all(
        e["out_at_origin"] == e["needed"] and e["in_at_receiver"] == e["needed"]
        for e in pairs.values())
    return {
        "pairs": dict(sorted(pairs.items())),
        "needed_streams": {k: sorted(v) for k, v in sorted(needed.items())},
        "node_ids": names,
        "metrics_present": any(m["samples"] for m in metrics),
        "goal": "one per published stream and node pair: out = in = needed on every pair",
        "goal_met": ok,
        "raw": per,
    }


# -- clients ------------------------------------------------------------------------------


async def start_clients(name: str, spec: dict[str, Any], spec_dir: Path) -> Child:
    path = spec_dir / f"{name}.json"
    path.write_text(json.dumps({"name": name, **spec}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH_DIR / "_province_clients.py"), "--spec", str(path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=rf.REPO,
        limit=64 * 1024 * 1024)
    rf._CHILDREN[proc.pid] = name
    child = Child(name, proc)
    await child.expect("ready", 120)
    return child


async def wait_media(children: list[Child], chair_subject: str,
                     speaker: str, speaker_subject: str,
                     within: float) -> dict[str, list[Any]]:
    """Until every bridge point has frames from the chair's and the speaker's video (the
    speaker itself the chair's), or ``within`` s; returns who still lacks what."""
    deadline = time.monotonic() + within
    missing: dict[str, list[Any]] = {}
    while True:
        missing = {}
        for ch in children:
            st = await ch.call({"cmd": "status"}, "status", 60)
            for pid, slots in st["clients"].items():
                if pid == "chair":
                    continue
                need = [f"video:{chair_subject}"]
                if pid != speaker:
                    need.append(f"video:{speaker_subject}")
                lack = [k for k in need if slots.get(k, 0) < 3]
                if lack:
                    # what it lacks; the server's slot offers it got and answered; its slots
                    missing[pid] = [*lack, {"offers_received_applied": st["offers"][pid],
                                            "state": st["states"][pid], "slots": slots}]
        if not missing or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(1.0)


# -- figures ------------------------------------------------------------------------------


def _fps_figures(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "min": round(min(values), 2),
            "median": round(statistics.median(values), 2),
            "below_half_rate": None}


def summarise(reports: list[dict[str, Any]], server_of: dict[str, int], n_servers: int,
              chair_subject: str, speaker_subject: str, fps: float) -> dict[str, Any]:
    """Per server process: the chair's and speaker's video at its bridge points."""
    out: dict[str, Any] = {}
    all_clients = [c for r in reports for c in r["clients"]]
    for i in range(n_servers):
        group = [c for c in all_clients if server_of.get(c["id"]) == i and c["id"] != "chair"]
        fig: dict[str, Any] = {"bridge_points": len(group)}
        for who, subject in (("chair", chair_subject), ("speaker", speaker_subject)):
            fpss, freezes, first, gaps, missing = [], 0, [], [], 0
            for c in group:
                slots = [s for s in c["slots"] if s["kind"] == "video" and s["subject"] == subject]
                if not slots:
                    if not (who == "speaker" and c["subject"] == speaker_subject):
                        missing += 1
                    continue
                s = slots[0]
                fpss.append(s["fps"])
                freezes += s["freezes_window"]
                gaps.append(s["max_gap_window_s"])
                if s["first_frame_after_join_s"] is not None:
                    first.append(s["first_frame_after_join_s"])
            f = _fps_figures(fpss)
            f["below_half_rate"] = sum(1 for x in fpss if x < fps / 2)
            f["without_slot"] = missing
            f["freezes_over_1s"] = freezes
            f["max_gap_s"] = round(max(gaps), 3) if gaps else None
            first.sort()
            f["join_to_first_frame_s"] = {
                "p50": percentile(first, 50), "p95": percentile(first, 95),
                "max": max(first) if first else None}
            fig[who + "_video"] = f
        audio = [s["fps"] for c in group for s in c["slots"]
                 if s["kind"] == "audio" and s["subject"] == chair_subject]
        fig["chair_audio_pps"] = _fps_figures(audio)
        fig["errors"] = [c["error"] for c in group if c["error"]][:5]
        fig["not_connected"] = sum(1 for c in group if c["connection_state"] != "connected")
        out[f"server{i}"] = fig
    return out


# -- the run ------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.bridge_points
    doc: dict[str, Any] = {
        "bench": "province", "git_rev": rf.git_rev(), "python": platform.python_version(),
        "machine_cores": os.cpu_count(), "uptime_before": uptime(),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    doc["machine_before"] = await wait_for_quiet(args.quiet_below, args.quiet_wait)
    cl: rf.Cluster | None = None
    children: list[Child] = []
    spec_dir = Path(tempfile.mkdtemp(prefix="province-specs-"))
    t_start = time.monotonic()
    try:
        progress(f"starting {args.servers} meetingd processes on PostgreSQL + Redis, "
                 f"{n} bridge points")
        cl = await start_province(args)
        servers = cl.servers
        placement = (lambda i: 0) if args.placement == "one" else (lambda i: i % len(servers))
        # participants: the chair on process 0; bridge point i on process i % S; the
        # speaker is bridge point 1 (process 1)
        people: list[dict[str, Any]] = [
            {"id": "chair", "token": cl.chair_token, "server": servers[0].url}]
        server_of = {"chair": 0}
        for i, tok in enumerate(cl.bp_tokens):
            sv = placement(i)
            people.append({"id": f"bp{i:03d}", "token": tok, "server": servers[sv].url})
            server_of[f"bp{i:03d}"] = sv
        speaker = "bp001" if n > 1 else "bp000"
        k = max(1, args.client_procs)
        groups: list[list[dict[str, Any]]] = [[] for _ in range(k)]
        for j, p in enumerate(people):
            groups[j % k].append(p)
        video = {"width": args.width, "height": args.height, "fps": args.fps,
                 "kbps": args.kbps, "gop": args.gop}
        budget = args.max_seconds
        for j, g in enumerate(groups):
            children.append(await start_clients(f"clients{j}", {
                "meeting_id": cl.meeting_id, "video": video, "rcvbuf": args.client_rcvbuf,
                "audio_ptime_ms": args.audio_ptime,
                "max_seconds": budget, "participants": g}, spec_dir))
        where = {p["id"]: children[j % k] for j, p in enumerate(people)}
        doc["processes"] = {
            "servers": [{"pid": s.pid, "url": s.url} for s in servers],
            "clients": [{"name": c.name, "pid": c.pid, "participants": len(g)}
                        for c, g in zip(children, groups, strict=True)],
        }

        progress("chair and speaker join")
        t_join = time.monotonic()
        subjects: dict[str, str] = {}
        for who in ("chair", speaker):
            got = await where[who].call({"cmd": "join", "schedule": {who: 0}}, "joined", 120)
            if got["errors"]:
                raise RuntimeError(f"{who} could not join: {got['errors']}")
            subjects[who] = got["subjects"][who]
        req = await where[speaker].call({"cmd": "call", "id": speaker, "name": "floor.request"},
                                        "called", 60)
        if not req["ok"]:
            raise RuntimeError(f"floor.request: {req}")
        speaker_subject = req["data"]["subject"]
        grant = await where["chair"].call(
            {"cmd": "call", "id": "chair", "name": "floor.grant",
             "data": {"subject": speaker_subject}}, "called", 60)
        if not grant["ok"]:
            raise RuntimeError(f"floor.grant: {grant}")
        layout = await where["chair"].call(
            {"cmd": "call", "id": "chair", "name": "rtc.layout"}, "called", 60)
        rest = [p["id"] for p in people if p["id"] not in ("chair", speaker)]
        progress(f"{speaker} ({speaker_subject}, on server{server_of[speaker]}) has the floor; "
                 f"{len(rest)} bridge points join {args.join_interval}s apart")
        schedule = {pid: i * args.join_interval for i, pid in enumerate(rest)}
        joined = await asyncio.gather(*(
            ch.call({"cmd": "join", "schedule": {p: schedule[p] for p in rest if where[p] is ch}},
                    "joined", budget)
            for ch in children))
        join_errors = {k2: v for j in joined for k2, v in j["errors"].items()}
        doc["client_loop_lag_joining"] = {c.name: j.get("loop_lag")
                                          for c, j in zip(children, joined, strict=True)}
        doc["join"] = {"seconds": round(time.monotonic() - t_join, 1),
                       "errors": len(join_errors), "first_errors": dict(list(
                           join_errors.items())[:5])}
        chair_subject = subjects["chair"]
        progress(f"all joined in {doc['join']['seconds']} s ({len(join_errors)} errors); "
                 f"chair is {chair_subject}; waiting for media")
        missing = await wait_media(children, chair_subject, speaker, speaker_subject,
                                   args.media_wait)
        doc["media_wait"] = {"seconds": round(time.monotonic() - t_join, 1),
                             "still_missing": len(missing),
                             "first_missing": dict(list(missing.items())[:8])}
        progress(f"media: {len(missing)} bridge points still lack a stream; "
                 f"settle {args.settle}s, window {args.window}s")
        await asyncio.sleep(args.settle)
        pids = {f"server{i}": s.pid for i, s in enumerate(servers)}
        pids.update({c.name: c.pid for c in children})
        cpu = CpuWindow(pids)
        async with aiohttp.ClientSession() as http:
            m0 = await cascade_metrics(http, cl)
            for c in children:
                await c.call({"cmd": "window_start"}, "window_started", 60)
            doc["loadavg_window_start"] = loadavg()
            cpu.start()
            await asyncio.sleep(args.window)
            cpu_res = cpu.stop()
            doc["loadavg_window_end"] = loadavg()
            reports = [await c.call({"cmd": "window_stop"}, "report", 120) for c in children]
            m1 = await cascade_metrics(http, cl)
        doc["cpu"] = cpu_res
        doc["client_loop_lag_window"] = {c.name: r.get("loop_lag")
                                         for c, r in zip(children, reports, strict=True)}
        doc["server_cores"] = {k2: v for k2, v in cpu_res["cores"].items()
                               if k2.startswith("server")}
        doc["client_cores"] = {k2: v for k2, v in cpu_res["cores"].items()
                               if k2.startswith("clients")}
        doc["inter_node_streams"] = inter_node(m1, reports, server_of)
        doc["cascade_metrics_window_start"] = m0
        doc["cascade_metrics_window_end"] = m1
        doc["speaker"] = {"id": speaker, "subject": speaker_subject,
                          "server": server_of[speaker]}
        doc["chair"] = {"subject": chair_subject, "server": 0,
                        "layout": layout.get("data")}
        doc["receive"] = summarise(reports, server_of, len(servers), chair_subject,
                                   speaker_subject, args.fps)
        chair_rep = next(c for r in reports for c in r["clients"] if c["id"] == "chair")
        doc["chair_receives"] = {
            "video_slots_with_frames": sum(1 for s in chair_rep["slots"]
                                           if s["kind"] == "video" and s["fps"] > 0),
            "speaker_video_fps": next((s["fps"] for s in chair_rep["slots"]
                                       if s["kind"] == "video"
                                       and s["subject"] == speaker_subject), None),
            "speaker_audio_pps": next((s["fps"] for s in chair_rep["slots"]
                                       if s["kind"] == "audio"
                                       and s["subject"] == speaker_subject), None),
        }
        doc["publishers_sent_fps_min"] = {
            kind: min((c["sent_fps"].get(kind, 0) for r in reports for c in r["clients"]),
                      default=None)
            for kind in ("audio", "video")}
        if args.keep_reports:
            doc["reports"] = reports
        doc["server_log_problems"] = rf.log_problems(cl)
    finally:
        for c in children:
            with contextlib.suppress(Exception):
                await c.send({"cmd": "quit"})
        for c in children:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(c.proc.wait(), 10)
            rf.kill_pid(c.pid)
        if cl is not None and args.keep_logs:
            rf.OUT_DIR.mkdir(parents=True, exist_ok=True)
            for i, s in enumerate(cl.servers):
                with contextlib.suppress(OSError):
                    (rf.OUT_DIR / f"province_server{i}.log").write_bytes(s.log.read_bytes())
        await rf.stop_cluster(cl)
    doc["seconds"] = round(time.monotonic() - t_start, 1)
    doc["uptime_after"] = uptime()
    return doc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bridge-points", type=int, default=200)
    p.add_argument("--servers", type=int, default=3)
    p.add_argument("--placement", choices=["roundrobin", "one"], default="roundrobin",
                   help="one: every participant on process 0 (the cascade unused)")
    p.add_argument("--client-procs", type=int, default=2)
    p.add_argument("--window", type=float, default=15.0)
    p.add_argument("--settle", type=float, default=8.0)
    p.add_argument("--join-interval", type=float, default=0.1, help="s between joins")
    p.add_argument("--media-wait", type=float, default=60.0,
                   help="s for every bridge point to see the chair and the speaker")
    p.add_argument("--width", type=int, default=160)
    p.add_argument("--height", type=int, default=120)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--kbps", type=int, default=100)
    p.add_argument("--gop", type=int, default=20, help="frames between keyframes")
    p.add_argument("--audio-ptime", type=int, default=20, choices=[20, 40, 60],
                   help="ms of audio per Opus packet")
    p.add_argument("--client-rcvbuf", type=int, default=4 * 1024 * 1024)
    p.add_argument("--quiet-below", type=float, default=0.6)
    p.add_argument("--quiet-wait", type=float, default=60.0)
    p.add_argument("--max-seconds", type=float, default=900.0,
                   help="every client process exits after this")
    p.add_argument("--server-env", action="append", default=[], metavar="MEETINGD_X=Y")
    p.add_argument("--quick", action="store_true", help="30 bridge points, 8 s window")
    p.add_argument("--keep-reports", action="store_true", help="every participant's slots")
    p.add_argument("--keep-logs", action="store_true", help="server logs to bench/out/")
    p.add_argument("--out", "--json-out", dest="out", type=Path)
    args = p.parse_args()
    if args.quick:
        args.bridge_points, args.window, args.settle = 30, 8.0, 4.0

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        doc = asyncio.run(asyncio.wait_for(run(args), args.max_seconds + 120))
    finally:
        rf.kill_all_children()
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
