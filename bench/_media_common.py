"""Shared pieces of the media benchmarks (clip cache, cheap clients, CPU accounting).

Nothing here touches ``media/``: the server side of the benches uses its public API only.
The client side reaches into aiortc in two places, both for cost reasons and both only in
bench processes:

* :func:`install_counting_receivers` replaces the queue between aiortc's jitter buffer and
  its decoder thread, so a complete encoded frame is *counted* where it would be decoded;
* :class:`PacketTrack` answers PLI/FIR by jumping to the next keyframe of its clip
  (it wraps the sender's ``_handle_rtcp_packet``), like a live encoder would.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
CLK_TCK = os.sysconf("SC_CLK_TCK")

VIDEO_W, VIDEO_H, VIDEO_FPS = 640, 360, 30
VIDEO_KBPS = 800
VIDEO_GOP = 30
CLIP_SECONDS = 10

log = logging.getLogger("bench")


def progress(msg: str) -> None:
    """Human progress on stderr (stdout carries JSON only)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=__import__("sys").stderr, flush=True)


# -- loopback only ----------------------------------------------------------------------


def restrict_ice_to_loopback(address: str = "127.0.0.1") -> None:
    """aioice gathers host candidates on ``address`` only (it leaves loopback out by
    default); 127.0.0.2 for the Janus target's clients, inside its namespace."""
    import aioice.ice

    def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [address] if use_ipv4 else []

    aioice.ice.get_host_addresses = loopback_only


# -- clip cache ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClipPacket:
    data: bytes
    keyframe: bool


def _encode_video(path: Path) -> None:
    import av

    frames = CLIP_SECONDS * VIDEO_FPS
    graph = av.filter.Graph()
    src = graph.add("testsrc2", f"size={VIDEO_W}x{VIDEO_H}:rate={VIDEO_FPS}")
    fmt = graph.add("format", "yuv420p")
    sink = graph.add("buffersink")
    src.link_to(fmt)
    fmt.link_to(sink)
    graph.configure()
    tmp = path.with_suffix(".tmp.webm")
    with av.open(str(tmp), "w", format="webm") as out:
        stream = out.add_stream(
            "libvpx",
            rate=VIDEO_FPS,
            options={
                # a real-time style stream: constant bitrate, no alt-ref/lag (every packet is
                # one shown frame, as a WebRTC encoder sends), fixed 30-frame GOP
                "b": f"{VIDEO_KBPS}k",
                "minrate": f"{VIDEO_KBPS}k",
                "maxrate": f"{VIDEO_KBPS}k",
                "bufsize": f"{VIDEO_KBPS}k",
                "g": str(VIDEO_GOP),
                "keyint_min": str(VIDEO_GOP),
                "auto-alt-ref": "0",
                "lag-in-frames": "0",
                "deadline": "good",
                "cpu-used": "2",
            },
        )
        stream.width, stream.height, stream.pix_fmt = VIDEO_W, VIDEO_H, "yuv420p"
        stream.bit_rate = VIDEO_KBPS * 1000
        stream.codec_context.gop_size = VIDEO_GOP
        for _ in range(frames):
            frame = sink.pull()
            # testsrc2 marks every frame as an I picture, which libvpx obeys: clear it
            frame.pict_type = av.video.frame.PictureType.NONE
            for pkt in stream.encode(frame):
                out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    tmp.replace(path)


def _encode_audio(path: Path) -> None:
    import av

    graph = av.filter.Graph()
    src = graph.add("sine", "frequency=440:sample_rate=48000:samples_per_frame=960")
    fmt = graph.add("aformat", "sample_fmts=s16:channel_layouts=mono")
    sink = graph.add("abuffersink")
    src.link_to(fmt)
    fmt.link_to(sink)
    graph.configure()
    tmp = path.with_suffix(".tmp.webm")
    with av.open(str(tmp), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=48000, options={"b": "32k", "frame_duration": "20"})
        stream.layout = "mono"
        for _ in range(CLIP_SECONDS * 50):
            frame = sink.pull()
            for pkt in stream.encode(frame):
                out.mux(pkt)
        for pkt in stream.encode(None):
            out.mux(pkt)
    tmp.replace(path)


