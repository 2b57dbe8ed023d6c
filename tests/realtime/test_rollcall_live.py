"""Roll call over the socket and its REST twins, seen by every screen of the meeting."""

from __future__ import annotations

from typing import Any

from tests.realtime.conftest import Live


async def rest(live: Live, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {live.world.tokens[who]}"}
    async with live.clients[0].sio.eio.http.request(
        method, f"{live.url}/api/v1/meetings/{live.meeting_id}{path}", json=body, headers=headers
    ) as r:
        return r.status, await r.json()


async def test_rollcall_with_quorum_over_the_socket_and_rest(live: Live) -> None:
    mid = {"meeting_id": live.meeting_id}
    w = live.world
    names = ("chair", "secretary", "bp1", "bp2", "delegate")
    c = {n: await live.connect(n) for n in names}
    mirrors = {n: await c[n].join(live.meeting_id) for n in names}
    assert (await c["secretary"].error("rollcall.start", mid))["code"] == "invalid_state"
    await c["chair"].ok("meeting.open", mid)
    await c["chair"].ok("meeting.start", mid)

    started = await c["secretary"].ok("rollcall.start", mid)
    assert started["state"] == "open" and started["started_by"] == f"user:{w.users['secretary']}"
    assert (await c["chair"].error("rollcall.start", mid))["code"] == "invalid_state"
    await c["bp1"].ok("rollcall.answer", {**mid, "count": 25})
    status, body = await rest(live, "POST", "/rollcall/answer", "bp2", {"count": 0})
    assert status == 200 and {a["count"] for a in body["answers"]} == {25, 0}
    await c["bp2"].ok("rollcall.answer", {**mid, "count": 3})  # replaces its first answer
    await c["delegate"].ok("rollcall.confirm", mid)
    again = await c["delegate"].ok("rollcall.confirm", mid)  # no change, no event
    assert len(again["confirmations"]) == 1
    # Who may do what.
    assert (await c["delegate"].error("rollcall.answer", {**mid, "count": 1}))[
        "code"
    ] == "forbidden"
    assert (await c["bp1"].error("rollcall.confirm", mid))["code"] == "forbidden"
    assert (await c["bp1"].error("rollcall.close", mid))["code"] == "forbidden"
    status, body = await rest(live, "GET", "/rollcall", "bp1")
    assert status == 200 and body["state"] == "open" and body["result"] is None

    closed = await c["secretary"].ok("rollcall.close", mid)
    result = closed["result"]
    assert result["quorum"] == {
        "rule": "more than half of the invited delegates confirmed their presence",
        "required": 1,
        "present": 1,
        "reached": True,
    }
    by_id = {b["id"]: b for b in result["bridge_points"]}
    bp1 = by_id[w.bridge_points["bp1"]]
    assert (bp1["unit_name"], bp1["present"], bp1["count"]) == ("Xã Hoằng Đạo", True, 25)
    assert by_id[w.bridge_points["bp2"]]["count"] == 3
    assert result["people_at_bridge_points"] == 28 and result["delegates_present"] == 1
    err = await c["bp1"].error("rollcall.answer", {**mid, "count": 30})
    assert err["code"] == "invalid_state"

    # Every screen saw the same roll call, in the same order, and holds the same result.
    head = await live.head()
    for n in names:
        await c[n].wait_until(lambda m=mirrors[n]: m.seq == head)  # type: ignore[misc]
    types = [e for e, _ in c["bp2"].events if e.startswith("rollcall.")]
    assert types == [
        "rollcall.started",
        "rollcall.answered",
        "rollcall.answered",
        "rollcall.answered",
        "rollcall.confirmed",
        "rollcall.closed",
    ]
    assert all(mirrors[n].state["rollcall"]["result"] == result for n in names)
    status, body = await rest(live, "GET", "/rollcall", "delegate")
    assert status == 200 and body["result"] == result

    # REST twins start and close the next one.
    status, body = await rest(live, "POST", "/rollcall", "chair")
    assert status == 201 and body["state"] == "open" and body["id"] != closed["id"]
    status, body = await rest(live, "POST", "/rollcall/close", "chair")
    assert status == 200 and body["result"]["quorum"]["reached"] is False
    status, body = await rest(live, "POST", "/rollcall/close", "chair")
    assert status == 409 and body["error"]["code"] == "invalid_state"
