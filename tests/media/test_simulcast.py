"""Simulcast: per-receiver layers by tile, cap and estimate, switched at keyframes.

Live tests use real aiortc peers on loopback: the publisher sends three layers of one
camera (one m-line each, marked as the headless agent marks them), receivers decode what
the SFU forwards. The estimate-driven rules are checked on the forwarder's own objects
with packets fed by hand (an aiortc receiver on loopback never reports a low estimate).
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from media_peers import LAYERS, ConnectFn, Peer, SimulcastPeer, wait_for, watch_rtp

from media import MediaPlane, Room
from media._aiortc_private import CodecInfo, RtpParams
from media.config import MediaConfig
from media.forwarder import (
    TRY_HOLD,
    TRY_LOSS,
    TRY_RISE_AFTER,
    UPGRADE_FAILED,
    UPGRADE_MAX,
    UPGRADE_MIN,
    PublishedTrack,
    Slot,
)
from media.policy import Kind
from media.rtp import InPacket, seq_diff

SMALL, MID, BIG = (size for size, _ in LAYERS)


async def join_simulcast(room: Room, peers: list[Peer], endpoint_id: str) -> SimulcastPeer:
    peer = SimulcastPeer(room, endpoint_id, "bridge_point")
    peers.append(peer)
    await peer.connect()
    await asyncio.wait_for(peer.negotiated.wait(), 10)
    await wait_for(lambda: len(peer.endpoint.primary_layers(Kind.VIDEO)) == 3, what="3 layers")
    return peer


def assert_continuous(packets: list[tuple[int, int, int, int]], lossy: bool = False) -> None:
    """One SSRC, every sequence number once and in order, timestamps never going back.

    ``lossy``: real UDP on a loaded machine may lose a packet now and then (the client
    NACKs it); a layer switch would show as a jump, which is never allowed.
    """
    assert len({p[2] for p in packets}) == 1
    steps = [seq_diff(b[0], a[0]) for a, b in itertools.pairwise(packets)]
    if lossy:
        assert all(-20 <= d <= 20 and d != 0 for d in steps), steps
        assert sum(d == 1 for d in steps) >= 0.95 * len(steps), steps
    else:
        assert all(d == 1 for d in steps), steps
    for a, b in itertools.pairwise(packets):
        if seq_diff(b[0], a[0]) > 0:
            assert 0 <= (b[1] - a[1]) & 0xFFFFFFFF < 5 * 90000, (a, b)


async def test_layer_per_tile_and_switches_keep_one_stream(
    plane: MediaPlane, join: ConnectFn, peers: list[Peer]
) -> None:
    room = plane.create_room("r-simulcast")
    chair = await join(room, "chair", "chair")
    viewer = await join(room, "bp-viewer", "bridge_point", video=False)
    await join_simulcast(room, peers, "bp-cam")
    room.set_floor(["bp-cam"])

    # the chair's speaker tile gets the top layer, its grid thumbnail the lowest one
    speaker_mid = room.layout("chair").video[0].mid
    thumb = next(s for s in room.layout("chair").video[1:] if s.source == "bp-cam")
    await wait_for(lambda: chair.size(speaker_mid) == BIG, within=15, what="speaker tile big")
    await wait_for(lambda: chair.size(thumb.mid) == SMALL, within=15, what="thumbnail small")
    # a bridge point's speaker tile gets the top layer too
    mid = room.layout("bp-viewer").video[1].mid
    assert mid is not None
    await wait_for(lambda: viewer.size(mid) == BIG, within=15, what="viewer big")

    # the weak-link "low" mode moves it to the lowest layer at a keyframe of that layer:
    # one continuous RTP stream (same SSRC, every sequence number), frames keep decoding
    log = watch_rtp(viewer, mid)
    await wait_for(lambda: len(log.packets) > 20, what="packets before the switch")
    slot = room.endpoint("bp-viewer").slots(Kind.VIDEO)[1]
    requests = slot.source.keyframe_requests_sent if slot.source else 0
    room.set_link_mode("bp-viewer", "low")
    await wait_for(lambda: viewer.size(mid) == SMALL, within=10, what="switched to low")
    frames = viewer.frames(mid)
    await wait_for(lambda: viewer.frames(mid) >= frames + 10, what="decoding after the switch")
    assert slot.layer_switches >= 1
    assert slot.source is not None
    assert slot.source.keyframe_requests_sent >= 1 or requests

    # a bitrate cap: the best layer whose measured bitrate fits the cap
    room.set_link_mode("bp-viewer", "capped", bitrate_cap=2 * 2_000_000)
    await wait_for(lambda: viewer.size(mid) == BIG, within=10, what="back to big")
    layers = room.endpoint("bp-cam").primary_layers(Kind.VIDEO)
    _, middle, top = sorted(layers, key=lambda t: t.bitrate)
    # two video slots share the cap, after the audio reserve
    cap = int((middle.bitrate * top.bitrate) ** 0.5) * 2 + room.config.audio_reserve
    room.set_link_mode("bp-viewer", "capped", bitrate_cap=cap)
    await wait_for(lambda: viewer.size(mid) == MID, within=10, what="capped to the middle")
    frames = viewer.frames(mid)
    await wait_for(lambda: viewer.frames(mid) >= frames + 10, what="decoding when capped")
    assert_continuous(log.packets, lossy=True)
    assert {viewer.size(mid)} == {MID} and viewer.received[mid].sizes >= {BIG, SMALL, MID}

    # audio only: video slots idle, audio goes on
    room.set_link_mode("bp-viewer", "audio_only")
    assert all(s.source is None for s in room.endpoint("bp-viewer").slots(Kind.VIDEO))
    assert room.link_mode("bp-viewer").effective == "audio_only"


class _FakeIO:
    """Records what a slot sends (no network: the rules, not the transport)."""

    def __init__(self) -> None:
        self.rtp: list[bytes] = []
        self.rtcp: list[bytes] = []

    def send_rtp(self, data: bytes) -> bool:
        self.rtp.append(data)
        return True

    def send_rtcp(self, data: bytes) -> bool:
        self.rtcp.append(data)
        return True


VP8 = CodecInfo(96, "VP8", 90000, ())
KEY = bytes([0x10, 0x00])  # VP8 descriptor S=1 PID=0, then P=0: a keyframe start
DELTA = bytes([0x10, 0x01])
CONT = bytes([0x00, 0x01])


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _layers(config: MediaConfig, io: _FakeIO) -> list[PublishedTrack]:
    group: list[PublishedTrack] = []
    for i, rate in enumerate((150_000, 500_000, 1_500_000)):
        t = PublishedTrack("pub", Kind.VIDEO, io, 1, config)  # type: ignore[arg-type]
        t.configure(RtpParams("0", (VP8,), (), (), None))
        t.simulcast, t.layer_index, t.group, t.bitrate = True, i, group, float(rate)
        t.ssrc = 1000 + i
        t.last_rx = config.clock()
        group.append(t)
    return group


class _Feed:
    """Frames of all layers, two packets each (keyframes on request)."""

    def __init__(self, layers: list[PublishedTrack], clock: _Clock) -> None:
        self.layers, self.clock = layers, clock
        self.seq = [100 * i for i in range(3)]
        self.ts = [5000 * i for i in range(3)]
        self.key: set[int] = set()

    def frame(self, only: int | None = None, half: bool = False) -> None:
        for i, layer in enumerate(self.layers):
            if only is not None and i != only:
                continue
            first = KEY if i in self.key else DELTA
            self.key.discard(i)
            parts = [(first, 0)] if half else [(first, 0), (CONT, 1)]
            for payload, marker in parts:
                pkt = InPacket(96, marker, self.seq[i] & 0xFFFF, self.ts[i], layer.ssrc or 0,
                               payload + b"x" * 50, 0, None, None, None)
                self.seq[i] += 1
                layer.on_packet(pkt, self.clock.now)
                layer.last_rx = self.clock.now
            if not half:
                self.ts[i] += 3000
        self.clock.now += 1 / 30


def _out(io: _FakeIO) -> list[tuple[int, int, int, int]]:
    return [
        (
            int.from_bytes(p[2:4], "big"),
            int.from_bytes(p[4:8], "big"),
            int.from_bytes(p[8:12], "big"),
            p[1] >> 7,
        )
        for p in io.rtp
    ]


def _slot(clock: _Clock, remb: int | None = None) -> tuple[Slot, _FakeIO]:
    io = _FakeIO()
    slot = Slot("sub", Kind.VIDEO, 1, 4242, io, clock)  # type: ignore[arg-type]
    slot.configure(RtpParams("5", (VP8,), (), (), "c"))
    slot.remb = remb
    return slot, io


def _run(feed: _Feed, slot: Slot, seconds: float) -> None:
    """Frames of every layer for ``seconds``, the room's timer every half second."""
    for _ in range(max(1, round(seconds * 2))):
        for _ in range(15):
            feed.frame()
        slot.tick_layers(feed.clock.now)


