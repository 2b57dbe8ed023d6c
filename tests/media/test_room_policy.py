"""Policy applied to live media: server-side mute, speaker change, chair paging."""

from __future__ import annotations

import asyncio
import time

from media_peers import ConnectFn, Peer, wait_for

from media import Kind, MediaPlane


async def test_mute_is_enforced_by_the_server(plane: MediaPlane, join: ConnectFn) -> None:
    room = plane.create_room("r-mute")
    await join(room, "chair", "chair", video=False)
    await join(room, "bp1", "bridge_point", video=False)
    listener = await join(room, "bp2", "bridge_point", video=False, audio=False)
    room.set_floor(["bp1"])
    layout = room.layout("bp2")
    assert [s.source for s in layout.audio][:2] == ["chair", "bp1"]
    mid_bp1 = layout.audio[1].mid
    await wait_for(lambda: listener.frames(mid_bp1) >= 10, what="bp1 audio")

    room.set_muted("bp1", True)
    assert room.layout("bp2").audio[1].source is None
    await asyncio.sleep(0.3)  # frames already in flight / in the jitter buffer
    sent_by_bp1 = room.endpoint("bp1").primary_track(Kind.AUDIO)
    assert sent_by_bp1 is not None
    before_in, before_out = sent_by_bp1.packets_in, listener.frames(mid_bp1)
    await asyncio.sleep(1.0)
    assert sent_by_bp1.packets_in > before_in + 20  # the client keeps sending...
    assert listener.frames(mid_bp1) <= before_out + 1  # ...the server drops it
    assert listener.frames(layout.audio[0].mid) > 0  # the chair is still heard

    slot = room.endpoint("bp2").slots(Kind.AUDIO)[1]
    sent = slot.packets_out
    t0 = time.monotonic()
    room.set_muted("bp1", False)
    await wait_for(lambda: slot.packets_out > sent, within=2, what="unmuted audio forwarded")
    assert time.monotonic() - t0 < 0.3  # policy changes apply on the next packet
    await wait_for(lambda: listener.frames(mid_bp1) > before_out + 10, what="unmuted audio")


async def test_speaker_change_within_300ms_plus_keyframe(
    plane: MediaPlane, join: ConnectFn
) -> None:
    room = plane.create_room("r-speaker")
    await join(room, "chair", "chair", audio=False, size=(160, 120))
    await join(room, "bp1", "bridge_point", audio=False, size=(176, 144))
    await join(room, "bp2", "bridge_point", audio=False, size=(192, 112))
    viewer = await join(room, "bp3", "bridge_point", video=False, audio=False)
    layout = room.layout("bp3")
    main, speaker = layout.video[0].mid, layout.video[1].mid
    await wait_for(lambda: viewer.size(main) == (160, 120), what="chair on main slot")

    room.set_floor(["bp1"])
    assert room.layout("bp3").video[1].source == "bp1"
    await wait_for(lambda: viewer.size(speaker) == (176, 144), within=5, what="bp1 as speaker")

    slot = room.endpoint("bp3").slots(Kind.VIDEO)[1]
    t0 = time.monotonic()
    room.set_floor(["bp2"])
    assert slot.source is room.endpoint("bp2").primary_track(Kind.VIDEO)  # re-pointed at once
    sent = slot.packets_out
    await wait_for(lambda: slot.packets_out > sent, within=3, what="bp2's keyframe forwarded")
    switched = time.monotonic() - t0  # PLI to bp2, its encoder's keyframe, forwarded
    await wait_for(lambda: viewer.size(speaker) == (192, 112), within=5, what="bp2 as speaker")
    assert switched < 1.0, switched
    assert viewer.size(main) == (160, 120)


async def test_chair_pages_through_thumbnails(plane: MediaPlane, join: ConnectFn) -> None:
    room = plane.create_room("r-pages", page_size=2)
    chair = await join(room, "chair", "chair", video=False, audio=False)
    sizes = {"bp1": (160, 120), "bp2": (176, 144), "bp3": (192, 112)}
    for eid, size in sizes.items():
        await join(room, eid, "bridge_point", audio=False, size=size)
    await wait_for(
        lambda: room.layout("chair").page_count == 2, what="three thumbnails, two pages"
    )
    layout = room.layout("chair")
    assert [s.source for s in layout.video] == [None, "bp1", "bp2"]
    t1, t2 = layout.video[1].mid, layout.video[2].mid
    await wait_for(lambda: chair.size(t1) == (160, 120) and chair.size(t2) == (176, 144),
                   what="page 0")

    room.set_video_page("chair", 1)
    layout = room.layout("chair")
    assert layout.page == 1
    assert [s.source for s in layout.video] == [None, "bp3", None]
    await wait_for(lambda: chair.size(t1) == (192, 112), within=5, what="page 1")
    # the empty thumbnail gets nothing more; bp2 is no longer forwarded at all
    bp2_track = room.endpoint("bp2").primary_track(Kind.VIDEO)
    assert bp2_track is not None and bp2_track.slots == []
    n = chair.frames(t2)
    await asyncio.sleep(0.5)
    assert chair.frames(t2) <= n + 1


async def test_policy_in_a_province_sized_room(plane: MediaPlane) -> None:
    # 500 bridge points (signalling only, no media). How fast a change applies is measured
    # by bench/policy_switch.py; this checks what it applies.
    room = plane.create_room("r-province")
    room.add_endpoint("chair", "chair")
    for i in range(500):
        room.add_endpoint(f"bp{i:03d}", "bridge_point")
    for ep in room.endpoints.values():
        ep.published_kinds = lambda: {Kind.AUDIO, Kind.VIDEO}  # type: ignore[method-assign]
    room.set_floor([])
    room.set_floor(["bp007", "bp123"])
    room.set_video_page("chair", 3)
    room.set_muted("bp123", True)
    layout = room.layout("chair")
    assert layout.page == 3 and layout.page_count == 32
    assert [s.source for s in layout.video][:2] == ["bp007", "bp048"]
    assert [s.source for s in room.layout("bp001").audio] == ["chair", "bp007", None, None]


async def test_an_observer_cannot_publish(plane: MediaPlane, peers: list[Peer]) -> None:
    room = plane.create_room("r-observer")
    chair = Peer(room, "chair", "chair", video=False, audio=False)
    observer = Peer(room, "obs", "observer")  # tries to send camera and microphone
    peers.extend([chair, observer])
    for p in (chair, observer):
        await p.connect()
        await asyncio.wait_for(p.negotiated.wait(), 10)
    room.set_floor(["obs"])
    await asyncio.sleep(1.0)
    assert room.endpoint("obs").published_kinds() == set()
    assert all(s.source is None for s in room.layout("chair").video + room.layout("chair").audio)
    answer = observer.pc.remoteDescription.sdp
    assert "a=inactive" in answer  # its sending m-lines were refused in the answer
    assert sum(r.frames for r in chair.received.values()) == 0