def clip_paths() -> tuple[Path, Path]:
    """Encode the clips once (cached under bench/out/); returns (video, audio) paths."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    video = OUT_DIR / f"clip_vp8_{VIDEO_W}x{VIDEO_H}_{VIDEO_FPS}fps_{VIDEO_KBPS}k_g{VIDEO_GOP}.webm"
    audio = OUT_DIR / "clip_opus_440hz_32k.webm"
    if not video.exists():
        progress(f"encoding {video.name} once (PyAV libvpx)...")
        _encode_video(video)
    if not audio.exists():
        progress(f"encoding {audio.name} once (PyAV libopus)...")
        _encode_audio(audio)
    return video, audio


def load_packets(path: Path) -> list[ClipPacket]:
    """Demux a cached clip into its encoded packets (no decoding)."""
    import av

    out: list[ClipPacket] = []
    with av.open(str(path)) as container:
        stream = container.streams[0]
        for pkt in container.demux(stream):
            if pkt.size == 0:
                continue
            data = bytes(pkt)
            # VP8: bit 0 of the frame tag is 0 on a keyframe; Opus: every packet stands alone
            key = (data[0] & 1) == 0 if stream.codec_context.name.startswith(("vp8", "libvpx")) \
                else True
            out.append(ClipPacket(data, key))
    return out


def rtp_packets_per_frame(packets: list[ClipPacket], video: bool) -> float:
    """RTP packets aiortc's packetizer makes per clip packet, on average."""
    if not video:
        return 1.0
    from aiortc.codecs.vpx import Vp8Encoder

    return sum(len(Vp8Encoder._packetize(p.data, 1)) for p in packets) / len(packets)


def clip_info(packets: list[ClipPacket], fps: float) -> dict[str, Any]:
    total = sum(len(p.data) for p in packets)
    keys = [i for i, p in enumerate(packets) if p.keyframe]
    gop = (keys[1] - keys[0]) if len(keys) > 1 else None
    return {
        "packets": len(packets),
        "kbps": round(total * 8 * fps / len(packets) / 1000, 1),
        "keyframes": len(keys),
        "keyframe_interval_frames": gop,
        "max_packet_bytes": max(len(p.data) for p in packets),
    }


# -- publisher: replays packets, paced, monotonic timestamps -------------------------------


_AV_PACKETS: dict[int, list[Any]] = {}


