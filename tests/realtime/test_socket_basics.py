"""Connecting, commands and their acks, and every kind of bad input, over a real socket."""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from tests.realtime.conftest import Live, StartLive
from tests.realtime.livekit import LiveClient


async def test_join_answers_a_snapshot_and_its_seq(live: Live) -> None:
    bp1 = await live.connect("bp1")
    mirror = await bp1.join(live.meeting_id)
    assert mirror.seq == await live.head()
    snap = mirror.state
    assert snap["meeting"]["id"] == live.meeting_id
    assert [a["title"] for a in snap["meeting"]["agenda"]] == ["Khai mạc", "Báo cáo", "Kết luận"]
    assert snap["presence"] == [
        {
            "kind": "bridge_point",
            "id": live.world.bridge_points["bp1"],
            "name": "Điểm cầu bp1",
            "role": "bridge_point",
            "since": "2026-01-05T01:00:00Z",
        }
    ]
    assert snap["rollcall"] is None and snap["floor"] == []


@pytest.mark.parametrize(
    ("auth", "code"),
    [(None, "unauthenticated"), ("not-a-token", "unauthenticated")],
)
async def test_connect_is_refused_with_a_reason(live: Live, auth: str | None, code: str) -> None:
    c = live.client("nobody")
    c.token = auth
    reasons: list[object] = []
    c.sio.on("connect_error", lambda data: reasons.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect()
    assert reasons and isinstance(reasons[0], dict)
    assert reasons[0]["data"]["code"] == code and reasons[0]["message"]


async def test_expired_token_is_refused(live: Live) -> None:
    live.clock.advance(13 * 3600)  # user tokens live 12 h
    c = live.client("chair")
    reasons: list[dict[str, object]] = []
    c.sio.on("connect_error", lambda data: reasons.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await c.connect()
    assert reasons[0]["data"] == {
        "code": "token_expired",
        "message": "the token has expired; log in again",
    }


async def assert_nothing_changed(live: Live, head: int, *clients: LiveClient) -> None:
    assert await live.head() == head
    for c in clients:
        assert [e for e, d in c.events if isinstance(d, dict) and "seq" in d] == []


async def test_bad_input_is_answered_and_changes_nothing(live: Live) -> None:
    chair = await live.connect("chair")
    delegate = await live.connect("delegate")
    watcher = await live.connect("secretary")
    mid = live.meeting_id
    await chair.join(mid)
    await delegate.join(mid)
    await watcher.join(mid)
    watcher.events.clear()
    head = await live.head()

    err = await chair.error("meeting.fly", {"meeting_id": mid})
    assert err["code"] == "unknown_command" and "meeting.fly" in err["message"]
    # Payloads: missing, wrong type, out of range, unknown field, not an object, two of them.
    cases = [
        ({}, "meeting_id", "missing field"),
        ({"meeting_id": "1"}, "meeting_id", "valid integer"),
        ({"meeting_id": True}, "meeting_id", "valid integer"),
        ({"meeting_id": 0}, "meeting_id", "greater than or equal to 1"),
        ({"meeting_id": mid, "force": True}, "force", "unknown field"),
    ]
    for payload, field, words in cases:
        err = await chair.error("meeting.start", payload)
        assert err["code"] == "invalid_request" and err["field"] == field, err
        assert words in err["message"], err
    err = await chair.error("meeting.start", [mid])
    assert (err["code"], err["field"]) == ("invalid_request", "payload")
    got = await chair.sio.call("meeting.start", ({"meeting_id": mid}, {"meeting_id": mid}))
    assert got["error"]["field"] == "payload"
    err = await chair.error("rollcall.answer", {"meeting_id": mid, "count": 1001})
    assert err["field"] == "count"
    # A meeting that does not exist: not_found, as over REST; one it sees but has not joined.
    err = await chair.error("meeting.start", {"meeting_id": mid + 1})
    assert err["code"] == "not_found"
    other = await live.connect("chair")
    err = await other.error("meeting.start", {"meeting_id": mid})
    assert err["code"] == "not_joined"
    bp3 = await live.connect("bp3")
    err = await bp3.error("meeting.join", {"meeting_id": mid})
    assert err["code"] == "not_found"
    err = await bp3.error("meeting.resync", {"meeting_id": mid, "after_seq": 0})
    assert err["code"] == "not_found"
    # Wrong role, wrong state.
    err = await delegate.error("meeting.open", {"meeting_id": mid})
    assert err["code"] == "forbidden"
    err = await chair.error("meeting.pause", {"meeting_id": mid})
    assert err["code"] == "invalid_state" and "draft" in err["message"]
    err = await chair.error("meeting.move_to_item", {"meeting_id": mid, "item_id": 99999})
    assert err["code"] == "invalid_state"
    err = await chair.error("rollcall.start", {"meeting_id": mid})
    assert err["code"] == "invalid_state"
    # Events named like the transport's own are commands like any other, and unknown.
    for name in ("connect", "disconnect", "message"):
        err = await chair.error(name, {"meeting_id": mid})
        assert err["code"] == "unknown_command"
    assert chair.sio.connected
    # No media before the meeting opens.
    err = await chair.error("rtc.offer", {"meeting_id": mid, "sdp": "v=0"})
    assert err["code"] == "invalid_state"
    await assert_nothing_changed(live, head, watcher)
    # ... and the connection still works.
    await chair.ok("meeting.open", {"meeting_id": mid})
    opened = await watcher.wait_event("meeting.opened")
    assert opened["seq"] == head + 1 and opened["state"] == "open"


async def test_leave_and_join_again(live: Live) -> None:
    bp1 = await live.connect("bp1")
    chair = await live.connect("chair")
    mid = live.meeting_id
    await chair.join(mid)
    await bp1.join(mid)
    assert await bp1.ok("meeting.leave", {"meeting_id": mid}) == {}
    assert (await bp1.error("meeting.leave", {"meeting_id": mid}))["code"] == "not_joined"
    left = await chair.wait_event("presence.left")
    assert left["id"] == live.world.bridge_points["bp1"]
    await live.transition("open")
    again = await bp1.join(mid)
    assert again.state["meeting"]["state"] == "open"
    assert [e for e, _ in bp1.events if e == "meeting.opened"] == []  # not in the room then


async def test_a_flood_is_refused_then_the_connection_closed(start_live: StartLive) -> None:
    live = await start_live(commands_per_second=5, command_burst=5)
    mid = live.meeting_id
    c = await live.connect("bp1")
    watcher = await live.connect("chair")
    await watcher.join(mid)
    watcher.events.clear()

    async def join() -> dict[str, Any]:
        return await c.call("meeting.join", {"meeting_id": mid})

    assert all([(await join())["ok"] for _ in range(5)])  # the burst
    head = await live.head()
    # Over the limit: refused, and a short burst does not close the connection.
    refused = [await join() for _ in range(3)]
    assert {r["error"]["code"] for r in refused} == {"rate_limited"}
    assert "wait" in refused[0]["error"]["message"] and c.sio.connected
    live.clock.advance(1)  # the bucket refills: accepted again
    assert (await join())["ok"]
    # Flooding on: after command_burst refusals in a row the server closes it, with a reason.
    answers = [await join() for _ in range(9)]
    assert [a["ok"] for a in answers] == [True] * 4 + [False] * 5
    await c.wait_until(lambda: c.disconnected.is_set())
    [closed] = c.of("connection.closed")
    assert closed == {
        "code": "rate_limited",
        "message": "too many commands: the connection is closed",
    }
    # The flood changed nothing; the flooder's presence ends with its connection.
    left = await watcher.wait_event("presence.left")
    assert left["id"] == live.world.bridge_points["bp1"]
    assert await live.head() == head + 1