def _report(slot: Slot, lost: int) -> None:
    from aiortc.rtp import RtcpReceiverInfo

    slot.on_receiver_report(RtcpReceiverInfo(
        ssrc=4242, fraction_lost=lost, packets_lost=0, highest_sequence=0, jitter=0,
        lsr=0, dlsr=0))


async def test_estimate_moves_layers_at_keyframes_and_frame_boundaries() -> None:
    clock = _Clock()
    config = MediaConfig(clock=clock, keyframe_min_interval=0.0)
    up_io = _FakeIO()
    layers = _layers(config, up_io)
    # a receiver whose estimate is known starts on the layer that fits it: the top
    slot, down_io = _slot(clock, remb=5_000_000)
    slot.set_layers(layers, tile_cap=2)
    assert slot.source is layers[2] and slot.waiting_keyframe
    feed = _Feed(layers, clock)
    feed.key = {0, 1, 2}
    for _ in range(5):
        feed.frame()
    assert slot.source is layers[2] and len(down_io.rtp) == 10

    # the estimate falls to below 70 % of the top layer: the layer that fits (500k), asked
    # for with a PLI, taken at its keyframe; until then the old layer keeps flowing
    slot.remb = 600_000
    plis = layers[1].keyframe_requests_sent
    slot.select(clock.now)
    assert slot.pending is layers[1] and layers[1].keyframe_requests_sent == plis + 1
    feed.frame()
    assert slot.source is layers[2]
    # the target's keyframe starts while the old layer is in the middle of a frame:
    # the switch waits for the old frame's last packet, then replays the keyframe
    feed.key = {1}
    feed.frame(only=2, half=True)
    feed.frame(only=1)
    assert slot.source is layers[2] and slot.pending is layers[1]
    feed.frame(only=2)  # the old layer ends its frame: the switch follows its last packet
    assert slot.source is layers[1]
    for _ in range(3):
        feed.frame()
    assert_continuous(_out(down_io))
    assert slot.layer_switches == 1
    # a NACK of a packet the old layer sent before the switch is answered from the old
    # layer's cache, as it was sent (its sequence number, timestamp and payload)
    old_packet = down_io.rtp[9]  # the top layer's, before the switch
    slot.on_nack([int.from_bytes(old_packet[2:4], "big")])
    assert slot.retransmitted == 1 and down_io.rtp.pop() == old_packet

    # a thumbnail tile: the lowest layer whatever the estimate
    slot.remb = 5_000_000
    slot.set_layers(layers, tile_cap=0)
    assert slot.pending is layers[0]
    feed.key = {0}
    feed.frame()
    assert slot.source is layers[0]

    # a big tile again with an estimate that covers the layers: up one step per choice
    slot.set_layers(layers, tile_cap=2)
    assert slot.pending is layers[1]
    feed.key = {1}
    feed.frame()
    slot.select(clock.now)
    assert slot.source is layers[1] and slot.pending is layers[2]
    feed.key = {2}
    feed.frame()
    assert slot.source is layers[2]
    assert_continuous(_out(down_io))


