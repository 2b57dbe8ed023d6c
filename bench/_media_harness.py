"""Process management for the media benchmarks: server and client processes, stopped by PID.

Every child is started directly (no shell, no ``timeout`` wrapper) so its PID is the
process whose CPU is measured; every child also bounds its own life (``--max-seconds``),
and :meth:`Harness.close` stops whatever is left by PID (quit, then SIGTERM, then SIGKILL).

Mode ``janus``: the server is Debian's Janus with its VideoRoom plugin (``_janus.py``), in a
network namespace made for the point, and the clients run in that namespace (``ip netns
exec`` execs them, so their PIDs stay the measured processes); the namespace is removed in
:meth:`Harness.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from _janus import MEDIA_IP, JanusNetns, JanusServer
from _media_common import free_port, progress

BENCH = Path(__file__).resolve().parent
PY = sys.executable


class Child:
    """A child process speaking JSON lines on stdin/stdout."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc
        self.pid = proc.pid

    async def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        await self.proc.stdin.drain()

    async def expect(self, event: str, within: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: no {event!r} within {within}s")
            line = await asyncio.wait_for(self.proc.stdout.readline(), left)
            if not line:
                raise RuntimeError(f"{self.name} exited (rc={self.proc.returncode})")
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("event") == event:
                return msg  # type: ignore[no-any-return]

    async def call(self, cmd: dict[str, Any], event: str, within: float) -> dict[str, Any]:
        await self.send(cmd)
        return await self.expect(event, within)


class Harness:
    """One server process and its client processes for one measurement point."""

    def __init__(self, mode: str, max_seconds: float, page_size: int = 16) -> None:
        self.mode = mode
        self.max_seconds = max_seconds
        self.page_size = page_size
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: asyncio.subprocess.Process | None = None
        self.clients: list[Child] = []
        self.http: aiohttp.ClientSession | None = None
        self.netns: JanusNetns | None = None
        self.janus: JanusServer | None = None
        self._watchdog: asyncio.Future[None] | None = None

    @property
    def server_pid(self) -> int:
        assert self.server is not None
        return self.server.pid

    def _prefix(self) -> list[str]:
        return self.netns.prefix() if self.netns is not None else []

    async def start_server(self) -> None:
        if self.mode == "janus":
            self.netns = JanusNetns()
            self.netns.create()
            self.janus = JanusServer(prefix=self.netns.prefix(),
                                     debug_level=int(os.environ.get("BENCH_JANUS_DEBUG", "4")))
            await self.janus.start()
            self.server = self.janus.proc
            self._watchdog = asyncio.ensure_future(self._kill_after(self.max_seconds))
            self.url = self.janus.url
            self._check_exec(self.server_pid, "janus")
            return
        self.server = await asyncio.create_subprocess_exec(
            PY, str(BENCH / "_media_server.py"), "--mode", self.mode, "--port", str(self.port),
            "--page-size", str(self.page_size), "--max-seconds", str(self.max_seconds),
            "--log-level", os.environ.get("BENCH_SERVER_LOG", "WARNING"),
            stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        )
        assert self.server.stdout is not None
        line = await asyncio.wait_for(self.server.stdout.readline(), 30)
        if not line.startswith(b"READY"):
            raise RuntimeError(f"server did not start: {line!r}")
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def start_clients(self, name: str, clients: list[dict[str, Any]], *,
                            decode: bool = False, keyframe_on_request: bool = True,
                            rcvbuf: int = 0, receiver: str = "full",
                            sender: str = "full") -> Child:
        spec = {
            "name": name, "server": self.url, "mode": self.mode, "decode": decode,
            "ice_ip": MEDIA_IP if self.mode == "janus" else "127.0.0.1",
            "receiver": receiver, "sender": sender,
            "keyframe_on_request": keyframe_on_request, "clients": clients, "rcvbuf": rcvbuf,
            "max_seconds": self.max_seconds,
        }
        proc = await asyncio.create_subprocess_exec(
            *self._prefix(), PY, str(BENCH / "_media_clients.py"), "--spec", json.dumps(spec),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        child = Child(name, proc)
        self.clients.append(child)
        ready = await child.expect("ready", 60)
        if ready.get("pid") != proc.pid:
            raise RuntimeError(f"{name}: pid {ready.get('pid')} is not the child {proc.pid}")
        return child

    async def _kill_after(self, seconds: float) -> None:
        """Janus has no --max-seconds of its own: the harness bounds its life."""
        await asyncio.sleep(seconds)
        if self.server is not None and self.server.returncode is None:
            progress(f"janus pid {self.server.pid} outlived {seconds:.0f}s: killed")
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.server.pid, signal.SIGKILL)

    @staticmethod
    def _check_exec(pid: int, comm: str) -> None:
        """The PID measured is the program itself (``ip netns exec`` exec'd it)."""
        with open(f"/proc/{pid}/comm") as f:
            got = f.read().strip()
        if not got.startswith(comm):
            raise RuntimeError(f"pid {pid} is {got!r}, not {comm!r}")

    async def server_get(self, path: str) -> Any:
        if self.mode == "janus":
            return {}  # layouts and room counters are meetingd's
        assert self.http is not None
        async with self.http.get(self.url + path) as resp:
            return await resp.json()

    async def server_post(self, path: str, body: dict[str, Any]) -> Any:
        assert self.http is not None
        async with self.http.post(self.url + path, json=body) as resp:
            return await resp.json()

    async def close(self) -> None:
        """Stop every child by its PID: ask, then SIGTERM, then SIGKILL."""
        for c in self.clients:
            with contextlib.suppress(Exception):
                await c.send({"cmd": "quit"})
        if self.server is not None and self.http is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server_post("/quit", {}), 5)
        if self.http is not None:
            await self.http.close()
        procs = [c.proc for c in self.clients]
        if self.server is not None and self.janus is None:
            procs.append(self.server)
        for p in procs:
            await _stop(p)
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.janus is not None:
            await self.janus.stop(keep_dir=bool(os.environ.get("BENCH_KEEP_JANUS")))
            self.janus = None
        if self.netns is not None:
            self.netns.close()
            self.netns = None
        self.clients = []
        self.server = None


async def _stop(proc: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), grace)
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)
            progress(f"stopped pid {proc.pid} with {sig.name}")
            return


async def wait_receiving(
    children: list[Child], want: dict[str, int], within: float
) -> dict[str, Any]:
    """Poll until every client id in ``want`` has at least that many slots with frames."""
    deadline = time.monotonic() + within
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = {}
        for ch in children:
            st = await ch.call({"cmd": "status"}, "status", 30)
            last.update(st["clients"])
        ok = all(
            sum(1 for n in last.get(cid, {}).values() if n > 0) >= k for cid, k in want.items()
        )
        if ok:
            return last
        await asyncio.sleep(0.5)
    missing = {
        cid: last.get(cid) for cid, k in want.items()
        if sum(1 for n in last.get(cid, {}).values() if n > 0) < k
    }
    progress(f"warning: not every receiver got media within {within}s: {len(missing)} missing")
    return last
