"""Documents: N readers fetch one 100-page PDF with range requests while a presenter turns
pages; the same fetches from Debian's nginx serving the same bytes, in the same run.

One run starts a real ``meetingd serve`` (data dir in a temp dir, ``meetingd demo``, bridge
points logged in, the meeting live: :func:`realtime_fanout.start_cluster`), generates a
100-page PDF (fpdf2: a heading and a noise image per page, seeded, a few MB), uploads it as
the chair (``POST /api/v1/meetings/{id}/documents?filename=``), publishes it and presents it.
It also starts nginx (one worker, ``daemon off``, ``sendfile on``, ``access_log off``) on a
free loopback port with a config in the temp dir, serving the bytes meetingd serves (fetched
once from meetingd and compared with the generated file).

N followers (light socket.io clients from ``bench/_sio_light.py``, in one or two client
processes) connect, join the meeting and hold their connection. Then rounds alternate,
meetingd, nginx, meetingd, nginx, ... (``--rounds`` of each), so both servers see the same
machine. In every round, at once:

* each follower fetches the whole file with sequential ``Range: bytes=a-b`` requests of
  ``--chunk`` bytes (64 KiB, pdf.js's default), over a keep-alive aiohttp session: in
  meetingd's rounds from the grant URL its ``document.open`` answered (every follower opens
  first, measured apart as ``open_phase``; the URL is meetingd's reading port unless
  ``--reading-port off``; ``--read bearer``: ``GET .../file`` with the token), from nginx in
  nginx's rounds (same client code, same chunking);
* the presenter (the chair, on its own socket) sends ``--turns`` ``document.turn_page``
  commands at ``--rate`` per second (each at its slot or when the previous ack came back,
  whichever is later); every follower stamps its receipt of each ``document.page_turned``.
  With ``--split`` the followers' sockets and their fetches run in separate client
  processes (each follower opens over REST then), so a receipt is stamped by a process that
  does nothing else: without it, a follower's receipt waits behind the ranges its own
  process is fetching, and the figure is about the client as much as the server.

Measured per round: page-turn latency at the followers (the presenter's command being sent
to the follower's receipt, wall clock on one machine; goal p99 < 200 ms), turns lost; bytes
served, fetch throughput, range-request latency; server CPU (``utime + stime`` from
``/proc/PID/stat`` of meetingd's process, or of nginx's worker, over the fetch phase) and CPU
seconds per MB served; meetingd's CPU during nginx's rounds (the page turns and the idle
sockets: what meetingd costs when it does not serve the bytes); the client processes' CPU;
``os.getloadavg()`` with every figure. Summary: CPU per MB of each (median of its rounds)
and the ratio (goal: meetingd <= 1.5x nginx).

The machine is shared (other engineers run tests on it): the JSON says so and records the
load average; treat figures taken under a load above the core count as figures about the
machine. Output: one JSON document on stdout; progress on stderr. Every run is bounded
(N <= 500, rounds <= 5, a deadline per round and per step) and stops the processes it
started by PID, on error too.

    .venv/bin/python bench/documents.py --n 200
    .venv/bin/python bench/documents.py --n 500 --split
    .venv/bin/python bench/documents.py --n 100 --rounds 2 --json-out bench/out/documents.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _sio_light import AckError, LightSocket, Refused  # noqa: E402
from realtime_fanout import (  # noqa: E402
    _CHILDREN,
    Cluster,
    Worker,
    _json,
    free_port,
    git_rev,
    kill_all_children,
    kill_pid,
    loadavg,
    log_problems,
    pct,
    proc_cpu_s,
    progress,
    py_spy,
    r,
    start_cluster,
    stop_cluster,
    summarise_profile,
    wait_quiet,
)

SELF = Path(__file__).resolve()
OUT_DIR = BENCH_DIR / "out"
MEASURED = "document.page_turned"
MAX_N = 500
MAX_ROUNDS = 5
NGINX = "/usr/sbin/nginx"
MB = 1_000_000


# =========================================================================================
# The document
# =========================================================================================


def make_pdf(path: Path, pages: int, image_px: int, seed: int) -> None:
    """A ``pages``-page A4 PDF: a Vietnamese heading, a paragraph and a grey noise JPEG per
    page (noise does not compress, so the size is predictable: about 35 KB per page at
    256 px). Seeded: the same arguments give the same bytes' content."""
    from fpdf import FPDF
    from PIL import Image

    rnd = random.Random(seed)
    pdf = FPDF(format="A4")
    pdf.set_creator("meetingd bench")
    pdf.set_compression(True)
    for i in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("helvetica", size=18)
        pdf.cell(0, 12, f"Bench document - page {i} of {pages}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=10)
        pdf.multi_cell(0, 5, " ".join(f"word{rnd.randrange(10_000)}" for _ in range(120)))
        img = Image.frombytes("L", (image_px, image_px), rnd.randbytes(image_px * image_px))
        pdf.image(img, x=20, y=90, w=170)
    raw = path.with_suffix(".fpdf.pdf")
    pdf.output(str(raw))
    # fpdf2 writes an /OpenAction (the initial zoom), which meetingd reports as active
    # content and serves a sanitised copy of; the common case is a plain PDF served as is.
    import pikepdf

    with pikepdf.open(raw) as doc:
        if "/OpenAction" in doc.Root:
            del doc.Root["/OpenAction"]
        doc.save(path)
    raw.unlink()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# =========================================================================================
# /proc helpers for process trees (meetingd's checking pool, nginx's worker)
# =========================================================================================


def children_of(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
    return kids


def tree_cpu_s(pid: int) -> float:
    """CPU of ``pid`` and its live descendants (each read from its own /proc stat)."""
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += proc_cpu_s(p)
            todo += children_of(p)
    return total


def tree_run_ns(pid: int) -> int:
    """Nanoseconds on a CPU of every thread of ``pid`` and of its descendants, from
    ``/proc/PID/task/TID/schedstat``: the same quantity as utime+stime without the 10 ms
    clock-tick grain (nginx's worker uses a few ticks per round at small N)."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0])
            todo += children_of(p)
    return total


# =========================================================================================
# Client worker process: followers (socket) and fetchers (HTTP ranges)
# =========================================================================================


class _Follower:
    def __init__(self, token: str) -> None:
        self.token = token
        self.sock: LightSocket | None = None
        self.error: str | None = None
        self.rx: dict[int, float] = {}  # page -> first receipt (wall clock), this round
        self.dups = 0

    def on_event(self, body: str, t: float) -> None:
        if not body.startswith('["' + MEASURED + '"'):
            return
        msg = json.loads(body)
        page = int(msg[1]["page"])
        if page in self.rx:
            self.dups += 1
        else:
            self.rx[page] = t


async def _open_grant(
    http: aiohttp.ClientSession, open_url: str, token: str, sock: LightSocket | None
) -> tuple[str | None, str | None]:
    """``document.open`` once per opening, as the reader does: on the follower's socket (the
    web reader's way), else over REST with the token; answers the grant URL."""
    base, _, rest = open_url.partition("/api/v1/meetings/")
    meeting_id, _, tail = rest.partition("/documents/")
    payload = {"meeting_id": int(meeting_id), "document_id": int(tail.split("/")[0])}
    try:
        if sock is not None and sock.is_open:
            ack = await sock.call("document.open", payload, 60)
            if not ack.get("ok"):
                return None, f"open: {ack.get('error')}"[:160]
            return urljoin(base + "/", str(ack["data"]["url"])), None
        async with http.post(open_url, headers={"Authorization": f"Bearer {token}"}) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                return None, f"open: HTTP {resp.status}"
    except (AckError, aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
        return None, f"open: {type(exc).__name__}: {exc}"[:160]
    return urljoin(base + "/", str(body["url"])), None


async def _fetch(
    http: aiohttp.ClientSession,
    url: str,
    token: str,
    chunk: int,
    deadline: float,
    open_url: str | None = None,
    sock: LightSocket | None = None,
) -> dict[str, Any]:
    """The whole file in sequential range requests, as pdf.js reads it (bounded by
    ``deadline``, monotonic). With ``open_url``: first ``document.open`` (bearer token),
    then the ranges from the grant URL it answers, with no token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    off, total, n, got = 0, None, 0, 0
    times: list[float] = []
    error = None
    h = hashlib.sha256()
    if open_url is not None:
        granted, error = await _open_grant(http, open_url, token, sock)
        if granted is None:
            total = 0
        else:
            url, headers = granted, {}
    while total is None or off < total:
        if time.monotonic() > deadline:
            error = "deadline"
            break
        end = off + chunk - 1 if total is None else min(off + chunk, total) - 1
        t0 = time.monotonic()
        try:
            async with http.get(url, headers={**headers, "Range": f"bytes={off}-{end}"}) as resp:
                data = await resp.read()
                if resp.status != 206:
                    error = f"HTTP {resp.status}"
                    break
                total = int(resp.headers["Content-Range"].rsplit("/", 1)[1])
        except (aiohttp.ClientError, OSError, TimeoutError, KeyError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:160]
            break
        times.append(time.monotonic() - t0)
        n += 1
        got += len(data)
        h.update(data)
        off += len(data)
    return {
        "bytes": got,
        "requests": n,
        "times": times,
        "error": error,
        "complete": total is not None and off >= total,
        "sha256": h.hexdigest(),
    }


async def _failed(error: str) -> dict[str, Any]:
    return {"bytes": 0, "requests": 0, "times": [], "error": error, "complete": False,
            "sha256": ""}  # fmt: skip


async def worker_main() -> None:
    """Holds a share of the followers; talks JSON lines with the orchestrator."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    cfg = json.loads(await reader.readline())

    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    followers = [_Follower(t) for t in cfg["tokens"]]
    # "both": sockets and fetches in this process; "follow": sockets only; "fetch": the
    # fetches only, opening over REST (--split: followers' receipts not delayed by fetches)
    role = cfg.get("role", "both")
    step = float(cfg["step_timeout"])
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=step)
    ws_http = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0))
    sem = asyncio.Semaphore(20)
    t0 = time.monotonic()

    async def open_one(f: _Follower) -> None:
        async with sem:
            sock = LightSocket(ws_http, cfg["sio_url"], {"token": f.token}, f.on_event)
            try:
                await sock.connect(within=step)
                f.sock = sock
                ack = await sock.call("meeting.join", {"meeting_id": cfg["meeting_id"]}, step)
                if not ack.get("ok"):
                    f.error = f"join refused: {ack.get('error')}"
            except (Refused, AckError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                f.error = f"{type(exc).__name__}: {exc}"[:160]

    if role != "fetch":
        await asyncio.gather(*(open_one(f) for f in followers))
    errors: dict[str, int] = defaultdict(int)
    for f in followers:
        if f.error:
            errors[f.error] += 1
    joined = 0 if role == "fetch" else sum(1 for f in followers if not f.error)
    say({"ready": {"joined": joined, "errors": errors,
                   "seconds": round(time.monotonic() - t0, 2)}})  # fmt: skip

    while True:
        line = await reader.readline()
        if not line or line.startswith(b"quit"):
            break
        rnd = json.loads(line)
        for f in followers:
            f.rx, f.dups = {}, 0
        c0 = os.times()
        w0 = time.monotonic()
        deadline = w0 + float(rnd["deadline_s"])
        # A fresh keep-alive pool per round: both servers start from cold connections.
        http = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0))
        try:
            # meetingd's readers open the document first (document.open on their socket),
            # all of them, before any range: the orchestrator measures the two apart.
            urls: list[tuple[str | None, str | None]] = [(rnd["url"], None)] * len(followers)
            o0 = time.monotonic()
            if role == "follow":
                urls = []
            elif rnd.get("open"):
                urls = list(
                    await asyncio.gather(
                        *(_open_grant(http, rnd["open"], f.token, f.sock) for f in followers)
                    )
                )
            oerrs: dict[str, int] = defaultdict(int)
            for _, e in urls:
                if e:
                    oerrs[e] += 1
            say({"opened": {"errors": oerrs, "wall_s": round(time.monotonic() - o0, 3)}})
            await reader.readline()  # "go"
            w0 = time.monotonic()
            deadline = w0 + float(rnd["deadline_s"])
            got = await asyncio.gather(
                *(
                    _fetch(
                        http,
                        u or rnd["url"],
                        "" if rnd.get("open") else f.token,
                        int(rnd["chunk"]),
                        deadline,
                    )
                    if not e
                    else _failed(e)
                    for f, (u, e) in zip(followers, urls, strict=role != "follow")
                )
            )
        finally:
            await http.close()
        c1 = os.times()
        times = sorted(t for g in got for t in g["times"])
        errs: dict[str, int] = defaultdict(int)
        for g in got:
            if g["error"]:
                errs[g["error"]] += 1
        say(
            {
                "fetched": {
                    "bytes": sum(g["bytes"] for g in got),
                    "requests": sum(g["requests"] for g in got),
                    "complete": sum(1 for g in got if g["complete"]),
                    "wrong_bytes": sum(
                        1 for g in got if g["complete"] and g["sha256"] != rnd["sha256"]
                    ),
                    "errors": errs,
                    "wall_s": round(time.monotonic() - w0, 3),
                    "cpu_s": round(c1.user + c1.system - c0.user - c0.system, 3),
                    "request_ms": [
                        round(t * 1000, 2) for t in times[:: max(1, len(times) // 2000)]
                    ],
                }
            }
        )
        line = await reader.readline()  # {"pages": [...], "drain_s": D}: the turns are sent
        if not line:
            break
        fin = json.loads(line)
        pages = [int(p) for p in fin["pages"]]
        drain = time.monotonic() + float(fin["drain_s"])
        live = [f for f in followers if f.sock is not None and not f.error]
        while time.monotonic() < drain and any(  # noqa: ASYNC110 (polls hundreds of dicts)
            len(f.rx) < len(pages) and f.sock is not None and f.sock.is_open for f in live
        ):
            await asyncio.sleep(0.05)
        say(
            {
                "turns": {
                    "rx": [[f.rx.get(p) for p in pages] for f in live],
                    "dups": sum(f.dups for f in live),
                    "dropped": sum(1 for f in live if f.sock is not None and not f.sock.is_open),
                }
            }
        )
    os._exit(0)  # the server is torn down next; no polite close of hundreds of sockets


# =========================================================================================
# nginx
# =========================================================================================


def nginx_conf(root: Path, www: Path, port: int) -> str:
    t = root / "nginx-tmp"
    t.mkdir(exist_ok=True)
    return f"""# written by bench/documents.py
worker_processes 1;
daemon off;
master_process on;
user nobody nogroup;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 100000;
    client_body_temp_path {t}/body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
    types {{ application/pdf pdf; }}
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location / {{ }}
    }}
}}
"""


async def start_nginx(root: Path, www: Path, port: int) -> tuple[int, int]:
    """nginx in the foreground on ``port``; returns (master PID, worker PID)."""
    conf = root / "nginx.conf"
    conf.write_text(nginx_conf(root, www, port))
    cmd = [NGINX, "-p", str(root), "-c", str(conf), "-e", str(root / "nginx-error.log")]
    test = await asyncio.create_subprocess_exec(
        *cmd, "-t", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    said, _ = await asyncio.wait_for(test.communicate(), 30)
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t failed: {said.decode(errors='replace')[-1500:]}")
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
    )
    _CHILDREN[proc.pid] = "nginx"
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                log = (root / "nginx-error.log").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"nginx exited: {log}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.head(f"http://127.0.0.1:{port}/doc.pdf") as resp:
                    if resp.status == 200 and children_of(proc.pid):
                        return proc.pid, children_of(proc.pid)[0]
            await asyncio.sleep(0.1)
    raise RuntimeError("nginx did not answer within 20 s")


# =========================================================================================
# Orchestrator
# =========================================================================================


async def spawn_workers(
    cl: Cluster, n: int, procs: int, step: float, split: bool = False
) -> list[Worker]:
    """``procs`` client processes, each with its share of the N followers; ``split``: as
    many again, the followers' sockets in the first ``procs`` and their fetches in the
    others (a follower's receipt of a turn then does not wait behind its fetches)."""
    workers = []
    roles = ["follow"] * procs + ["fetch"] * procs if split else ["both"] * procs
    for w, role in enumerate(roles):
        share = w % procs
        tokens = [cl.bp_tokens[i % len(cl.bp_tokens)] for i in range(share, n, procs)]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SELF), "--worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,
        )  # fmt: skip
        _CHILDREN[proc.pid] = "client"
        cfg = {
            "tokens": tokens,
            "sio_url": cl.servers[0].url,
            "meeting_id": cl.meeting_id,
            "step_timeout": step,
            "role": role,
        }
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(cfg).encode() + b"\n")
        await proc.stdin.drain()
        workers.append(Worker(proc, len(tokens), role))
    return workers


