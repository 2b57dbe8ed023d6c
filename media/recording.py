"""Recording a room ("ghi hình"): one file, the speaker's video as sent, mixed audio.

The recorder is a receiver inside the server: one video :class:`~media.forwarder.Slot`
and ``audio_slots`` audio slots that the room points like anyone else's (the video slot at
the current speaker, or the chair when nobody speaks; the audio slots at the chair and
the floor holders, muted ones left out). Slots already switch sources and simulcast
layers at keyframes with one continuous sequence and timeline, and follow a publisher
that reconnects; their "transport" here is :class:`_Sink`.

* Video is **not re-encoded**: RTP payloads are depacketized into frames and muxed into
  the file as they are (a frame with a missing packet is dropped and a keyframe asked
  for). The file's container follows the codec of its first picture: VP8 goes into
  **WebM**, H.264 into **MP4** (fragmented; see :data:`WEBM`, :data:`MP4` and
  media/README.md for why). A file holds one video codec: a speaker who sends the other
  one is left out of the picture (it holds on the last frame; the voice is in).
* Audio: each slot's Opus is decoded, the slots are mixed every 20 ms (a slot with
  nothing queued adds silence) and the mix is encoded to Opus once.

The file is opened at the first keyframe (its codec decides the container); the mixed
audio until then is kept (at most 10 s: then a WebM starts without a picture).
Timestamps: video from the slot's RTP timestamps (continuous across switches), audio from
the mixer's 20 ms ticks, both from the recording's start. Muxing runs on the event loop
(no thread): a few hundred small writes a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import io
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
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
_H264 = CodecInfo(
    102,
    "H264",
    90000,
    (("level-asymmetry-allowed", "1"), ("packetization-mode", "1"),
     ("profile-level-id", "42e01f")),
)  # fmt: skip
_OPUS = CodecInfo(111, "OPUS", 48000, (("minptime", "10"), ("useinbandfec", "1")))
_FRAME = 960  # 20 ms at 48 kHz
_VIDEO_TB = fractions.Fraction(1, 90000)
#: the least time between two pictures in the file (90 kHz ticks: 1 ms, or one tick of the
#: muxer's time base if coarser): pictures closer than that (a burst after a switch or a
#: reconnect) would share a timestamp, which players and FFmpeg report as non-increasing
_MIN_VIDEO_GAP = 90
_AUDIO_TB = fractions.Fraction(1, 48000)
#: mixed audio kept while no picture has come (10 s): then the file starts without one
_HELD_AUDIO = 500
_START_CODE = b"\x00\x00\x00\x01"
_IDR = 5


@dataclass(frozen=True)
class Container:
    """Where one video codec is recorded: the file's format, suffix and MIME type."""

    codec: str
    suffix: str
    format: str
    media_type: str
    options: dict[str, str] = field(default_factory=dict)


#: VP8 (and Opus) in WebM: what browsers record and play natively.
WEBM = Container("vp8", ".webm", "webm", "video/webm")
#: H.264 (and Opus) in MP4, fragmented: browsers play H.264 from MP4 (not from WebM);
#: fragments (at every keyframe, and at least every second) keep what is buffered in memory
#: small whatever the keyframe interval, and leave a playable file up to the last one if
#: the process dies; the index written at the end makes it seekable.
MP4 = Container(
    "h264",
    ".mp4",
    "mp4",
    "video/mp4",
    {"movflags": "empty_moov+default_base_moof+frag_keyframe", "frag_duration": "1000000"},
)
#: by the payload type of the recorder's video slot
_BY_PT = {_VP8.payload_type: WEBM, _H264.payload_type: MP4}


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
    #: ``video/webm`` or ``video/mp4``
    media_type: str = WEBM.media_type
    #: ``vp8``, ``h264``, or ``""`` when no picture was recorded
    video_codec: str = ""
    #: frames of a speaker in the other codec, left out of the picture
    other_codec_frames: int = 0