class PacketTrack:
    """Factory for an aiortc track whose ``recv()`` returns ``av.Packet`` (no encoding).

    Timestamps grow monotonically across clip loops (``pts = n * ticks``). When the
    sender receives a PLI/FIR the next packet sent is the clip's next keyframe (see
    :func:`attach_keyframe_on_request`), like a live encoder answering a request.
    """

    @staticmethod
    def create(kind: str, packets: list[ClipPacket], keyframe_on_request: bool = True) -> Any:
        import av
        from aiortc import MediaStreamTrack

        if kind == "video":
            clock, step, period = 90000, 90000 // VIDEO_FPS, 1 / VIDEO_FPS
        else:
            clock, step, period = 48000, 960, 0.02
        time_base = fractions.Fraction(1, clock)
        # one av.Packet per clip packet, shared by every track of the process: aiortc's
        # sender packs the packet synchronously right after recv() returns it
        key = id(packets)
        if key not in _AV_PACKETS:
            _AV_PACKETS[key] = [av.Packet(p.data) for p in packets]
        av_packets = _AV_PACKETS[key]

        class _Track(MediaStreamTrack):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__()
                self.kind = kind
                self.n = 0
                self.pos = 0
                self.start: float | None = None
                self.keyframe_requested = False
                self.keyframe_on_request = keyframe_on_request
                self.keyframes_on_request = 0
                self.late_resets = 0
                self.bytes_sent = 0

            def request_keyframe(self) -> None:
                if self.keyframe_on_request and kind == "video":
                    self.keyframe_requested = True

            async def recv(self) -> Any:
                now = time.monotonic()
                if self.start is None:
                    self.start = now
                due = self.start + self.n * period
                if due - now < -1.0:
                    # more than 1 s behind (client starved of CPU): re-anchor, no burst
                    self.late_resets += 1
                    self.start = now - self.n * period
                    due = now
                if due > now:
                    await asyncio.sleep(due - now)
                if self.keyframe_requested:
                    self.keyframe_requested = False
                    if not packets[self.pos].keyframe:
                        nxt = next(
                            (j for j in range(self.pos, self.pos + len(packets))
                             if packets[j % len(packets)].keyframe),
                            self.pos,
                        )
                        self.pos = nxt % len(packets)
                        self.keyframes_on_request += 1
                clip = packets[self.pos]
                pkt = av_packets[self.pos]
                self.pos = (self.pos + 1) % len(packets)
                pkt.pts = self.n * step
                pkt.dts = pkt.pts
                pkt.time_base = time_base
                self.n += 1
                self.bytes_sent += len(clip.data)
                return pkt

        return _Track()


def attach_keyframe_on_request(sender: Any, track: Any) -> None:
    """Wrap ``sender._handle_rtcp_packet`` so PLI/FIR make ``track`` jump to a keyframe."""
    from aiortc.rtp import RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket

    original = sender._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            track.request_keyframe()
        await original(packet)

    sender._handle_rtcp_packet = handle