def fetching(workers: list[Worker]) -> int:
    """Followers whose fetches these workers make."""
    return sum(w.n for w in workers if w.role != "follow")


async def upload_and_publish(cl: Cluster, pdf: Path, within: float) -> dict[str, Any]:
    base = f"{cl.servers[0].url}/api/v1/meetings/{cl.meeting_id}/documents"
    auth = {"Authorization": f"Bearer {cl.chair_token}"}
    timeout = aiohttp.ClientTimeout(total=within)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        t0 = time.monotonic()
        async with http.post(
            base,
            params={"filename": "Tài liệu họp 100 trang.pdf"},
            data=await asyncio.to_thread(pdf.read_bytes),
            headers={**auth, "Content-Type": "application/pdf"},
        ) as resp:
            doc = await resp.json(content_type=None)
            if resp.status != 201:
                raise RuntimeError(f"upload -> {resp.status}: {doc}")
        upload_s = time.monotonic() - t0
        await _json(http, "POST", f"{base}/{doc['id']}/publish", cl.chair_token)
    return {**doc, "upload_s": round(upload_s, 2)}


async def fetch_whole(url: str, token: str, dest: Path) -> None:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http,
        http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        if resp.status != 200:
            raise RuntimeError(f"GET {url} -> {resp.status}: {(await resp.text())[:300]}")
        body = await resp.read()
    await asyncio.to_thread(dest.write_bytes, body)


