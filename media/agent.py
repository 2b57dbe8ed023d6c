"""Headless bridge-point agent: joins as a bridge point, publishes, receives, reconnects.

The agent's media side only. How it reaches meetingd (REST device login, socket.io
``rtc.offer`` / ``rtc.offered`` / ``rtc.answer``) is the control plane's business and sits
behind the small :class:`Signaller` protocol; the CLI builds one and calls
:func:`run_agent`.

The agent never gives up: when the signalling session drops, the peer connection fails,
or nothing has arrived for ``link_timeout`` seconds, it closes everything and starts a
new session (fresh peer connection) after a growing delay (``reconnect_delay`` doubling
up to ``reconnect_max_delay``). Link health is sampled every ``health_interval``, kept in
:attr:`BridgePointAgent.health` and logged at INFO every ``log_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import av
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from ._aiortc_private import restrict_host_addresses
from .config import IceServer
from .sdp import mark_agent_layers

logger = logging.getLogger(__name__)


class Signaller(Protocol):
    """The agent's view of signalling; one instance serves successive sessions.

    Every method raises ``ConnectionError`` (or ``OSError``) when the server is
    unreachable or the session dropped; the agent then reconnects.
    """

    async def connect(self) -> None:
        """Open a session: log in with the device credential and join the meeting."""

    async def offer(self, sdp: str) -> str:
        """Send our offer (``rtc.offer``) and return the server's answer."""

    async def answer(self, sdp: str) -> None:
        """Send our answer to a server offer (``rtc.answer``)."""

    async def server_offer(self) -> str:
        """Wait for the next server-initiated offer (``rtc.offered``)."""

    async def close(self) -> None:
        """Close the session (idempotent)."""


@dataclass(frozen=True)
class AgentConfig:
    """What to publish and how to behave.

    ``source``: a media file or device understood by FFmpeg (looped when seekable);
    None publishes a synthetic test pattern and tone. ``record_to``: a file the main view
    (first audio and video slot: the chair) is written to, one file per session with the
    session number before the suffix (None: count and discard). ``local_ips``: restrict ICE host
    candidates (process-wide in aioice; None keeps all interfaces). ``simulcast``: the
    video is sent as these layers, lowest first, each (width, height, max bit/s) and encoded
    by its own encoder on an m-line of its own (aiortc sends one stream per m-line); the
    server forwards each receiver the layer that fits it. Empty: one stream at
    ``video_size``.
    """

    source: str | None = None
    source_format: str | None = None
    record_to: str | None = None
    ice_servers: tuple[IceServer, ...] = ()
    local_ips: tuple[str, ...] | None = None
    video_size: tuple[int, int] = (320, 240)
    simulcast: tuple[tuple[int, int, int], ...] = ()
    fps: int = 15
    link_timeout: float = 6.0
    reconnect_delay: float = 0.5
    reconnect_max_delay: float = 10.0
    health_interval: float = 2.0
    log_interval: float = 30.0


@dataclass(frozen=True)
class LinkHealth:
    """The agent's last view of its link, for logs and the operator."""

    state: str = "starting"
    sessions: int = 0
    connected_since: float | None = None
    packets_received: int = 0
    bytes_received: int = 0
    packets_sent: int = 0
    frames_received: int = 0
    last_error: str | None = None


class PatternVideo(MediaStreamTrack):
    """A moving grey gradient (no numpy needed), encoded by aiortc's VP8 encoder."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._n / self.fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        shift = self._n * 4
        luma = frame.planes[0]
        row = bytes((x + shift) & 0xFF for x in range(luma.line_size))
        luma.update(row * (luma.buffer_size // luma.line_size))
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = self._n * 90000 // self.fps
        frame.time_base = fractions.Fraction(1, 90000)
        self._n += 1
        return frame


class ToneAudio(MediaStreamTrack):
    """20 ms frames of a quiet square wave at 48 kHz."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._n = 0
        self._start: float | None = None
        self._samples = (bytes([0, 8]) * 24 + bytes([0, 248]) * 24) * 20

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._n * 0.02 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(self._samples)
        frame.pts = self._n * 960
        frame.sample_rate = 48000
        frame.time_base = fractions.Fraction(1, 48000)
        self._n += 1
        return frame