async def test_a_new_receiver_starts_low_and_climbs() -> None:
    clock = _Clock()
    config = MediaConfig(clock=clock, keyframe_min_interval=0.0)
    layers = _layers(config, _FakeIO())
    feed = _Feed(layers, clock)
    # no estimate yet: the lowest layer first (a 300 kbit/s link is not flooded with the
    # top layer while its receiver's estimate has still to come)
    slot, io = _slot(clock)
    slot.set_layers(layers, tile_cap=2)
    assert slot.source is layers[0] and slot.waiting_keyframe
    feed.key = {0}
    _run(feed, slot, 1.0)
    assert slot.source is layers[0] and slot.pending is None
    # calm on its layer for TRY_HOLD (no fall of the estimate, no loss): the next one is
    # tried, at a keyframe of it
    slot.remb = 200_000  # 1.3x what arrives: a healthy receiver, not one that says "more"
    _run(feed, slot, TRY_HOLD + 1.0)
    assert slot.pending is layers[1] or slot.source is layers[1]
    feed.key = {1}
    feed.frame()
    assert slot.source is layers[1]
    began = clock.now
    # the estimate climbs from what the lower layer gave (under 70 % of this one for a
    # while): a low estimate that did not fall is not congestion, no step down
    for rate in (210_000, 260_000, 320_000):
        slot.remb = rate
        _run(feed, slot, 0.5)
    assert slot.source is layers[1] and slot.pending is None and not slot.estimate_fell
    # once it is up to the layer, calm for TRY_HOLD: the top layer is tried
    for rate in range(380_000, 800_000, 40_000):
        slot.remb = rate
        _run(feed, slot, 0.5)
        if slot.pending is layers[2]:
            break
    assert slot.pending is layers[2]
    feed.key = {2}
    feed.frame()
    assert slot.source is layers[2] and clock.now - began < 3 * TRY_HOLD
    for rate in (800_000, 1_000_000, 1_200_000, 1_450_000, 1_700_000):  # climbing, no fall
        slot.remb = rate
        _run(feed, slot, 1.5)
    assert slot.source is layers[2] and slot.pending is None
    assert slot._try_from is None  # the try held: the estimate rose to the layer
    assert_continuous(_out(io))
    # a receiver whose link the estimate already knows starts on the layer that fits it
    other, _ = _slot(clock, remb=700_000)
    other.set_layers(layers, tile_cap=2)
    assert other.source is layers[1]
    # a local sink (the recorder) takes the best layer at once
    sink = Slot("rec", Kind.VIDEO, 0, 77, _FakeIO(), clock, remote=False)
    sink.configure(RtpParams("0", (VP8,), (), (), "r"))
    sink.set_layers(layers, tile_cap=2)
    assert sink.source is layers[2]


