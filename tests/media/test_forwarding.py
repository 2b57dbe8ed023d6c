"""Video and audio reach subscribers intact and decodable, without a server decoder."""

from __future__ import annotations

import asyncio
import time

import aiortc.codecs
import aiortc.rtcrtpreceiver
import pytest
from media_peers import ConnectFn, Peer, SyntheticVideo, wait_for

from media import Kind, MediaPlane


async def test_chair_video_and_audio_reach_bridge_point_decodable(
    plane: MediaPlane, join: ConnectFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoders: list[str] = []
    real_get_decoder = aiortc.codecs.get_decoder

    def spy(codec: object) -> object:
        decoders.append(repr(codec))
        return real_get_decoder(codec)

    # every aiortc decoder (client or server) is created through this name
    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", spy)

    room = plane.create_room("r1")
    chair = await join(room, "chair", "chair")
    bridge = await join(room, "bp1", "bridge_point", video=False, audio=False)

    layout = room.layout("bp1")
    video_mid = layout.video[0].mid
    audio_mid = layout.audio[0].mid
    assert layout.video[0].source == "chair"
    assert layout.audio[0].source == "chair"
    await wait_for(lambda: bridge.frames(video_mid) >= 10, what="chair video at bridge point")
    await wait_for(lambda: bridge.frames(audio_mid) >= 10, what="chair audio at bridge point")
    assert bridge.received[video_mid].sizes == {(160, 120)}
    # the bridge point decoded VP8 and Opus; the server created no decoder at all
    n_client_decoders = len(decoders)
    assert n_client_decoders == 2, decoders  # bridge point: one video, one audio decoder
    stats = room.stats()
    assert stats["chair"].packets_in > 0
    assert stats["bp1"].packets_out > 0
    del chair


async def test_late_joiner_gets_keyframe_by_pli(plane: MediaPlane, join: ConnectFn) -> None:
    # aiortc's VP8 encoder makes a keyframe only every 3000 frames (200 s here): a
    # subscriber joining later sees video only if its PLI reached the publisher.
    room = plane.create_room("r-kf")
    await join(room, "chair", "chair", audio=False)
    early = await join(room, "bp1", "bridge_point", video=False, audio=False)
    mid1 = room.layout("bp1").video[0].mid
    await wait_for(lambda: early.frames(mid1) >= 5, what="first subscriber video")
    track = room.endpoint("chair").primary_track(Kind.VIDEO)
    assert track is not None
    requests_before = track.keyframe_requests_sent
    await asyncio.sleep(1.0)  # well past the first keyframe

    late = await join(room, "bp2", "bridge_point", video=False, audio=False)
    mid2 = room.layout("bp2").video[0].mid
    t0 = time.monotonic()
    await wait_for(lambda: late.frames(mid2) >= 1, within=5, what="late joiner video")
    assert time.monotonic() - t0 < 3
    assert track.keyframe_requests_sent > requests_before
    # the early subscriber kept receiving throughout
    n = early.frames(mid1)
    await wait_for(lambda: early.frames(mid1) > n + 3, what="early subscriber continues")


async def test_renegotiation_publisher_adds_video_later(
    plane: MediaPlane, join: ConnectFn
) -> None:
    room = plane.create_room("r-reneg")
    chair = await join(room, "chair", "chair", video=False)
    bp = await join(room, "bp1", "bridge_point", video=False, audio=False)
    assert room.layout("bp1").video[0].source is None
    assert room.layout("bp1").audio[0].source == "chair"

    chair.video_track = SyntheticVideo(176, 144)
    chair.pc.addTrack(chair.video_track)
    await chair.connect()  # client-initiated re-offer on the same peer connection

    await wait_for(lambda: room.layout("bp1").video[0].source == "chair", what="new track used")
    layout = room.layout("bp1")
    await wait_for(lambda: bp.size(layout.video[0].mid) == (176, 144), what="added video")
    assert bp.frames(layout.audio[0].mid) > 0


async def test_a_new_peer_connection_replaces_the_old_one(
    plane: MediaPlane, join: ConnectFn, peers: list[Peer]
) -> None:
    room = plane.create_room("r-reload")
    await join(room, "chair", "chair", audio=False)
    old = await join(room, "bp1", "bridge_point", video=False, audio=False)
    mid = room.layout("bp1").video[0].mid
    await wait_for(lambda: old.frames(mid) >= 3, what="video on the first connection")

    # the page reloads: a fresh RTCPeerConnection offers to the same endpoint
    new = Peer(room, "bp1", "bridge_point", video=False, audio=False,
               reuse=room.endpoint("bp1"))
    peers.append(new)
    await new.connect()
    await asyncio.wait_for(new.negotiated.wait(), 10)
    mid = room.layout("bp1").video[0].mid
    await wait_for(lambda: new.frames(mid) >= 3, what="video on the new connection")
    await wait_for(lambda: old.pc.connectionState == "closed", what="old connection closed")
    assert list(room.endpoints) == ["chair", "bp1"]