class Retimed(MediaStreamTrack):
    """Gives a looping source monotonic timestamps.

    aiortc's ``MediaPlayer`` restarts timestamps at 0 when a clip loops, which encoders
    reject; audio gets a running sample count, video the wall-clock time in 1/90000 s.
    """

    def __init__(self, inner: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = inner.kind
        self._inner = inner
        self._start: float | None = None
        self._samples = 0

    async def recv(self) -> Any:
        frame = await self._inner.recv()
        if isinstance(frame, av.AudioFrame):
            frame.pts = self._samples
            frame.time_base = fractions.Fraction(1, frame.sample_rate)
            self._samples += frame.samples
        elif isinstance(frame, av.VideoFrame):
            now = time.monotonic()
            if self._start is None:
                self._start = now
            frame.pts = int((now - self._start) * 90000)
            frame.time_base = fractions.Fraction(1, 90000)
        return frame

    def stop(self) -> None:
        super().stop()
        self._inner.stop()


class Scaled(MediaStreamTrack):
    """One simulcast layer: the source's frames scaled to ``width`` x ``height``."""

    kind = "video"

    def __init__(self, inner: MediaStreamTrack, width: int, height: int) -> None:
        super().__init__()
        self._inner = inner
        self.width, self.height = width, height

    async def recv(self) -> av.VideoFrame:
        frame = await self._inner.recv()
        assert isinstance(frame, av.VideoFrame)
        if (frame.width, frame.height) == (self.width, self.height):
            return frame
        out = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        out.pts, out.time_base = frame.pts, frame.time_base
        return out

    def stop(self) -> None:
        super().stop()
        self._inner.stop()


class _Counted(MediaStreamTrack):
    """Counts the frames a recorder takes from a received track."""

    def __init__(self, inner: MediaStreamTrack, agent: BridgePointAgent) -> None:
        super().__init__()
        self.kind = inner.kind
        self._inner = inner
        self._agent = agent

    async def recv(self) -> Any:
        frame = await self._inner.recv()
        self._agent._frames += 1
        return frame


class Recorder:
    """Writes one received video track and one audio track to a file.

    The file is opened at the first video frame, so the video stream gets its real size
    (audio that arrives earlier is skipped); H.264 + AAC, or VP8 + Opus for ``.webm``.
    Encoding runs on the event loop: fine for the small main view a room keeps.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._tracks: list[MediaStreamTrack] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._container: Any = None
        self._streams: dict[str, Any] = {}
        self._video_start: float | None = None
        self._last_pts = -1
        self.frames = 0

    def add(self, track: MediaStreamTrack) -> None:
        """Record ``track`` (the first of each kind counts)."""
        self._tracks.append(track)
        self._tasks.append(asyncio.ensure_future(self._run(track)))

    def _open(self, width: int, height: int) -> None:
        webm = self.path.endswith(".webm")
        self._container = av.open(self.path, "w")
        video = self._container.add_stream("libvpx" if webm else "libx264", rate=30)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        self._streams["video"] = video
        if any(t.kind == "audio" for t in self._tracks):
            self._streams["audio"] = self._container.add_stream("libopus" if webm else "aac")

    async def _run(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if self._container is None:
                    if not isinstance(frame, av.VideoFrame):
                        continue
                    self._open(frame.width, frame.height)
                stream = self._streams.get(track.kind)
                if stream is None:
                    continue
                if isinstance(frame, av.VideoFrame):
                    # wall-clock time in 1/30 s, strictly increasing
                    now = time.monotonic()
                    if self._video_start is None:
                        self._video_start = now
                    pts = max(round((now - self._video_start) * 30), self._last_pts + 1)
                    self._last_pts = pts
                    frame.pts = pts
                    frame.time_base = fractions.Fraction(1, 30)
                for packet in stream.encode(frame):
                    self._container.mux(packet)
                self.frames += 1

    async def stop(self) -> None:
        """Stop recording and finish the file."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._container is not None:
            for stream in self._streams.values():
                with contextlib.suppress(Exception):
                    for packet in stream.encode(None):
                        self._container.mux(packet)
            self._container.close()
            self._container = None


class _LinkLost(Exception):
    pass


class BridgePointAgent:
    """Runs sessions until stopped; see the module docstring."""

    def __init__(self, signaller: Signaller, config: AgentConfig | None = None) -> None:
        self.signaller = signaller
        self.config = config or AgentConfig()
        self.health = LinkHealth()
        self.connected = asyncio.Event()
        self._pc: RTCPeerConnection | None = None
        self._frames = 0

    def _set(self, **changes: Any) -> None:
        self.health = replace(self.health, **changes)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Keep a session up until ``stop`` is set (forever if None).

        With ``local_ips`` set, ICE is restricted to them for as long as this runs.
        """
        lease = (
            restrict_host_addresses(self.config.local_ips)
            if self.config.local_ips is not None
            else None
        )
        try:
            await self._run(stop or asyncio.Event())
        finally:
            if lease is not None:
                lease.release()

    async def _run(self, stop: asyncio.Event) -> None:
        delay = self.config.reconnect_delay
        while not stop.is_set():
            started = time.monotonic()
            session = asyncio.ensure_future(self._session())
            stopper = asyncio.ensure_future(stop.wait())
            error: BaseException | None = None
            try:
                await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                if not session.done():
                    session.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    (result,) = await asyncio.gather(session, return_exceptions=True)
                    error = result if isinstance(result, BaseException) else None
                await self._teardown()
            if stop.is_set():
                break
            self._set(state="reconnecting", last_error=repr(error) if error else None)
            logger.warning("bridge-point agent: session ended (%r); reconnecting in %.1f s",
                           error, delay)
            if time.monotonic() - started > 30:
                delay = self.config.reconnect_delay  # it had been up a while: start over
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, self.config.reconnect_max_delay)
        self._set(state="stopped")

    async def _teardown(self) -> None:
        self.connected.clear()
        pc, self._pc = self._pc, None
        if pc is not None:
            with contextlib.suppress(Exception):
                await pc.close()
        with contextlib.suppress(Exception):
            await self.signaller.close()

    def _publish(self, pc: RTCPeerConnection) -> list[Any]:
        keep: list[Any] = []
        if self.config.source is None:
            pc.addTrack(ToneAudio())
            size = self.config.simulcast[-1][:2] if self.config.simulcast else None
            self._add_video(pc, PatternVideo(*(size or self.config.video_size),
                                             fps=self.config.fps), keep)
            return keep
        from aiortc.contrib.media import MediaPlayer

        is_file = self.config.source_format is None and Path(self.config.source).is_file()
        player = MediaPlayer(
            self.config.source, format=self.config.source_format, loop=is_file
        )
        keep.append(player)
        if player.audio is not None:
            pc.addTrack(Retimed(player.audio))
        if player.video is not None:
            self._add_video(pc, Retimed(player.video), keep)
        return keep

    def _add_video(self, pc: RTCPeerConnection, video: MediaStreamTrack, keep: list[Any]) -> None:
        """One video track, or one per simulcast layer fed from it (lowest first)."""
        if not self.config.simulcast:
            pc.addTrack(video)
            return
        from aiortc.contrib.media import MediaRelay

        relay = MediaRelay()
        keep.append(relay)
        for width, height, _ in self.config.simulcast:
            pc.addTrack(Scaled(relay.subscribe(video, buffered=False), width, height))

    def _offer_sdp(self, sdp: str) -> str:
        if not self.config.simulcast:
            return sdp
        return mark_agent_layers(sdp, tuple(b for _, _, b in self.config.simulcast))

    async def _session(self) -> None:
        self._set(state="connecting", sessions=self.health.sessions + 1)
        await self.signaller.connect()
        ice = [
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in self.config.ice_servers
        ]
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=ice, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._pc = pc
        keep = self._publish(pc)
        recorder: Recorder | None = None
        if self.config.record_to:
            recorder = Recorder(self._record_path(self.health.sessions))
        consumers: list[asyncio.Task[None]] = []
        lock = asyncio.Lock()

        recorded: set[str] = set()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            # the first audio and the first video slot carry the main view (the chair)
            if recorder is not None and track.kind not in recorded:
                recorded.add(track.kind)
                recorder.add(_Counted(track, self))
            else:
                consumers.append(asyncio.ensure_future(self._consume(track)))

        try:
            async with lock:
                await pc.setLocalDescription(await pc.createOffer())
                answer = await self.signaller.offer(self._offer_sdp(pc.localDescription.sdp))
                await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            tasks = [
                asyncio.ensure_future(self._answer_offers(pc, lock)),
                asyncio.ensure_future(self._watch(pc)),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for t in done:
                    t.result()
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for c in consumers:
                c.cancel()
            await asyncio.gather(*consumers, return_exceptions=True)
            if recorder is not None:
                await recorder.stop()
            del keep

    def _record_path(self, session: int) -> str:
        assert self.config.record_to is not None
        path = Path(self.config.record_to)
        return str(path.with_name(f"{path.stem}-{session}{path.suffix}"))

    async def _answer_offers(self, pc: RTCPeerConnection, lock: asyncio.Lock) -> None:
        while True:
            sdp = await self.signaller.server_offer()
            async with lock:
                await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await self.signaller.answer(pc.localDescription.sdp)

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self._frames += 1

    async def _watch(self, pc: RTCPeerConnection) -> None:
        """Log link health; raise when the link is gone."""
        last_rx, last_change = -1, time.monotonic()
        last_log = last_change
        while True:
            await asyncio.sleep(min(1.0, self.config.health_interval))
            if pc.connectionState in ("failed", "closed"):
                raise _LinkLost(f"peer connection {pc.connectionState}")
            rx_packets = rx_bytes = tx_packets = 0
            for report in (await pc.getStats()).values():
                if getattr(report, "type", None) == "transport":
                    rx_packets += report.packetsReceived or 0
                    rx_bytes += report.bytesReceived or 0
                    tx_packets += report.packetsSent or 0
            now = time.monotonic()
            if rx_packets != last_rx:
                last_rx, last_change = rx_packets, now
            if pc.connectionState == "connected" and not self.connected.is_set():
                self.connected.set()
                self._set(state="connected", connected_since=time.time())
            self._set(
                packets_received=rx_packets,
                bytes_received=rx_bytes,
                packets_sent=tx_packets,
                frames_received=self._frames,
            )
            if now - last_log >= self.config.log_interval:
                last_log = now
                h = self.health
                logger.info(
                    "bridge-point agent link: %s, %d packets in, %d out, %d frames received",
                    h.state, h.packets_received, h.packets_sent, h.frames_received,
                )
            if now - last_change > self.config.link_timeout:
                raise _LinkLost(f"nothing received for {now - last_change:.1f} s")


async def run_agent(
    signaller: Signaller,
    config: AgentConfig | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run a bridge-point agent until ``stop`` is set; the CLI's entry point."""
    await BridgePointAgent(signaller, config).run(stop)


def ice_servers_from_urls(urls: Sequence[str]) -> tuple[IceServer, ...]:
    """Convenience for the CLI: plain STUN urls as :class:`IceServer` entries."""
    return tuple(IceServer(urls=(u,)) for u in urls)
