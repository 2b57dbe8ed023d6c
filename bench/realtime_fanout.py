"""Socket.io fan-out: N connections in one meeting, the chair causes events on a schedule.

For each N the bench starts its own server (or two, sharing PostgreSQL and Redis), seeds it
with ``meetingd demo`` plus enough bridge points, logs them in, opens and starts the meeting,
and spreads N socket.io connections over one or two client processes (light clients from
``bench/_sio_light.py``, never one ``socketio.AsyncClient`` per connection). Every connection
joins the meeting; then the chair, on its own connection, sends ``meeting.move_to_item``
alternating between two agenda items, ``--events`` times at ``--rate`` per second (each
command waits for the previous ack, so a slow server shows as commands issued late).

Measured per N:

* delivery latency of the chair's events: the event's ``at`` (stamped when it is appended
  inside its transaction, just before the commit: the figure slightly over-states
  commit-to-receipt) to the client's receipt, wall clock on the same machine;
* delay behind schedule: how late each command was issued and acked after its slot, and how
  late the last connection received each event after its slot (and whether that grows);
* events lost, duplicated or out of order, by ``seq`` per connection, over everything after
  the connection's join ``seq`` (presence events included);
* server CPU (utime+stime from /proc/PID/stat over the event phase), the idle CPU of the
  joined connections (pings), resident memory per connection (RSS delta / N);
* client CPU per client process, and whether a client process was saturated.

Output: one JSON document on stdout; progress on stderr. Every run is bounded and stops the
processes it started, by PID, on error too.

    .venv/bin/python bench/realtime_fanout.py --n 100,500,1000,2000
    .venv/bin/python bench/realtime_fanout.py --redis --n 500,2000
    .venv/bin/python bench/realtime_fanout.py --quick
    .venv/bin/python bench/realtime_fanout.py --server plain   # plain python-socketio baseline
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
SELF = Path(__file__).resolve()
sys.path.insert(0, str(BENCH_DIR))

from _sio_light import AckError, LightSocket, Refused  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MEASURED = "agenda.moved"
PG_ADMIN = os.environ.get("PG_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = "redis://127.0.0.1:6379/0"

#: Every PID this process started; killed on the way out whatever happens.
_CHILDREN: dict[int, str] = {}


def progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def parse_at(at: str) -> float:
    return datetime.fromisoformat(at).timestamp()


# -- /proc --------------------------------------------------------------------------------


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_run_delay_s(pid: int) -> float:
    """Time the main thread spent runnable but waiting for a CPU (other processes had it)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def proc_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE // 1024


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def git_rev() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "meetingd"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        return rev + ("+dirty(meetingd/)" if dirty else "")
    except OSError:
        return "unknown"


