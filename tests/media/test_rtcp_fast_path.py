"""Incoming RTCP: REMB is rate limited per slot before parsing; the rest is always handled."""

from __future__ import annotations

import socket

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSourceInfo,
    pack_remb_fci,
)

from media import Kind, MediaConfig, MediaPlane
from media import _aiortc_private as private
from media.forwarder import Slot

CLIENT_SSRC = 777


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _SpySlot(Slot):
    def __init__(self, ssrc: int, clock: _Clock) -> None:
        super().__init__("sub", Kind.VIDEO, ssrc, ssrc, None, clock)  # type: ignore[arg-type]
        self.keyframe_requests = 0
        self.nacks: list[list[int]] = []
        self.reports = 0

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1

    def on_nack(self, lost: list[int]) -> None:
        self.nacks.append(lost)

    def on_receiver_report(self, report: RtcpReceiverInfo) -> None:
        self.reports += 1
        super().on_receiver_report(report)


def _remb(bitrate: int, ssrcs: list[int]) -> bytes:
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=CLIENT_SSRC, media_ssrc=0,
                                fci=pack_remb_fci(bitrate, ssrcs)))


def _rr(ssrc: int) -> bytes:
    return bytes(RtcpRrPacket(ssrc=CLIENT_SSRC, reports=[RtcpReceiverInfo(
        ssrc=ssrc, fraction_lost=0, packets_lost=0, highest_sequence=1, jitter=3, lsr=0,
        dlsr=0)]))


def _pli(ssrc: int) -> bytes:
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=CLIENT_SSRC, media_ssrc=ssrc))


async def test_remb_burst_is_rate_limited_per_slot_while_feedback_always_counts() -> None:
    clock = _Clock()
    plane = MediaPlane(MediaConfig(remb_min_interval=0.25, clock=clock))
    try:
        room = plane.create_room("r")
        ep = room.add_endpoint("sub", "bridge_point")
        a, b = _SpySlot(42, clock), _SpySlot(43, clock)
        ep._slots_by_ssrc.update({42: a, 43: b})
        sdes = bytes(RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=CLIENT_SSRC, items=[(1, b"x")])]))

        # 2 s of what an aiortc receiver sends for two slots: ~15 REMB/s each, standalone,
        # with a PLI, a FIR and a NACK in the middle of the burst and RR+SDES compounds
        rembs_a, rembs_b = [], []
        for i in range(30):
            clock.now += 1 / 15
            ep._on_rtcp(_remb(100_000 + i, [42]))
            ep._on_rtcp(_remb(200_000 + i, [43]))
            if a.remb is not None and (not rembs_a or rembs_a[-1] != a.remb):
                rembs_a.append(a.remb)
            if b.remb is not None and (not rembs_b or rembs_b[-1] != b.remb):
                rembs_b.append(b.remb)
            if i == 10:
                ep._on_rtcp(_remb(150_000, [42]) + _pli(42))  # PLI behind a dropped REMB
                fir = RtcpPsfbPacket(fmt=RTCP_PSFB_FIR, ssrc=CLIENT_SSRC, media_ssrc=0,
                                     fci=(43).to_bytes(4, "big") + bytes(4))
                ep._on_rtcp(bytes(fir))
                nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=CLIENT_SSRC, media_ssrc=43)
                nack.lost = [5, 6, 9]
                ep._on_rtcp(bytes(nack))
            if i % 5 == 0:
                ep._on_rtcp(_rr(42) + sdes + _rr(43))

        # 2 s at one REMB per 0.25 s: 8 or 9 processed per slot instead of 30
        assert 7 <= len(rembs_a) <= 9, rembs_a
        assert 7 <= len(rembs_b) <= 9, rembs_b
        assert a.remb is not None and a.remb >= 100_020  # recent values still get through
        assert ep.remb_skipped >= 2 * 30 - 20
        # never rate limited: PLI, FIR, NACK, receiver reports
        assert a.keyframe_requests == 1 and b.keyframe_requests == 1
        assert b.nacks == [[5, 6, 9]]
        assert a.reports == 6 and b.reports == 6 and a.jitter == 3

        # a REMB naming both slots (a browser's) updates both, once the interval has passed
        clock.now += 0.3
        ep._on_rtcp(_remb(123_456, [42, 43]))
        assert a.remb == b.remb == 123_456
        # a malformed tail does not undo what came before it; garbage is ignored
        clock.now += 1
        ep._on_rtcp(_pli(42) + b"\x80\xce\x00\x09")
        ep._on_rtcp(b"\x00" * 3 + bytes(RtcpByePacket(sources=[1])))
        ep._on_rtcp(_remb(1, [42])[:18])
        assert a.keyframe_requests == 2 and a.remb == 123_456
    finally:
        await plane.close()