async def test_a_failed_try_goes_back_one_layer_and_is_remembered() -> None:
    clock = _Clock()
    config = MediaConfig(clock=clock, keyframe_min_interval=0.0)
    layers = _layers(config, _FakeIO())
    feed = _Feed(layers, clock)
    slot, io = _slot(clock, remb=700_000)  # a link for the middle layer, not the top
    slot.set_layers(layers, tile_cap=2)
    feed.key = {1}
    _run(feed, slot, 0.5)
    assert slot.source is layers[1]
    tries: list[float] = []

    def watch(seconds: float) -> None:
        for _ in range(round(seconds * 2)):
            before = slot.pending
            _run(feed, slot, 0.5)
            if slot.pending is layers[2] and before is not layers[2]:
                tries.append(clock.now)
                feed.key = {2}
                feed.frame()

    # the try up: the top layer floods the link, the receiver's estimate falls (an
    # overuse: 85 % of what gets through): back to the layer it left, the middle one
    # (not the lowest), at once (from the REMB itself, not the next timer tick)
    watch(TRY_HOLD + 1.0)
    assert len(tries) == 1 and slot.source is layers[2]
    slot.remb = 680_000
    slot.remb = 595_000
    assert slot.pending is layers[1]
    feed.key = {1}
    feed.frame()
    assert slot.source is layers[1]
    failed = clock.now
    # remembered: no try of the top layer for UPGRADE_MIN, however calm the receiver
    watch(UPGRADE_MIN - 1.0)
    assert len(tries) == 1 and slot.source is layers[1]
    watch(2.0)
    assert len(tries) == 2 and clock.now - failed >= UPGRADE_MIN
    # loss in a receiver report fails the try too; the back-off doubles
    _report(slot, TRY_LOSS)
    assert slot.pending is layers[1]
    feed.key = {1}
    feed.frame()
    failed = clock.now
    watch(2 * UPGRADE_MIN - 1.0)
    assert len(tries) == 2 and slot.source is layers[1]
    watch(2.0)
    assert len(tries) == 3
    # a picture loss (PLI) during a try fails it as well: back to the middle layer
    _run(feed, slot, 1.0)
    slot.request_keyframe()
    assert slot.pending is layers[1]
    feed.key = {1}
    feed.frame()
    watch(4 * UPGRADE_MIN - 1.0)
    assert len(tries) == 3  # 60 s now
    watch(2.0)
    assert len(tries) == 4
    # NACKs of the tried layer fail it too (before any receiver report says so)
    _run(feed, slot, 0.5)
    slot.on_nack([1, 2])
    assert slot.pending is None
    slot.on_nack([3])
    assert slot.pending is layers[1]
    feed.key = {1}
    feed.frame()
    watch(UPGRADE_MAX - 1.0)
    assert len(tries) == 4  # 120 s now, the most
    watch(2.0)
    assert len(tries) == 5
    # an estimate that does not climb on the tried layer fails it after TRY_RISE_AFTER
    _run(feed, slot, TRY_RISE_AFTER + 0.5)
    assert slot.pending is layers[1]
    feed.key = {1}
    feed.frame()
    watch(UPGRADE_MAX + 1.0)
    assert len(tries) == 6
    # the link got better: the try holds (the estimate rose to the layer), the ceiling
    # is forgotten and a later step down is back after UPGRADE_MIN again
    for rate in (800_000, 1_100_000, 1_400_000):
        slot.remb = rate
        _run(feed, slot, 2.5)
    assert slot.source is layers[2] and slot._try_from is None and slot._ceiling is None
    assert_continuous(_out(io))