def install_light_senders() -> None:
    """Replace ``RTCRtpSender._run_rtp`` in this (client) process with a leaner loop.

    Same packets on the wire as aiortc's loop for pre-encoded input (aiortc's packetizer,
    payload type, SSRC, sequence numbers, the MID and abs-send-time header extensions,
    SRTP through the same transport) and the same sender-report counters, but the header is
    packed directly instead of through ``RtpPacket`` objects and datetime-based clocks, and
    no retransmission history is kept (NACKs from the server go unanswered; on loopback
    the server sees no loss). Only for tracks returning ``av.Packet``.
    """
    import random
    import struct

    from aiortc import rtcrtpsender
    from aiortc.codecs import get_encoder
    from aiortc.mediastreams import MediaStreamError

    cls = rtcrtpsender.RTCRtpSender
    if getattr(cls, "_bench_light", False):
        return
    pre = "_RTCRtpSender__"
    header = struct.Struct("!BBHII")
    ntp_epoch = 2208988800

    async def run_rtp(self: Any, codec: Any) -> None:
        getattr(self, pre + "rtp_started").set()
        seq = random.getrandbits(16)
        origin = random.getrandbits(32)
        pt = codec.payloadType
        ids = getattr(self, pre + "rtp_header_extensions_map")._HeaderExtensionsMap__ids
        mid = (getattr(self, pre + "mid") or "").encode()
        mid_el = bytes([(ids.mid << 4) | (len(mid) - 1)]) + mid if ids.mid and mid else b""
        abs_id = ids.abs_send_time or 0
        encoder = get_encoder(codec)
        transport = self.transport
        try:
            while True:
                track = getattr(self, pre + "track")
                if track is None:
                    await asyncio.sleep(0.02)
                    continue
                data = await track.recv()
                payloads, ts = encoder.pack(data)
                timestamp = (origin + ts) & 0xFFFFFFFF
                ntp = int((time.time() + ntp_epoch) * (1 << 32))
                elements = mid_el
                if abs_id:
                    elements += bytes([(abs_id << 4) | 2]) + ((ntp >> 14) & 0xFFFFFF).to_bytes(3)
                if elements:
                    elements += b"\0" * (-len(elements) % 4)
                    ext = b"\xbe\xde" + (len(elements) // 4).to_bytes(2) + elements
                    first = 0x90
                else:
                    ext, first = b"", 0x80
                last = len(payloads) - 1
                for i, payload in enumerate(payloads):
                    second = pt | 0x80 if i == last else pt
                    await transport._send_rtp(
                        header.pack(first, second, seq, timestamp, self._ssrc) + ext + payload
                    )
                    setattr(self, pre + "octet_count", getattr(self, pre + "octet_count")
                            + len(payload))
                    setattr(self, pre + "packet_count", getattr(self, pre + "packet_count") + 1)
                    seq = (seq + 1) & 0xFFFF
                setattr(self, pre + "ntp_timestamp", ntp)
                setattr(self, pre + "rtp_timestamp", timestamp)
        except (asyncio.CancelledError, ConnectionError, MediaStreamError):
            pass
        except Exception:
            log.exception("light sender failed")
        track = getattr(self, pre + "track")
        if track:
            track.stop()
            setattr(self, pre + "track", None)
        getattr(self, pre + "rtp_exited").set()

    cls._run_rtp = run_rtp
    cls._bench_light = True


# -- subscriber: count frames where aiortc would decode them ---------------------------------


@dataclass
class SlotCounter:
    """Frames handed to the (replaced) decoder of one receiver."""

    kind: str
    frames: int = 0
    bytes: int = 0
    keyframes: int = 0
    first_frame_at: float | None = None
    first_keyframe_at: float | None = None
    last_frame_at: float | None = None
    max_gap: float = 0.0
    gaps_over_1s: int = 0
    # window snapshot
    w_frames: int = 0
    w_bytes: int = 0
    w_max_gap: float = 0.0
    w_gaps_over_1s: int = 0
    in_window: bool = False
    sizes: set[tuple[int, int]] = field(default_factory=set)

    def add(self, data: bytes, now: float, key: bool | None = None) -> None:
        self.frames += 1
        self.bytes += len(data)
        if key is None:  # VP8 frame tag: bit 0 is 0 on a keyframe
            key = self.kind == "video" and bool(data) and (data[0] & 1) == 0
        if key:
            self.keyframes += 1
            if self.first_keyframe_at is None:
                self.first_keyframe_at = now
        if self.first_frame_at is None:
            self.first_frame_at = now
        if self.last_frame_at is not None:
            gap = now - self.last_frame_at
            if gap > self.max_gap:
                self.max_gap = gap
            if gap > 1.0:
                self.gaps_over_1s += 1
            if self.in_window:
                if gap > self.w_max_gap:
                    self.w_max_gap = gap
                if gap > 1.0:
                    self.w_gaps_over_1s += 1
        self.last_frame_at = now

    def stop_window(self, now: float) -> None:
        """End the window; a slot silent since its last frame counts that gap too."""
        if self.in_window and self.last_frame_at is not None:
            trailing = now - self.last_frame_at
            if trailing > self.w_max_gap:
                self.w_max_gap = trailing
            if trailing > 1.0:
                self.w_gaps_over_1s += 1
        self.in_window = False

    def start_window(self) -> tuple[int, int]:
        self.in_window = True
        self.w_max_gap = 0.0
        self.w_gaps_over_1s = 0
        return self.frames, self.bytes


class CountingQueue:
    """Stands in for the receiver's decoder queue: counts frames, decodes nothing.

    aiortc's decoder thread still starts and blocks in :meth:`get` until the receiver
    stops (``put(None)``), then ends the track normally.
    """

    def __init__(self, counter: SlotCounter) -> None:
        self.counter = counter
        self._stop = threading.Event()

    def put(self, item: Any) -> None:
        if item is None:
            self._stop.set()
            return
        _codec, encoded_frame = item
        self.counter.add(encoded_frame.data, time.monotonic())

    def get(self) -> None:
        self._stop.wait()
        return None


def _vp8_frame_start(payload: bytes) -> tuple[bool, bool]:
    """(first packet of a frame, keyframe) from the head of a VP8 RTP payload (RFC 7741)."""
    if not payload:
        return False, False
    b0 = payload[0]
    if not (b0 & 0x10) or (b0 & 0x07):  # S bit, partition 0
        return False, False
    pos = 1
    if b0 & 0x80 and len(payload) > 1:  # X
        x = payload[1]
        pos = 2
        if x & 0x80 and len(payload) > pos:  # I: picture id, 7 or 15 bits
            pos += 2 if payload[pos] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            pos += 1
        if x & 0x30:  # T or K
            pos += 1
    if pos >= len(payload):
        return True, False
    return True, (payload[pos] & 0x01) == 0


class LightReceive:
    """Replaces ``RTCRtpReceiver._handle_rtp_packet``: assemble and count frames, nothing else.

    A video frame counts when every packet from its first (VP8 S bit, partition 0) to its
    marker has arrived, retransmissions included: the moment aiortc's jitter buffer would
    release it to the decoder. Gaps are NACKed (the server answers from its cache). Skipped
    compared with aiortc: depacketizing, the jitter buffer, the REMB estimator, RTCP
    receiver statistics (so the server gets empty receiver reports from these clients).
    With :func:`install_fast_rtp_path` the packets arrive as bytes (:meth:`on_raw`), without
    aiortc's ``RtpPacket`` parsing either.
    """

    def __init__(self, receiver: Any, counter: SlotCounter) -> None:
        self.receiver = receiver
        self.counter = counter
        self.video = counter.kind == "video"
        self.base: int | None = None
        self.highest = 0  # extended sequence number
        self.received = 0
        self.frames: dict[int, list[Any]] = {}  # ts -> [first, marker, seqs, key, bytes]
        self.tasks: set[asyncio.Task[None]] = set()

    def expected(self) -> int:
        return 0 if self.base is None else self.highest - self.base + 1

    async def __call__(self, packet: Any, arrival_time_ms: int = 0) -> None:
        self.on(packet.sequence_number, packet.timestamp, packet.marker, packet.ssrc,
                packet.payload[:8], len(packet.payload))

    def on_raw(self, data: bytes) -> None:
        """One decrypted RTP packet as bytes."""
        b0 = data[0]
        pos = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:  # header extension
            pos += 4 + 4 * int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = len(data) - (data[-1] if b0 & 0x20 else 0)
        self.on(int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:8], "big"),
                data[1] & 0x80, int.from_bytes(data[8:12], "big"), data[pos : pos + 8],
                end - pos)

    def on(self, seq: int, ts: int, marker: int, ssrc: int, head: bytes, size: int) -> None:
        self.received += 1
        if self.base is None:
            self.base = self.highest = seq
        else:
            ext = self.highest + ((seq - self.highest) & 0xFFFF)
            if ((seq - self.highest) & 0xFFFF) >= 0x8000:
                ext -= 0x10000
            if ext > self.highest:
                if ext > self.highest + 1:
                    stop = min(ext, self.highest + 64)
                    lost = [s & 0xFFFF for s in range(self.highest + 1, stop)]
                    task = asyncio.ensure_future(self.receiver._send_rtcp_nack(ssrc, lost))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                self.highest = ext
        now = time.monotonic()
        if not self.video:
            self.counter.add(b"", now, key=False)
            self.counter.bytes += size
            return
        f = self.frames.get(ts)
        if f is None:
            f = self.frames[ts] = [None, None, set(), False, 0]
            if len(self.frames) > 64:  # forget frames that never completed
                for old in list(self.frames)[:16]:
                    del self.frames[old]
        first, key = _vp8_frame_start(head)
        if first:
            f[0] = seq
            f[3] = key
        if marker:
            f[1] = seq
        f[2].add(seq)
        f[4] += size
        if f[0] is not None and f[1] is not None and len(f[2]) == ((f[1] - f[0]) & 0xFFFF) + 1:
            del self.frames[ts]
            self.counter.add(b"", now, key=f[3])
            self.counter.bytes += f[4]