def kill_pid(pid: int, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; reaps it if it is our child."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        _CHILDREN.pop(pid, None)
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid if not Path(f"/proc/{pid}").exists() else 0
        if done:
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    _CHILDREN.pop(pid, None)


def kill_all_children() -> None:
    for pid in list(_CHILDREN):
        kill_pid(pid, grace=3.0)


# =========================================================================================
# Client worker process
# =========================================================================================


@dataclass(eq=False)
class _Conn:
    url: str
    token: str
    sock: LightSocket | None = None
    join_seq: int | None = None
    error: str | None = None
    seqs: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    last: int = 0


async def worker_main() -> None:
    """Holds a share of the connections; talks JSON lines with the orchestrator."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=256 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    cfg = json.loads(await reader.readline())

    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    meeting_id = cfg["meeting_id"]
    conns = [_Conn(url, token) for url, token in cfg["conns"]]
    ats: dict[int, str] = {}
    types: dict[int, str] = {}
    loads = json.loads

    def handler(conn: _Conn) -> Any:
        seqs, times = conn.seqs, conn.times

        def on_event(body: str, t: float) -> None:
            msg = loads(body)
            p = msg[1] if len(msg) > 1 else None
            if type(p) is not dict:
                return
            seq = p.get("seq")
            if seq is None:
                return
            seqs.append(seq)
            times.append(t)
            if seq > conn.last:
                conn.last = seq
            if seq not in ats:
                ats[seq] = p.get("at", "")
                types[seq] = msg[0]

        return on_event

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    session = aiohttp.ClientSession(timeout=timeout, connector=connector)
    sem = asyncio.Semaphore(cfg.get("connect_concurrency", 50))
    t_start = time.monotonic()
    cpu0 = os.times()

    connect_s: list[float] = []
    join_s: list[float] = []
    step_timeout = float(cfg.get("step_timeout", 120))

    async def open_one(c: _Conn) -> None:
        async with sem:
            sock = LightSocket(
                session, c.url, {"token": c.token}, handler(c), compress=cfg.get("compress", 0)
            )
            try:
                t0 = time.monotonic()
                await sock.connect(within=step_timeout)
                t1 = time.monotonic()
                c.sock = sock
                ack = await sock.call(
                    "meeting.join", {"meeting_id": meeting_id}, within=step_timeout
                )
                if not ack.get("ok"):
                    c.error = f"join refused: {ack.get('error')}"
                    return
                c.join_seq = int(ack["data"]["seq"])
                connect_s.append(t1 - t0)
                join_s.append(time.monotonic() - t1)
            except (Refused, AckError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                c.error = f"{type(exc).__name__}: {exc}"

    # First devices first (the orchestrator orders them), in two waves so that the presence
    # events of first arrivals reach fewer sockets; the rest join with no presence change.
    first = cfg.get("first_wave", len(conns))
    await asyncio.gather(*(open_one(c) for c in conns[:first]))
    await asyncio.gather(*(open_one(c) for c in conns[first:]))
    joined = [c for c in conns if c.join_seq is not None]
    errors: dict[str, int] = defaultdict(int)
    for c in conns:
        if c.error:
            errors[c.error[:160]] += 1
    cpu1 = os.times()
    say(
        {
            "ready": {
                "conns": len(conns),
                "joined": len(joined),
                "errors": dict(errors),
                "seconds": round(time.monotonic() - t_start, 2),
                "cpu_s": round(cpu1.user + cpu1.system - cpu0.user - cpu0.system, 2),
                "connect_s": sorted(round(x, 3) for x in connect_s),
                "join_s": sorted(round(x, 3) for x in join_s),
            }
        }
    )

    line = await reader.readline()  # "go"
    if not line.startswith(b"go"):
        return
    go_wall = time.monotonic()
    go_time = time.time()
    cpu_go = os.times()
    delay_go = proc_run_delay_s(os.getpid())
    line = await reader.readline()  # {"final_seq", "deadline_s"}
    fin = json.loads(line)
    final_seq: int = fin["final_seq"]
    deadline = time.monotonic() + float(fin["deadline_s"])
    while time.monotonic() < deadline:
        behind = [c for c in joined if c.last < final_seq and c.sock is not None and c.sock.is_open]
        if not behind:
            break
        await asyncio.sleep(0.05)
    cpu_end = os.times()
    end_wall = time.monotonic()
    delay_end = proc_run_delay_s(os.getpid())

    # -- results (off the hot path) --
    at_ts = {s: parse_at(a) for s, a in ats.items() if a}
    measured = set(fin.get("measured_seqs") or [])
    lat: list[float] = []
    last_rx: dict[int, float] = {}
    first_rx: dict[int, float] = {}
    lost = dup = ooo = undelivered = expected = dropped = stale = 0
    for c in joined:
        assert c.join_seq is not None
        want = range(c.join_seq + 1, final_seq + 1)
        expected += len(want)
        fresh = [s for s in c.seqs if s > c.join_seq]
        stale += len(c.seqs) - len(fresh)  # at or below the join seq: allowed, ignored
        got = set(fresh)
        dup += len(fresh) - len(got)
        top = max(got) if got else c.join_seq
        for s in want:
            if s not in got:
                if s < top:
                    lost += 1
                else:
                    undelivered += 1
        prev = -1
        for s in fresh:
            if s < prev:
                ooo += 1
            prev = s
        if c.sock is not None and not c.sock.is_open:
            dropped += 1
        for s, t in zip(c.seqs, c.times, strict=True):
            if s in measured and s in at_ts:
                lat.append(round((t - at_ts[s]) * 1000, 2))
                if t > last_rx.get(s, 0.0):
                    last_rx[s] = t
                if s not in first_rx or t < first_rx[s]:
                    first_rx[s] = t
    drop_reasons: dict[str, int] = defaultdict(int)
    for c in joined:
        if c.sock is not None and not c.sock.is_open:
            drop_reasons[(c.sock.closed_reason or "?")[:120]] += 1
    say(
        {
            "result": {
                "joined": len(joined),
                "latencies_ms": lat,
                "last_rx": {str(k): v for k, v in last_rx.items()},
                "first_rx": {str(k): v for k, v in first_rx.items()},
                "expected": expected,
                "received": sum(len(c.seqs) for c in joined) - stale,
                "received_in_window": sum(1 for c in joined for t in c.times if t >= go_time),
                "stale_at_or_below_join_seq": stale,
                "lost": lost,
                "undelivered_at_deadline": undelivered,
                "duplicated": dup,
                "out_of_order": ooo,
                "dropped_connections": dropped,
                "drop_reasons": dict(drop_reasons),
                "pings": sum(c.sock.pings for c in joined if c.sock is not None),
                "cpu_s": round(cpu_end.user + cpu_end.system - cpu_go.user - cpu_go.system, 3),
                "wall_s": round(end_wall - go_wall, 3),
                "waited_for_cpu_s": round(delay_end - delay_go, 3),
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        }
    )
    # Leave without closing 1000 sockets politely: the server is torn down next.
    os._exit(0)


# =========================================================================================
# Orchestrator
# =========================================================================================


@dataclass
class Server:
    pid: int
    port: int
    url: str
    log: Path


@dataclass
class Cluster:
    kind: str  # "meetingd" | "plain"
    servers: list[Server]
    data_dir: Path
    meeting_id: int = 1
    items: tuple[int, int] = (1, 2)
    chair_token: str = "chair"
    bp_tokens: list[str] = field(default_factory=list)
    env_overrides: dict[str, str] = field(default_factory=dict)
    pg_db: str | None = None
    database: str = "sqlite"


def _server_env(overrides: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
    env.update(overrides)
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _wait_healthy(server: Server, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if _exited(server.pid):
                raise RuntimeError(f"server {server.pid} exited:\n{_tail(server.log)}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(server.url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server {server.pid} not healthy after {within} s:\n{_tail(server.log)}")


def _exited(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _spawn_server(cmd: list[str], env: dict[str, str], log: Path, port: int) -> Server:
    f = log.open("wb")
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    f.close()
    _CHILDREN[proc.pid] = "server"
    return Server(proc.pid, port, f"http://127.0.0.1:{port}", log)


async def start_cluster(args: argparse.Namespace, n_bridge_points: int) -> Cluster:
    data_dir = Path(tempfile.mkdtemp(prefix="meetingd-fanout-"))
    n_servers = 2 if args.redis else 1
    if args.server == "plain":
        servers = []
        for i in range(n_servers):
            port = free_port()
            cmd = [sys.executable, str(BENCH_DIR / "_sio_plain_server.py"), "--port", str(port)]
            if args.redis:
                cmd += ["--redis", REDIS_URL, "--channel", f"bench-plain-{os.getpid()}"]
            servers.append(_spawn_server(cmd, _server_env({}), data_dir / f"server{i}.log", port))
        cl = Cluster("plain", servers, data_dir)
        for s in servers:
            await _wait_healthy(s)
        cl.bp_tokens = [f"bp-{i}" for i in range(n_bridge_points)]
        return cl

    env = {
        # The bench logs in hundreds of devices from one address in seconds.
        "MEETINGD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE_ADDRESS": "10000",
        "MEETINGD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE_ACCOUNT": "10000",
    }
    pg_db = None
    if args.postgres or args.redis:
        pg_db = f"meetingd_fanout_{os.getpid()}_{int(time.time())}"
        await _pg(f'CREATE DATABASE "{pg_db}"')
        env["MEETINGD_DATABASE_URL"] = (
            PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
            + "/"
            + pg_db
        )
    if args.redis:
        env["MEETINGD_REALTIME_REDIS_URL"] = REDIS_URL
        # Our own channel: other engineers' tests share this Redis (and its meeting ids).
        env["MEETINGD_REALTIME_REDIS_CHANNEL"] = f"bench-fanout-{os.getpid()}"
    env.update(dict(kv.split("=", 1) for kv in args.server_env))
    cl = Cluster("meetingd", [], data_dir, env_overrides=env, pg_db=pg_db)
    cl.database = "postgresql" if pg_db else "sqlite"
    senv = _server_env(env)
    seed = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "meetingd", "demo", "--data-dir", str(data_dir)],
        cwd=REPO,
        env=senv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _CHILDREN[seed.pid] = "seed"
    _, seed_err = await asyncio.wait_for(seed.communicate(), 120)
    _CHILDREN.pop(seed.pid, None)
    if seed.returncode != 0:
        raise RuntimeError(f"meetingd demo failed: {seed_err.decode()[-2000:]}")
    for i in range(n_servers):
        port = free_port()
        cmd = [
            sys.executable, "-m", "meetingd", "serve",
            "--data-dir", str(data_dir), "--port", str(port),
        ]  # fmt: skip
        cl.servers.append(_spawn_server(cmd, senv, data_dir / f"server{i}.log", port))
    for s in cl.servers:
        await _wait_healthy(s)
    await _seed_meeting(cl, n_bridge_points)
    return cl


async def _json(
    http: aiohttp.ClientSession, method: str, url: str, token: str | None = None, body: Any = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, json=body, headers=headers) as resp:
        data = await resp.json(content_type=None) if resp.content_length != 0 else None
        if resp.status >= 400:
            raise RuntimeError(f"{method} {url} -> {resp.status}: {data}")
        return data


async def _seed_meeting(cl: Cluster, n_bp: int) -> None:
    """Enough bridge points invited and logged in; the meeting live on its first item."""
    creds = json.loads((cl.data_dir / "demo-credentials.json").read_text())
    cl.meeting_id = mid = int(creds["meeting_id"])
    pw = {u["login"]: u["password"] for u in creds["users"]}
    base = cl.servers[0].url + "/api/v1"
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as http:
        admin = (
            await _json(
                http, "POST", f"{base}/auth/login", body={"login": "admin", "password": pw["admin"]}
            )
        )["token"]
        chair = (
            await _json(
                http,
                "POST",
                f"{base}/auth/login",
                body={"login": "chutri", "password": pw["chutri"]},
            )
        )["token"]
        cl.chair_token = chair
        meeting = await _json(http, "GET", f"{base}/meetings/{mid}", chair)
        unit_id = meeting["unit_id"]
        credentials = [bp["credential"] for bp in creds["bridge_points"]]
        sem = asyncio.Semaphore(8)

        async def add(i: int) -> tuple[int, str]:
            async with sem:
                body = {"unit_id": unit_id, "name": f"Điểm cầu thử tải {i}", "room": "bench"}
                got = await _json(http, "POST", f"{base}/bridge-points", admin, body)
                return int(got["id"]), str(got["credential"])

        extra = await asyncio.gather(*(add(i) for i in range(max(0, n_bp - len(credentials)))))
        ids = [i for i, _ in extra]
        for k in range(0, len(ids), 1000):
            await _json(
                http,
                "POST",
                f"{base}/meetings/{mid}/bridge-points",
                chair,
                {"ids": ids[k : k + 1000]},
            )
        credentials = (credentials + [c for _, c in extra])[:n_bp]

        async def device(cred: str) -> str:
            async with sem:
                got = await _json(http, "POST", f"{base}/auth/device", body={"credential": cred})
                return str(got["token"])

        cl.bp_tokens = list(await asyncio.gather(*(device(c) for c in credentials)))
        await _json(http, "POST", f"{base}/meetings/{mid}/open", chair)
        await _json(http, "POST", f"{base}/meetings/{mid}/start", chair)
        meeting = await _json(http, "GET", f"{base}/meetings/{mid}", chair)
        items = [it["id"] for it in meeting["agenda"]]
        cl.items = (items[0], items[1])
        await _json(
            http, "POST", f"{base}/meetings/{mid}/agenda/current", chair, {"item_id": items[0]}
        )
    progress(
        f"seeded: {n_bp} bridge points invited and logged in, meeting {mid} live "
        f"({time.monotonic() - t0:.1f} s)"
    )


class DeafSocket:
    """A slow consumer: joins over a bare websocket (Engine.IO 4 / Socket.IO 5), then keeps
    its connection alive with a pong every 0.3 s but reads nothing more (a stalled tab, a
    device behind a link that stopped). The server must bound what it holds for it."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.token = token
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._pong: asyncio.Task[None] | None = None

    async def join(self, meeting_id: int) -> None:
        self._http = aiohttp.ClientSession()
        self._ws = ws = await self._http.ws_connect(self.url, max_msg_size=0)
        sock = ws.get_extra_info("socket")
        if sock is not None:  # a small window: the server's buffers fill sooner
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await ws.receive_str()  # the Engine.IO open packet
        await ws.send_str("40" + json.dumps({"token": self.token}))
        while not (await ws.receive_str()).startswith("40"):
            pass
        await ws.send_str("420" + json.dumps(["meeting.join", {"meeting_id": meeting_id}]))
        while not (msg := await ws.receive_str()).startswith("430"):
            if msg == "2":
                await ws.send_str("3")

        async def pong() -> None:
            while not ws.closed:
                await ws.send_str("3")
                await asyncio.sleep(0.3)

        self._pong = asyncio.create_task(pong())

    async def close(self) -> None:
        if self._pong is not None:
            self._pong.cancel()
        with contextlib.suppress(Exception):
            if self._ws is not None:
                await self._ws.close()
        if self._http is not None:
            await self._http.close()


async def slow_consumers_dropped(http: aiohttp.ClientSession, cl: Cluster) -> float:
    """``meetingd_realtime_slow_consumers_dropped_total`` summed over the servers."""
    total = 0.0
    for srv in cl.servers:
        with contextlib.suppress(aiohttp.ClientError, ValueError):
            async with http.get(srv.url + "/metrics") as r:
                for line in (await r.text()).splitlines():
                    if line.startswith("meetingd_realtime_slow_consumers_dropped_total "):
                        total += float(line.split()[1])
    return total


def log_problems(cl: Cluster, limit: int = 12) -> dict[str, Any]:
    """Warnings, errors and tracebacks in the servers' logs (counted; the first few kept)."""
    out: dict[str, Any] = {}
    for i, s in enumerate(cl.servers):
        try:
            lines = s.log.read_text(errors="replace").splitlines()
        except OSError:
            continue
        bad = [
            ln for ln in lines if any(w in ln for w in ("WARNING", "ERROR", "Traceback", "Error:"))
        ]
        if bad:
            out[f"server{i}"] = {"count": len(bad), "first": [ln[:300] for ln in bad[:limit]]}
    return out


async def stop_cluster(cl: Cluster | None) -> None:
    if cl is None:
        return
    for s in cl.servers:
        kill_pid(s.pid)
    if cl.pg_db:
        with contextlib.suppress(Exception):
            await _pg(f'DROP DATABASE IF EXISTS "{cl.pg_db}" WITH (FORCE)')
    shutil.rmtree(cl.data_dir, ignore_errors=True)


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process, n: int, role: str = "both") -> None:
        self.proc = proc
        self.n = n
        #: what it does with its connections (bench/documents.py --split: "follow", "fetch")
        self.role = role
        self.ready: dict[str, Any] = {}
        self.result: dict[str, Any] = {}

    async def read(self, key: str, within: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), within)
            if not line:
                raise RuntimeError(f"client worker {self.proc.pid} exited early")
            msg = json.loads(line)
            if key in msg:
                return dict(msg[key])

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")


