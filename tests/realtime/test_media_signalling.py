"""WebRTC over the meeting socket: real aiortc peers signal through ``rtc.*`` and the media
follows the meeting: the floor makes a bridge point audible, a mute silences it, the end
of the meeting closes the room."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from tests.realtime.conftest import Live, StartLive
from tests.realtime.rtcpeer import SocketPeer


async def wait_for(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def live_meeting(start_live: StartLive) -> AsyncIterator[Live]:
    live = await start_live()
    await live.transition("open")
    await live.transition("start")
    yield live


async def _peer(live: Live, name: str, size: tuple[int, int]) -> SocketPeer:
    client = await live.connect(name)
    await client.join(live.meeting_id)
    peer = SocketPeer(client, live.meeting_id, size=size)
    await peer.start()
    return peer


async def test_media_follows_the_floor(live_meeting: Live) -> None:
    live = live_meeting
    mid = live.meeting_id
    chair = await _peer(live, "chair", (160, 120))
    bp1 = await _peer(live, "bp1", (176, 144))
    try:
        config = await chair.client.ok("rtc.config", {"meeting_id": mid})
        assert config == {"ice_servers": []}
        # The bridge point sees the chair; the chair's console shows the bridge point.
        await wait_for(lambda: (160, 120) in bp1.sizes(), 15, "the chair's video at bp1")
        await wait_for(lambda: (176, 144) in chair.sizes(), 15, "bp1's thumbnail at the chair")
        # The chair is always audible; bp1 is not, until it is given the floor.
        await wait_for(lambda: bp1.frames("audio") > 10, 10, "the chair's audio at bp1")
        await asyncio.sleep(0.5)
        assert chair.frames("audio") == 0
        subject = f"bridge_point:{live.world.bridge_points['bp1']}"
        await chair.client.ok("floor.grant", {"meeting_id": mid, "subject": subject})
        await wait_for(lambda: chair.frames("audio") > 10, 5, "bp1's audio after the grant")
        layout = await chair.client.ok("rtc.layout", {"meeting_id": mid})
        assert subject in {s["subject"] for s in layout["audio"]}
        # A mute by the chair is enforced by the server while bp1 keeps sending.
        await chair.client.ok("floor.mute", {"meeting_id": mid, "subject": subject, "muted": True})
        await asyncio.sleep(0.5)
        heard = chair.frames("audio")
        await asyncio.sleep(1.0)
        assert chair.frames("audio") - heard <= 2
        await chair.client.ok("floor.mute", {"meeting_id": mid, "subject": subject, "muted": False})
        await wait_for(lambda: chair.frames("audio") > heard + 10, 5, "bp1's audio after unmute")
        # The end of the meeting closes the media room.
        await live.transition("end")
        await wait_for(
            lambda: not live.realtime.media or not live.realtime.media.plane.rooms,
            5,
            "the room to close",
        )
    finally:
        await chair.close()
        await bp1.close()


async def test_signalling_errors_are_clear(live_meeting: Live) -> None:
    live = live_meeting
    mid = live.meeting_id
    client = await live.connect("bp1")
    await client.join(mid)
    err = await client.error("rtc.answer", {"meeting_id": mid, "sdp": "v=0"})
    assert err["code"] == "no_session"
    err = await client.error("rtc.offer", {"meeting_id": mid, "sdp": "this is not SDP"})
    assert err["code"] == "bad_sdp", err
    err = await client.error("rtc.offer", {"meeting_id": mid})
    assert err["code"] == "invalid_request" and "sdp" in err["message"]
    err = await client.error("rtc.page", {"meeting_id": mid, "page": 1})
    assert err["code"] == "no_session"
    # Someone not invited never sees the meeting, media included.
    other = await live.connect("bp3")
    err = await other.error("rtc.offer", {"meeting_id": mid, "sdp": "v=0"})
    assert err["code"] == "not_found"


async def test_a_vanished_peer_leaves_the_room(live_meeting: Live) -> None:
    live = live_meeting
    bp1 = await _peer(live, "bp1", (176, 144))
    media = live.realtime.media
    assert media is not None
    room = media.plane.room(str(live.meeting_id))
    assert len(room.endpoints) == 1
    await bp1.client.sio.disconnect()  # the socket goes: its endpoint goes with it
    await wait_for(lambda: str(live.meeting_id) not in media.plane.rooms, 5, "the room to close")
    await bp1.close()


async def test_link_health_reaches_the_operator_view_and_metrics(live_meeting: Live) -> None:
    live = live_meeting
    bp1 = await _peer(live, "bp1", (176, 144))
    chair = await _peer(live, "chair", (160, 120))
    try:
        headers = live.world.auth("operator")
        url = f"{live.url}/api/v1/meetings/{live.meeting_id}/media-health"
        async with aiohttp.ClientSession() as http:

            async def rows() -> list[dict[str, object]]:
                async with http.get(url, headers=headers) as r:
                    assert r.status == 200, await r.text()
                    got: list[dict[str, object]] = await r.json()
                    return got

            deadline = time.monotonic() + 10
            subject = f"bridge_point:{live.world.bridge_points['bp1']}"
            while True:
                health = {h["subject"]: h for h in await rows()}
                h = health.get(subject)
                if h and isinstance(h["bitrate_in"], int) and h["bitrate_in"] > 0:
                    break
                assert time.monotonic() < deadline, f"no figures for {subject}: {health}"
                await asyncio.sleep(0.5)
            assert h["role"] == "bridge_point" and h["state"] == "connected"
            assert isinstance(h["fps_in"], float) and h["fps_in"] > 0
            # A delegate may not see the health view; another district's operator not even
            # the meeting.
            async with http.get(url, headers=live.world.auth("delegate")) as r:
                assert r.status == 403
            async with http.get(url, headers=live.world.auth("operator_d2")) as r:
                assert r.status == 404
            async with http.get(f"{live.url}/metrics") as r:
                text = await r.text()
            # Anyone sees aggregates; no meeting, participant or connection (see
            # tests/test_hardening.py for the per-connection series behind the metrics token).
            assert "meetingd_media_bitrate_in_bps_max " in text
            assert subject not in text and "connection=" not in text
    finally:
        await bp1.close()
        await chair.close()


async def test_realtime_and_media_figures_in_metrics(live_meeting: Live) -> None:
    live = live_meeting
    bp1 = await _peer(live, "bp1", (176, 144))
    try:
        await live.transition("pause")
        await bp1.client.wait_event("meeting.paused")
        async with aiohttp.ClientSession() as http, http.get(f"{live.url}/metrics") as r:
            text = await r.text()
        lines = dict(
            line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
        )
        assert float(lines["meetingd_realtime_connections"]) == 1
        assert float(lines["meetingd_realtime_meetings"]) == 1
        assert float(lines["meetingd_media_rooms"]) == 1
        assert float(lines["meetingd_realtime_events_fanned_out_total"]) >= 1
        # one process without Redis: no media node, no cascade link, nothing of it runs
        assert "meetingd_media_cascade" not in text
        assert live.realtime.directory is None
    finally:
        await bp1.close()
