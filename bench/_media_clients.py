"""A client process of the media benchmarks: many aiortc peers that neither encode nor decode.

Started by bench/sfu_forward.py or bench/district_meeting.py with ``--spec`` (JSON) and
driven through stdin/stdout, one JSON document per line:

* ``{"cmd": "join", "ids": [...], "interval": s}`` -> ``{"event": "joined", ...}``
  when every listed client has its answer(s) applied (joins start ``interval`` apart);
* ``{"cmd": "status"}`` -> frames received so far per client and slot;
* ``{"cmd": "window_start"}`` / ``{"cmd": "window_stop"}`` -> the measurement window and
  its report; ``{"cmd": "quit"}``.

``"mode": "janus"``: the server is Janus's VideoRoom (``_janus.py``); the process shares one
Janus API session (long poll, keep-alive) between its peers, each peer its own handle: a
client with tracks joins as the publisher with its offer, the others as subscribers of its
feed (Janus offers, they answer, then ``start``).

Publishers replay pre-encoded packets (:class:`_media_common.PacketTrack`). Receivers count
complete encoded frames where aiortc would decode them, unless ``"decode": true`` (the check
subscriber), which decodes for real and checks the picture size.
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

# bench/ for the helpers; the repository root first, so `media` is the package itself even
# where a stale editable install maps it as a namespace package
sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                os.path.dirname(os.path.abspath(__file__))]
from _janus import JanusSession, publish, subscribe  # noqa: E402
from _media_common import (  # noqa: E402
    PacketTrack,
    SlotCounter,
    attach_keyframe_on_request,
    clip_paths,
    enlarge_udp_receive_buffers,
    install_counting_receivers,
    install_fast_rtp_path,
    install_light_senders,
    load_packets,
    restrict_ice_to_loopback,
)

decode_errors = 0


class _DecodeErrorCounter(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        global decode_errors
        if "failed to decode" in record.getMessage():
            decode_errors += 1


class Client:
    def __init__(self, spec: dict[str, Any], mode: str, decode: bool,
                 clips: dict[str, list[Any]], kor: bool, light: bool = False) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection

        self.light = light
        self.id: str = spec["id"]
        self.role: str = spec["role"]
        self.mode = mode
        self.decode = decode
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.tracks: dict[str, Any] = {}
        for kind in ("video", "audio"):
            if spec.get(kind):
                track = PacketTrack.create(kind, clips[kind], keyframe_on_request=kor)
                sender = self.pc.addTrack(track)
                attach_keyframe_on_request(sender, track)
                self.tracks[kind] = track
        if mode == "relay" and not self.tracks:
            self.pc.addTransceiver("video", direction="recvonly")
        self.t_offer: float | None = None
        self.t_answer: float | None = None
        self.t_connected: float | None = None
        self.t_slots: float | None = None
        self.error: str | None = None
        self.offers_applied = 0
        self._consumers: list[asyncio.Task[None]] = []
        self._poll: asyncio.Task[None] | None = None
        self._win_stats: dict[str, tuple[int, int]] = {}
        self._win_frames: dict[str, tuple[int, int]] = {}
        self._win_sent: dict[str, int] = {}

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            if self.pc.connectionState == "connected" and self.t_connected is None:
                self.t_connected = time.monotonic()

        if decode:
            @self.pc.on("track")
            def on_track(track: Any) -> None:
                self._consumers.append(asyncio.ensure_future(self._consume(track)))

    def _fast_path(self) -> None:
        if not self.light:
            return
        for t in self.pc.getTransceivers():
            if t.receiver.transport is not None:
                install_fast_rtp_path(t.receiver.transport)

    def counters(self) -> dict[str, SlotCounter]:
        """mid -> frame counter of every receiving m-line."""
        out: dict[str, SlotCounter] = {}
        for t in self.pc.getTransceivers():
            c = getattr(t.receiver, "_bench_counter", None)
            if c is not None and t.mid is not None and t.direction in ("recvonly", "sendrecv"):
                out[str(t.mid)] = c
        return out

    async def _consume(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        receiver = None
        for t in self.pc.getTransceivers():
            if t.receiver.track is track:
                receiver = t.receiver
        if receiver is None:
            return
        counter = SlotCounter(track.kind)
        receiver._bench_counter = counter
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if track.kind == "video":
                    counter.sizes.add((frame.width, frame.height))
                    counter.add(b"", now, key=bool(frame.key_frame))
                else:
                    counter.add(b"", now, key=False)

    async def join_janus(self, janus: JanusSession) -> None:
        """Janus VideoRoom: publish (a client with tracks) or subscribe to the publisher."""
        try:
            self.t_offer = time.monotonic()
            if self.tracks:
                await publish(janus, self.pc, display=self.id)
            else:
                await subscribe(janus, self.pc)
            self.t_answer = self.t_slots = time.monotonic()
            self._fast_path()
        except Exception as exc:
            self.error = repr(exc)
            print(f"client {self.id}: janus join failed: {exc!r}", file=sys.stderr, flush=True)

    async def join(self, http: aiohttp.ClientSession, server: str) -> None:
        from aiortc import RTCSessionDescription

        try:
            await self.pc.setLocalDescription(await self.pc.createOffer())
            self.t_offer = time.monotonic()
            async with http.post(f"{server}/join", json={
                "id": self.id, "role": self.role, "sdp": self.pc.localDescription.sdp,
            }) as resp:
                body = await resp.json()
            if "error" in body:
                raise RuntimeError(body["error"])
            await self.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))
            self.t_answer = time.monotonic()
            self._fast_path()
            if self.mode == "sfu":
                # the server then offers its receive slots; keep polling for later offers
                await self._apply_next_offer(http, server, wait_s=20)
                self.t_slots = time.monotonic()
                self._poll = asyncio.ensure_future(self._poll_offers(http, server))
        except Exception as exc:
            self.error = repr(exc)
            print(f"client {self.id}: join failed: {exc!r}", file=sys.stderr, flush=True)

    async def _apply_next_offer(self, http: aiohttp.ClientSession, server: str,
                                wait_s: float) -> bool:
        from aiortc import RTCSessionDescription

        async with http.get(f"{server}/offer",
                            params={"id": self.id, "timeout": str(wait_s)}) as resp:
            body = await resp.json()
        if not body.get("sdp"):
            return False
        await self.pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "offer"))
        self._fast_path()
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        async with http.post(f"{server}/answer", json={
            "id": self.id, "sdp": self.pc.localDescription.sdp,
        }) as resp:
            await resp.read()
        self.offers_applied += 1
        return True

    async def _poll_offers(self, http: aiohttp.ClientSession, server: str) -> None:
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
            while True:
                await self._apply_next_offer(http, server, wait_s=10)

    async def receiver_stats(self) -> dict[str, tuple[int, int]]:
        """mid -> (packets received, packets lost): aiortc's receiver statistics, or ours."""
        out: dict[str, tuple[int, int]] = {}
        for t in self.pc.getTransceivers():
            if t.mid is None:
                continue
            light = getattr(t.receiver, "_bench_light", None)
            if light is not None:
                out[str(t.mid)] = (light.received, light.expected() - light.received)
                continue
            try:
                report = await t.receiver.getStats()
            except Exception:
                continue
            recv = lost = 0
            for s in report.values():
                if getattr(s, "type", "") == "inbound-rtp":
                    recv += int(s.packetsReceived or 0)
                    lost += int(s.packetsLost or 0)
            out[str(t.mid)] = (recv, lost)
        return out

    def status(self) -> dict[str, Any]:
        return {mid: c.frames for mid, c in self.counters().items()}

    async def window_start(self) -> None:
        self._win_sent = {kind: t.n for kind, t in self.tracks.items()}
        self._win_frames = {mid: c.start_window() for mid, c in self.counters().items()}
        self._win_stats = await self.receiver_stats()

    async def window_stop(self, dt: float, now: float) -> dict[str, Any]:
        stats = await self.receiver_stats()
        slots: dict[str, Any] = {}
        for mid, c in self.counters().items():
            f0, b0 = self._win_frames.get(mid, (0, 0))
            r0, l0 = self._win_stats.get(mid, (0, 0))
            r1, l1 = stats.get(mid, (0, 0))
            c.stop_window(now)
            slots[mid] = {
                "kind": c.kind,
                "fps": round((c.frames - f0) / dt, 2),
                "kbps": round((c.bytes - b0) * 8 / dt / 1000, 1),
                "frames_window": c.frames - f0,
                "max_gap_window_s": round(c.w_max_gap, 3),
                "freezes_window": c.w_gaps_over_1s,
                "frames_total": c.frames,
                "keyframes_total": c.keyframes,
                "first_frame_at": c.first_frame_at,
                "first_keyframe_at": c.first_keyframe_at,
                "max_gap_total_s": round(c.max_gap, 3),
                "freezes_total": c.gaps_over_1s,
                "packets_received_window": r1 - r0,
                "packets_lost_window": l1 - l0,
                "sizes": sorted(c.sizes) if c.sizes else None,
            }
        pub = {
            kind: {
                "fps_window": round((t.n - self._win_sent.get(kind, 0)) / dt, 2),
                "frames": t.n,
                "keyframes_on_request": t.keyframes_on_request,
                "late_resets": t.late_resets,
            }
            for kind, t in self.tracks.items()
        }
        return {
            "id": self.id, "role": self.role, "error": self.error,
            "t_offer": self.t_offer, "t_answer": self.t_answer,
            "t_connected": self.t_connected, "t_slots": self.t_slots,
            "connection_state": self.pc.connectionState,
            "slots": slots, "publisher": pub,
        }

    async def close(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
        for task in self._consumers:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 5)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True, help="JSON: server, mode, decode, clients[]")
    args = ap.parse_args()
    spec = json.loads(args.spec)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr,
                        format=f"client[{spec.get('name', '?')}] %(levelname)s %(message)s")
    logging.getLogger("aiortc.rtcrtpreceiver").addHandler(_DecodeErrorCounter())
    logging.getLogger("aiortc.rtcrtpreceiver").setLevel(logging.WARNING)
    restrict_ice_to_loopback(spec.get("ice_ip") or "127.0.0.1")
    if spec.get("rcvbuf"):
        enlarge_udp_receive_buffers(int(spec["rcvbuf"]))
    decode = bool(spec.get("decode"))
    if not decode:
        install_counting_receivers(light=spec.get("receiver") == "light")
    if spec.get("sender") == "light":
        install_light_senders()
    video_path, audio_path = clip_paths()
    clips = {"video": load_packets(video_path), "audio": load_packets(audio_path)}
    kor = bool(spec.get("keyframe_on_request", True))
    clients = {
        c["id"]: Client(c, spec["mode"], decode, clips, kor,
                        light=not decode and spec.get("receiver") == "light")
        for c in spec["clients"]
    }
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        await serve(spec, clients, reader)
    finally:
        for c in clients.values():
            await c.close()
    emit({"event": "bye"})


