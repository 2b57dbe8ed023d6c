"""Janus (Debian's ``janus`` package) as a second SFU target of the media benchmarks.

:class:`JanusServer` writes a configuration of its own into a temporary folder and runs
``janus`` on it: only the HTTP transport (on 127.0.0.1), only the VideoRoom plugin (the
plugin and transport folders hold just those two libraries), no STUN or TURN server, ICE
host candidates on 127.0.0.1 only, no admin API, no event handlers, no loggers. Janus's
media defaults are kept (NACK with its retransmission queue, PLI on a subscriber's join
and on its requests, REMB to the publisher, RTCP statistics); the room caps the
publisher's REMB at :data:`ROOM_BITRATE`, above the clip's ~800 kbit/s.

:class:`JanusSession` speaks the Janus HTTP API (create a session, attach
``janus.plugin.videoroom``, messages with their JSEP, a long poll for the events, a
keep-alive) for the benchmark's aiortc clients, which do the WebRTC side themselves:

* publisher: ``joinandconfigure`` as ``publisher`` with its offer, Janus's answer applied;
* subscriber: ``join`` as ``subscriber`` with the publisher's feed id, Janus's offer
  answered in ``start``.

Janus never gathers a candidate on a loopback interface (its ICE setup skips them, and
with none left it fails), so a Janus point lives in a network namespace of its own
(:class:`JanusNetns`): its ``lo`` plus a veth pair whose one end holds :data:`MEDIA_IP`
(127.0.0.2/32). Janus gathers that address only; the clients of that point run in the same
namespace with their ICE on that address too. Traffic between two local addresses is
delivered through the namespace's loopback (the veth carries nothing), as for meetingd on
127.0.0.1; the namespace reaches nothing else and is removed after the point.

The process is started directly (``ip netns exec`` execs it: its PID is the one whose CPU
is measured, every thread of it) and dies with its parent (``PR_SET_PDEATHSIG``);
:meth:`JanusServer.stop` ends it by PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

JANUS_BIN = "janus"
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
ROOM = 1234
PUBLISHER_FEED = 1
ROOM_BITRATE = 2_000_000  # REMB sent to the publisher, above what the clip needs
READY_MARKS = ("JANUS VideoRoom plugin initialized", "JANUS REST (HTTP/HTTPS) transport plugin "
               "initialized")
MEDIA_IP = "127.0.0.2"  # Janus's (and its clients') ICE address inside the namespace


def janus_binary() -> str | None:
    """Path of Debian's janus, or None when it is not installed."""
    found = shutil.which(JANUS_BIN)
    if found is None:
        return None
    if not (_lib_dir() / "plugins" / "libjanus_videoroom.so").exists():
        return None
    return found


def janus_version() -> dict[str, str | None]:
    """What ``janus --version`` and dpkg say (for the benchmark's JSON)."""
    out: dict[str, str | None] = {"janus": None, "debian_package": None}
    with contextlib.suppress(Exception):
        text = _run(JANUS_BIN, "--version").stdout
        out["janus"] = text.splitlines()[0].split(":", 1)[1].strip() if text else None
    with contextlib.suppress(Exception):
        out["debian_package"] = _run("dpkg-query", "-W", "-f", "${Version}", "janus").stdout
    return out


def _lib_dir() -> Path:
    """Janus's library folder (Debian's multiarch path, or the one beside the binary)."""
    if JANUS_LIB.exists():
        return JANUS_LIB
    for cand in Path("/usr/lib").glob("*/janus"):
        return cand
    return JANUS_LIB


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the bench that started it dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)


