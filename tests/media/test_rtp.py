"""RTP helpers: parsing, rebuilding, keyframe detection, statistics (pure)."""

from __future__ import annotations

from media.rtp import (
    PacketCache,
    ReceiveStatistics,
    build_rtp,
    extension_block,
    h264_keyframe_start,
    parse_rtp,
    seq_diff,
    vp8_keyframe_start,
)


def test_build_and_parse_round_trip_with_extensions_and_padding() -> None:
    ext = extension_block([(1, b"12"), (3, b"\x01\x02\x03"), (2, b"\x85")])
    assert len(ext) % 4 == 0
    data = build_rtp(97, 1, 65535, 0xFFFFFFFF, 0xDEADBEEF, ext, b"payload", padding=4)
    p = parse_rtp(data, mid_id=1, abs_id=3, level_id=2)
    assert p is not None
    assert (p.payload_type, p.marker, p.seq, p.timestamp, p.ssrc) == (
        97, 1, 65535, 0xFFFFFFFF, 0xDEADBEEF
    )
    assert (p.mid, p.abs_send_time, p.audio_level) == ("12", b"\x01\x02\x03", 0x85)
    assert p.payload == b"payload" and p.padding == 4
    assert parse_rtp(build_rtp(96, 0, 1, 2, 3, b"", b"x", 0), None, None, None) is not None


def test_two_byte_extensions_and_garbage() -> None:
    body = bytes([1, 2]) + b"ab" + bytes([0, 0])
    data = bytes([0x90, 96]) + (7).to_bytes(2, "big") + bytes(8)
    data += b"\x10\x00" + (len(body) // 4 + (1 if len(body) % 4 else 0)).to_bytes(2, "big")
    data += body + bytes(-len(body) % 4) + b"pl"
    p = parse_rtp(data, 1, None, None)
    assert p is not None and p.mid == "ab" and p.payload == b"pl"
    assert parse_rtp(b"\x80\x60", None, None, None) is None
    assert parse_rtp(bytes([0x40]) + bytes(20), None, None, None) is None  # version 1
    assert parse_rtp(bytes([0x90, 96]) + bytes(10) + b"\xbe\xde\x00\x09", None, None, None) is None


def test_vp8_keyframe_detection() -> None:
    # S=1, PID=0, no extension; VP8 header P bit 0 => keyframe
    assert vp8_keyframe_start(bytes([0x10, 0x00, 0x9D, 0x01, 0x2A]))
    assert not vp8_keyframe_start(bytes([0x10, 0x01]))  # inter frame
    assert not vp8_keyframe_start(bytes([0x00, 0x00]))  # not the start of a partition
    # X=1, I=1 with a 15-bit picture id, then the payload header
    assert vp8_keyframe_start(bytes([0x90, 0x80, 0x81, 0x23, 0x00]))
    assert not vp8_keyframe_start(bytes([0x90, 0x80, 0x81, 0x23, 0x01]))
    assert not vp8_keyframe_start(b"")


def test_h264_keyframe_detection() -> None:
    assert h264_keyframe_start(bytes([0x65, 0x88]))  # IDR slice
    assert h264_keyframe_start(bytes([0x67, 0x42]))  # SPS
    assert not h264_keyframe_start(bytes([0x41, 0x9A]))  # non-IDR slice
    stap = bytes([0x78]) + (2).to_bytes(2, "big") + bytes([0x67, 0x42])
    assert h264_keyframe_start(stap)
    assert h264_keyframe_start(bytes([0x7C, 0x85, 0x00]))  # FU-A start of IDR
    assert not h264_keyframe_start(bytes([0x7C, 0x05, 0x00]))  # FU-A continuation


def test_sequence_arithmetic_and_cache() -> None:
    assert seq_diff(1, 65535) == 2
    assert seq_diff(65535, 1) == -2
    cache = PacketCache(size=4)
    pkts = [parse_rtp(build_rtp(96, 0, s, 0, 1, b"", b"x", 0), None, None, None) for s in range(6)]
    for p in pkts:
        assert p is not None
        cache.put(p)
    assert cache.get(5) is pkts[5]
    assert cache.get(1) is None  # overwritten by 5


def test_receive_statistics_loss_and_wrap() -> None:
    st = ReceiveStatistics(90000)
    for i, seq in enumerate([65534, 65535, 0, 2, 3]):  # 1 lost, across the wrap
        st.add(seq, i * 3000, i / 30)
    assert st.expected == 6 and st.received == 5 and st.lost == 1
    assert st.cycles == 1 << 16
    assert st.fraction_lost() == 256 // 6
    assert st.fraction_lost() == 0  # interval consumed
    assert st.jitter >= 0


def test_parse_rtp_never_raises_on_garbage() -> None:
    import random

    rng = random.Random(7)
    valid = build_rtp(96, 1, 5, 6, 7, extension_block([(1, b"0")]), b"abc", 3)
    for _ in range(3000):
        n = rng.randint(0, 40)
        data = bytes(rng.getrandbits(8) for _ in range(n))
        if rng.random() < 0.5:  # mutate a valid packet instead
            b = bytearray(valid)
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.getrandbits(8)
            data = bytes(b[: rng.randint(0, len(b))])
        p = parse_rtp(data, 1, 3, 2)
        assert p is None or len(p.payload) <= len(data)
