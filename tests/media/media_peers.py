"""Helpers for the media plane tests: real aiortc client peers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import av
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from media import Endpoint, Room
from media.sdp import mark_agent_layers

VIDEO_CLOCK = 90000


class SyntheticVideo(MediaStreamTrack):
    """A small moving picture, encoded by aiortc's real VP8 encoder on the client."""

    kind = "video"

    def __init__(self, width: int = 160, height: int = 120, fps: int = 15) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._n / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        luma = frame.planes[0]
        row = bytes(((x + self._n * 3) & 0xFF) for x in range(luma.line_size))
        luma.update(row * (luma.buffer_size // luma.line_size))
        frame.planes[1].update(bytes([128]) * (frame.planes[1].buffer_size))
        frame.planes[2].update(bytes([128]) * (frame.planes[2].buffer_size))
        frame.pts = int(self._n * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._n += 1
        return frame


class ToneAudio(MediaStreamTrack):
    """20 ms frames of a quiet tone (aiortc encodes it with Opus)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._n * 0.02
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(bytes([0, 8] * 960))
        frame.pts = self._n * 960
        frame.sample_rate = 48000
        frame.time_base = fractions.Fraction(1, 48000)
        self._n += 1
        return frame


@dataclass
class Received:
    """What a client got on one receive m-line."""

    kind: str
    frames: int = 0
    sizes: set[tuple[int, int]] = field(default_factory=set)
    last_size: tuple[int, int] | None = None
    #: each change of picture size, with the time (monotonic) of its first frame
    size_changes: list[tuple[tuple[int, int], float]] = field(default_factory=list)
    event: asyncio.Event = field(default_factory=asyncio.Event)


class Peer:
    """A client: one aiortc RTCPeerConnection talking to an Endpoint directly."""

    def __init__(
        self,
        room: Room,
        endpoint_id: str,
        role: str,
        *,
        video: bool = True,
        audio: bool = True,
        size: tuple[int, int] = (160, 120),
        ice_servers: list[RTCIceServer] | None = None,
        relay_only: bool = False,
        reuse: Endpoint | None = None,
    ) -> None:
        # MAX_BUNDLE: with aiortc's default (balanced) a server offer that adds several
        # video m-lines to an audio-only connection leaves some on a second transport
        config = RTCConfiguration(
            iceServers=ice_servers or [],
            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
            iceTransportPolicy=(
                RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
            ),
        )
        self.pc = RTCPeerConnection(config)
        self.endpoint_id = endpoint_id
        if reuse is not None:  # a new peer connection for an existing endpoint (a reload)
            self.endpoint = reuse
            reuse.on_offer = self._on_offer
        else:
            self.endpoint = room.add_endpoint(endpoint_id, role, on_offer=self._on_offer)
        self.lock = asyncio.Lock()
        self.received: dict[str, Received] = {}
        self.offers_handled = 0
        self.negotiated = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.video_track = SyntheticVideo(*size) if video else None
        self.audio_track = ToneAudio() if audio else None
        if self.audio_track:
            self.pc.addTrack(self.audio_track)
        if self.video_track:
            self.pc.addTrack(self.video_track)
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.ensure_future(self._consume(track)))

    def mid_of(self, track: MediaStreamTrack) -> str:
        for t in self.pc.getTransceivers():
            if t.receiver.track is track:
                return str(t.mid)
        raise KeyError(track)

    async def _consume(self, track: MediaStreamTrack) -> None:
        await asyncio.sleep(0)
        mid = self.mid_of(track)
        rec = self.received.setdefault(mid, Received(track.kind))
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                rec.frames += 1
                if track.kind == "video":
                    size = (frame.width, frame.height)
                    if size != rec.last_size:
                        rec.size_changes.append((size, time.monotonic()))
                    rec.sizes.add(size)
                    rec.last_size = size
                rec.event.set()

    async def connect(self) -> None:
        """Offer what we publish, apply the answer."""
        async with self.lock:
            await self.pc.setLocalDescription(await self.pc.createOffer())
            answer = await self.endpoint.handle_offer(self.pc.localDescription.sdp)
            await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def _on_offer(self, sdp: str) -> None:
        async with self.lock:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self.endpoint.handle_answer(self.pc.localDescription.sdp)
            self.offers_handled += 1
            self.negotiated.set()

    def size(self, mid: str | None) -> tuple[int, int] | None:
        """Size of the last decoded frame on ``mid``."""
        if mid is None or mid not in self.received:
            return None
        return self.received[mid].last_size

    def frames(self, mid: str | None) -> int:
        if mid is None or mid not in self.received:
            return 0
        return self.received[mid].frames

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.pc.close()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t


async def wait_for(
    predicate: Callable[[], bool], within: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` (media arrives continuously; there is no single event)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


ConnectFn = Callable[..., Awaitable[Peer]]


#: the agent-style simulcast layers a test publisher sends: size and maximum bitrate
LAYERS = (((80, 60), 150_000), ((160, 120), 400_000), ((320, 240), 1_200_000))


def mark_layers(sdp: str) -> str:
    """Mark each video m-line of ``sdp`` as one simulcast layer, in order (low first)."""
    return mark_agent_layers(sdp, tuple(rate for _, rate in LAYERS))


class SimulcastPeer(Peer):
    """A publisher sending three layers of one camera, one aiortc m-line each."""

    def __init__(self, room: Room, endpoint_id: str, role: str, **kw: object) -> None:
        super().__init__(room, endpoint_id, role, video=False, **kw)  # type: ignore[arg-type]
        self.layer_tracks = [SyntheticVideo(*size) for size, _ in LAYERS]
        for track in self.layer_tracks:
            self.pc.addTrack(track)
        self.video_track = self.layer_tracks[-1]

    async def connect(self) -> None:
        async with self.lock:
            await self.pc.setLocalDescription(await self.pc.createOffer())
            answer = await self.endpoint.handle_offer(mark_layers(self.pc.localDescription.sdp))
            await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))


@dataclass
class SeqLog:
    """RTP headers one client receiver got: (seq, timestamp, ssrc, marker)."""

    packets: list[tuple[int, int, int, int]] = field(default_factory=list)

    def add(self, seq: int, ts: int, ssrc: int, marker: int) -> None:
        self.packets.append((seq, ts, ssrc, marker))


def watch_rtp(peer: Peer, mid: str) -> SeqLog:
    """Log the RTP headers ``peer`` receives on ``mid`` (before its jitter buffer)."""
    from media._aiortc_private import observe_received_rtp

    log = SeqLog()
    for t in peer.pc.getTransceivers():
        if t.mid == mid:
            observe_received_rtp(t.receiver, log.add)
            return log
    raise KeyError(mid)
