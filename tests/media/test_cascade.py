"""Cascading: one room's media across two media nodes, with real aiortc peers on loopback.

Two media planes (two nodes) in one process, each with its own cascade link socket; the
membership the control plane would carry through Redis is handed over by ``share``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
from media_peers import LAYERS, ConnectFn, Peer, SimulcastPeer, wait_for

from media import CascadeNode, Kind, MediaConfig, MediaPlane, PeerNode, RemoteMember, Role, Room
from media._aiortc_private import LinkSrtp
from media.cascade import LinkIO, pair_key

SMALL, _, BIG = (size for size, _ in LAYERS)


@pytest.fixture
async def nodes() -> AsyncIterator[tuple[MediaPlane, MediaPlane]]:
    planes = []
    for name in ("node-a", "node-b"):
        config = MediaConfig(listen_ips=("127.0.0.1",), keyframe_min_interval=0.3)
        plane = MediaPlane(config)
        node = CascadeNode(name, config)
        plane.attach_cascade(node)
        node.start("127.0.0.1", 0)
        planes.append(plane)
    a, b = planes
    introduce(a, b)
    yield a, b
    for plane in planes:
        await plane.close()


def introduce(*planes: MediaPlane) -> None:
    """Each node learns the others (what the registry in Redis does)."""
    peers = []
    for plane in planes:
        node = plane.cascade
        assert node is not None and node.address is not None
        host, port = node.address
        peers.append(PeerNode(node.node_id, host, port, node.secret))
    for plane in planes:
        assert plane.cascade is not None
        plane.cascade.set_peers(peers)


def share(*rooms: Room) -> None:
    """Each room learns the other nodes' endpoints (what the rosters in Redis carry)."""
    for room in rooms:
        remote: dict[str, RemoteMember] = {}
        for other in rooms:
            if other is room:
                continue
            assert other.plane.cascade is not None
            for eid, (role, kinds) in other.members().items():
                remote[eid] = RemoteMember(other.plane.cascade.node_id, Role(role), kinds)
        room.set_remote_members(remote)


def streams(plane: MediaPlane, peer: str) -> dict[str, int]:
    assert plane.cascade is not None
    return plane.cascade.stats().get(peer, {})


async def test_chair_on_one_node_reaches_bridge_points_on_the_other_once(
    nodes: tuple[MediaPlane, MediaPlane], join: ConnectFn
) -> None:
    a, b = nodes
    room_a, room_b = a.create_room("m1"), b.create_room("m1")
    await join(room_a, "chair", "chair")
    bp1 = await join(room_b, "bp1", "bridge_point", video=False, audio=False)
    bp2 = await join(room_b, "bp2", "bridge_point", video=False, audio=False)
    share(room_a, room_b)
    # one policy for the whole room: node B shows the chair (on node A) to its own people
    layout = room_b.layout("bp1")
    assert layout.video[0].source == "chair" and layout.audio[0].source == "chair"
    vmid, amid = layout.video[0].mid, layout.audio[0].mid
    vmid2 = room_b.layout("bp2").video[0].mid
    await wait_for(lambda: bp1.frames(vmid) >= 10, what="chair video on node B (bp1)")
    await wait_for(lambda: bp2.frames(vmid2) >= 10, what="chair video on node B (bp2)")
    await wait_for(lambda: bp1.frames(amid) >= 10, what="chair audio on node B")
    assert bp1.received[vmid].sizes == {(160, 120)}
    # each of the chair's tracks crosses once, whatever the number of receivers behind it
    out = streams(a, "node-b")
    assert out["streams_out"] == 2, out
    assert streams(b, "node-a")["streams_in"] == 2
    # the bridge points publish nothing: no stream crosses the other way
    assert streams(b, "node-a")["streams_out"] == 0
    # the receivers' health is node B's; the chair's is node A's
    assert room_b.stats()["bp1"].packets_out > 0
    assert "chair" not in room_b.stats()