def install_fast_rtp_path(dtls: Any) -> None:
    """Hand decrypted RTP for light receivers to :meth:`LightReceive.on_raw` as bytes.

    Wraps ``RTCDtlsTransport._handle_rtp_data`` (the same place the media plane hooks on
    the server): a packet whose SSRC belongs to a light receiver skips ``RtpPacket.parse``
    and the router; anything else (and the first packet of each SSRC) takes aiortc's path.
    """
    if getattr(dtls, "_bench_fast", False):
        return
    from aiortc.rtp import RtpPacket

    original = dtls._handle_rtp_data
    fast: dict[int, LightReceive] = {}

    async def handle(data: bytes, arrival_time_ms: int) -> None:
        if len(data) >= 12:
            lr = fast.get(int.from_bytes(data[8:12], "big"))
            if lr is not None:
                lr.on_raw(data)
                return
            try:
                packet = RtpPacket.parse(data, dtls._rtp_header_extensions_map)
            except ValueError:
                return
            receiver = dtls._rtp_router.route_rtp(packet)
            lr = getattr(receiver, "_bench_light", None)
            if lr is not None:
                fast[packet.ssrc] = lr
        await original(data, arrival_time_ms=arrival_time_ms)

    dtls._handle_rtp_data = handle
    dtls._bench_fast = True


