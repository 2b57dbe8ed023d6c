"""The room fan-out that queues on engine.io sockets directly: its internals are there, and it
delivers one encoded event to every connection of the room (and only of the room), in order."""

from __future__ import annotations

from meetingd.realtime.fastemit import PINNED, check_internals, emit_to_room
from meetingd.realtime.namespace import NAMESPACE
from meetingd.realtime.server import room
from tests.realtime.conftest import Live


def test_the_pinned_versions_are_the_installed_ones() -> None:
    from importlib.metadata import version

    for dist, want in PINNED.items():
        assert version(dist) == want, f"re-check meetingd/realtime/fastemit.py for {dist}"


async def test_emit_to_room_reaches_the_room_only_in_order(live: Live) -> None:
    check_internals(live.realtime.sio)
    inside = await live.connect("bp1")
    await inside.join(live.meeting_id)
    outside = await live.connect("bp2")  # connected, not joined
    sent = 0
    for i in range(50):
        sent += emit_to_room(
            live.realtime.sio,
            "test.pinged",
            {"i": i, "tên": "Hoằng Hóa"},
            room(live.meeting_id),
            NAMESPACE,
        )
    assert sent == 50
    await inside.wait_until(lambda: len(inside.of("test.pinged")) == 50)
    assert [d["i"] for d in inside.of("test.pinged")] == list(range(50))
    assert inside.of("test.pinged")[0]["tên"] == "Hoằng Hóa"
    await outside.ok("meeting.join", {"meeting_id": live.meeting_id})  # a round trip
    assert outside.of("test.pinged") == []
