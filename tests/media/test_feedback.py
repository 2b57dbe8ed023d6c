"""Loss recovery, keyframe rate limiting, bandwidth feedback and stats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiortc import RTCRtpSender
from aiortc.rtp import RtcpPacket, RtcpPsfbPacket
from media_peers import ConnectFn, Peer, wait_for

from media import EndpointStats, Kind, MediaConfig, MediaPlane
from media.forwarder import PublishedTrack, Slot


async def test_subscriber_nacks_are_answered_from_the_server_cache(
    plane: MediaPlane, join: ConnectFn
) -> None:
    room = plane.create_room("r-nack")
    await join(room, "chair", "chair", audio=False)
    viewer = await join(room, "bp1", "bridge_point", video=False, audio=False)
    mid = room.layout("bp1").video[0].mid
    await wait_for(lambda: viewer.frames(mid) >= 5, what="video")

    slot = room.endpoint("bp1").slots(Kind.VIDEO)[0]
    real_parts = slot._send_parts  # the transport's fused build-protect-send
    assert real_parts is not None
    dropped: set[int] = set()
    count = 0

    def lossy_parts(b1: int, seq: int, ts: int, ssrc: int, ext: bytes, payload: bytes) -> int:
        nonlocal count
        count += 1
        if count % 7 == 3 and seq not in dropped:  # lose it once, let the resend pass
            dropped.add(seq)
            return 12 + len(ext) + len(payload)
        return real_parts(b1, seq, ts, ssrc, ext, payload)

    slot._send_parts = lossy_parts
    n = viewer.frames(mid)
    await wait_for(lambda: slot.retransmitted >= 3, what="NACKed packets resent")
    await wait_for(lambda: viewer.frames(mid) >= n + 15, what="video keeps decoding")
    assert len(dropped) >= 3


class _Io:
    """Captures what the forwarder would send (stands in for the transport only)."""

    def __init__(self) -> None:
        self.rtcp: list[bytes] = []
        self.rtp: list[bytes] = []

    def send_rtcp(self, data: bytes) -> bool:
        self.rtcp.append(data)
        return True

    def send_rtp(self, data: bytes) -> bool:
        self.rtp.append(data)
        return True


def _track(config: MediaConfig, io: _Io) -> PublishedTrack:
    track = PublishedTrack("pub", Kind.VIDEO, io, 1234, config)  # type: ignore[arg-type]
    track.ssrc = 5678
    return track


def _slot(io: _Io, clock: Callable[[], float]) -> Slot:
    return Slot("sub", Kind.VIDEO, 0, 42, io, clock)  # type: ignore[arg-type]


async def test_keyframe_requests_are_rate_limited_but_not_lost() -> None:
    config = MediaConfig(keyframe_min_interval=0.2)
    io = _Io()
    track = _track(config, io)
    slot = _slot(io, time.monotonic)
    slot.set_source(track)
    slot.waiting_keyframe = True
    for _ in range(5):
        track.request_keyframe()
    plis = [p for d in io.rtcp for p in RtcpPacket.parse(d) if isinstance(p, RtcpPsfbPacket)]
    assert len(plis) == 1 and plis[0].media_ssrc == 5678
    await asyncio.sleep(0.3)  # the deferred request fires once, since a slot still waits
    plis = [p for d in io.rtcp for p in RtcpPacket.parse(d) if isinstance(p, RtcpPsfbPacket)]
    assert len(plis) == 2
    assert track.keyframe_requests_sent == 2
    track.close()


def test_upstream_remb_is_min_of_watchers_clamped_and_idle_when_unwatched() -> None:
    config = MediaConfig(
        upstream_bitrate_floor=300_000, upstream_bitrate_ceiling=2_000_000,
        idle_video_bitrate=50_000,
    )
    io = _Io()
    track = _track(config, io)
    assert track.upstream_bitrate() == 50_000  # nobody watches: ask the encoder to idle
    a, b = _slot(io, time.monotonic), _slot(io, time.monotonic)
    a.set_source(track)
    b.set_source(track)
    assert track.upstream_bitrate() == 2_000_000  # no estimate yet
    a.remb, b.remb = 900_000, 1_200_000
    assert track.upstream_bitrate() == 900_000
    b.remb = 100_000  # one weak bridge point does not drag the room below the floor
    assert track.upstream_bitrate() == 300_000
    b.set_source(None)
    assert track.upstream_bitrate() == 900_000


async def test_stats_callback_reports_health(join: ConnectFn) -> None:
    plane = MediaPlane(MediaConfig(stats_interval=0.5))
    try:
        reports: list[dict[str, EndpointStats]] = []
        room = plane.create_room("r-stats", on_stats=lambda _room, s: reports.append(dict(s)))
        await join(room, "chair", "chair")
        await join(room, "bp1", "bridge_point", video=False, audio=False)

        def healthy() -> bool:
            if not reports or not {"chair", "bp1"} <= reports[-1].keys():
                return False
            chair, bp = reports[-1]["chair"], reports[-1]["bp1"]
            return bool(
                chair.bitrate_in > 0 and chair.fps_in > 5 and bp.bitrate_out > 0
                and bp.fps_out > 5 and bp.rtt_ms is not None
            )

        await wait_for(healthy, within=10, what="stats with bitrate, fps and rtt")
        chair, bp = reports[-1]["chair"], reports[-1]["bp1"]
        assert chair.state == bp.state == "connected"
        assert chair.role == "chair" and bp.role == "bridge_point"
        assert chair.last_keyframe_at is not None and time.time() - chair.last_keyframe_at < 30
        assert 0 <= chair.loss_in <= 1 and 0 <= bp.loss_out <= 1
        assert bp.rtt_ms is not None and 0 <= bp.rtt_ms < 500
        assert chair.packets_in > 0 and bp.packets_out > 0
    finally:
        await plane.close()


async def test_h264_is_forwarded_too(plane: MediaPlane, peers: list[Peer]) -> None:
    room = plane.create_room("r-h264")
    chair = Peer(room, "chair", "chair", audio=False)
    caps = RTCRtpSender.getCapabilities("video").codecs
    for t in chair.pc.getTransceivers():
        t.setCodecPreferences([c for c in caps if c.mimeType == "video/H264"])
    viewer = Peer(room, "bp1", "bridge_point", video=False, audio=False)
    peers.extend([chair, viewer])
    for p in (chair, viewer):
        await p.connect()
        await asyncio.wait_for(p.negotiated.wait(), 10)
    await wait_for(lambda: room.layout("bp1").video[0].source == "chair", what="layout")
    track = room.endpoint("chair").primary_track(Kind.VIDEO)
    assert track is not None and {c.name for c in track.codecs.values()} == {"H264"}
    mid = room.layout("bp1").video[0].mid
    await wait_for(lambda: viewer.frames(mid) >= 5, what="H.264 video decoded")
    assert viewer.received[mid].sizes == {(160, 120)}


def test_heavy_loss_pauses_video_to_that_subscriber_with_backoff() -> None:
    from aiortc.rtp import RtcpReceiverInfo

    from media._aiortc_private import CodecInfo, RtpParams
    from media.rtp import build_rtp, parse_rtp

    now = [100.0]
    config = MediaConfig(clock=lambda: now[0])
    io = _Io()
    track = _track(config, io)
    vp8 = CodecInfo(97, "VP8", 90000, ())
    track.configure(RtpParams("1", (vp8,), (), (), None))
    slot = _slot(io, lambda: now[0])
    slot.configure(RtpParams("5", (vp8,), (), (), "cname"))
    slot.set_source(track)

    def report(lost: int) -> RtcpReceiverInfo:
        return RtcpReceiverInfo(ssrc=42, fraction_lost=lost, packets_lost=0,
                                highest_sequence=0, jitter=0, lsr=0, dlsr=0)

    seq = [0]

    def packet(keyframe: bool) -> None:
        payload = bytes([0x10, 0x00 if keyframe else 0x01]) + b"frame"
        pkt = parse_rtp(build_rtp(97, 1, seq[0], seq[0] * 3000, 5678, b"", payload, 0),
                        None, None, None)
        assert pkt is not None
        seq[0] += 1
        track.on_packet(pkt, now[0])

    packet(keyframe=True)
    packet(keyframe=False)
    assert slot.packets_out == 2
    slot.on_receiver_report(report(10))
    slot.on_receiver_report(report(100))
    assert not slot.paused_until  # one bad report is not enough
    slot.on_receiver_report(report(100))
    assert slot.paused_until == 102.0 and slot.pauses == 1
    packet(keyframe=True)
    assert slot.packets_out == 2  # paused: nothing sent
    now[0] = 102.5
    packet(keyframe=False)  # resumes only on a keyframe
    assert slot.packets_out == 2 and slot.waiting_keyframe
    packet(keyframe=True)
    assert slot.packets_out == 3
    # still lossy: the next pause is twice as long
    slot.on_receiver_report(report(90))
    slot.on_receiver_report(report(90))
    assert slot.paused_until == 102.5 + 4.0