class Presenter:
    """The chair's own socket: presents the document and turns its pages on a schedule."""

    def __init__(self, sock: LightSocket, meeting_id: int) -> None:
        self.sock = sock
        self.meeting_id = meeting_id

    async def turns(self, pages: list[int], rate: float) -> dict[str, Any]:
        sent: list[float] = []
        ok: list[bool] = []
        issue_late: list[float] = []
        rtt: list[float] = []
        failed: dict[str, int] = defaultdict(int)
        start = time.time() + 0.05
        for i, page in enumerate(pages):
            slot = start + i / rate
            delay = slot - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            t = time.time()
            sent.append(t)
            issue_late.append(t - slot)
            ok.append(False)
            try:
                ack = await self.sock.call(
                    "document.turn_page", {"meeting_id": self.meeting_id, "page": page}, 30
                )
                if ack.get("ok"):
                    ok[-1] = True
                else:
                    failed[str(ack.get("error"))[:160]] += 1
            except AckError as exc:
                failed[str(exc)[:160]] += 1
            rtt.append(time.time() - t)
        srt = sorted(rtt)
        return {
            "sent": sent,
            "ok": ok,
            "failed": dict(failed),
            "issue_late_max_ms": r(max(issue_late) * 1000),
            "ack_rtt_ms": _stats([x * 1000 for x in srt]),
            "planned_s": round((len(pages) - 1) / rate, 2),
            "took_s": round(time.time() - start, 2),
        }