def install_counting_receivers(light: bool = False) -> None:
    """Every RTCRtpReceiver created from now on in this process counts instead of decoding.

    ``light=False``: aiortc's whole receive path runs (jitter buffer, NACK, REMB, RTCP
    statistics) and the complete encoded frames are counted where the decoder thread would
    take them. ``light=True``: :class:`LightReceive` instead, several times cheaper.
    """
    from aiortc import rtcrtpreceiver

    cls = rtcrtpreceiver.RTCRtpReceiver
    if getattr(cls, "_bench_counting", False):
        return
    original_init = cls.__init__

    def init(self: Any, kind: str, transport: Any) -> None:
        original_init(self, kind, transport)
        counter = SlotCounter(kind)
        self._bench_counter = counter
        self._RTCRtpReceiver__decoder_queue = CountingQueue(counter)
        if light:
            self._bench_light = LightReceive(self, counter)
            self._handle_rtp_packet = self._bench_light

    cls.__init__ = init
    cls._bench_counting = True


# -- CPU accounting ---------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    total = sum(vals[:8])
    return float(total - idle), float(total)


def cpu_pressure() -> float | None:
    """/proc/pressure/cpu "some avg10": % of the last 10 s some task waited for a CPU."""
    try:
        with open("/proc/pressure/cpu") as f:
            for line in f:
                if line.startswith("some"):
                    return float(line.split()[1].split("=")[1])
    except OSError:
        pass
    return None


async def wait_for_quiet(busy_below: float, max_wait: float) -> dict[str, Any]:
    """Wait (at most ``max_wait`` s) until the machine's busy cores over 2 s fall below
    ``busy_below`` (other people's jobs share this machine); returns what was seen."""
    t0 = time.monotonic()
    said = -1e9
    while True:
        b0, tot0 = machine_cpu()
        await asyncio.sleep(2.0)
        b1, tot1 = machine_cpu()
        busy = (b1 - b0) / max(1.0, tot1 - tot0) * (os.cpu_count() or 1)
        waited = time.monotonic() - t0
        if busy < busy_below or waited >= max_wait:
            return {"busy_cores_before": round(busy, 2), "waited_s": round(waited, 1),
                    "quiet": busy < busy_below, "cpu_pressure_avg10": cpu_pressure(),
                    "loadavg": loadavg()}
        if waited - said >= 15:
            said = waited
            progress(f"machine busy ({busy:.2f} cores used by other jobs), waiting "
                     f"(at most {max_wait - waited:.0f} s more)...")


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def udp_drops(pid: int) -> dict[str, int]:
    """Datagrams the kernel dropped (receive buffer full) per UDP socket inode of a process."""
    inodes: set[str] = set()
    out: dict[str, int] = {}
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        for table in ("udp", "udp6"):
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) > 12 and parts[9] in inodes:
                        out[parts[9]] = int(parts[-1])
    except OSError:
        pass
    return out


