"""Hardening of the media side (issue 13 §5): an offer racing a disconnect leaves nothing
behind, and nothing kept per endpoint outlives it. (The REMB pre-filter's address check is
in tests/media/test_rtcp_fast_path.py, next to the filter's other tests.)"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from media import MediaConfig, MediaPlane
from meetingd.errors import MeetingdError
from tests.realtime.conftest import Live, StartLive, start_live

__all__ = ["start_live"]  # the fixture, used below


async def _until(check: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_an_offer_racing_a_disconnect_leaves_no_endpoint(
    start_live: StartLive, monkeypatch: pytest.MonkeyPatch
) -> None:
    live: Live = await start_live()
    await live.transition("open")
    await live.transition("start")
    media = live.realtime.media
    assert media is not None
    client = await live.connect("bp1")
    await client.join(live.meeting_id)
    connections = live.realtime.namespace.connections
    (sid,) = [s for s, c in connections.items() if c.principal.kind == "bridge_point"]
    principal = connections[sid].principal
    floor = live.parts.services.floor
    entries = floor.entries

    async def disconnect_meanwhile(*args: Any) -> Any:
        # The offer is suspended reading the floor when the socket goes.
        await client.sio.disconnect()
        await _until(lambda: sid not in connections, 5, "the server to drop the connection")
        return await entries(*args)

    monkeypatch.setattr(floor, "entries", disconnect_meanwhile)
    with pytest.raises(MeetingdError) as exc:
        await media.offer(principal, sid, live.meeting_id, "v=0\r\n")
    assert exc.value.code == "gone"
    assert str(live.meeting_id) not in media.plane.rooms  # the room opened for it is closed
    assert live.meeting_id not in media._meetings and sid not in media._by_sid


async def test_counters_mutes_and_floor_go_with_their_endpoint() -> None:
    async with MediaPlane(MediaConfig(listen_ips=("127.0.0.1",))) as plane:
        room = plane.create_room("1")
        for eid in ("a", "b"):
            room.add_endpoint(eid, "bridge_point")
        room.set_floor(["a", "b"], muted=["a"])
        room.stats()  # fills the per-endpoint counters
        assert set(room._prev_counters) == {"a", "b"}
        await room.remove_endpoint("a")
        assert room.floor == ("b",) and room.muted == frozenset()
        assert set(room._prev_counters) == {"b"}
        for i in range(200):  # churn: nothing accumulates
            eid = f"x{i}"
            room.add_endpoint(eid, "bridge_point")
            room.set_muted(eid, True)
            room.stats()
            await room.remove_endpoint(eid)
        assert room.muted == frozenset() and set(room._prev_counters) == {"b"}