def reading_process(pid: int) -> int:
    """The PID of meetingd's reading process among ``pid``'s children, or 0."""
    for kid in children_of(pid):
        with contextlib.suppress(OSError):
            with open(f"/proc/{kid}/cmdline", "rb") as f:
                if b"meetingd.api.reading_process" in f.read():
                    return kid
    return 0


def _cpu(meetingd_pid: int, nginx_worker: int, workers: list[Worker]) -> dict[str, float]:
    reader = reading_process(meetingd_pid)
    return {
        "meetingd": tree_cpu_s(meetingd_pid),
        "reading_process": proc_cpu_s(reader) if reader else 0.0,
        "nginx_worker": proc_cpu_s(nginx_worker),
        "clients": sum(proc_cpu_s(w.proc.pid) for w in workers),
        "meetingd_ns": tree_run_ns(meetingd_pid),
        "nginx_worker_ns": tree_run_ns(nginx_worker),
    }


def _stats(xs: list[float], nd: int = 1) -> dict[str, Any]:
    s = sorted(xs)
    return {
        "p50": r(pct(s, 50), nd),
        "p90": r(pct(s, 90), nd),
        "p99": r(pct(s, 99), nd),
        "max": r(s[-1] if s else None, nd),
        "samples": len(s),
    }


async def run_round(
    args: argparse.Namespace,
    k: int,
    kind: str,
    url: str,
    sha: str,
    workers: list[Worker],
    presenter: Presenter,
    meetingd_pid: int,
    nginx_worker: int,
) -> dict[str, Any]:
    served_pid = meetingd_pid if kind == "meetingd" else nginx_worker
    out: dict[str, Any] = {"round": k, "server": kind, "loadavg_start": loadavg()}
    out["quiet_wait_s"] = round(await wait_quiet([meetingd_pid], limit=10), 1)
    pages = [*range(2, args.pages + 1), 1][: args.turns]  # distinct: a page names its turn
    grant = kind == "meetingd" and args.read == "grant"
    opening = url.rsplit("/", 1)[0] + "/open" if grant else None
    open0 = _cpu(meetingd_pid, nginx_worker, workers)
    o0 = time.monotonic()
    for w in workers:
        w.send(json.dumps({"url": url, "chunk": args.chunk, "deadline_s": args.round_deadline,
                           "sha256": sha, "open": opening}))  # fmt: skip
    opened = [await w.read("opened", args.round_deadline + 60) for w in workers]
    out["open_phase"] = {
        "openings": fetching(workers) if grant else 0,
        "wall_s": round(time.monotonic() - o0, 2),
        "errors": {e: c for o in opened for e, c in o["errors"].items()},
    }
    cpu0 = _cpu(meetingd_pid, nginx_worker, workers)
    out["open_phase"]["meetingd_cpu_s"] = round(cpu0["meetingd"] - open0["meetingd"], 3)
    spy = None
    if args.profile and kind == "meetingd" and k == 0:
        prof = OUT_DIR / f"documents_profile_n{args.n}.txt"
        OUT_DIR.mkdir(exist_ok=True)
        spy = await py_spy(meetingd_pid, min(args.round_deadline, 20), prof)
    w0 = time.monotonic()
    for w in workers:
        w.send("go")
    turning = asyncio.create_task(presenter.turns(pages, args.rate))
    fetched = [await w.read("fetched", args.round_deadline + 60) for w in workers]
    fetch_wall = time.monotonic() - w0
    cpu1 = _cpu(meetingd_pid, nginx_worker, workers)
    if spy is not None:
        _, err = await asyncio.wait_for(spy.communicate(), 60)
        _CHILDREN.pop(spy.pid, None)
        if spy.returncode == 0 and prof.exists():
            out["profile"] = {"file": str(prof.relative_to(BENCH_DIR.parent)),
                              **summarise_profile(prof)}  # fmt: skip
        else:
            out["profile"] = {"error": err.decode(errors="replace")[-500:]}
    out["loadavg_after_fetch"] = loadavg()
    turned = await asyncio.wait_for(turning, args.turns / args.rate + 120)
    for w in workers:
        w.send(json.dumps({"pages": pages, "drain_s": 30}))
    got = [await w.read("turns", 90) for w in workers]
    out["loadavg_end"] = loadavg()

    total_bytes = sum(f["bytes"] for f in fetched)
    cpu = {key: cpu1[key] - cpu0[key] for key in cpu0}
    served_cpu = cpu["meetingd" if kind == "meetingd" else "nginx_worker"]
    served_ns = cpu["meetingd_ns" if kind == "meetingd" else "nginx_worker_ns"]
    out["fetch"] = {
        "clients": fetching(workers),
        "complete": sum(f["complete"] for f in fetched),
        "wrong_bytes": sum(f["wrong_bytes"] for f in fetched),
        "errors": {e: c for f in fetched for e, c in f["errors"].items()},
        "requests": sum(f["requests"] for f in fetched),
        "bytes_served": total_bytes,
        "wall_s": round(fetch_wall, 2),
        "throughput_mb_s": r(total_bytes / MB / max(fetch_wall, 1e-3), 1),
        "range_request_ms": _stats([x for f in fetched for x in f["request_ms"]]),
    }
    out["cpu"] = {
        "served_by_pid": served_pid,
        "server_cpu_s": round(served_cpu, 2),
        "server_cores": round(served_cpu / fetch_wall, 3),
        "server_cpu_s_per_mb": r(served_cpu / max(total_bytes / MB, 1e-9), 5),
        "server_cpu_us_per_request": r(served_cpu / max(out["fetch"]["requests"], 1) * 1e6, 0),
        "server_run_s_schedstat": round(served_ns / 1e9, 4),
        "server_run_s_per_mb_schedstat": r(served_ns / 1e9 / max(total_bytes / MB, 1e-9), 6),
        "meetingd_cpu_s": round(cpu["meetingd"], 2),
        # the reading process alone (documents.read_process): the part that serves bytes
        "reading_process_cpu_s": round(cpu["reading_process"], 2),
        "reading_process_cpu_s_per_mb": r(cpu["reading_process"] / max(total_bytes / MB, 1e-9), 5),
        "nginx_worker_cpu_s": round(cpu["nginx_worker"], 2),
        "client_procs_cpu_s": round(cpu["clients"], 2),
        "client_procs_cores": round(cpu["clients"] / fetch_wall, 3),
        "window": "the fetch phase: first request sent to the last client's last byte",
    }
    lat: list[float] = []
    lost = 0
    for g in got:
        for row in g["rx"]:
            for t, s, ok in zip(row, turned["sent"], turned["ok"], strict=False):
                if not ok:
                    continue  # refused by the server (counted in "failed"): no event to wait for
                if t is None:
                    lost += 1
                else:
                    lat.append((t - s) * 1000)
    out["page_turns"] = {
        "turns": len(pages),
        "rate_per_s": args.rate,
        "latency_ms": _stats(lat),
        "under_200ms_share": r(sum(1 for x in lat if x < 200) / max(len(lat), 1), 4),
        "lost": lost,
        "duplicated": sum(g["dups"] for g in got),
        "dropped_connections": sum(g["dropped"] for g in got),
        **{key: v for key, v in turned.items() if key not in ("sent", "ok")},
        "overlap": "the turns ran while the fetches ran; the fetch took "
        f"{fetch_wall:.1f} s, the turns {turned['took_s']} s",
    }
    fc = out["fetch"]
    progress(
        f"round {k} {kind}: {fc['complete']}/{fc['clients']} complete, "
        f"{total_bytes / MB:.0f} MB in {fetch_wall:.1f} s, cpu {served_cpu:.2f} s "
        f"({out['cpu']['server_cpu_s_per_mb']} s/MB); turns p50 "
        f"{out['page_turns']['latency_ms']['p50']} p99 {out['page_turns']['latency_ms']['p99']} "
        f"ms lost {lost}; load {out['loadavg_end']}"
    )
    return out


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def med(xs: list[float]) -> float | None:
        s = sorted(xs)
        if not s:
            return None
        return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2

    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for x in rounds:
        if "cpu" in x:
            by[x["server"]].append(x)
    out: dict[str, Any] = {}
    for kind, xs in by.items():
        out[kind] = {
            "rounds": len(xs),
            "cpu_s_per_mb_each": [x["cpu"]["server_cpu_s_per_mb"] for x in xs],
            "cpu_s_per_mb_median": r(med([x["cpu"]["server_cpu_s_per_mb"] for x in xs]), 5),
            "run_s_per_mb_schedstat_each": [x["cpu"]["server_run_s_per_mb_schedstat"] for x in xs],
            "run_s_per_mb_schedstat_median": r(
                med([x["cpu"]["server_run_s_per_mb_schedstat"] for x in xs]), 6
            ),
            "cpu_us_per_request_each": [x["cpu"]["server_cpu_us_per_request"] for x in xs],
            "reading_process_cpu_s_per_mb_each": [
                x["cpu"]["reading_process_cpu_s_per_mb"] for x in xs
            ],
            "throughput_mb_s_each": [x["fetch"]["throughput_mb_s"] for x in xs],
            "complete_fetches_each": [x["fetch"]["complete"] for x in xs],
            "page_turn_p99_ms_each": [x["page_turns"]["latency_ms"]["p99"] for x in xs],
            "open_phase_each": [x.get("open_phase") for x in xs],
            "page_turn_max_ms_each": [x["page_turns"]["latency_ms"]["max"] for x in xs],
            "loadavg_each": [x["loadavg_start"] for x in xs],
        }
    if "nginx" in by:
        # meetingd's own CPU while nginx served: page turns + idle sockets, the floor of
        # meetingd's figure in its own rounds.
        out["meetingd_cpu_s_during_nginx_rounds"] = [
            x["cpu"]["meetingd_cpu_s"] for x in by["nginx"]
        ]
        # ... per second of nginx's fetch phase: what the turns and sockets cost meetingd
        # whoever serves; taken out of meetingd's own rounds, what is left is the ranges'.
        rate = med([x["cpu"]["meetingd_cpu_s"] / x["fetch"]["wall_s"] for x in by["nginx"]])
        if rate is not None and "meetingd" in by:
            out["meetingd_cpu_s_per_s_besides_serving"] = r(rate, 4)
            net = [
                (x["cpu"]["meetingd_cpu_s"] - rate * x["fetch"]["wall_s"])
                / max(x["fetch"]["bytes_served"] / MB, 1e-9)
                for x in by["meetingd"]
            ]
            out["meetingd_cpu_s_per_mb_net_of_turns_each"] = [r(v, 5) for v in net]
            n_med = out["nginx"]["cpu_s_per_mb_median"]
            net_med = med(net)
            if n_med and net_med is not None:
                out["cpu_per_mb_ratio_net_of_turns"] = round(net_med / n_med, 2)
    m = out.get("meetingd", {}).get("cpu_s_per_mb_median")
    n = out.get("nginx", {}).get("cpu_s_per_mb_median")
    if m and n:
        out["cpu_per_mb_ratio_meetingd_over_nginx"] = round(m / n, 2)
        out["goal_cpu_ratio_le_1_5"] = m / n <= 1.5
    rp = [x["cpu"]["reading_process_cpu_s_per_mb"] for x in by.get("meetingd", [])]
    if n and rp and all(rp):
        # the process that serves the bytes, against the process that serves nginx's
        out["cpu_per_mb_ratio_reading_process_over_nginx"] = round(med(rp) / n, 2)
    ms = out.get("meetingd", {}).get("run_s_per_mb_schedstat_median")
    ns = out.get("nginx", {}).get("run_s_per_mb_schedstat_median")
    if ms and ns:
        out["cpu_per_mb_ratio_schedstat"] = round(ms / ns, 2)
    lat_m = [x["page_turns"]["latency_ms"]["p99"] for x in by.get("meetingd", [])]
    if lat_m:
        out["page_turn_p99_ms_worst_meetingd_round"] = max(v for v in lat_m if v is not None)
        out["goal_page_turn_p99_lt_200ms"] = all(v is not None and v < 200 for v in lat_m)
    return out


