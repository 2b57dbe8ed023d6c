"""Ballots arriving together are committed together (VoteService.cast's group commit),
each still answered on its own: accepted once committed, refused with its exact reason."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, select

from meetingd.app import Parts, build
from meetingd.clock import ManualClock
from meetingd.errors import ConflictError, PermissionDenied, ValidationError
from meetingd.store.models import AuditRow
from tests.conftest import World
from tests.services.test_votes import new_delegates, spec, who

VOTERS = 12


class Commits:
    """Counts the commits of ``parts``' engine."""

    def __init__(self, parts: Parts) -> None:
        self.n = 0
        self._engine = parts.store.engine.sync_engine
        event.listen(self._engine, "commit", self._count)

    def _count(self, conn: Any) -> None:
        self.n += 1

    def close(self) -> None:
        event.remove(self._engine, "commit", self._count)


@pytest.mark.parametrize("kind", ["open", "secret"])
async def test_a_burst_goes_in_as_few_transactions_each_answered_alone(
    parts: Parts, world: World, kind: str
) -> None:
    w, v = world, parts.services.votes
    chair = await who(parts, w, "chair")
    await parts.services.meetings.transition(chair, w.meeting_id, "open")
    voters = await new_delegates(parts, w, VOTERS, "lo")
    outsider = await who(parts, w, "delegate")  # invited, but not named in this vote
    subjects = [p.subject for p in voters]
    vote = await v.open(chair, w.meeting_id, spec(kind=kind, electorate="named", voters=subjects))
    commits = Commits(parts)
    try:
        calls = [v.cast(p, w.meeting_id, vote.id, [i % 3]) for i, p in enumerate(voters)]
        calls += [
            v.cast(outsider, w.meeting_id, vote.id, [0]),  # not an elector
            v.cast(voters[0], w.meeting_id, vote.id, [1]),  # a second ballot in the same burst
            v.cast(voters[1], w.meeting_id, vote.id, [7]),  # no such option (and then...)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        commits.close()
    accepted = results[:VOTERS]
    assert all(not isinstance(r, BaseException) for r in accepted), accepted
    assert [r.choice for r in accepted] == [(i % 3,) for i in range(VOTERS)]  # type: ignore[union-attr]
    if kind == "secret":
        receipts = [r.receipt for r in accepted]  # type: ignore[union-attr]
        assert None not in receipts and len(set(receipts)) == VOTERS
    assert isinstance(results[VOTERS], PermissionDenied)
    assert isinstance(results[VOTERS + 1], ConflictError)
    assert isinstance(results[VOTERS + 2], ValidationError)  # checked before "already voted"
    # The first ballot alone, then the rest of the burst together; each refusal is audited
    # in a transaction of its own: far fewer commits than ballots.
    assert commits.n <= 2 + 3, commits.n

    closed = await v.close(chair, w.meeting_id, vote.id)
    assert closed.result is not None and closed.result.ballots == VOTERS
    assert closed.result.counts == (4, 4, 4)
    async with parts.store.engine.connect() as conn:
        rows = (await conn.execute(
            select(AuditRow.actor, AuditRow.action, AuditRow.data)
            .where(AuditRow.subject == f"vote:{vote.id}")
        )).all()  # fmt: skip
    by_actor: dict[str, list[str]] = {}
    for actor, action, data in rows:
        by_actor.setdefault(actor, []).append(action)
        if kind == "secret":
            assert "choice" not in data
    for s in subjects[2:]:
        assert by_actor[s] == ["ballot.accepted"], s  # in the voter's name, not the batch's
    assert sorted(by_actor[subjects[0]]) == ["ballot.accepted", "ballot.refused"]
    assert sorted(by_actor[subjects[1]]) == ["ballot.accepted", "ballot.refused"]
    assert by_actor[outsider.subject] == ["ballot.refused"]


async def test_two_processes_racing_for_one_voter_accept_one_ballot(
    parts: Parts, world: World
) -> None:
    """Two processes (two services on one database) take the same voter's ballot in their
    batches: the primary key refuses the second batch, whose ballots then go one by one, so
    the others in it are still accepted and the duplicate is refused."""
    w, v = world, parts.services.votes
    other = build(parts.config, ManualClock())
    try:
        chair = await who(parts, w, "chair")
        await parts.services.meetings.transition(chair, w.meeting_id, "open")
        voters = await new_delegates(parts, w, 6, "lo")
        subjects = [p.subject for p in voters]
        vote = await v.open(chair, w.meeting_id, spec(electorate="named", voters=subjects))
        here = [v.cast(p, w.meeting_id, vote.id, [0]) for p in voters[:4]]
        there = [other.services.votes.cast(p, w.meeting_id, vote.id, [1]) for p in voters[3:]]
        results = await asyncio.gather(*here, *there, return_exceptions=True)
    finally:
        await other.store.close()
    dup = [results[3], results[4]]  # voters[3] cast in both processes
    assert sum(isinstance(r, ConflictError) for r in dup) == 1, dup
    assert all(not isinstance(r, BaseException) for r in results[:3] + results[5:]), results
    closed = await v.close(chair, w.meeting_id, vote.id)
    assert closed.result is not None and closed.result.ballots == 6
