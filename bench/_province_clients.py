"""A client process of bench/province.py: meeting participants with media, on meetingd itself.

Each participant is a light socket.io connection (``_sio_light.py``) to the meetingd
process it was given, plus an aiortc peer connection signalled over ``rtc.offer`` /
``rtc.offered`` / ``rtc.answer`` on that socket, exactly as a browser or the agent does.
It publishes pre-encoded audio (Opus 20 ms) and a low-rate VP8 video (this process encodes
the clip once, cached in ``bench/out/``) and counts complete frames per receive slot with
the light receivers of ``_media_common`` (nothing is decoded). ``rtc.layout`` events say
which ``mid`` shows whom, so the report names each slot's subject.

Driven through stdin/stdout, one JSON document per line:

* ``{"cmd": "join", "schedule": {id: s}}`` -> ``{"event": "joined", "errors": {...}}``;
* ``{"cmd": "call", "id": ..., "name": ..., "data": {...}}`` -> ``{"event": "called",
  "ack": ...}`` (a socket.io command on that participant's connection);
* ``{"cmd": "status"}`` -> frames per participant and subject so far;
* ``{"cmd": "window_start"}`` / ``{"cmd": "window_stop"}`` -> the window's report;
* ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from typing import Any

import aiohttp

sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                os.path.dirname(os.path.abspath(__file__))]
import _media_common as mc  # noqa: E402
from _media_common import (  # noqa: E402
    PacketTrack,
    SlotCounter,
    attach_keyframe_on_request,
    enlarge_udp_receive_buffers,
    install_counting_receivers,
    install_fast_rtp_path,
    install_light_senders,
    load_packets,
    restrict_ice_to_loopback,
)
from _sio_light import LightSocket  # noqa: E402


def use_low_rate_clip(width: int, height: int, fps: int, kbps: int, gop: int) -> None:
    """The clip and the publishers' pacing of this process: ``_media_common`` reads these
    module constants when it encodes the clip (named after them) and paces a track."""
    mc.VIDEO_W, mc.VIDEO_H, mc.VIDEO_FPS, mc.VIDEO_KBPS, mc.VIDEO_GOP = (
        width, height, fps, kbps, gop)


def opus_clip(ptime_ms: int) -> Any:
    """An Opus clip of ``ptime_ms`` frames (the 20 ms one is ``_media_common``'s)."""
    if ptime_ms == 20:
        return mc.clip_paths()[1]
    import av

    path = mc.OUT_DIR / f"clip_opus_440hz_32k_{ptime_ms}ms.webm"
    if path.exists():
        return path
    mc.progress(f"encoding {path.name} once (PyAV libopus)...")
    samples = 48 * ptime_ms
    graph = av.filter.Graph()
    src = graph.add("sine", f"frequency=440:sample_rate=48000:samples_per_frame={samples}")
    fmt = graph.add("aformat", "sample_fmts=s16:channel_layouts=mono")
    sink = graph.add("abuffersink")
    src.link_to(fmt)
    fmt.link_to(sink)
    graph.configure()
    tmp = path.with_suffix(".tmp.webm")
    with av.open(str(tmp), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=48000,
                                options={"b": "32k", "frame_duration": str(ptime_ms)})
        stream.layout = "mono"
        for _ in range(mc.CLIP_SECONDS * 1000 // ptime_ms):
            for pkt in stream.encode(sink.pull()):
                out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    tmp.replace(path)
    return path


def audio_track(packets: list[Any], ptime_ms: int) -> Any:
    """A paced track of pre-encoded Opus packets, ``ptime_ms`` each (as PacketTrack)."""
    if ptime_ms == 20:
        return PacketTrack.create("audio", packets)
    import fractions

    import av
    from aiortc import MediaStreamTrack

    step, period = 48 * ptime_ms, ptime_ms / 1000
    time_base = fractions.Fraction(1, 48000)
    av_packets = [av.Packet(p.data) for p in packets]

    class _Audio(MediaStreamTrack):  # type: ignore[misc]
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.n = 0
            self.start: float | None = None

        def request_keyframe(self) -> None:
            pass

        async def recv(self) -> Any:
            now = time.monotonic()
            if self.start is None:
                self.start = now
            due = self.start + self.n * period
            if due - now < -1.0:
                self.start = now - self.n * period
                due = now
            if due > now:
                await asyncio.sleep(due - now)
            pkt = av_packets[self.n % len(av_packets)]
            pkt.pts = pkt.dts = self.n * step
            pkt.time_base = time_base
            self.n += 1
            return pkt

    return _Audio()


class LoopLag:
    """How late this process's event loop wakes a 50 ms timer (a starved loop misses
    ICE consent checks and DTLS timers)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.05)
            self.lags.append(time.monotonic() - t - 0.05)
            if len(self.lags) > 100_000:
                del self.lags[:50_000]

    def take(self) -> dict[str, Any]:
        xs = sorted(self.lags)
        self.lags = []
        if not xs:
            return {}
        return {"p50_ms": round(xs[len(xs) // 2] * 1000, 1),
                "p99_ms": round(xs[int(len(xs) * 0.99)] * 1000, 1),
                "max_ms": round(xs[-1] * 1000, 1)}


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Participant:
    def __init__(self, spec: dict[str, Any], meeting_id: int, clips: dict[str, list[Any]],
                 http: aiohttp.ClientSession, ptime_ms: int = 20) -> None:
        from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection

        self.id: str = spec["id"]
        self.server: str = spec["server"]
        self.token: str = spec["token"]
        self.meeting_id = meeting_id
        self.http = http
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.tracks: dict[str, Any] = {}
        for kind in ("audio", "video"):
            track = (audio_track(clips[kind], ptime_ms) if kind == "audio"
                     else PacketTrack.create(kind, clips[kind]))
            sender = self.pc.addTrack(track)
            attach_keyframe_on_request(sender, track)
            self.tracks[kind] = track
        self.sock: LightSocket | None = None
        self.subject: str | None = None
        self.layout: dict[str, str | None] = {}  # mid -> subject
        self.layouts_seen = 0
        self.offers_applied = 0
        self.offers_received = 0
        self.error: str | None = None
        self.t_join: float | None = None
        self.t_media: float | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._win: dict[str, tuple[int, int]] = {}
        self._win_sent: dict[str, int] = {}

    # -- signalling -------------------------------------------------------------------
    def _on_event(self, body: str, _t: float) -> None:
        if body.startswith('["rtc.offered"'):
            data = json.loads(body)[1]
            self.offers_received += 1
            task = asyncio.ensure_future(self._apply_offer(data["sdp"]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif body.startswith('["rtc.layout"'):
            data = json.loads(body)[1]
            self._set_layout(data)

    def _set_layout(self, data: dict[str, Any]) -> None:
        self.layouts_seen += 1
        for slot in list(data.get("video", [])) + list(data.get("audio", [])):
            if slot.get("mid") is not None:
                self.layout[str(slot["mid"])] = slot.get("subject")

    async def _apply_offer(self, sdp: str) -> None:
        from aiortc import RTCSessionDescription

        try:
            async with self._lock:
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
                self._fast_path()
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                assert self.sock is not None
                ack = await self.sock.call("rtc.answer", {
                    "meeting_id": self.meeting_id, "sdp": self.pc.localDescription.sdp}, 30)
                if not (isinstance(ack, dict) and ack.get("ok")):
                    raise RuntimeError(f"rtc.answer refused: {ack}")
                self.offers_applied += 1
        except Exception as exc:
            self.error = f"renegotiation: {exc!r}"
            print(f"client {self.id}: {self.error}", file=sys.stderr, flush=True)

    def _fast_path(self) -> None:
        for t in self.pc.getTransceivers():
            if t.receiver.transport is not None:
                install_fast_rtp_path(t.receiver.transport)

    async def call(self, name: str, data: dict[str, Any], within: float = 30) -> Any:
        assert self.sock is not None
        ack = await self.sock.call(name, {"meeting_id": self.meeting_id, **data}, within)
        if not (isinstance(ack, dict) and ack.get("ok")):
            raise RuntimeError(f"{name} refused: {ack}")
        return ack.get("data")

    async def join(self) -> None:
        from aiortc import RTCSessionDescription

        self.t_join = time.monotonic()
        try:
            async with self.http.get(f"{self.server}/api/v1/auth/me",
                                     headers={"Authorization": f"Bearer {self.token}"}) as r:
                me = await r.json()
            self.subject = f"{me['kind']}:{me['id']}"
            self.sock = LightSocket(self.http, self.server, {"token": self.token}, self._on_event)
            await self.sock.connect(30)
            await self.call("meeting.join", {}, 60)
            async with self._lock:
                await self.pc.setLocalDescription(await self.pc.createOffer())
                answer = await self.call("rtc.offer", {"sdp": self.pc.localDescription.sdp}, 60)
                await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
                self._fast_path()
            self.t_media = time.monotonic()
            with contextlib.suppress(Exception):
                self._set_layout(await self.call("rtc.layout", {}, 30))
        except Exception as exc:
            self.error = f"join: {exc!r}"
            print(f"client {self.id}: {self.error}", file=sys.stderr, flush=True)

    # -- counting ---------------------------------------------------------------------
    def counters(self) -> dict[str, SlotCounter]:
        out: dict[str, SlotCounter] = {}
        for t in self.pc.getTransceivers():
            c = getattr(t.receiver, "_bench_counter", None)
            if c is not None and t.mid is not None and t.direction in ("recvonly", "sendrecv"):
                out[str(t.mid)] = c
        return out

    def status(self) -> dict[str, Any]:
        return {
            f"{c.kind}:{self.layout.get(mid)}": c.frames for mid, c in self.counters().items()
        }

    def window_start(self) -> None:
        self._win_sent = {k: t.n for k, t in self.tracks.items()}
        self._win = {mid: c.start_window() for mid, c in self.counters().items()}

    def window_stop(self, dt: float, now: float) -> dict[str, Any]:
        slots = []
        for mid, c in self.counters().items():
            f0, b0 = self._win.get(mid, (0, 0))
            c.stop_window(now)
            slots.append({
                "mid": mid, "kind": c.kind, "subject": self.layout.get(mid),
                "fps": round((c.frames - f0) / dt, 2),
                "kbps": round((c.bytes - b0) * 8 / dt / 1000, 1),
                "freezes_window": c.w_gaps_over_1s,
                "max_gap_window_s": round(c.w_max_gap, 3),
                "first_frame_after_join_s": (
                    round(c.first_frame_at - self.t_join, 3)
                    if c.first_frame_at is not None and self.t_join is not None else None),
                "frames_total": c.frames,
            })
        return {
            "id": self.id, "subject": self.subject, "server": self.server, "error": self.error,
            "connection_state": self.pc.connectionState,
            "socket_closed": None if self.sock is None or self.sock.is_open
            else self.sock.closed_reason,
            "offers_received": self.offers_received, "offers_applied": self.offers_applied,
            "layouts_seen": self.layouts_seen,
            "signalling_s": (round(self.t_media - self.t_join, 3)
                             if self.t_media is not None and self.t_join is not None else None),
            "sent_fps": {k: round((t.n - self._win_sent.get(k, 0)) / dt, 2)
                         for k, t in self.tracks.items()},
            "slots": slots,
        }

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 5)
        if self.sock is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sock.close(), 5)


async def serve(spec: dict[str, Any]) -> None:
    restrict_ice_to_loopback("127.0.0.1")
    if spec.get("rcvbuf"):
        enlarge_udp_receive_buffers(int(spec["rcvbuf"]))
    install_counting_receivers(light=True)
    install_light_senders()
    v = spec["video"]
    use_low_rate_clip(v["width"], v["height"], v["fps"], v["kbps"], v["gop"])
    video_path, _ = mc.clip_paths()
    ptime = int(spec.get("audio_ptime_ms", 20))
    audio_path = opus_clip(ptime)
    clips = {"video": load_packets(video_path), "audio": load_packets(audio_path)}
    deadline = time.monotonic() + float(spec.get("max_seconds", 600))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn,
                                     timeout=aiohttp.ClientTimeout(total=None)) as http:
        people = {p["id"]: Participant(p, int(spec["meeting_id"]), clips, http, ptime)
                  for p in spec["participants"]}
        try:
            await _loop(people, reader, deadline)
        finally:
            await asyncio.gather(*(p.close() for p in people.values()), return_exceptions=True)


async def _loop(people: dict[str, Participant], reader: asyncio.StreamReader,
                deadline: float) -> None:
    window_t0 = 0.0
    lag = LoopLag()
    emit({"event": "ready", "pid": os.getpid()})
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            print("province client: max_seconds reached, exiting", file=sys.stderr)
            return
        try:
            line = await asyncio.wait_for(reader.readline(), remaining)
        except TimeoutError:
            continue
        if not line:
            return
        cmd = json.loads(line)
        op = cmd["cmd"]
        if op == "join":
            t0 = time.monotonic()

            async def join_at(pid: str, at: float, t0: float = t0) -> None:
                await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
                await people[pid].join()

            lag.take()
            await asyncio.gather(*(join_at(k, float(a)) for k, a in cmd["schedule"].items()))
            emit({"event": "joined", "loop_lag": lag.take(),
                  "errors": {k: people[k].error for k in cmd["schedule"] if people[k].error},
                  "subjects": {k: people[k].subject for k in cmd["schedule"]}})
        elif op == "call":
            try:
                ack = await people[cmd["id"]].call(cmd["name"], cmd.get("data", {}))
                emit({"event": "called", "ok": True, "data": ack})
            except Exception as exc:
                emit({"event": "called", "ok": False, "error": repr(exc)})
        elif op == "status":
            emit({"event": "status", "clients": {k: p.status() for k, p in people.items()},
                  "offers": {k: [p.offers_received, p.offers_applied]
                             for k, p in people.items()},
                  "states": {k: p.pc.connectionState for k, p in people.items()}})
        elif op == "window_start":
            window_t0 = time.monotonic()
            lag.take()
            for p in people.values():
                p.window_start()
            emit({"event": "window_started"})
        elif op == "window_stop":
            now = time.monotonic()
            dt = now - window_t0
            emit({"event": "report", "window_s": round(dt, 3), "loop_lag": lag.take(),
                  "clients": [p.window_stop(dt, now) for p in people.values()]})
        elif op == "quit":
            return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True, help="JSON file: meeting_id, video, participants")
    args = ap.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr,
                        format=f"client[{spec.get('name', '?')}] %(levelname)s %(message)s")
    asyncio.run(serve(spec))


if __name__ == "__main__":
    code = 0
    try:
        main()
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    # aiortc's receiver threads are not daemons: never let one keep a client alive
    os._exit(code)