async def orchestrate(args: argparse.Namespace) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "bench": "documents",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "host": {
            "cpus": os.cpu_count(),
            "shared_machine": "yes: other engineers run tests on this machine while it runs; "
            "every figure carries os.getloadavg() (1, 5, 15 min); a load above the core count "
            "means the bench's processes waited for CPU",
            "loadavg_at_start": loadavg(),
            "python": platform.python_version(),
        },
        "git": git_rev(),
        "setup": {
            "n": args.n,
            "chunk_bytes": args.chunk,
            "turns_per_round": args.turns,
            "turn_rate_per_s": args.rate,
            "round_order": "meetingd, nginx, ... alternating",
            "database": "sqlite (meetingd demo's data dir in a temp dir)",
            "fetch": "each follower: sequential Range requests of chunk_bytes over keep-alive "
            "aiohttp (fresh pool each round), bearer token sent to both servers",
            "meetingd_read": args.read,
            "meetingd_file": "grant: each follower sends document.open once on its socket, "
            "as the web reader does (authorised, a read receipt + audit row), then fetches "
            "every range from the grant URL it answers (GET .../read?grant=: signature, "
            "expiry and revocations checked, no database), on meetingd's reading port "
            "(documents.read_listen: a free port of its own, same process) unless "
            "--reading-port off (then the app's own route on the main port); every follower "
            "opens first, then the ranges and the turns start (open_phase: the openings' "
            "CPU apart from the fetch phase's); "
            "bearer: every range from GET .../file with the token (authorised each time)",
            "nginx": "Debian nginx, 1 worker, daemon off, sendfile on, access_log off, "
            "keepalive_requests 100000, serving the bytes meetingd serves",
            "latency": "presenter's document.turn_page sent (wall clock) to the follower's "
            "receipt of document.page_turned",
            "cpu": "utime+stime from /proc/PID/stat of meetingd's process (+ its children: "
            "the reading process, reported apart too) and "
            "of nginx's worker, over each round's fetch phase",
        },
        "rounds": [],
    }
    tmp = Path(tempfile.mkdtemp(prefix="meetingd-docbench-"))
    os.chmod(tmp, 0o755)  # nginx's worker runs as nobody
    cl: Cluster | None = None
    workers: list[Worker] = []
    presenter_http: aiohttp.ClientSession | None = None
    nginx_pid = 0
    try:
        pdf = tmp / "generated.pdf"
        t0 = time.monotonic()
        make_pdf(pdf, args.pages, args.image_px, seed=10)
        doc["document"] = {"pages": args.pages, "bytes": pdf.stat().st_size,
                           "made_s": round(time.monotonic() - t0, 2)}  # fmt: skip
        progress(f"PDF: {args.pages} pages, {pdf.stat().st_size / MB:.2f} MB")

        # a free port of its own: the default (the main port + 1) may be another's
        read_port = free_port() if args.reading_port == "on" else 0
        env = [f"MEETINGD_DOCUMENTS_READ_LISTEN=127.0.0.1:{read_port}" if read_port
               else "MEETINGD_DOCUMENTS_READ_LISTEN=off"]  # fmt: skip
        ns = argparse.Namespace(redis=False, postgres=False, server="meetingd", server_env=env)
        cl = await start_cluster(ns, min(args.n, args.bridge_points))
        mpid = cl.servers[0].pid
        up = await upload_and_publish(cl, pdf, 120)
        doc_id = int(up["id"])
        doc["document"].update(
            {"id": doc_id, "served_pages": up["pages"], "sanitised": up["sanitised"],
             "findings": up["findings"], "upload_and_check_s": up["upload_s"]}
        )  # fmt: skip
        file_url = f"{cl.servers[0].url}/api/v1/meetings/{cl.meeting_id}/documents/{doc_id}/file"
        async with aiohttp.ClientSession() as http:
            granted, _ = await _open_grant(
                http, file_url.rsplit("/", 1)[0] + "/open", cl.chair_token, None
            )
        doc["setup"]["grant_url"] = (granted or "?").split("?")[0]
        if read_port and f":{read_port}/" not in doc["setup"]["grant_url"]:
            raise SystemExit(f"the reading port {read_port} is not listening: grants go to "
                             f"{doc['setup']['grant_url']} (see the server's log)")  # fmt: skip
        www = tmp / "www"
        www.mkdir()
        os.chmod(www, 0o755)
        await fetch_whole(file_url, cl.chair_token, www / "doc.pdf")
        os.chmod(www / "doc.pdf", 0o644)
        sha = sha256_file(www / "doc.pdf")
        doc["document"]["served_sha256"] = sha
        doc["document"]["served_is_generated_bytes"] = sha == sha256_file(pdf)
        doc["document"]["served_bytes"] = (www / "doc.pdf").stat().st_size

        port = free_port()
        nginx_pid, nginx_worker = await start_nginx(tmp, www, port)
        nginx_url = f"http://127.0.0.1:{port}/doc.pdf"
        vp = await asyncio.create_subprocess_exec(NGINX, "-v", stderr=asyncio.subprocess.PIPE)
        ver = (await asyncio.wait_for(vp.communicate(), 10))[1].decode().strip()
        doc["setup"]["nginx_version"] = ver
        progress(f"nginx {ver} on port {port}: master {nginx_pid}, worker {nginx_worker}")

        procs = args.client_procs or (1 if args.n <= 200 else 2)
        t0 = time.monotonic()
        workers = await spawn_workers(cl, args.n, procs, 60, args.split)
        ready = [await w.read("ready", 120 + args.n * 0.3) for w in workers]
        joined = sum(x["joined"] for x in ready)
        doc["connect"] = {
            "followers": args.n,
            "joined": joined,
            "client_procs": len(workers),
            "split": args.split,
            "errors": {e: c for x in ready for e, c in x["errors"].items()},
            "seconds": round(time.monotonic() - t0, 1),
            "bridge_points": len(cl.bp_tokens),
        }
        progress(f"{joined}/{args.n} followers joined in {doc['connect']['seconds']} s")
        if joined == 0:
            raise RuntimeError(f"no follower joined: {doc['connect']['errors']}")

        presenter_http = aiohttp.ClientSession()
        sock = LightSocket(presenter_http, cl.servers[0].url, {"token": cl.chair_token})
        await sock.connect()
        ack = await sock.call("meeting.join", {"meeting_id": cl.meeting_id})
        if not ack.get("ok"):
            raise RuntimeError(f"the presenter could not join: {ack}")
        ack = await sock.call(
            "document.present", {"meeting_id": cl.meeting_id, "document_id": doc_id, "page": 1}
        )
        if not ack.get("ok"):
            raise RuntimeError(f"document.present refused: {ack}")
        presenter = Presenter(sock, cl.meeting_id)

        for k in range(2 * args.rounds):
            kind = "meetingd" if k % 2 == 0 else "nginx"
            try:
                res = await run_round(
                    args, k, kind, file_url if kind == "meetingd" else nginx_url, sha,
                    workers, presenter, mpid, nginx_worker,
                )  # fmt: skip
            except (TimeoutError, RuntimeError) as exc:
                progress(f"round {k} {kind}: FAILED: {type(exc).__name__}: {exc}")
                doc["rounds"].append({"round": k, "server": kind, "error": str(exc)[:500]})
                break
            doc["rounds"].append(res)
        doc["summary"] = summarise(doc["rounds"])
    except Exception as exc:
        progress(f"FAILED: {type(exc).__name__}: {exc}")
        doc["error"] = f"{type(exc).__name__}: {exc}"[:3000]
    finally:
        for w in workers:
            if w.proc.returncode is None:
                kill_pid(w.proc.pid, grace=2.0)
            _CHILDREN.pop(w.proc.pid, None)
        if presenter_http is not None:
            await presenter_http.close()
        if nginx_pid:
            kill_pid(nginx_pid)
        if cl is not None:
            doc["server_log_problems"] = log_problems(cl)
        await stop_cluster(cl)
        shutil.rmtree(tmp, ignore_errors=True)
    doc["host"]["loadavg_at_end"] = loadavg()
    return doc


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=200, help=f"followers (at most {MAX_N})")
    p.add_argument("--rounds", type=int, default=2, help="rounds of each server (interleaved)")
    p.add_argument("--pages", type=int, default=100)
    p.add_argument("--image-px", type=int, default=160, help="noise image side per page")
    p.add_argument("--chunk", type=int, default=65536, help="range request size (pdf.js: 64 KiB)")
    p.add_argument("--turns", type=int, default=100, help="page turns per round")
    p.add_argument("--rate", type=float, default=5.0, help="page turns per second")
    p.add_argument("--round-deadline", type=float, default=40.0, help="seconds per fetch phase")
    p.add_argument("--bridge-points", type=int, default=100, help="distinct bridge points")
    p.add_argument("--read", choices=("grant", "bearer"), default="grant",
                   help="meetingd's rounds: document.open then ranges under its grant (what the "
                   "reader does), or every range from .../file with the bearer token")  # fmt: skip
    p.add_argument("--profile", action="store_true", help="py-spy meetingd in its first round")
    p.add_argument("--reading-port", choices=("on", "off"), default="on",
                   help="ranges from the reading port (on) or the main port (off)")  # fmt: skip
    p.add_argument("--client-procs", type=int, default=0, help="0: 1 up to N=200, else 2")
    p.add_argument(
        "--split",
        action="store_true",
        help="followers' sockets and their fetches in separate client processes",
    )
    p.add_argument("--json-out", "--out", dest="out", type=Path, help="also write the JSON here")
    args = p.parse_args()

    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    if args.worker:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(worker_main())
        return 0
    if not 1 <= args.n <= MAX_N or not 1 <= args.rounds <= MAX_ROUNDS:
        p.error(f"--n must be 1..{MAX_N} and --rounds 1..{MAX_ROUNDS}")
    if not 2 <= args.pages <= 500 or not 1 <= args.turns <= args.pages:
        p.error("--pages must be 2..500 and --turns 1..pages")
    if not 0.1 <= args.rate <= 20 or not 5 <= args.round_deadline <= 120:
        p.error("--rate must be 0.1..20 per second and --round-deadline 5..120 s")

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