def test_udp_socket_buffers_are_enlarged() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        default = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        rcv, snd = private.set_socket_buffers(sock, 1024 * 1024)
        assert rcv == sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        # Linux grants at most net.core.rmem_max (and reports twice what it granted)
        try:
            with open("/proc/sys/net/core/rmem_max") as f:
                cap = int(f.read())
        except OSError:  # not Linux: only check that something sensible came back
            assert rcv > 0 and snd > 0
            return
        assert rcv >= min(default, 2 * min(cap, 1024 * 1024))
        if cap >= 1024 * 1024:
            assert rcv >= 1024 * 1024 and snd > 0
    finally:
        sock.close()


def test_standalone_rembs_are_dropped_before_decryption() -> None:
    import os
    from types import SimpleNamespace

    from pylibsrtp import Policy, Session

    key = os.urandom(30)
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    delivered: list[bytes] = []
    connection = SimpleNamespace(data_received=lambda data, component: delivered.append(data))
    dtls = SimpleNamespace(transport=SimpleNamespace(_connection=connection))
    io = private.TransportIO(dtls, max_send_buffer=1024, remb_min_interval=0.25)
    io.install(lambda data, ms: None, lambda data: None)
    # aioice's protocol hands non-STUN datagrams on with their component, not their address
    protocol = SimpleNamespace(transport=SimpleNamespace())
    protocol.datagram_received = lambda data, addr: connection.data_received(data, 1)
    peer = ("192.0.2.10", 40000)
    io._select(SimpleNamespace(protocol=protocol, remote_addr=peer))  # what ICE selected

    def remb(sender: int) -> bytes:
        return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=sender, media_ssrc=0,
                                    fci=pack_remb_fci(300_000, [42])))

    burst = [tx.protect_rtcp(remb(CLIENT_SSRC)) for _ in range(15)]
    other = tx.protect_rtcp(remb(CLIENT_SSRC + 1))  # another receiving m-line
    pli = tx.protect_rtcp(_pli(42))
    compound = tx.protect_rtcp(remb(CLIENT_SSRC) + _pli(42))
    rtp = tx.protect(bytes([0x80, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]) + b"x" * 50)
    for data in [*burst[:7], pli, other, compound, rtp, *burst[7:]]:
        protocol.datagram_received(data, peer)
    assert delivered == [burst[0], pli, other, compound, rtp]
    assert io.remb_dropped == 14


def test_rembs_from_another_address_are_not_prefiltered() -> None:
    """Forged clear-text REMB headers from elsewhere cannot use up the real peer's interval."""
    import os
    from types import SimpleNamespace

    from pylibsrtp import Policy, Session

    tx = Session(Policy(key=os.urandom(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    delivered: list[bytes] = []
    connection = SimpleNamespace(data_received=lambda data, component: delivered.append(data))
    dtls = SimpleNamespace(transport=SimpleNamespace(_connection=connection))
    io = private.TransportIO(dtls, max_send_buffer=1024, remb_min_interval=0.25)
    io.install(lambda data, ms: None, lambda data: None)
    protocol = SimpleNamespace(transport=SimpleNamespace())
    protocol.datagram_received = lambda data, addr: connection.data_received(data, 1)
    peer = ("192.0.2.10", 40000)
    io._select(SimpleNamespace(protocol=protocol, remote_addr=peer))
    remb = bytes(
        RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP, ssrc=CLIENT_SSRC, media_ssrc=0, fci=pack_remb_fci(1, [42])
        )
    )
    forged = [tx.protect_rtcp(remb) for _ in range(10)]
    for data in forged:
        protocol.datagram_received(data, ("203.0.113.66", 40000))  # not the selected address
    assert delivered == forged and io.remb_dropped == 0  # left to SRTCP authentication
    real = tx.protect_rtcp(remb)
    protocol.datagram_received(real, peer)
    assert delivered[-1] == real  # the peer's own estimate still passes at once