def vp8_frame_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386, 9.1)."""
    if len(frame) < 10 or frame[0] & 1 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    return (int.from_bytes(frame[6:8], "little") & 0x3FFF,
            int.from_bytes(frame[8:10], "little") & 0x3FFF)  # fmt: skip


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


def h264_payload(payload: bytes) -> tuple[bytes, bool, tuple[int, ...]] | None:
    """An H.264 RTP payload (RFC 6184: single NAL unit, STAP-A, FU-A) as Annex B bytes,
    whether it may begin an access unit (it is not the rest of a fragmented NAL unit), and
    the types of the NAL units it begins; None if it is malformed or of another mode."""
    nal = payload[0] & 0x1F
    if 1 <= nal <= 23:
        return _START_CODE + payload, True, (nal,)
    if nal == 24:  # STAP-A: 16-bit sizes, then the units
        parts: list[bytes] = []
        types: list[int] = []
        i = 1
        while i + 2 < len(payload):
            size = int.from_bytes(payload[i : i + 2], "big")
            i += 2
            if size == 0 or i + size > len(payload):
                return None
            parts += (_START_CODE, payload[i : i + size])
            types.append(payload[i] & 0x1F)
            i += size
        return (b"".join(parts), True, tuple(types)) if parts else None
    if nal == 28 and len(payload) > 2:  # FU-A
        fu = payload[1]
        if fu & 0x80:
            header = bytes([(payload[0] & 0xE0) | (fu & 0x1F)])
            return _START_CODE + header + payload[2:], True, (fu & 0x1F,)
        return payload[2:], False, ()
    return None


def _h264_template(keyframe: bytes) -> tuple[Any, Any] | None:
    """An input holding the keyframe, whose stream FFmpeg's H.264 parser described from its
    SPS/PPS (size, profile, extradata): the MP4's video stream is copied from it. None if
    the keyframe has no SPS/PPS. The caller closes the input."""
    try:
        probe = av.open(io.BytesIO(keyframe), format="h264")
    except av.error.FFmpegError:
        return None
    streams = probe.streams.video
    if not streams or not streams[0].codec_context.width or not streams[0].codec_context.extradata:
        probe.close()
        return None
    return probe, streams[0]


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
    """A room's recording in progress; made by :meth:`media.Room.start_recording`.

    ``path`` names the file; its suffix becomes the container's (``.webm`` for VP8,
    ``.mp4`` for H.264) once the first picture has come: :attr:`path` then says which."""

    def __init__(self, path: str, audio_slots: int, clock: Callable[[], float]) -> None:
        self._stem = str(Path(path).with_suffix(""))
        self._clock = clock
        self.started_at = time.time()
        self._t0 = clock()
        # a local sink: the best layer at once, no slow start
        self.video_slot = Slot(
            "recorder", Kind.VIDEO, 0, 0x5EC0, _Sink(self._on_video), clock, remote=False
        )
        self.video_slot.configure(RtpParams(None, (_VP8, _H264), (), (), "recorder"))
        self.audio_slots: list[Slot] = []
        self._audio_bufs: list[bytearray] = []
        self._decoders: list[Any] = []
        self._resamplers: list[Any] = []
        for i in range(audio_slots):
            buf = bytearray()
            slot = Slot("recorder", Kind.AUDIO, i, 0x5EC1 + i, _Sink(self._audio_handler(i)), clock)
            slot.configure(RtpParams(None, (_OPUS,), (), (), "recorder"))
            self.audio_slots.append(slot)
            self._audio_bufs.append(buf)
            self._decoders.append(av.CodecContext.create("opus", "r"))
            self._resamplers.append(av.AudioResampler(format="s16", layout="mono", rate=48000))
        #: the file's container, once its first picture (or the wait for one) decided it
        self.container: Container | None = None
        self._out: Any = None
        self._vstream: Any = None
        self._astream: Any = None
        #: mixed 20 ms frames kept until the file is opened
        self._held: list[bytes] = []
        self._frame: list[bytes] = []
        self._frame_ts: int | None = None
        self._frame_codec: Container | None = None
        self._frame_key = False
        self._damaged = False
        self._need_key = True
        self._next_seq: int | None = None
        self._first_ts: int | None = None
        self._video_offset = 0
        self._last_video_pts = -_MIN_VIDEO_GAP
        self._audio_pts = 0
        self.video_frames = 0
        self.keyframes = 0
        self.audio_frames = 0
        self.other_codec_frames = 0
        self.closed = False
        self._mixer: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            self._mix(), name=f"recording-{self._stem}"
        )

    @property
    def path(self) -> str:
        """The file (``.webm`` until the first picture shows it is H.264)."""
        return self._stem + (self.container or WEBM).suffix

    # -- video --------------------------------------------------------------------------

    def _on_video(self, data: bytes) -> None:
        pkt = parse_rtp(data, None, None, None)
        if pkt is None or not pkt.payload or self.closed:
            return
        codec = _BY_PT.get(pkt.payload_type)
        if codec is None:
            return
        if self.container is not None and codec is not self.container:
            self.other_codec_frames += pkt.marker  # left out: the file holds one codec
            return
        gap = False
        if self._next_seq is not None and pkt.seq != self._next_seq:
            if seq_diff(pkt.seq, self._next_seq) < 0:
                return  # a retransmission we already have
            gap = self._need_key = True  # lost packets: wait for a keyframe
        self._next_seq = (pkt.seq + 1) & 0xFFFF
        if self._frame_ts is not None and (
            pkt.timestamp != self._frame_ts or codec is not self._frame_codec
        ):
            self._frame, self._frame_ts = [], None  # the previous frame never ended
        if gap and self._frame_ts is not None:
            self._damaged = True  # the frame lost packets: it is dropped
        if codec is WEBM:
            chunk, start = vp8_payload(pkt.payload)
            key = start and vp8_keyframe_start(pkt.payload)
        else:
            got = h264_payload(pkt.payload)
            if got is None:  # not a mode-1 payload: its frame cannot be rebuilt
                self._damaged = self._damaged or self._frame_ts is not None
                self._need_key = True
                return
            chunk, start, types = got
            key = _IDR in types
        if self._frame_ts is None:
            if not start:
                return
            self._frame_ts, self._frame_codec = pkt.timestamp, codec
            self._frame_key = False
            # VP8 marks a frame's first packet; an H.264 frame right after a loss may
            # have lost its head, so it is dropped too
            self._damaged = gap and codec is MP4
        self._frame_key |= key
        self._frame.append(chunk)
        if pkt.marker:
            frame, key, ts = b"".join(self._frame), self._frame_key, pkt.timestamp
            self._frame, self._frame_ts = [], None
            if self._damaged or (self._need_key and not key):
                self._damaged = False
                self.video_slot.request_keyframe()
                return
            if self._write_video(codec, frame, key, ts):
                self._need_key = False
            else:
                self.video_slot.request_keyframe()

    def _write_video(self, codec: Container, frame: bytes, key: bool, ts: int) -> bool:
        if self._out is None and not (key and self._open(codec, frame)):
            return False  # the file's video starts at a keyframe
        if self._first_ts is None:
            self._first_ts = ts
            self._video_offset = int((self._clock() - self._t0) * 90000)
        pts = self._video_offset + ((ts - self._first_ts) & 0xFFFFFFFF)
        # never two pictures at one time in the file's own time base (the muxer's may be
        # coarser than 90 kHz: WebM keeps milliseconds, an MP4 track what its template says)
        tb = self._vstream.time_base
        gap = max(_MIN_VIDEO_GAP, math.ceil(tb * 90000)) if tb else _MIN_VIDEO_GAP
        if pts < self._last_video_pts + gap:
            pts = self._last_video_pts + gap
        self._last_video_pts = pts
        packet = av.Packet(frame)
        packet.stream = self._vstream
        packet.pts = packet.dts = pts
        packet.time_base = _VIDEO_TB
        packet.is_keyframe = key
        self._mux(packet)
        self.video_frames += 1
        self.keyframes += key
        return True

    # -- the file -----------------------------------------------------------------------

    def _open(self, codec: Container, keyframe: bytes | None) -> bool:
        """Open the file for ``codec`` (its video stream described by ``keyframe``, or an
        empty VP8 one when no picture came), add the audio, write the audio held so far."""
        template = None
        if codec is MP4:
            template = _h264_template(keyframe or b"")
            if template is None:
                return False  # an IDR without its SPS/PPS: wait for the next keyframe
        out = av.open(self._stem + codec.suffix, "w", format=codec.format, options=codec.options)
        try:
            if template is not None:
                probe, stream = template
                vstream = out.add_stream_from_template(stream)
                probe.close()
            else:
                size = (vp8_frame_size(keyframe) if keyframe else None) or (640, 360)
                vstream = out.add_stream("libvpx", rate=30)
                vstream.width, vstream.height = size
                vstream.pix_fmt = "yuv420p"
            vstream.time_base = _VIDEO_TB
            astream = out.add_stream("libopus", rate=48000)
            astream.layout = "mono"
        except BaseException:
            out.close()
            raise
        self._out, self._vstream, self._astream = out, vstream, astream
        self.container = codec
        held, self._held = self._held, []
        for pcm in held:
            self._encode_audio(pcm)
        logger.info("recording %s: %s", self.path, codec.media_type)
        return True

    def _mux(self, packet: Any) -> None:
        try:
            self._out.mux(packet)
        except (av.error.FFmpegError, ValueError):
            logger.exception("recording %s: a packet could not be written", self.path)

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
        self.audio_frames += 1
        if self._out is not None:
            self._encode_audio(mixed)
            return
        self._held.append(mixed)
        if len(self._held) >= _HELD_AUDIO:
            self._open(WEBM, None)  # no picture for 10 s: the file starts without one

    def _encode_audio(self, pcm: bytes) -> None:
        frame = av.AudioFrame(format="s16", layout="mono", samples=_FRAME)
        frame.planes[0].update(pcm)
        frame.sample_rate = 48000
        frame.pts = self._audio_pts
        frame.time_base = _AUDIO_TB
        self._audio_pts += _FRAME
        for packet in self._astream.encode(frame):
            self._mux(packet)

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
        if self._out is None:
            self._open(WEBM, None)
        with contextlib.suppress(av.error.FFmpegError, ValueError):
            for packet in self._astream.encode(None):
                self._mux(packet)
        self._out.close()
        assert self.container is not None
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
            media_type=self.container.media_type,
            video_codec=self.container.codec if self.video_frames else "",
            other_codec_frames=self.other_codec_frames,
        )

    #: set by the room each time the recorded picture moves to another publisher
    source_switches = 0