def _drops_delta(before: dict[str, int], after: dict[str, int]) -> int:
    """Drops during a window: sockets present at the end, from 0 if opened meanwhile."""
    return sum(max(0, v - before.get(k, 0)) for k, v in after.items())


class CpuWindow:
    """CPU of named PIDs and of the machine between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._t0 = 0.0
        self._cpu0: dict[str, float] = {}
        self._m0 = (0.0, 0.0)
        self._p0: int | None = None
        self._d0: dict[str, dict[str, int]] = {}

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = {k: proc_cpu_seconds(p) for k, p in self.pids.items()}
        self._m0 = machine_cpu()
        self._p0 = _pressure_total()
        self._d0 = {k: udp_drops(p) for k, p in self.pids.items()}

    def stop(self) -> dict[str, Any]:
        dt = time.monotonic() - self._t0
        cores = {
            k: round((proc_cpu_seconds(p) - self._cpu0[k]) / dt, 4) for k, p in self.pids.items()
        }
        busy, total = machine_cpu()
        machine_busy = (busy - self._m0[0]) / max(1.0, total - self._m0[1])
        p1 = _pressure_total()
        others = machine_busy * (os.cpu_count() or 1) - sum(cores.values())
        return {
            "window_s": round(dt, 2),
            "cores": cores,
            "machine_busy_cores": round(machine_busy * (os.cpu_count() or 1), 3),
            "other_jobs_cores": round(max(0.0, others), 3),
            # datagrams dropped by the kernel on each process's sockets (buffer full)
            "udp_drops": {
                k: _drops_delta(self._d0.get(k, {}), udp_drops(p)) for k, p in self.pids.items()
            },
            "machine_cores": os.cpu_count(),
            # share of the window in which some runnable task waited for a CPU
            "cpu_pressure_some_pct": (
                round((p1 - self._p0) / 1e6 / dt * 100, 1)
                if p1 is not None and self._p0 is not None else None
            ),
        }


def _pressure_total() -> int | None:
    try:
        with open("/proc/pressure/cpu") as f:
            for line in f:
                if line.startswith("some"):
                    return int(line.split("total=")[1])
    except (OSError, IndexError, ValueError):
        pass
    return None


def linear_fit(xs: list[float], ys: list[float]) -> dict[str, float] | None:
    """Least squares ``y = fixed + slope * x``."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    fixed = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - fixed - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    r2 = 1 - ss_res / ss_tot if ss_tot else 1.0
    return {"fixed_cores": round(fixed, 4), "slope_cores_per_stream": round(slope, 5),
            "r2": round(r2, 3)}


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def enlarge_udp_receive_buffers(size: int) -> None:
    """Give every UDP socket this process opens a ``size`` receive buffer.

    A client process holds many peer connections in one event loop, and asyncio reads one
    datagram per readiness event: a short scheduling gap on a loaded 2-core machine
    overflows the default 208 KB buffer of a socket receiving 17 video streams (the
    chair's). As root, SO_RCVBUFFORCE lifts the limit for our own sockets only (no sysctl).
    """
    import socket

    loop = asyncio.get_running_loop()
    original = loop.create_datagram_endpoint

    async def create_datagram_endpoint(*args: Any, **kwargs: Any) -> Any:
        transport, protocol = await original(*args, **kwargs)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, 33, size)  # SO_RCVBUFFORCE
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        return transport, protocol

    loop.create_datagram_endpoint = create_datagram_endpoint  # type: ignore[method-assign]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