async def spawn_workers(
    cl: Cluster, n: int, procs: int, compress: int, concurrency: int
) -> list[Worker]:
    """Connection i uses bridge point i mod B and server (i // procs) mod S; first devices
    of every bridge point are opened first."""
    b = len(cl.bp_tokens)
    shares: list[list[tuple[str, str]]] = [[] for _ in range(procs)]
    firsts = [0] * procs
    for i in range(n):
        w = i % procs
        server = cl.servers[(i // procs) % len(cl.servers)]
        shares[w].append((server.url, cl.bp_tokens[i % b]))
        if i < b:
            firsts[w] += 1
    workers = []
    for w in range(procs):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SELF), "--worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,
        )  # fmt: skip
        _CHILDREN[proc.pid] = "client"
        cfg = {
            "meeting_id": cl.meeting_id,
            "conns": shares[w],
            "first_wave": firsts[w],
            "compress": compress,
            "connect_concurrency": concurrency,
        }
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(cfg).encode() + b"\n")
        await proc.stdin.drain()
        workers.append(Worker(proc, len(shares[w])))
    return workers


async def wait_quiet(
    pids: list[int], util: float = 0.15, window: float = 1.0, limit: float = 90
) -> float:
    """Wait until the servers' CPU use over ``window`` drops below ``util`` of a core."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        c0 = sum(proc_cpu_s(p) for p in pids)
        await asyncio.sleep(window)
        if (sum(proc_cpu_s(p) for p in pids) - c0) / window < util * len(pids):
            break
    return time.monotonic() - t0


class Chair:
    """The chair's own connection: issues the commands and sees the events come back."""

    def __init__(self, sock: LightSocket | None = None) -> None:
        self.sock = sock
        self.events: list[tuple[str, int, float]] = []
        #: ``agenda.moved`` seen by the chair: seq -> its commit-to-receipt latency (s).
        self.moved_latency: dict[int, float] = {}

    def on_event(self, body: str, t: float) -> None:
        msg = json.loads(body)
        p = msg[1] if len(msg) > 1 and isinstance(msg[1], dict) else {}
        if "seq" in p:
            self.events.append((msg[0], int(p["seq"]), t))
            if msg[0] == MEASURED and isinstance(p.get("at"), str):
                self.moved_latency[int(p["seq"])] = time.time() - parse_at(p["at"])