async def serve(spec: dict[str, Any], clients: dict[str, Client],
                reader: asyncio.StreamReader) -> None:
    server = spec["server"]
    deadline = time.monotonic() + float(spec.get("max_seconds", 600))
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        janus = JanusSession(http, server) if spec["mode"] == "janus" else None
        try:
            await _serve_loop(spec, clients, reader, http, janus, deadline)
        finally:
            if janus is not None:
                await janus.close()


async def _serve_loop(spec: dict[str, Any], clients: dict[str, Client],
                      reader: asyncio.StreamReader, http: aiohttp.ClientSession,
                      janus: JanusSession | None, deadline: float) -> None:
    server = spec["server"]
    window_t0 = 0.0
    emit({"event": "ready", "pid": os.getpid()})
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            print("client: max_seconds reached, exiting", file=sys.stderr)
            break
        try:
            line = await asyncio.wait_for(reader.readline(), remaining)
        except TimeoutError:
            continue
        if not line:
            break  # parent went away
        cmd = json.loads(line)
        op = cmd["cmd"]
        if op == "join":
            # "schedule": {id: seconds after this command} or "ids" + "interval"
            schedule = cmd["schedule"] if "schedule" in cmd else {
                cid: i * float(cmd.get("interval") or 0) for i, cid in enumerate(cmd["ids"])
            }
            t0 = time.monotonic()

            async def join_at(cid: str, at: float, t0: float = t0) -> None:
                await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
                if janus is not None:
                    await clients[cid].join_janus(janus)
                else:
                    await clients[cid].join(http, server)

            await asyncio.gather(*(join_at(c, float(a)) for c, a in schedule.items()))
            emit({"event": "joined", "ids": list(schedule),
                  "errors": {c: clients[c].error for c in schedule if clients[c].error}})
        elif op == "status":
            emit({"event": "status",
                  "clients": {cid: c.status() for cid, c in clients.items()},
                  "states": {cid: c.pc.connectionState for cid, c in clients.items()}})
        elif op == "window_start":
            window_t0 = time.monotonic()
            for c in clients.values():
                await c.window_start()
            emit({"event": "window_started"})
        elif op == "window_stop":
            now = time.monotonic()
            dt = now - window_t0
            reports = [await c.window_stop(dt, now) for c in clients.values()]
            emit({"event": "report", "window_s": dt, "clients": reports,
                  "decode_errors": decode_errors})
        elif op == "quit":
            break


if __name__ == "__main__":
    code = 0
    try:
        if os.environ.get("BENCH_PROFILE_DIR"):  # developer aid: cProfile each client process
            import cProfile

            prof = cProfile.Profile()
            try:
                prof.runcall(asyncio.run, main())
            finally:
                prof.dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"],
                                             f"client-{os.getpid()}.prof"))
        else:
            asyncio.run(main())
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    # aiortc's receiver threads are not daemons: never let one keep a failed client alive
    os._exit(code)