class JanusNetns:
    """A network namespace for one Janus point: ``lo`` and a veth pair, one end 127.0.0.2.

    Needs root and iproute2 (``ip``). :meth:`close` removes it (the veth goes with it).
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name or f"md-janus-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.created = False

    @staticmethod
    def available() -> str | None:
        """None when a namespace can be made here, else why not."""
        if os.geteuid() != 0:
            return "network namespaces need root"
        if shutil.which("ip") is None:
            return "iproute2 (ip) is not installed"
        return None

    def create(self) -> None:
        why = self.available()
        if why:
            raise RuntimeError(why)
        _run("ip", "netns", "del", self.name)
        ns = self.name
        steps = [
            ("ip", "netns", "add", ns),
            ("ip", "-n", ns, "link", "set", "lo", "up"),
            ("ip", "-n", ns, "link", "add", "mdj0", "type", "veth", "peer", "name", "mdj1"),
            ("ip", "-n", ns, "addr", "add", f"{MEDIA_IP}/32", "dev", "mdj0"),
            ("ip", "-n", ns, "link", "set", "mdj0", "up"),
            ("ip", "-n", ns, "link", "set", "mdj1", "up"),
        ]
        self.created = True
        for step in steps:
            done = _run(*step)
            if done.returncode:
                self.close()
                raise RuntimeError(f"cannot make the namespace ({' '.join(step)}): "
                                   f"{done.stderr.strip()}")

    def prefix(self) -> list[str]:
        """Argument prefix that runs a program in the namespace (``ip`` execs it)."""
        return ["ip", "netns", "exec", self.name]

    def close(self) -> None:
        if self.created:
            _run("ip", "netns", "del", self.name)
            self.created = False


class JanusServer:
    """A Janus process with the benchmark's own configuration, on loopback only."""

    def __init__(self, *, debug_level: int = 4, session_timeout: int = 60,
                 prefix: list[str] | None = None) -> None:
        binary = janus_binary()
        if binary is None:
            raise RuntimeError("janus is not installed (apt-get install -y janus)")
        self.binary = binary
        self.prefix = prefix or []
        self.debug_level = debug_level
        self.session_timeout = session_timeout
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/janus"
        self.dir = Path(tempfile.mkdtemp(prefix="bench-janus-"))
        self.log_path = self.dir / "janus.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def write_config(self) -> None:
        d = self.dir
        lib = _lib_dir()
        for sub, name in (("plugins", "libjanus_videoroom.so"), ("transports", "libjanus_http.so")):
            (d / sub).mkdir(exist_ok=True)
            link = d / sub / name
            if not link.exists():
                link.symlink_to(lib / sub / name)
        for sub in ("events", "loggers"):
            (d / sub).mkdir(exist_ok=True)  # empty: no event handler, no logger
        (d / "janus.jcfg").write_text(f"""\
general: {{
	configs_folder = "{d}"
	plugins_folder = "{d}/plugins"
	transports_folder = "{d}/transports"
	events_folder = "{d}/events"
	loggers_folder = "{d}/loggers"
	debug_level = {self.debug_level}
	server_name = "meetingd-bench"
	session_timeout = {self.session_timeout}
}}
certificates: {{
}}
media: {{
	ipv6 = false
}}
nat: {{
	nice_debug = false
	ignore_mdns = true
	ice_enforce_list = "{MEDIA_IP}"
}}
plugins: {{
}}
transports: {{
}}
loggers: {{
}}
events: {{
	broadcast = false
}}
""")
        (d / "janus.transport.http.jcfg").write_text(f"""\
general: {{
	json = "plain"
	base_path = "/janus"
	http = true
	port = {self.port}
	ip = "127.0.0.1"
	https = false
}}
admin: {{
	admin_http = false
	admin_https = false
}}
cors: {{
}}
""")
        (d / "janus.plugin.videoroom.jcfg").write_text(f"""\
general: {{
}}
room-{ROOM}: {{
	description = "bench"
	publishers = 1
	bitrate = {ROOM_BITRATE}
	videocodec = "vp8"
	audiocodec = "opus"
	record = false
}}
""")

    async def start(self, within: float = 20.0) -> None:
        """Start janus and wait until its log says the VideoRoom plugin and the HTTP
        transport are up (the parent may be outside the namespace: it reads the log)."""
        self.write_config()
        log = self.log_path.open("wb")  # handed to the child
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.prefix,
                self.binary, "-F", str(self.dir), "-C", str(self.dir / "janus.jcfg"),
                "-o",  # no colours in the log
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        deadline = time.monotonic() + within
        while True:
            if self.proc.returncode is not None:
                raise RuntimeError(f"janus exited (rc={self.proc.returncode}): "
                                   f"{self.log_tail()}")
            text = self.log_tail(100_000)
            if all(m in text for m in READY_MARKS):
                return
            if time.monotonic() > deadline:
                await self.stop(keep_dir=True)
                raise RuntimeError(f"janus did not start within {within}s: {self.log_tail()}")
            await asyncio.sleep(0.1)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    async def stop(self, keep_dir: bool = False) -> None:
        """End the process by its PID (SIGTERM, then SIGKILL) and remove the folder."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, sig)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), grace)
                    break
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class JanusError(RuntimeError):
    pass


class JanusSession:
    """One Janus API session over HTTP: handles, messages with JSEP, events, keep-alive.

    Several handles (peer connections) may share a session; a single long poll reads every
    event and hands each to the request that waits for it (by transaction).
    """

    def __init__(self, http: aiohttp.ClientSession, url: str, keepalive_s: float = 20.0) -> None:
        self.http = http
        self.url = url
        self.keepalive_s = keepalive_s
        self.session_id: int | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.events: list[dict[str, Any]] = []  # webrtcup, media, hangup, slowlink ...
        self._lock = asyncio.Lock()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(self.url + path, json=body) as resp:
            return await resp.json(content_type=None)  # type: ignore[no-any-return]

    async def ensure(self) -> None:
        """Create the session (once) and start its long poll and keep-alive."""
        async with self._lock:
            if self.session_id is not None:
                return
            deadline = time.monotonic() + 10
            while True:  # the HTTP transport may still be starting
                try:
                    reply = await self._post("", {"janus": "create", "transaction": _tx()})
                    break
                except aiohttp.ClientConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
            if reply.get("janus") != "success":
                raise JanusError(f"create: {reply}")
            self.session_id = int(reply["data"]["id"])
            self._tasks = [asyncio.ensure_future(self._poll()),
                           asyncio.ensure_future(self._keepalive())]

    async def attach(self, plugin: str = "janus.plugin.videoroom") -> int:
        await self.ensure()
        reply = await self._post(f"/{self.session_id}",
                                 {"janus": "attach", "plugin": plugin, "transaction": _tx()})
        if reply.get("janus") != "success":
            raise JanusError(f"attach: {reply}")
        return int(reply["data"]["id"])

    async def message(self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None,
                      within: float = 30.0) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Send a plugin request; its result (synchronous, or the event that follows the
        ack) as (plugin data, JSEP or None). A plugin error raises :class:`JanusError`."""
        tx = _tx()
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[tx] = fut
        msg: dict[str, Any] = {"janus": "message", "transaction": tx, "body": body}
        if jsep is not None:
            msg["jsep"] = jsep
        try:
            reply = await self._post(f"/{self.session_id}/{handle}", msg)
            kind = reply.get("janus")
            if kind == "ack":
                reply = await asyncio.wait_for(fut, within)
            elif kind != "success":
                raise JanusError(f"{body.get('request')}: {reply}")
        finally:
            self._waiting.pop(tx, None)
        data = reply.get("plugindata", {}).get("data", {})
        if "error" in data or "error_code" in data:
            raise JanusError(f"{body.get('request')}: {data.get('error_code')} {data.get('error')}")
        return data, reply.get("jsep")

    async def trickle_done(self, handle: int) -> None:
        """Every candidate of ours was in the SDP (aiortc does not trickle)."""
        await self._post(f"/{self.session_id}/{handle}", {
            "janus": "trickle", "transaction": _tx(), "candidate": {"completed": True}})

    async def _poll(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                try:
                    async with self.http.get(f"{self.url}/{self.session_id}",
                                             params={"maxev": "20"},
                                             timeout=aiohttp.ClientTimeout(total=70)) as resp:
                        got = await resp.json(content_type=None)
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    await asyncio.sleep(0.5)
                    continue
                for ev in got if isinstance(got, list) else [got]:
                    tx = ev.get("transaction")
                    fut = self._waiting.get(tx) if tx else None
                    if fut is not None and not fut.done() and ev.get("janus") != "ack":
                        fut.set_result(ev)
                    elif ev.get("janus") not in ("keepalive", "ack"):
                        self.events.append(ev)
                        del self.events[:-200]

    async def _keepalive(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(self.keepalive_s)
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                    await self._post(f"/{self.session_id}",
                                     {"janus": "keepalive", "transaction": _tx()})

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.session_id is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._post(
                    f"/{self.session_id}", {"janus": "destroy", "transaction": _tx()}), 5)
            self.session_id = None


def _tx() -> str:
    return uuid.uuid4().hex[:12]


async def publish(session: JanusSession, pc: Any, display: str,
                  feed: int = PUBLISHER_FEED, room: int = ROOM) -> int:
    """Join ``room`` as the publisher ``feed`` with ``pc``'s offer; apply Janus's answer."""
    from aiortc import RTCSessionDescription

    handle = await session.attach()
    await pc.setLocalDescription(await pc.createOffer())
    _data, jsep = await session.message(handle, {
        "request": "joinandconfigure", "room": room, "ptype": "publisher", "id": feed,
        "display": display,
    }, {"type": "offer", "sdp": pc.localDescription.sdp})
    if not jsep:
        raise JanusError("publisher: no answer from janus")
    await session.trickle_done(handle)
    await pc.setRemoteDescription(RTCSessionDescription(jsep["sdp"], jsep["type"]))
    return handle


async def subscribe(session: JanusSession, pc: Any, feed: int = PUBLISHER_FEED,
                    room: int = ROOM, within: float = 20.0) -> int:
    """Join ``room`` as a subscriber of ``feed``: answer Janus's offer, then ``start``.

    Retries while the publisher's feed is not there yet (error 428), at most ``within`` s.
    """
    from aiortc import RTCSessionDescription

    handle = await session.attach()
    deadline = time.monotonic() + within
    while True:
        try:
            _data, jsep = await session.message(handle, {
                "request": "join", "room": room, "ptype": "subscriber",
                "streams": [{"feed": feed}],
            })
            break
        except JanusError as exc:
            if "428" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)
    if not jsep:
        raise JanusError("subscriber: no offer from janus")
    await pc.setRemoteDescription(RTCSessionDescription(jsep["sdp"], jsep["type"]))
    await pc.setLocalDescription(await pc.createAnswer())
    await session.message(handle, {"request": "start"},
                          {"type": "answer", "sdp": pc.localDescription.sdp})
    await session.trickle_done(handle)
    return handle