async def join_chair(chair: Chair, http: aiohttp.ClientSession, cl: Cluster) -> None:
    chair.sock = LightSocket(http, cl.servers[0].url, {"token": cl.chair_token}, chair.on_event)
    await chair.sock.connect()
    ack = await chair.sock.call("meeting.join", {"meeting_id": cl.meeting_id})
    if not ack.get("ok"):
        raise RuntimeError(f"the chair could not join: {ack}")


async def storm_events(
    chair: Chair, cl: Cluster, rate: float, stop: asyncio.Event, limit: int = 600
) -> dict[str, Any]:
    """The live meeting during a join storm: the chair (joined before it) moves between
    agenda items at ``rate`` per second until ``stop``; its acks' round trips and its own
    receipt of each event (from the event's ``at``) say how much the storm delayed them."""
    assert chair.sock is not None
    rtt: list[float] = []
    failed: dict[str, int] = defaultdict(int)
    seqs: list[int] = []
    start = time.monotonic()
    i = 0
    while not stop.is_set() and i < limit:
        slot = start + i / rate
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, slot - time.monotonic()))
        if stop.is_set():
            break
        t0 = time.monotonic()
        try:
            ack = await chair.sock.call(
                "meeting.move_to_item",
                {"meeting_id": cl.meeting_id, "item_id": cl.items[(i + 1) % 2]},
                within=60,
            )
            if ack.get("ok"):
                seqs.append(int(ack["data"]["seq"]))
            else:
                failed[str(ack.get("error"))[:160]] += 1
        except AckError as exc:
            failed[str(exc)[:160]] += 1
        rtt.append(time.monotonic() - t0)
        i += 1
    deadline = time.monotonic() + 10
    # Bounded; the events arrive by callback.
    while time.monotonic() < deadline and any(s not in chair.moved_latency for s in seqs):  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    lat = sorted(chair.moved_latency[s] * 1000 for s in seqs if s in chair.moved_latency)
    srt = sorted(x * 1000 for x in rtt)
    return {
        "rate_per_s": rate,
        "commands": len(rtt),
        "failed": dict(failed),
        "ack_rtt_ms": _spread(srt),
        "delivered_to_chair": len(lat),
        "latency_ms": _spread(lat),
    }


