"""Votes over the socket and REST, seen on every screen: opened, counted live (coalesced),
closed with the result; a secret ballot's receipt checked against the published result."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.realtime.conftest import Live
from tests.realtime.test_rollcall_live import rest

SCREENS = ("chair", "secretary", "delegate", "bp1", "bp2")


async def _rollcall(live: Live) -> None:
    rc = live.parts.services.rollcall
    await rc.start(await live.who("chair"), live.meeting_id)
    await rc.answer(await live.who("bp1"), live.meeting_id, 20)
    await rc.confirm(await live.who("delegate"), live.meeting_id)
    await rc.close(await live.who("chair"), live.meeting_id)


async def test_open_and_secret_votes_on_every_screen(live: Live) -> None:
    mid = {"meeting_id": live.meeting_id}
    c = {n: await live.connect(n) for n in SCREENS}
    mirrors = {n: await c[n].join(live.meeting_id) for n in SCREENS}
    await live.transition("open")
    await live.transition("start")
    await _rollcall(live)

    # An open vote: the delegate and bp1 (present at the roll call) vote for their room.
    vote = await c["chair"].ok(
        "vote.open", {**mid, "question": "Thông qua kế hoạch?", "bridge_points_vote": True}
    )
    vid = {**mid, "vote_id": vote["id"]}
    assert vote["state"] == "open" and len(vote["electors"]) == 2
    assert (await c["bp2"].error("vote.cast", {**vid, "choice": [0]}))["code"] == "forbidden"
    assert (await c["delegate"].error("vote.cast", {**vid, "choice": [7]}))["code"] == (
        "invalid_request"
    )
    ballot = await c["delegate"].ok("vote.cast", {**vid, "choice": [0]})
    assert ballot == {"vote_id": vote["id"], "choice": [0], "changed": False, "receipt": None}
    err = await c["delegate"].error("vote.cast", {**vid, "choice": [1]})
    assert err["code"] == "already_voted" and "already voted" in err["message"]
    # The first ballot is counted at once on every screen.
    for n in SCREENS:
        counted = await c[n].wait_event("vote.counted")
        assert counted == {**counted, "vote_id": vote["id"], "ballots": 1, "counts": [1, 0, 0]}
    # bp1 over REST; its count comes at most one interval later (coalesced).
    status, body = await rest(live, "POST", f"/votes/{vote['id']}/ballot", "bp1", {"choice": [0]})
    assert status == 200 and body["choice"] == [0]
    live.clock.advance(1)
    counted = await c["bp2"].wait_event("vote.counted", count=2)
    assert counted["ballots"] == 2 and counted["counts"] == [2, 0, 0]
    status, mine = await rest(live, "GET", f"/votes/{vote['id']}/status", "delegate")
    assert status == 200 and mine == {"vote_id": vote["id"], "elector": True, "voted": True,
                                      "choice": [0]}  # fmt: skip

    closed = await c["secretary"].ok("vote.close", vid)
    result = closed["result"]
    assert result["outcome"] == "passed" and result["counts"] == [2, 0, 0]
    assert result["statement"].startswith("Thông qua: 2/2")
    assert (await c["delegate"].error("vote.cast", {**vid, "choice": [0]}))["code"] == (
        "invalid_state"
    )

    # A secret vote: the delegate's receipt is found under its option, and nowhere else.
    secret = await c["chair"].ok(
        "vote.open", {**mid, "question": "Bầu trưởng ban?", "kind": "secret",
                      "options": ["Ông A", "Bà B"]},
    )  # fmt: skip
    sid = {**mid, "vote_id": secret["id"]}
    got = await c["delegate"].ok("vote.cast", {**sid, "choice": [1]})
    assert got["receipt"]
    counted = await c["chair"].wait_event("vote.counted", count=3)
    assert counted == {**counted, "vote_id": secret["id"], "ballots": 1, "counts": None}
    listed = await c["bp1"].ok("vote.get", sid)
    assert listed["counts"] is None and listed["ballots"] == 1
    done = await c["chair"].ok("vote.close", sid)
    h = hashlib.sha256(f"{secret['id']}:{got['receipt']}".encode()).hexdigest()
    assert [h in hs for hs in done["result"]["receipts"]] == [False, True]

    # Every screen holds the same votes, in the same state, as the server.
    head = await live.head()
    for n in SCREENS:
        await c[n].wait_until(lambda m=mirrors[n]: m.seq == head)  # type: ignore[misc]
    votes: Any = await c["delegate"].ok("vote.list", mid)
    by_id = {v["id"]: v for v in votes}
    for n in SCREENS:
        seen = mirrors[n].state["votes"]
        assert seen[vote["id"]]["result"] == by_id[vote["id"]]["result"] == result, n
        assert seen[secret["id"]]["result"] == by_id[secret["id"]]["result"], n
    assert not any(m.gaps for m in mirrors.values())


async def test_a_deadline_closes_the_vote_by_itself(live: Live) -> None:
    mid = {"meeting_id": live.meeting_id}
    chair = await live.connect("chair")
    await chair.join(live.meeting_id)
    await live.transition("open")
    await _rollcall(live)
    vote = await chair.ok("vote.open", {**mid, "question": "Nhất trí?", "deadline_seconds": 30})
    assert vote["deadline"]
    live.clock.advance(31)
    closed = await chair.wait_event("vote.closed")
    assert closed["vote"]["closed_by"] == "system" and closed["vote"]["result"]["ballots"] == 0


async def test_a_screen_that_joins_mid_vote_gets_the_votes_in_its_snapshot(live: Live) -> None:
    """The join snapshot carries every vote: an open one with its live counts, a secret one
    with only how many have voted (never who chose what), a closed one with its result."""
    mid = {"meeting_id": live.meeting_id}
    chair = await live.connect("chair")
    await chair.join(live.meeting_id)
    await live.transition("open")
    await _rollcall(live)
    closed = await chair.ok("vote.open", {**mid, "question": "Khai mạc?"})
    delegate = await live.connect("delegate")
    await delegate.join(live.meeting_id)
    await delegate.ok("vote.cast", {**mid, "vote_id": closed["id"], "choice": [0]})
    done = await chair.ok("vote.close", {**mid, "vote_id": closed["id"]})
    open_vote = await chair.ok("vote.open", {**mid, "question": "Thông qua?", "kind": "named"})
    await delegate.ok("vote.cast", {**mid, "vote_id": open_vote["id"], "choice": [1]})
    secret = await chair.ok(
        "vote.open", {**mid, "question": "Bầu?", "kind": "secret", "options": ["A", "B"]}
    )
    got = await delegate.ok("vote.cast", {**mid, "vote_id": secret["id"], "choice": [1]})

    late = await live.connect("bp2")
    mirror = await late.join(live.meeting_id)
    votes = mirror.state["votes"]
    assert list(votes) == [closed["id"], open_vote["id"], secret["id"]]
    assert votes[closed["id"]]["state"] == "closed"
    assert votes[closed["id"]]["result"] == done["result"]
    assert votes[open_vote["id"]]["state"] == "open"
    assert (votes[open_vote["id"]]["ballots"], votes[open_vote["id"]]["counts"]) == (1, [0, 1, 0])
    assert (votes[secret["id"]]["ballots"], votes[secret["id"]]["counts"]) == (1, None)
    assert votes[secret["id"]]["result"] is None
    assert got["receipt"] not in repr(votes)
    # the raw answer too: a list in the order opened
    raw = await late.ok("meeting.join", mid)
    assert [v["id"] for v in raw["snapshot"]["votes"]] == list(votes)
