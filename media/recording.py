"""Recording a room ("ghi hình"): one WebM file, the speaker's video as sent, mixed audio.

The recorder is a receiver inside the server: one video :class:`~media.forwarder.Slot`
and ``audio_slots`` audio slots that the room points like anyone else's (the video slot at
the current speaker, or the chair when nobody speaks; the audio slots at the chair and
the floor holders, muted ones left out). Slots already switch sources and simulcast
layers at keyframes with one continuous sequence and timeline, and follow a publisher
that reconnects; their "transport" here is :class:`_VideoSink` / :class:`_AudioSink`.

* Video is **not re-encoded**: VP8 RTP payloads are depacketized into frames and muxed
  into the WebM as they are (a frame with a missing packet is dropped and the next
  keyframe asked for). Only VP8 is recorded (WebM holds VP8/VP9/AV1); an H.264 speaker
  is left out of the picture until a VP8 one speaks (see media/README.md).
* Audio: each slot's Opus is decoded, the slots are mixed every 20 ms (a slot with
  nothing queued adds silence) and the mix is encoded to Opus once.

Timestamps: video from the slot's RTP timestamps (continuous across switches), audio from
the mixer's 20 ms ticks, both from the recording's start. Muxing runs on the event loop
(no thread): a few hundred small writes a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from ._aiortc_private import CodecInfo, RtpParams
from .forwarder import Slot
from .policy import Kind
from .rtp import parse_rtp, seq_diff, vp8_keyframe_start

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # C mixing of s16 samples; stdlib up to Python 3.12

logger = logging.getLogger(__name__)

_VP8 = CodecInfo(96, "VP8", 90000, ())
_OPUS = CodecInfo(111, "OPUS", 48000, (("minptime", "10"), ("useinbandfec", "1")))
_FRAME = 960  # 20 ms at 48 kHz
_VIDEO_TB = fractions.Fraction(1, 90000)
_AUDIO_TB = fractions.Fraction(1, 48000)


@dataclass(frozen=True)
class RecordingInfo:
    """What a finished recording holds (for the meeting's documents)."""

    path: str
    started_at: float
    duration: float
    video_frames: int
    keyframes: int
    audio_frames: int
    #: how often the recorded picture changed source or layer
    video_switches: int
    bytes: int


def vp8_frame_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386, 9.1)."""
    if len(frame) < 10 or frame[0] & 1 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    return (int.from_bytes(frame[6:8], "little") & 0x3FFF,
            int.from_bytes(frame[8:10], "little") & 0x3FFF)


def vp8_payload(payload: bytes) -> tuple[bytes, bool]:
    """The VP8 data after the RTP payload descriptor, and whether it starts a partition."""
    b0 = payload[0]
    i = 1
    if b0 & 0x80:
        x = payload[1]
        i = 2
        if x & 0x80:
            i += 2 if payload[i] & 0x80 else 1
        if x & 0x40:
            i += 1
        if x & 0x30:
            i += 1
    return payload[i:], bool(b0 & 0x10) and (b0 & 0x07) == 0


class _Sink:
    """What a recorder slot sends to: it takes the rewritten RTP instead of a socket."""

    def __init__(self, handle: Callable[[bytes], None]) -> None:
        self._handle = handle

    def send_rtp(self, data: bytes) -> bool:
        self._handle(data)
        return True

    def send_rtcp(self, data: bytes) -> bool:
        return True


class Recording:
    """A room's recording in progress; made by :meth:`media.Room.start_recording`."""

    def __init__(self, path: str, audio_slots: int, clock: Callable[[], float]) -> None:
        self.path = path
        self._clock = clock
        self.started_at = time.time()
        self._t0 = clock()
        self.video_slot = Slot("recorder", Kind.VIDEO, 0, 0x5EC0, _Sink(self._on_video), clock)  # type: ignore[arg-type]
        self.video_slot.configure(RtpParams(None, (_VP8,), (), (), "recorder"))
        self.audio_slots: list[Slot] = []
        self._audio_bufs: list[bytearray] = []
        self._decoders: list[Any] = []
        self._resamplers: list[Any] = []
        for i in range(audio_slots):
            buf = bytearray()
            slot = Slot("recorder", Kind.AUDIO, i, 0x5EC1 + i, _Sink(self._audio_handler(i)), clock)  # type: ignore[arg-type]
            slot.configure(RtpParams(None, (_OPUS,), (), (), "recorder"))
            self.audio_slots.append(slot)
            self._audio_bufs.append(buf)
            self._decoders.append(av.CodecContext.create("opus", "r"))
            self._resamplers.append(av.AudioResampler(format="s16", layout="mono", rate=48000))
        self._container = av.open(path, "w", format="webm")
        self._astream = self._container.add_stream("libopus", rate=48000)
        self._astream.layout = "mono"
        self._vstream: Any = None
        #: audio packets held until the video stream exists (WebM: streams come first)
        self._held: list[Any] = []
        self._frame: list[bytes] = []
        self._frame_ts: int | None = None
        self._frame_key = False
        self._next_seq: int | None = None
        self._broken = False
        self._first_ts: int | None = None
        self._video_offset = 0
        self._last_video_pts = -1
        self._audio_pts = 0
        self.video_frames = 0
        self.keyframes = 0
        self.audio_frames = 0
        self.closed = False
        self._mixer: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            self._mix(), name=f"recording-{path}"
        )

    # -- video --------------------------------------------------------------------------

    def _on_video(self, data: bytes) -> None:
        pkt = parse_rtp(data, None, None, None)
        if pkt is None or not pkt.payload or self.closed:
            return
        if self._next_seq is not None and pkt.seq != self._next_seq:
            if seq_diff(pkt.seq, self._next_seq) < 0:
                return  # a retransmission we already have
            self._broken = True  # lost a packet: drop this frame, wait for a keyframe
        self._next_seq = (pkt.seq + 1) & 0xFFFF
        if self._frame_ts is not None and pkt.timestamp != self._frame_ts:
            self._frame, self._frame_ts = [], None  # the previous frame never ended
        data, start = vp8_payload(pkt.payload)
        if self._frame_ts is None:
            if not start:
                return
            self._frame_ts = pkt.timestamp
            self._frame_key = vp8_keyframe_start(pkt.payload)
            if self._frame_key:
                self._broken = False
        self._frame.append(data)
        if pkt.marker:
            frame, key, ts = b"".join(self._frame), self._frame_key, pkt.timestamp
            self._frame, self._frame_ts = [], None
            if self._broken:
                self.video_slot.request_keyframe()
                return
            self._write_video(frame, key, ts)

    def _write_video(self, frame: bytes, key: bool, ts: int) -> None:
        if self._vstream is None:
            size = vp8_frame_size(frame) if key else None
            if size is None:
                return  # the file's video starts at a keyframe
            self._add_video(size)
        if self._first_ts is None:
            self._first_ts = ts
            self._video_offset = int((self._clock() - self._t0) * 90000)
        pts = self._video_offset + ((ts - self._first_ts) & 0xFFFFFFFF)
        if pts <= self._last_video_pts:
            pts = self._last_video_pts + 1
        self._last_video_pts = pts
        packet = av.Packet(frame)
        packet.stream = self._vstream
        packet.pts = packet.dts = pts
        packet.time_base = _VIDEO_TB
        packet.is_keyframe = key
        self._mux(packet)
        self.video_frames += 1
        self.keyframes += key

    def _add_video(self, size: tuple[int, int]) -> None:
        """Add the video stream (its size from the first keyframe) and write what waited."""
        stream = self._container.add_stream("libvpx", rate=30)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = _VIDEO_TB
        self._vstream = stream
        held, self._held = self._held, []
        for packet in held:
            self._mux(packet)

    # -- audio --------------------------------------------------------------------------

    def _audio_handler(self, i: int) -> Callable[[bytes], None]:
        def handle(data: bytes) -> None:
            pkt = parse_rtp(data, None, None, None)
            if pkt is None or not pkt.payload or self.closed:
                return
            try:
                for frame in self._decoders[i].decode(av.Packet(pkt.payload)):
                    for out in self._resamplers[i].resample(frame):
                        self._audio_bufs[i] += bytes(out.planes[0])[: out.samples * 2]
            except av.error.FFmpegError:
                return
            if len(self._audio_bufs[i]) > 48000 * 2:  # > 1 s behind: drop the oldest
                del self._audio_bufs[i][: len(self._audio_bufs[i]) - 48000]

        return handle

    async def _mix(self) -> None:
        start = self._clock()
        n = 0
        while not self.closed:
            n += 1
            delay = start + n * 0.02 - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            self.mix_once()

    def mix_once(self) -> None:
        """Mix 20 ms of every audio slot (silence for one that has nothing) and encode it."""
        size = _FRAME * 2
        mixed = bytes(size)
        for buf in self._audio_bufs:
            if buf:
                chunk = bytes(buf[:size]).ljust(size, b"\x00")
                del buf[:size]
                mixed = audioop.add(mixed, chunk, 2)
        frame = av.AudioFrame(format="s16", layout="mono", samples=_FRAME)
        frame.planes[0].update(mixed)
        frame.sample_rate = 48000
        frame.pts = self._audio_pts
        frame.time_base = _AUDIO_TB
        self._audio_pts += _FRAME
        for packet in self._astream.encode(frame):
            self._mux(packet)
        self.audio_frames += 1

    def _mux(self, packet: Any) -> None:
        if self._vstream is None and packet.stream is self._astream:
            self._held.append(packet)
            if len(self._held) < 500:  # 10 s of audio: then the picture starts black
                return
            self._add_video((640, 360))
        try:
            self._container.mux(packet)
        except (av.error.FFmpegError, ValueError):
            logger.exception("recording %s: a packet could not be written", self.path)

    # -- lifetime -----------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """The room's timer: an overdue keyframe for the picture, simulcast layer choice."""
        slot = self.video_slot
        if slot.keyframe_overdue(now, 1.0):
            slot.request_keyframe()
        if slot.layers:
            slot.tick_layers(now)

    async def stop(self) -> RecordingInfo:
        """Finish the file (flushes the audio encoder, writes the index)."""
        self.closed = True
        self._mixer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._mixer
        for slot in [self.video_slot, *self.audio_slots]:
            slot.set_source(None)
        with contextlib.suppress(av.error.FFmpegError, ValueError):
            for packet in self._astream.encode(None):
                self._mux(packet)
        if self._vstream is None:
            self._add_video((640, 360))
        self._container.close()
        switches = self.video_slot.layer_switches
        return RecordingInfo(
            path=self.path,
            started_at=self.started_at,
            duration=self._clock() - self._t0,
            video_frames=self.video_frames,
            keyframes=self.keyframes,
            audio_frames=self.audio_frames,
            video_switches=switches + self.source_switches,
            bytes=Path(self.path).stat().st_size,  # noqa: ASYNC240 - one stat, at the end
        )

    #: set by the room each time the recorded picture moves to another publisher
    source_switches = 0