async def test_floor_holder_on_the_other_node_is_heard_and_seen_by_the_chair(
    nodes: tuple[MediaPlane, MediaPlane], join: ConnectFn
) -> None:
    a, b = nodes
    room_a, room_b = a.create_room("m2"), b.create_room("m2")
    chair = await join(room_a, "chair", "chair", video=False, audio=False)
    await join(room_b, "bp1", "bridge_point")
    share(room_a, room_b)
    for room in (room_a, room_b):  # the meeting's stream reaches every node in order
        room.set_floor(["bp1"])
    layout = room_a.layout("chair")
    assert layout.video[0].source == "bp1"  # the speaker tile
    assert "bp1" in {s.source for s in layout.audio}
    vmid = layout.video[0].mid
    amid = next(s.mid for s in layout.audio if s.source == "bp1")
    await wait_for(lambda: chair.frames(vmid) >= 10, what="speaker video at the chair")
    await wait_for(lambda: chair.frames(amid) >= 10, what="speaker audio at the chair")
    # the floor ends: the speaker's tracks stop crossing once nobody there wants them
    for room in (room_a, room_b):
        room.set_floor([])
    # (the chair's grid still shows bp1's video as a thumbnail: video stays, audio goes)
    await wait_for(lambda: streams(b, "node-a")["streams_out"] == 1, what="audio link dropped")