async def test_heavy_loss_steps_down_before_pausing() -> None:
    clock = _Clock()
    config = MediaConfig(clock=clock, keyframe_min_interval=0.0)
    layers = _layers(config, _FakeIO())
    slot, _ = _slot(clock, remb=5_000_000)
    slot.set_layers(layers, tile_cap=2)
    feed = _Feed(layers, clock)
    feed.key = {2}
    feed.frame()
    assert slot.source is layers[2]
    _run(feed, slot, UPGRADE_FAILED)
    # heavy loss twice running: the estimate fell with it, the layer it fits
    slot.remb = 200_000
    _report(slot, 100)
    _report(slot, 100)
    assert slot.pending is layers[0] and not slot.paused_until  # down, not paused
    feed.key = {0}
    feed.frame()
    assert slot.source is layers[0]
    _report(slot, 100)
    _report(slot, 100)
    assert not slot.paused_until  # reports right after the switch count the old layer
    clock.now += 3
    for layer in layers:
        layer.last_rx = clock.now
    _report(slot, 100)
    _report(slot, 100)
    assert slot.paused_until > clock.now  # on the lowest layer: audio only for a while


async def test_a_new_receiver_starts_on_the_low_layer_and_climbs_to_the_top(
    plane: MediaPlane, join: ConnectFn, peers: list[Peer]
) -> None:
    room = plane.create_room("r-simulcast-climb")
    await join_simulcast(room, peers, "bp-cam")
    room.set_floor(["bp-cam"])
    viewer = await join(room, "bp-viewer", "bridge_point", video=False)
    mid = room.layout("bp-viewer").video[1].mid
    assert mid is not None
    log = watch_rtp(viewer, mid)
    await wait_for(lambda: viewer.frames(mid) > 0, within=10, what="first picture")
    # no estimate yet: the lowest layer first; then one try up after another, each at a
    # keyframe of its layer, to the top within a few seconds (two TRY_HOLDs and the
    # room's timer: about 6 s here)
    await wait_for(lambda: viewer.size(mid) == BIG, within=12, what="climbed to the top")
    changes = viewer.received[mid].size_changes
    assert [size for size, _ in changes[:3]] == [SMALL, MID, BIG], changes
    assert changes[2][1] - changes[0][1] < 10.0, changes
    frames = viewer.frames(mid)
    await wait_for(lambda: viewer.frames(mid) >= frames + 10, what="decoding on the top layer")
    assert_continuous(log.packets, lossy=True)
    slot = room.endpoint("bp-viewer").slots(Kind.VIDEO)[1]
    assert slot.layer_switches == 2