def _spread(xs: list[float]) -> dict[str, float | None]:
    """p50, p99 and max of sorted ``xs``."""
    return {"p50": r(pct(xs, 50)), "p99": r(pct(xs, 99)), "max": r(xs[-1] if xs else None)}


async def py_spy(
    pid: int, duration: float, out: Path, rate: int = 100
) -> asyncio.subprocess.Process | None:
    exe = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.access(exe, os.X_OK):
        progress("py-spy not installed; no profile")
        return None
    proc = await asyncio.create_subprocess_exec(
        exe, "record", "--pid", str(pid), "--duration", str(int(duration)), "--rate", str(rate),
        "--format", "raw", "--nonblocking", "-o", str(out),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _CHILDREN[proc.pid] = "py-spy"
    return proc


#: Where a leaf frame's file says the time goes (first match wins).
_CATEGORIES = [
    ("socket send syscall (transport.write)", "_SelectorSocketTransport.write"),
    ("idle (epoll wait)", "EpollSelector.select"),
    ("engineio", "engineio/"),
    ("socketio", "socketio/"),
    ("aiohttp", "aiohttp/"),
    ("sqlalchemy", "sqlalchemy/"),
    ("db driver", "asyncpg/"),
    ("db driver", "aiosqlite/"),
    ("db driver", "sqlite3/"),
    ("redis", "redis/"),
    ("pydantic", "pydantic"),
    ("json", "json/"),
    ("logging", "logging/"),
    ("meetingd", "meetingd/"),
    ("asyncio loop", "asyncio/"),
]
_NOISE = ("<module>", "_run_code", "_run_module_as_main", "main (meetingd/cli.py",
          "_serve (", "run_app (", "run_until_complete", "run_forever", "_run_once",
          "Handle._run", "Thread.", "_bootstrap", "_worker (concurrent")  # fmt: skip


def _short(frame: str) -> str:
    """``fn (pkg/mod.py:123)`` -> ``fn (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split(':')[0]})" if where else name


def summarise_profile(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive shares per function and self share per area, from py-spy's
    collapsed stacks. Shares are of the busy samples (epoll waits left out)."""
    self_n: dict[str, int] = defaultdict(int)
    incl: dict[str, int] = defaultdict(int)
    cats: dict[str, int] = defaultdict(int)
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        k = int(count)
        frames = stack.split(";")
        leaf = frames[-1]
        cat = next((c for c, key in _CATEGORIES if key in leaf), "other")
        if cat.startswith("idle"):
            idle += k
            continue
        total += k
        cats[cat] += k
        self_n[_short(leaf)] += k
        for f in {_short(f) for f in frames if not any(n in f for n in _NOISE)}:
            incl[f] += k
    if not total:
        return {"busy_samples": 0, "idle_samples": idle}

    def table(d: dict[str, int], limit: int) -> list[list[Any]]:
        rows = sorted(d.items(), key=lambda x: -x[1])[:limit]
        return [[f, round(100 * v / total, 1)] for f, v in rows]

    return {
        "busy_samples": total,
        "idle_samples": idle,
        "self_pct_by_area": table(cats, 20),
        "self_pct": table(self_n, top),
        "inclusive_pct": table(incl, top + 10),
    }


async def run_one(args: argparse.Namespace, n: int) -> dict[str, Any]:
    n_bp = min(n, args.bridge_points)
    procs = 0 if n == 0 else args.client_procs or (1 if n <= 500 else 2)
    out: dict[str, Any] = {
        "n": n,
        "servers": 2 if args.redis else 1,
        "client_procs": procs,
        "bridge_points": n_bp,
        "loadavg_start": loadavg(),
    }
    cl: Cluster | None = None
    workers: list[Worker] = []
    chair_http: aiohttp.ClientSession | None = None
    spy: asyncio.subprocess.Process | None = None
    deaf: list[DeafSocket] = []
    try:
        progress(f"N={n}: starting {out['servers']} {args.server} server(s), {n_bp} bridge points")
        cl = await start_cluster(args, n_bp)
        out["database"] = cl.database
        pids = [s.pid for s in cl.servers]
        await wait_quiet(pids, limit=20)
        rss_base = [proc_rss_kb(p) for p in pids]

        # Connections.
        join_spy: asyncio.subprocess.Process | None = None
        if args.profile_joins is not None and n in args.profile_joins:
            join_prof = OUT_DIR / f"realtime_join_profile_n{n}{'_redis' if args.redis else ''}.txt"
            OUT_DIR.mkdir(exist_ok=True)
            join_spy = await py_spy(pids[0], args.profile_joins_seconds, join_prof, 250)
        chair = Chair()
        chair_http = aiohttp.ClientSession()
        storm: asyncio.Task[dict[str, Any]] | None = None
        storm_stop = asyncio.Event()
        if args.storm_rate > 0:  # the chair is in, and the meeting live, before the storm
            await join_chair(chair, chair_http, cl)
            storm = asyncio.create_task(storm_events(chair, cl, args.storm_rate, storm_stop))
        t0 = time.monotonic()
        workers = await spawn_workers(
            cl, n, procs, 15 if args.deflate else 0, args.connect_concurrency
        )
        connect_limit = args.connect_timeout or 300 + n * 0.2
        for w in workers:
            try:
                w.ready = await w.read("ready", connect_limit)
            except TimeoutError:
                raise RuntimeError(
                    f"the connections had not all joined after {connect_limit:.0f} s"
                ) from None
        joined = sum(w.ready["joined"] for w in workers)
        errors: dict[str, int] = defaultdict(int)
        for w in workers:
            for k, v in w.ready["errors"].items():
                errors[k] += v
        out["connect"] = {
            "seconds": round(time.monotonic() - t0, 1),
            "joined": joined,
            "failed": n - joined,
            "errors": dict(errors),
            "client_cpu_s": [w.ready["cpu_s"] for w in workers],
            "concurrency_per_client_proc": args.connect_concurrency,
        }
        for key in ("connect_s", "join_s"):
            xs = sorted(x for w in workers for x in w.ready[key])
            out["connect"][key.replace("_s", "_ack_ms")] = {
                "p50": r(pct(xs, 50) * 1000 if xs else None),
                "p99": r(pct(xs, 99) * 1000 if xs else None),
                "max": r(xs[-1] * 1000 if xs else None),
            }
        out["connect"]["joins_per_s"] = round(joined / max(out["connect"]["seconds"], 1e-3), 1)
        if storm is not None:
            storm_stop.set()
            out["connect"]["live_events_during_storm"] = await storm
        progress(
            f"N={n}: {joined}/{n} joined in {out['connect']['seconds']} s {dict(errors) or ''}"
        )
        if join_spy is not None:
            _, err = await asyncio.wait_for(join_spy.communicate(), 60)
            _CHILDREN.pop(join_spy.pid, None)
            if join_spy.returncode == 0 and join_prof.exists():
                out["join_profile"] = {
                    "file": str(join_prof.relative_to(REPO)),
                    **summarise_profile(join_prof),
                }
            else:
                out["join_profile"] = {"error": err.decode(errors="replace")[-500:]}
        if joined == 0 and n > 0:
            raise RuntimeError(f"no connection joined: {dict(errors)}")

        # The chair.
        if chair.sock is None:
            await join_chair(chair, chair_http, cl)

        quiet_s = await wait_quiet(pids)
        rss_joined = [proc_rss_kb(p) for p in pids]
        # Slow consumers (--deaf): they join now and read nothing from here on.
        for i in range(args.deaf if cl.kind == "meetingd" else 0):
            d = DeafSocket(cl.servers[i % len(cl.servers)].url, cl.bp_tokens[-1 - i % n_bp])
            deaf.append(d)
            await d.join(cl.meeting_id)
        dropped_before = await slow_consumers_dropped(chair_http, cl) if deaf else 0.0
        rss_deaf_joined = [proc_rss_kb(p) for p in pids]
        # Idle cost of N joined connections (pings, heartbeats), over 3 s.
        c0 = [proc_cpu_s(p) for p in pids]
        await asyncio.sleep(3.0)
        idle = [(proc_cpu_s(p) - c) / 3.0 for p, c in zip(pids, c0, strict=True)]
        rss_idle = [proc_rss_kb(p) for p in pids]  # N joined, 3 s doing nothing

        # The event phase.
        rate, n_events = args.rate, args.events
        if args.profile is not None and n in args.profile:
            prof_path = OUT_DIR / f"realtime_profile_n{n}{'_redis' if args.redis else ''}.txt"
            OUT_DIR.mkdir(exist_ok=True)
            spy = await py_spy(pids[0], min(n_events / rate, 20), prof_path)
        for w in workers:
            w.send("go")
        cpu_go = [proc_cpu_s(p) for p in pids]
        delay_go = [proc_run_delay_s(p) for p in pids]
        wall_go = time.monotonic()
        start = time.time() + 0.3
        slots: list[float] = []
        issue_late: list[float] = []
        ack_late: list[float] = []
        rtt: list[float] = []
        failed_cmds: dict[str, int] = defaultdict(int)
        items = cl.items
        seq_slot: dict[int, float] = {}

        async def command(i: int, slot: float) -> None:
            issued = time.time()
            try:
                ack = await chair.sock.call(
                    "meeting.move_to_item",
                    {"meeting_id": cl.meeting_id, "item_id": items[(i + 1) % 2]},
                    within=60,
                )
                if ack.get("ok"):
                    seq_slot[int(ack["data"]["seq"])] = slot
                else:
                    failed_cmds[str(ack.get("error"))[:160]] += 1
            except AckError as exc:
                failed_cmds[str(exc)[:160]] += 1
            acked = time.time()
            issue_late.append(issued - slot)
            ack_late.append(acked - slot)
            rtt.append(acked - issued)

        in_flight: list[asyncio.Task[None]] = []
        for i in range(n_events):
            slot = start + i / rate
            slots.append(slot)
            delay = slot - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if args.pipeline:  # at its slot, whatever the acks of the earlier ones
                in_flight.append(asyncio.create_task(command(i, slot)))
            else:  # at its slot or when the previous ack came back, whichever is later
                await command(i, slot)
        await asyncio.gather(*in_flight)
        chair_done = time.time()
        # Each ack carries the meeting's seq after the command: the seq of its event.
        measured = sorted(seq_slot)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and measured:
            if max((e[1] for e in chair.events), default=0) >= measured[-1]:
                break
            await asyncio.sleep(0.05)
        final_seq = max([*measured, *(s for _, s, _ in chair.events)], default=0)
        fin = {"final_seq": final_seq, "deadline_s": args.drain_timeout, "measured_seqs": measured}
        for w in workers:
            w.send(json.dumps(fin))
        for w in workers:
            w.result = await w.read("result", args.drain_timeout + 60)
        wall = time.monotonic() - wall_go
        cpu_end = [proc_cpu_s(p) for p in pids]
        delay_end = [proc_run_delay_s(p) for p in pids]
        rss_end = [proc_rss_kb(p) for p in pids]
        out["loadavg_end"] = loadavg()
        if deaf:
            out["slow_consumers"] = {
                "n": len(deaf),
                "dropped": await slow_consumers_dropped(chair_http, cl) - dropped_before,
                "rss_mb_with_them_joined": [round(x / 1024, 1) for x in rss_deaf_joined],
                "rss_mb_after_events": [round(x / 1024, 1) for x in rss_end],
            }
        if spy is not None:
            _, err = await asyncio.wait_for(spy.communicate(), 60)
            _CHILDREN.pop(spy.pid, None)
            if spy.returncode == 0 and prof_path.exists():
                out["profile"] = {
                    "file": str(prof_path.relative_to(REPO)),
                    **summarise_profile(prof_path),
                }
            else:
                out["profile"] = {"error": err.decode(errors="replace")[-500:]}
            spy = None

        # -- figures --
        lat = sorted(x for w in workers for x in w.result["latencies_ms"])
        last_rx: dict[int, float] = {}
        for w in workers:
            for k, v in w.result["last_rx"].items():
                last_rx[int(k)] = max(v, last_rx.get(int(k), 0.0))
        lag = [
            (last_rx[s] - seq_slot[s]) * 1000 for s in measured if s in last_rx and s in seq_slot
        ]
        tenth = max(1, len(lag) // 10)
        slope = None
        if len(lag) >= 10:
            xs = [seq_slot[s] - start for s in measured if s in last_rx and s in seq_slot]
            mx, my = sum(xs) / len(xs), sum(lag) / len(lag)
            sxx = sum((x - mx) ** 2 for x in xs)
            slope = (
                sum((x - mx) * (y - my) for x, y in zip(xs, lag, strict=True)) / sxx
                if sxx
                else None
            )
        last_delivery = max(last_rx.values(), default=chair_done)
        srt = sorted(rtt)
        deliveries = sum(w.result["received"] for w in workers)
        in_window = sum(w.result.get("received_in_window", 0) for w in workers)
        cpu_s = [e - g for e, g in zip(cpu_end, cpu_go, strict=True)]
        out["latency_ms"] = {
            "p50": r(pct(lat, 50)),
            "p90": r(pct(lat, 90)),
            "p99": r(pct(lat, 99)),
            "max": r(lat[-1] if lat else None),
            "mean": r(sum(lat) / len(lat) if lat else None),
            "samples": len(lat),
        }
        out["schedule"] = {
            "events": n_events,
            "rate_per_s": rate,
            "planned_s": round((n_events - 1) / rate, 2),
            "commands_failed": dict(failed_cmds),
            "issue_late_max_ms": r(max(issue_late) * 1000),
            "ack_late_max_ms": r(max(ack_late) * 1000),
            "ack_rtt_ms": {
                "p50": r(pct(srt, 50) * 1000),
                "p99": r(pct(srt, 99) * 1000),
                "max": r(srt[-1] * 1000),
            },
            "last_delivery_late_max_ms": r(max(lag) if lag else None),
            "last_delivery_late_first_tenth_ms": r(
                sorted(lag[:tenth])[tenth // 2] if lag else None
            ),
            "last_delivery_late_last_tenth_ms": r(
                sorted(lag[-tenth:])[tenth // 2] if lag else None
            ),
            "lag_slope_ms_per_s": r(slope, 2),
            "all_delivered_after_s": round(last_delivery - start, 2),
        }
        out["delivery"] = {
            "connections": joined,
            "expected": sum(w.result["expected"] for w in workers),
            "received": deliveries,
            "lost": sum(w.result["lost"] for w in workers),
            "undelivered_at_deadline": sum(w.result["undelivered_at_deadline"] for w in workers),
            "duplicated": sum(w.result["duplicated"] for w in workers),
            "stale_at_or_below_join_seq": sum(
                w.result["stale_at_or_below_join_seq"] for w in workers
            ),
            "out_of_order": sum(w.result["out_of_order"] for w in workers),
            "dropped_connections": sum(w.result["dropped_connections"] for w in workers),
            "drop_reasons": {k: v for w in workers for k, v in w.result["drop_reasons"].items()},
            "measured_events_acked": len(measured),
            "received_in_window": in_window,
            "deliveries_per_s": round(in_window / max(last_delivery - start, 1e-3)),
        }
        out["server"] = {
            "pids": pids,
            "cpu_s": [round(c, 2) for c in cpu_s],
            "cpu_util_of_one_core": [round(c / wall, 3) for c in cpu_s],
            "window_s": round(wall, 2),
            "cpu_us_per_delivery": round(sum(cpu_s) / max(in_window, 1) * 1e6, 1),
            # Runnable but not running: the machine's other processes had the CPUs.
            "main_thread_waited_for_cpu_s": [
                round(e - g, 2) for e, g in zip(delay_end, delay_go, strict=True)
            ],
            "main_thread_busy_share": [
                round((c + (e - g)) / wall, 3)
                for c, e, g in zip(cpu_s, delay_end, delay_go, strict=True)
            ],
            "idle_cpu_util_joined": [round(x, 3) for x in idle],
            "quiet_wait_s": round(quiet_s, 1),
            "rss_base_mb": [round(x / 1024, 1) for x in rss_base],
            "rss_joined_mb": [round(x / 1024, 1) for x in rss_joined],
            "rss_end_mb": [round(x / 1024, 1) for x in rss_end],
            "rss_idle_mb": [round(x / 1024, 1) for x in rss_idle],
            "rss_per_connection_kb": round((sum(rss_joined) - sum(rss_base)) / max(n, 1), 1),
            "rss_per_connection_idle_kb": round((sum(rss_idle) - sum(rss_base)) / max(n, 1), 1),
        }
        cu = [w.result["cpu_s"] / max(w.result["wall_s"], 1e-3) for w in workers]
        out["clients"] = {
            "procs": [
                {
                    "conns": w.n,
                    "cpu_s": w.result["cpu_s"],
                    "cpu_util_of_one_core": round(c, 3),
                    "pings_answered": w.result["pings"],
                    "waited_for_cpu_s": w.result["waited_for_cpu_s"],
                    "maxrss_mb": round(w.result["maxrss_kb"] / 1024, 1),
                }
                for w, c in zip(workers, cu, strict=True)
            ],
            "saturated": any(c > 0.85 for c in cu),
        }
        return out
    except Exception as exc:
        progress(f"N={n}: FAILED: {type(exc).__name__}: {exc}")
        out["error"] = f"{type(exc).__name__}: {exc}"[:3000]
        return out
    finally:
        for d in deaf:
            await d.close()
        if spy is not None and spy.returncode is None:
            kill_pid(spy.pid)
        for w in workers:
            if w.proc.returncode is None:
                kill_pid(w.proc.pid, grace=2.0)
            _CHILDREN.pop(w.proc.pid, None)
        if chair_http is not None:
            await chair_http.close()
        if cl is not None:
            out["server_log_problems"] = log_problems(cl)
            if args.keep_logs:
                for i, srv in enumerate(cl.servers):
                    dest = OUT_DIR / f"realtime_server{i}_n{n}{'_redis' if args.redis else ''}.log"
                    OUT_DIR.mkdir(exist_ok=True)
                    shutil.copy(srv.log, dest)
        await stop_cluster(cl)


async def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "bench": "realtime_fanout",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "host": {
            "cpus": os.cpu_count(),
            "loadavg_at_start": loadavg(),
            "python": platform.python_version(),
        },
        "git": git_rev(),
        "setup": {
            "server": args.server,
            "servers": 2 if args.redis else 1,
            "database": "postgresql" if (args.postgres or args.redis) else "sqlite",
            "redis": REDIS_URL if args.redis else None,
            "websocket_deflate": bool(args.deflate),
            "events": args.events,
            "rate_per_s": args.rate,
            "command": "meeting.move_to_item, alternating two agenda items, "
            + (
                "each sent at its slot without waiting for earlier acks (--pipeline)"
                if args.pipeline
                else "each sent at its slot or when the previous ack came back, whichever is"
                " later (one chair, one command at a time)"
            ),
            "connections": "light Engine.IO v4 / Socket.IO v5 clients over aiohttp websockets"
            " (bench/_sio_light.py); connection i logs in as bridge point i mod B; B <= "
            f"{args.bridge_points} (a province meeting), so extra connections are more devices"
            " of the same bridge points",
            "latency": "event 'at' (appended inside its transaction, just before commit: "
            "over-states commit-to-receipt slightly) to receipt in the client process, "
            "wall clock on one machine",
            "server_env": "MEETINGD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE_{ADDRESS,ACCOUNT}=10000"
            + (" + " + " ".join(args.server_env) if args.server_env else ""),
        },
        "runs": [],
    }
    for n in args.n:
        res = await run_one(args, n)
        doc["runs"].append(res)
        if "latency_ms" in res:
            lm, sc, dl = res["latency_ms"], res["schedule"], res["delivery"]
            progress(
                f"N={n}: p50 {lm['p50']} p99 {lm['p99']} max {lm['max']} ms; "
                f"late max {sc['last_delivery_late_max_ms']} ms slope {sc['lag_slope_ms_per_s']}; "
                f"lost {dl['lost']} undelivered {dl['undelivered_at_deadline']} dup "
                f"{dl['duplicated']}; server cpu {res['server']['cpu_util_of_one_core']}; "
                f"clients {[p['cpu_util_of_one_core'] for p in res['clients']['procs']]}; "
                f"rss/conn {res['server']['rss_per_connection_kb']} KB"
                f" ({res['server']['rss_per_connection_idle_kb']} KB after 3 s idle)"
            )
    doc["host"]["loadavg_at_end"] = loadavg()
    return doc


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--n", default="100,500,1000,2000", help="connection counts (comma list)")
    p.add_argument("--events", type=int, default=200)
    p.add_argument("--rate", type=float, default=10.0, help="chair commands per second")
    p.add_argument(
        "--redis", action="store_true", help="two server processes on PostgreSQL + Redis"
    )
    p.add_argument(
        "--postgres", action="store_true", help="one server on a throwaway PostgreSQL db"
    )
    p.add_argument("--quick", action="store_true", help="a smoke run: N=100, 30 events")
    p.add_argument("--server", choices=["meetingd", "plain"], default="meetingd",
                   help="plain: a bare python-socketio server (the baseline)")  # fmt: skip
    p.add_argument("--client-procs", type=int, default=0, help="0: 1 up to N=500, else 2")
    p.add_argument("--bridge-points", type=int, default=500, help="distinct bridge points at most")
    p.add_argument(
        "--deflate", action="store_true", help="negotiate permessage-deflate like browsers"
    )
    p.add_argument(
        "--drain-timeout", type=float, default=60.0, help="seconds to wait for stragglers"
    )
    p.add_argument("--profile", default=None, help="py-spy the server during these N (comma list)")
    p.add_argument("--profile-joins", default=None,
                   help="py-spy the server while these N join (comma list)")  # fmt: skip
    p.add_argument("--profile-joins-seconds", type=float, default=8.0,
                   help="how long the join storm's profile records")  # fmt: skip
    p.add_argument("--storm-rate", type=float, default=0.0,
                   help="chair commands per second during the join storm (0: none)")  # fmt: skip
    p.add_argument("--deaf", type=int, default=0,
                   help="slow consumers: connections that join, then answer pings but read "
                   "nothing (meetingd only); the server must drop them, not grow")  # fmt: skip
    p.add_argument("--server-env", action="append", default=[], metavar="MEETINGD_X=Y")
    p.add_argument("--out", "--json-out", dest="out", type=Path, help="also write the JSON here")
    p.add_argument("--connect-concurrency", type=int, default=20,
                   help="connections opening at once per client process")  # fmt: skip
    p.add_argument("--pipeline", action="store_true",
                   help="send each command at its slot, not waiting for earlier acks")  # fmt: skip
    p.add_argument("--connect-timeout", type=float, default=0,
                   help="seconds for all connections to join (0: 300 + N/5)")  # fmt: skip
    p.add_argument("--keep-logs", action="store_true", help="copy server logs to bench/out/")
    args = p.parse_args()

    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    if args.worker:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(worker_main())
        return 0

    args.n = [int(x) for x in args.n.split(",") if x.strip()]
    if args.quick:
        args.n, args.events = [100], 30
    args.profile = [int(x) for x in args.profile.split(",")] if args.profile else None
    args.profile_joins = (
        [int(x) for x in args.profile_joins.split(",")] if args.profile_joins else None
    )

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            doc = runner.run(orchestrate(args))
    finally:
        kill_all_children()
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