async def test_late_joiner_keyframe_and_nacks_cross_the_link(
    nodes: tuple[MediaPlane, MediaPlane], join: ConnectFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = nodes
    room_a, room_b = a.create_room("m3"), b.create_room("m3")
    await join(room_a, "chair", "chair", audio=False)
    early = await join(room_b, "bp1", "bridge_point", video=False, audio=False)
    share(room_a, room_b)
    vmid = room_b.layout("bp1").video[0].mid
    await wait_for(lambda: early.frames(vmid) >= 5, what="first receiver's video")
    chair_video = room_a.endpoint("chair").primary_track(Kind.VIDEO)
    assert chair_video is not None
    before = chair_video.keyframe_requests_sent
    # aiortc's encoder makes a keyframe every 200 s here: a later receiver on node B sees
    # a picture only if its keyframe request crossed to node A and reached the chair
    late = await join(room_b, "bp2", "bridge_point", video=False, audio=False)
    share(room_a, room_b)
    vmid2 = room_b.layout("bp2").video[0].mid
    await wait_for(lambda: late.frames(vmid2) >= 5, within=5, what="late receiver's video")
    assert chair_video.keyframe_requests_sent > before
    # packets lost on the link are asked for again by node B and resent by node A
    assert a.cascade is not None
    link = next(
        s for s in a.cascade._peers["node-b"].links.values() if s.kind is Kind.VIDEO
    )
    real = LinkIO.send_rtp
    count = 0

    def lossy(self: LinkIO, packet: bytes) -> bool:
        nonlocal count
        count += 1
        if count % 7 == 0 and self is link.io:
            return True  # lost on the way
        return real(self, packet)

    monkeypatch.setattr(LinkIO, "send_rtp", lossy)
    frames = early.frames(vmid)
    await wait_for(lambda: link.retransmitted >= 5, what="NACKs across the link answered")
    await wait_for(lambda: early.frames(vmid) >= frames + 15, what="video goes on under loss")


async def test_a_node_that_goes_away_leaves_nothing_and_comes_back(
    nodes: tuple[MediaPlane, MediaPlane], join: ConnectFn
) -> None:
    a, b = nodes
    room_a, room_b = a.create_room("m4"), b.create_room("m4")
    await join(room_a, "chair", "chair")
    bp = await join(room_b, "bp1", "bridge_point", video=False, audio=False)
    share(room_a, room_b)
    vmid = room_b.layout("bp1").video[0].mid
    await wait_for(lambda: bp.frames(vmid) >= 5, what="video before")
    assert a.cascade is not None and b.cascade is not None
    b.cascade.set_peers([])  # node A left the registry (it died, say)
    assert streams(b, "node-a") == {}
    remote = room_b.remote_endpoint("chair")
    assert remote is not None and remote.tracks() == []
    # node A stops sending once node B's wants are no longer heard
    await wait_for(
        lambda: streams(a, "node-b")["streams_out"] == 0, within=8, what="links expired"
    )
    introduce(a, b)
    frames = bp.frames(vmid)
    await wait_for(lambda: bp.frames(vmid) >= frames + 10, what="video again")


async def test_datagrams_from_strangers_or_forged_are_dropped(
    nodes: tuple[MediaPlane, MediaPlane], join: ConnectFn
) -> None:
    a, b = nodes
    assert a.cascade is not None and b.cascade is not None and a.cascade.address is not None
    room_a, room_b = a.create_room("m5"), b.create_room("m5")
    await join(room_a, "chair", "chair")
    bp = await join(room_b, "bp1", "bridge_point", video=False, audio=False)
    share(room_a, room_b)
    vmid = room_b.layout("bp1").video[0].mid
    await wait_for(lambda: bp.frames(vmid) >= 5, what="video")
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        stranger.bind(("127.0.0.1", 0))
        # a WANT for the chair from an address that is no node: nothing is sent to it
        key = pair_key(b"guess" * 7, "node-b", "node-a")
        forged = LinkIO(stranger, a.cascade.address, LinkSrtp(key, outbound=True))
        for _ in range(20):
            forged.send_rtcp(b"\x80\xcc\x00\x02" + b"\x00" * 8)
            stranger.sendto(b"\x80" * 40, a.cascade.address)
        await asyncio.sleep(0.3)
        assert a.cascade.unknown_datagrams >= 40
        stranger.settimeout(0.3)
        with pytest.raises(TimeoutError):
            stranger.recvfrom(2048)
    finally:
        stranger.close()
    # a datagram from node B's own address that does not authenticate is refused too
    assert b.cascade.address is not None
    peer_b = a.cascade._peers["node-b"]
    rejected = peer_b.rejected
    b.cascade._sock.sendto(b"\x80\xcc\x00\x02" + b"\x11" * 30, a.cascade.address)  # type: ignore[union-attr]
    await wait_for(lambda: peer_b.rejected > rejected, what="forged datagram refused")
    frames = bp.frames(vmid)
    await wait_for(lambda: bp.frames(vmid) >= frames + 5, what="video goes on")


async def test_simulcast_layers_cross_and_each_receiver_gets_its_own(
    nodes: tuple[MediaPlane, MediaPlane], peers: list[Peer], join: ConnectFn
) -> None:
    a, b = nodes
    room_a, room_b = a.create_room("m6"), b.create_room("m6")
    bp = SimulcastPeer(room_a, "bp1", "bridge_point")
    peers.append(bp)
    await bp.connect()
    await asyncio.wait_for(bp.negotiated.wait(), 10)
    await wait_for(lambda: len(bp.endpoint.primary_layers(Kind.VIDEO)) == 3, what="3 layers")
    chair = await join(room_b, "chair", "chair", video=False, audio=False)
    share(room_a, room_b)
    # a thumbnail in the chair's grid: only the lowest layer crosses, and no voice
    assert room_b.layout("chair").video[1].source == "bp1"
    await wait_for(lambda: streams(a, "node-b").get("streams_out") == 1, what="1 link stream")
    link = next(iter(a.cascade._peers["node-b"].links.values()))  # type: ignore[union-attr]
    assert link.source is not None and link.source.layer_index == 0
    await wait_for(lambda: chair.size(room_b.layout("chair").video[1].mid) == SMALL,
                   what="the thumbnail")  # fmt: skip
    for room in (room_a, room_b):
        room.set_floor(["bp1"])
    layout = room_b.layout("chair")
    assert layout.video[0].source == "bp1" and layout.video[1].source == "bp1"
    speaker_mid, thumb_mid = layout.video[0].mid, layout.video[1].mid
    # every layer crosses once (the receiving node chooses per receiver), with the voice
    await wait_for(lambda: streams(a, "node-b").get("streams_out") == 4, what="4 link streams")
    # the speaker tile climbs to the top layer; the thumbnail stays on the lowest
    await wait_for(lambda: chair.size(speaker_mid) == BIG, within=20, what="top layer")
    await wait_for(lambda: chair.size(thumb_mid) == SMALL, what="lowest layer in the grid")
    remote = room_b.remote_endpoint("bp1")
    assert remote is not None and len(remote.primary_layers(Kind.VIDEO)) == 3


async def test_recording_on_one_node_holds_the_speaker_on_the_other(
    nodes: tuple[MediaPlane, MediaPlane], join: ConnectFn, tmp_path: Path
) -> None:
    a, b = nodes
    room_a, room_b = a.create_room("m7"), b.create_room("m7")
    await join(room_a, "bp1", "bridge_point", size=(320, 240))
    await join(room_b, "chair", "chair", video=False)
    share(room_a, room_b)
    for room in (room_a, room_b):
        room.set_floor(["bp1"])
    # the chair's node records: the file holds the speaker's picture and voice from afar
    rec = room_b.start_recording(str(tmp_path / "meeting"))
    await wait_for(lambda: rec.video_slot.frames_out >= 30, within=15, what="speaker recorded")
    info = await room_b.stop_recording()
    assert info.video_frames >= 30 and info.audio_frames > 0, info
    with av.open(info.path) as container:
        stream = container.streams.video[0]
        decoded = [f for packet in container.demux(stream) for f in packet.decode()]
    assert len(decoded) >= 30
    assert {(f.width, f.height) for f in decoded} == {(320, 240)}


# -- the link itself (no media) -----------------------------------------------------------


@pytest.fixture
async def bare() -> AsyncIterator[list[CascadeNode]]:
    made: list[CascadeNode] = []
    yield made
    for node in made:
        await node.close()


def bare_node(made: list[CascadeNode], name: str, host: str = "127.0.0.1") -> CascadeNode:
    node = CascadeNode(name, MediaConfig())
    node.start(host, 0)
    made.append(node)
    return node


def registration(node: CascadeNode, host: str = "127.0.0.1", since: float = 0.0) -> PeerNode:
    assert node.address is not None
    return PeerNode(node.node_id, host, node.address[1], node.secret, since)


RR = bytes([0x80, 201, 0, 1]) + b"\x00\x00\x00\x07"  # an empty receiver report


async def test_a_node_restarted_on_the_same_address_takes_it_over(
    bare: list[CascadeNode],
) -> None:
    a, b1 = bare_node(bare, "a"), bare_node(bare, "b1")
    b2 = CascadeNode("b2", MediaConfig())  # b1 restarted as b2, same address and port
    b2_reg = PeerNode("b2", "127.0.0.1", registration(b1).port, b2.secret, since=2.0)
    # b1's registration has not expired yet: both claim the address, the later start wins
    a.set_peers([registration(b1, since=1.0), b2_reg])
    assert set(a.peers) == {"b2"}
    a.set_peers([b2_reg])  # b1's registration expired: b2 keeps the address
    assert set(a.peers) == {"b2"}
    assert a._by_addr[("127.0.0.1", b2_reg.port)].node.node_id == "b2"


async def test_an_ipv6_node_talks_to_an_ipv4_one(bare: list[CascadeNode]) -> None:
    a, b = bare_node(bare, "a", "::"), bare_node(bare, "b")
    a.set_peers([registration(b)])
    b.set_peers([registration(a, "127.0.0.1")])  # a binds every interface, announces v4
    a._peers["b"].io.send_rtcp(RR)
    b._peers["a"].io.send_rtcp(RR)
    await wait_for(lambda: b._peers["a"].packets_in == 1 and a._peers["b"].packets_in == 1,
                   within=3, what="a datagram each way")  # fmt: skip
    assert a.unknown_datagrams == b.unknown_datagrams == 0


async def test_a_datagram_is_taken_once_even_across_a_link_made_again(
    bare: list[CascadeNode],
) -> None:
    a, b = bare_node(bare, "a"), bare_node(bare, "b")
    a.set_peers([registration(b)])
    b.set_peers([registration(a)])
    assert a.address is not None and b._sock is not None
    captured = b._peers["a"].io._tx.protect(RR, rtcp=True)
    assert captured is not None
    for _ in range(2):
        b._sock.sendto(captured, a.address)
    await wait_for(lambda: a._peers["b"].rejected == 1, within=3, what="the replay refused")
    assert a._peers["b"].packets_in == 1
    a.set_peers([])  # the registry lost b for a while
    a.set_peers([registration(b)])
    b._sock.sendto(captured, a.address)  # played back to the new link
    await wait_for(lambda: a._peers["b"].rejected == 1, within=3, what="the replay refused")
    assert a._peers["b"].packets_in == 0