@pytest.mark.parametrize("mode", ["low", "audio_only"])
async def test_bad_link_modes_are_refused(plane: MediaPlane, mode: str) -> None:
    room = plane.create_room("r-modes")
    room.add_endpoint("bp", "bridge_point")
    from media import SignallingError

    with pytest.raises(SignallingError):
        room.set_link_mode("bp", "turbo")
    with pytest.raises(SignallingError):
        room.set_link_mode("bp", "capped")
    state = room.set_link_mode("bp", mode)
    assert state.mode == mode and state.effective == mode


async def test_auto_weak_link_follows_the_estimate(
    plane: MediaPlane, join: ConnectFn, peers: list[Peer]
) -> None:
    room = plane.create_room("r-auto-link")
    await join(room, "chair", "chair")
    await join(room, "bp-viewer", "bridge_point", video=False)
    await join_simulcast(room, peers, "bp-cam")
    room.set_floor(["bp-cam"])
    changes: list[str] = []
    room.on_link_mode = lambda st: changes.append(st.effective.value)
    slots = room.endpoint("bp-viewer").slots(Kind.VIDEO)
    await wait_for(lambda: all(s.source is not None for s in slots), what="viewer's video")
    assert room.link_mode("bp-viewer").effective == "normal"

    def at(t: float, estimate: int, sent: int = 200_000, fell: bool = True) -> str:
        # the estimate (and what the slots' sources send) is set right before each run,
        # so the clients' own REMBs (which arrive between awaits) cannot interfere;
        # ``fell``: it came down to this (an overuse), else it climbed here
        for s in slots:
            if s.source is not None:
                if fell:
                    s.remb = 2 * estimate
                s.remb = estimate
                s.estimate_fell = fell
                s.source.bitrate = sent / 2
        room._auto_links(t)
        return room.link_mode("bp-viewer").effective.value

    t = 1e6
    # an estimate under what is sent that did not fall is still climbing after a step up
    # (slow start): no congestion, however long
    assert at(t - 100, 120_000, fell=False) == "normal"
    assert at(t - 80, 120_000, fell=False) == "normal"
    assert at(t, 120_000, sent=100_000) == "normal"  # under the threshold, not congested
    assert at(t + 7, 120_000, sent=100_000) == "normal"
    assert at(t + 8, 120_000) == "normal"  # congested (120k for 200k), not for long yet
    assert at(t + 15, 120_000) == "low"
    assert all(s.tile_cap == 0 for s in slots)
    # on the low layer an estimate of 75k for 60k sent is no congestion: stays low
    assert at(t + 8, 75_000, sent=60_000) == "low"
    assert at(t + 15, 75_000, sent=60_000) == "low"
    # congested even there (50k for 200k sent): audio only, for 30 s
    assert at(t + 16, 50_000) == "low"
    assert at(t + 23, 50_000) == "audio_only"
    assert all(s.source is None for s in slots)  # audio goes on; video is off for a while
    assert at(t + 40, 50_000) == "audio_only"
    assert at(t + 54, 50_000) == "low"  # 30 s later video is tried again, low layer
    # 30 s without congestion: back to normal
    assert at(t + 55, 100_000, sent=90_000) == "low"
    assert at(t + 80, 100_000, sent=90_000) == "low"
    assert at(t + 86, 100_000, sent=90_000) == "normal"
    assert changes == ["low", "audio_only", "low", "normal"]
    # an operator's choice is kept whatever the estimate
    room.set_link_mode("bp-viewer", "low")
    assert at(t + 100, 5_000_000) == "low" and at(t + 200, 5_000_000) == "low"
