"""RTP helpers for the forwarder: parse just what we need, rebuild headers cheaply.

Pure functions on bytes; no aiortc. The forwarder never looks at payloads except to spot
the start of a keyframe (VP8 payload descriptor, H.264 NAL unit types).
"""

from __future__ import annotations

import struct
import time

_HEADER = struct.Struct("!BBHII")
_U16 = struct.Struct("!H")

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#: RFC 8852 RtpStreamId: names the simulcast layer (``a=rid``) a packet belongs to
URI_RID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"

NTP_EPOCH_OFFSET = 2208988800


def seq_diff(a: int, b: int) -> int:
    """Signed distance a - b between 16-bit sequence numbers."""
    d = (a - b) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


def ntp_now() -> int:
    """Current time as a 64-bit NTP timestamp."""
    t = time.time() + NTP_EPOCH_OFFSET
    return (int(t) << 32) | int((t % 1.0) * (1 << 32))


def abs_send_time_now() -> bytes:
    """The 24-bit abs-send-time value (6.18 fixed point seconds) for now."""
    return ((ntp_now() >> 14) & 0xFFFFFF).to_bytes(3, "big")


class InPacket:
    """One received RTP packet, parsed once and shared by every subscriber."""

    __slots__ = (
        "abs_send_time",
        "audio_level",
        "ext_cache",
        "keyframe",
        "marker",
        "mid",
        "padding",
        "payload",
        "payload_type",
        "rid",
        "seq",
        "ssrc",
        "timestamp",
    )

    def __init__(
        self,
        payload_type: int,
        marker: int,
        seq: int,
        timestamp: int,
        ssrc: int,
        payload: bytes,
        padding: int,
        mid: str | None,
        abs_send_time: bytes | None,
        audio_level: int | None,
    ) -> None:
        self.payload_type = payload_type
        self.marker = marker
        self.seq = seq
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
        self.padding = padding
        self.mid = mid
        self.abs_send_time = abs_send_time
        self.audio_level = audio_level
        self.keyframe = False
        #: the simulcast layer's RtpStreamId, when the packet carries one
        self.rid: str | None = None
        self.ext_cache: dict[tuple[int, bytes, int, int], bytes] = {}


def parse_rtp(
    data: bytes,
    mid_id: int | None,
    abs_id: int | None,
    level_id: int | None,
    rid_id: int | None = None,
) -> InPacket | None:
    """Parse an RTP packet; None if it is malformed. Extensions other than ours are dropped."""
    n = len(data)
    if n < 12:
        return None
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data, 0)
    if b0 >> 6 != 2:
        return None
    pos = 12 + (b0 & 0x0F) * 4
    mid: str | None = None
    abs_send: bytes | None = None
    level: int | None = None
    rid: str | None = None
    if b0 & 0x10:
        if pos + 4 > n:
            return None
        profile, length = struct.unpack_from("!HH", data, pos)
        start = pos + 4
        end = start + length * 4
        if end > n:
            return None
        if profile == 0xBEDE:
            i = start
            while i < end:
                x = data[i]
                if x == 0:
                    i += 1
                    continue
                ident, ln = x >> 4, (x & 0x0F) + 1
                if ident == 15 or i + 1 + ln > end:
                    break
                value = data[i + 1 : i + 1 + ln]
                if ident == mid_id:
                    mid = value.decode("ascii", "replace")
                elif ident == abs_id and ln == 3:
                    abs_send = value
                elif ident == level_id and ln >= 1:
                    level = value[0]
                elif ident == rid_id:
                    rid = value.decode("ascii", "replace")
                i += 1 + ln
        elif (profile & 0xFFF0) == 0x1000:
            i = start
            while i + 1 < end:
                ident = data[i]
                if ident == 0:
                    i += 1
                    continue
                ln = data[i + 1]
                if i + 2 + ln > end:
                    break
                value = data[i + 2 : i + 2 + ln]
                if ident == mid_id:
                    mid = value.decode("ascii", "replace")
                elif ident == abs_id and ln == 3:
                    abs_send = value
                elif ident == level_id and ln >= 1:
                    level = value[0]
                elif ident == rid_id:
                    rid = value.decode("ascii", "replace")
                i += 2 + ln
        pos = end
    padding = 0
    if b0 & 0x20:
        if n <= pos:
            return None
        padding = data[-1]
        if padding == 0 or pos + padding > n:
            return None
    payload = data[pos : n - padding]
    pkt = InPacket(b1 & 0x7F, b1 >> 7, seq, ts, ssrc, payload, padding, mid, abs_send, level)
    if rid is not None:
        pkt.rid = rid
    return pkt


def vp8_keyframe_start(payload: bytes) -> bool:
    """True if this VP8 RTP payload starts a keyframe (RFC 7741)."""
    if not payload:
        return False
    b0 = payload[0]
    if not (b0 & 0x10) or (b0 & 0x07) != 0:  # S bit, partition 0
        return False
    i = 1
    if b0 & 0x80:  # X
        if len(payload) < 2:
            return False
        x = payload[1]
        i = 2
        if x & 0x80:  # I: picture id
            if len(payload) <= i:
                return False
            i += 2 if payload[i] & 0x80 else 1
        if x & 0x40:  # L
            i += 1
        if x & 0x30:  # T or K
            i += 1
    return len(payload) > i and (payload[i] & 0x01) == 0


def h264_keyframe_start(payload: bytes) -> bool:
    """True if this H.264 RTP payload carries an SPS or the start of an IDR slice."""
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in (5, 7):
        return True
    if nal == 24:  # STAP-A
        i = 1
        while i + 2 < len(payload):
            size = _U16.unpack_from(payload, i)[0]
            if i + 2 < len(payload) and (payload[i + 2] & 0x1F) in (5, 7):
                return True
            i += 2 + size
        return False
    if nal == 28 and len(payload) > 1:  # FU-A
        return bool(payload[1] & 0x80) and (payload[1] & 0x1F) in (5, 7)
    return False


def keyframe_start(codec_name: str, payload: bytes) -> bool:
    """Dispatch on the codec name (``VP8``/``H264``); other codecs never gate."""
    if codec_name == "VP8":
        return vp8_keyframe_start(payload)
    if codec_name == "H264":
        return h264_keyframe_start(payload)
    return False


def extension_block(elements: list[tuple[int, bytes]]) -> bytes:
    """A one-byte-header extension block (RFC 8285) holding ``elements``."""
    body = b"".join(bytes([(i << 4) | (len(v) - 1)]) + v for i, v in elements if 1 <= i <= 14)
    if not body:
        return b""
    body += b"\x00" * (-len(body) % 4)
    return b"\xbe\xde" + _U16.pack(len(body) // 4) + body


def build_rtp(
    payload_type: int,
    marker: int,
    seq: int,
    timestamp: int,
    ssrc: int,
    extensions: bytes,
    payload: bytes,
    padding: int,
) -> bytes:
    """Serialize an RTP packet; ``extensions`` is a ready block from :func:`extension_block`."""
    b0 = 0x80 | (0x10 if extensions else 0) | (0x20 if padding else 0)
    head = _HEADER.pack(b0, (marker << 7) | payload_type, seq, timestamp, ssrc)
    if padding:
        return b"".join((head, extensions, payload, bytes(padding - 1), bytes([padding])))
    return b"".join((head, extensions, payload))


class ReceiveStatistics:
    """Loss and jitter of one incoming stream, as RFC 3550 receiver reports need them."""

    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self.base_seq: int | None = None
        self.max_seq = 0
        self.cycles = 0
        self.received = 0
        self.jitter_q4 = 0
        self._last_transit: int | None = None
        self._expected_prior = 0
        self._received_prior = 0
        self.last_fraction_lost = 0

    def add(self, seq: int, timestamp: int, arrival: float) -> None:
        """Account for one packet that arrived at ``arrival`` (seconds)."""
        self.received += 1
        if self.base_seq is None:
            self.base_seq = self.max_seq = seq
        elif seq_diff(seq, self.max_seq) > 0:
            if seq < self.max_seq:
                self.cycles += 1 << 16
            self.max_seq = seq
        transit = int(arrival * self.clock_rate) - timestamp
        if self._last_transit is not None:
            d = abs(transit - self._last_transit)
            if d < self.clock_rate * 10:
                self.jitter_q4 += d - ((self.jitter_q4 + 8) >> 4)
        self._last_transit = transit

    @property
    def expected(self) -> int:
        """Packets expected since the first one."""
        if self.base_seq is None:
            return 0
        return self.cycles + self.max_seq - self.base_seq + 1

    @property
    def lost(self) -> int:
        """Cumulative packets lost (clamped to the 24-bit RR field)."""
        return max(-(1 << 23), min((1 << 23) - 1, self.expected - self.received))

    @property
    def jitter(self) -> int:
        """Interarrival jitter in timestamp units."""
        return self.jitter_q4 >> 4

    def fraction_lost(self) -> int:
        """Fraction lost since the previous call, in 1/256 (consumes the interval)."""
        expected = self.expected - self._expected_prior
        received = self.received - self._received_prior
        self._expected_prior = self.expected
        self._received_prior = self.received
        lost = expected - received
        if expected <= 0 or lost <= 0:
            self.last_fraction_lost = 0
        else:
            self.last_fraction_lost = min(255, (lost << 8) // expected)
        return self.last_fraction_lost


class PacketCache:
    """Ring buffer of recent packets by sequence number, to answer NACKs."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._ring: list[InPacket | None] = [None] * size

    def put(self, packet: InPacket) -> None:
        """Remember ``packet``."""
        self._ring[packet.seq % self._size] = packet

    def get(self, seq: int) -> InPacket | None:
        """The packet with sequence number ``seq``, if still cached."""
        p = self._ring[seq % self._size]
        return p if p is not None and p.seq == seq else None
