"""VoteService: opening, ballots and their integrity, closing with the rule, deadlines."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from meetingd.app import Parts
from meetingd.clock import ManualClock
from meetingd.domain import Principal, Role, VoteState
from meetingd.errors import (
    AlreadyVoted,
    ConflictError,
    NotFound,
    PermissionDenied,
    StateError,
    ValidationError,
)
from meetingd.schemas import VoteIn
from meetingd.services.votes import receipt_hash
from tests.conftest import PASSWORD, World


async def who(parts: Parts, w: World, name: str) -> Principal:
    return await parts.services.auth.authenticate(w.tokens[name])


async def live_with_rollcall(parts: Parts, w: World, *, delegate_present: bool = True) -> None:
    """The world's meeting live, a roll call closed: bp1 counted 12 people, the delegate
    confirmed (when ``delegate_present``)."""
    chair = await who(parts, w, "chair")
    m, rc = parts.services.meetings, parts.services.rollcall
    await m.transition(chair, w.meeting_id, "open")
    await m.transition(chair, w.meeting_id, "start")
    await rc.start(chair, w.meeting_id)
    await rc.answer(await who(parts, w, "bp1"), w.meeting_id, 12)
    if delegate_present:
        await rc.confirm(await who(parts, w, "delegate"), w.meeting_id)
    await rc.close(chair, w.meeting_id)


async def new_delegates(parts: Parts, w: World, n: int, login: str) -> list[Principal]:
    """``n`` new delegates of C1 (logins ``<login>0``...), logged in and invited."""
    d, a, m = parts.services.directory, parts.services.auth, parts.services.meetings
    chair = await who(parts, w, "chair")
    people = []
    for i in range(n):
        user = await d.create_user(
            None, login=f"{login}{i}", display_name=f"Đại biểu {login} {i}", password=PASSWORD,
            grants=[(w.units["C1"], Role.DELEGATE)],
        )  # fmt: skip
        token = (await a.login(f"{login}{i}", PASSWORD, "t")).token
        people.append(await a.authenticate(token))
        await m.invite_delegates(chair, w.meeting_id, [user.id])
    return people


def spec(**kw: object) -> VoteIn:
    return VoteIn.model_validate({"question": "Thông qua nghị quyết?", **kw})


async def test_open_vote_cast_close_passes(parts: Parts, world: World) -> None:
    w, v = world, parts.services.votes
    await live_with_rollcall(parts, w)
    chair, delegate = await who(parts, w, "chair"), await who(parts, w, "delegate")
    vote = await v.open(chair, w.meeting_id, spec(agenda_item_id=w.agenda_ids[1]))
    assert [e.subject for e in vote.electors] == [delegate.subject]
    assert vote.options == ("Tán thành", "Không tán thành", "Không biểu quyết")
    ballot = await v.cast(delegate, w.meeting_id, vote.id, [0])
    assert ballot.choice == (0,) and ballot.receipt is None and not ballot.changed
    with pytest.raises(AlreadyVoted, match="already voted"):
        await v.cast(delegate, w.meeting_id, vote.id, [1])
    assert (await v.get(chair, w.meeting_id, vote.id)).counts == (1, 0, 0)
    closed = await v.close(chair, w.meeting_id, vote.id)
    assert closed.state is VoteState.CLOSED and closed.result is not None
    r = closed.result
    assert (r.outcome, r.base, r.required, r.ballots, r.tie) == ("passed", 1, 1, 1, False)
    assert r.statement.startswith("Thông qua: 1/1 (100,00%) tán thành")
    with pytest.raises(StateError, match="closed"):
        await v.cast(delegate, w.meeting_id, vote.id, [0])
    with pytest.raises(StateError):
        await v.close(chair, w.meeting_id, vote.id)


async def test_refusals_have_reasons(parts: Parts, world: World) -> None:
    w, v = world, parts.services.votes
    chair, delegate = await who(parts, w, "chair"), await who(parts, w, "delegate")
    with pytest.raises(StateError):  # a draft meeting holds no vote
        await v.open(chair, w.meeting_id, spec())
    m = parts.services.meetings
    await m.transition(chair, w.meeting_id, "open")
    with pytest.raises(StateError, match="roll call"):  # electorate "present" needs one
        await v.open(chair, w.meeting_id, spec())
    vote = await v.open(
        chair, w.meeting_id,
        spec(electorate="named", voters=[delegate.subject], options=["A", "B", "C"],
             max_choices=2),
    )  # fmt: skip
    assert vote.quorum is None
    with pytest.raises(PermissionDenied):  # a bridge point is not in this electorate
        await v.cast(await who(parts, w, "bp1"), w.meeting_id, vote.id, [0])
    with pytest.raises(PermissionDenied):  # nor is the chair
        await v.cast(chair, w.meeting_id, vote.id, [0])
    with pytest.raises(NotFound):  # not invited: the meeting is invisible
        await v.cast(await who(parts, w, "delegate_other"), w.meeting_id, vote.id, [0])
    with pytest.raises(ValidationError, match="does not exist"):
        await v.cast(delegate, w.meeting_id, vote.id, [3])
    with pytest.raises(ValidationError, match="at most 2"):
        await v.cast(delegate, w.meeting_id, vote.id, [0, 1, 2])
    with pytest.raises(NotFound):
        await v.cast(delegate, w.meeting_id, vote.id + 100, [0])
    with pytest.raises(ValidationError):
        await v.open(chair, w.meeting_id, spec(electorate="named", voters=["user:999"]))
    with pytest.raises(PermissionDenied):
        await v.open(delegate, w.meeting_id, spec(electorate="named", voters=[delegate.subject]))
    await v.cast(delegate, w.meeting_id, vote.id, [0, 2])
    closed = await v.close(chair, w.meeting_id, vote.id)
    assert closed.result is not None and closed.result.outcome == "elected"
    assert closed.result.elected == (0, 2) and closed.result.counts == (1, 0, 1)
    async with parts.store.transaction() as uow:
        audit = await uow.audit.for_subject(f"vote:{vote.id}")
    actions = [a for _, _, a in audit]
    assert actions.count("ballot.refused") == 5 and actions.count("ballot.accepted") == 1


async def test_change_allowed_and_rules(parts: Parts, world: World) -> None:
    w, v = world, parts.services.votes
    await live_with_rollcall(parts, w)
    chair, delegate = await who(parts, w, "chair"), await who(parts, w, "delegate")
    vote = await v.open(
        chair, w.meeting_id, spec(allow_change=True, rule="members", bridge_points_vote=True)
    )
    # bp1 counted people at the roll call: it votes for its room; bp2 did not answer.
    bp1 = f"bridge_point:{w.bridge_points['bp1']}"
    assert {e.subject for e in vote.electors} == {delegate.subject, bp1}
    assert vote.members == 3  # one delegate and two invited bridge points
    await v.cast(delegate, w.meeting_id, vote.id, [0])
    changed = await v.cast(delegate, w.meeting_id, vote.id, [1])
    assert changed.changed
    await v.cast(await who(parts, w, "bp1"), w.meeting_id, vote.id, [1])
    r = (await v.close(chair, w.meeting_id, vote.id)).result
    assert r is not None and r.counts == (0, 2, 0) and r.outcome == "rejected"
    assert (r.base, r.required) == (3, 2)


async def test_tie_and_two_thirds() -> None:
    from meetingd.domain import Elector, MajorityRule, Quorum, Vote, VoteKind
    from meetingd.services.votes import DEFAULT_OPTIONS, compute_result

    now = ManualClock().now()
    electors = tuple(Elector(f"user:{i}", f"Đại biểu {i}") for i in range(1, 7))
    vote = Vote(
        id=1, meeting_id=1, agenda_item_id=None, question="?", kind=VoteKind.OPEN,
        options=DEFAULT_OPTIONS, max_choices=1, rule=MajorityRule.TWO_THIRDS,
        allow_change=False, members=9, quorum=Quorum("r", 5, 6, True), state=VoteState.OPEN,
        opened_at=now, opened_by="user:1", deadline=None, closed_at=None, closed_by=None,
        electors=electors, ballots=0, counts=None, result=None,
    )  # fmt: skip
    r = compute_result(vote, 6, (3, 3, 0))
    assert (r.required, r.outcome, r.tie) == (6, "rejected", True)
    assert "bằng nhau" in r.statement
    r = compute_result(vote, 6, (6, 0, 0))
    assert r.outcome == "passed"
    import dataclasses

    no_quorum = dataclasses.replace(vote, quorum=Quorum("r", 5, 2, False))
    assert compute_result(no_quorum, 6, (6, 0, 0)).outcome == "no_quorum"


async def test_deadline_closes_it_once(parts: Parts, world: World, clock: ManualClock) -> None:
    w, v = world, parts.services.votes
    await live_with_rollcall(parts, w)
    chair, delegate = await who(parts, w, "chair"), await who(parts, w, "delegate")
    vote = await v.open(chair, w.meeting_id, spec(deadline_seconds=60))
    assert vote.deadline == clock.now() + timedelta(seconds=60)
    await v.cast(delegate, w.meeting_id, vote.id, [0])
    assert await v.expire() == 0
    clock.advance(61)
    # Two closers at once (two processes): exactly one closes it.
    other = parts.services.votes.__class__(parts.store, clock)
    assert sorted(await asyncio.gather(v.expire(), other.expire())) == [0, 1]
    got = await v.get(chair, w.meeting_id, vote.id)
    assert got.state is VoteState.CLOSED and got.closed_by == "system"
    assert got.result is not None and got.result.outcome == "passed"


async def test_hundred_concurrent_attempts_one_accepted(parts: Parts, world: World) -> None:
    w, v = world, parts.services.votes
    await live_with_rollcall(parts, w)
    chair, delegate = await who(parts, w, "chair"), await who(parts, w, "delegate")
    for kind in ("open", "secret"):
        vote = await v.open(chair, w.meeting_id, spec(kind=kind))
        results = await asyncio.gather(
            *(v.cast(delegate, w.meeting_id, vote.id, [i % 3]) for i in range(100)),
            return_exceptions=True,
        )
        accepted = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(accepted) == 1 and len(refused) == 99, kind
        assert all(isinstance(r, ConflictError) for r in refused), refused[:3]
        closed = await v.close(chair, w.meeting_id, vote.id)
        assert closed.result is not None and closed.result.ballots == 1
        assert sum(closed.result.counts) == 1


async def test_secret_receipt_checks_the_tally(parts: Parts, world: World) -> None:
    w, v = world, parts.services.votes
    await live_with_rollcall(parts, w)
    chair, delegate = await who(parts, w, "chair"), await who(parts, w, "delegate")
    vote = await v.open(chair, w.meeting_id, spec(kind="secret", allow_change=True))
    first = await v.cast(delegate, w.meeting_id, vote.id, [1])
    assert first.receipt is not None
    with pytest.raises(ValidationError, match="receipt"):  # changing needs the receipt
        await v.cast(delegate, w.meeting_id, vote.id, [0])
    with pytest.raises(ValidationError, match="receipt"):
        await v.cast(delegate, w.meeting_id, vote.id, [0], receipt="0000-0000-0000-0000")
    second = await v.cast(delegate, w.meeting_id, vote.id, [0], receipt=first.receipt)
    assert second.changed and second.receipt not in (None, first.receipt)
    assert (await v.get(chair, w.meeting_id, vote.id)).counts is None  # nothing live
    closed = await v.close(chair, w.meeting_id, vote.id)
    r = closed.result
    assert r is not None and r.counts == (1, 0, 0)
    assert second.receipt is not None
    mine = receipt_hash(vote.id, second.receipt)
    assert [mine in hashes for hashes in r.receipts] == [True, False, False]
    assert receipt_hash(vote.id, first.receipt) not in {h for hs in r.receipts for h in hs}


async def test_ending_the_meeting_closes_its_open_votes(parts: Parts, world: World) -> None:
    w, v = world, parts.services.votes
    await live_with_rollcall(parts, w)
    chair, delegate = await who(parts, w, "chair"), await who(parts, w, "delegate")
    vote = await v.open(chair, w.meeting_id, spec())
    await v.cast(delegate, w.meeting_id, vote.id, [0])
    await parts.services.meetings.transition(chair, w.meeting_id, "end")
    closed = await v.get(chair, w.meeting_id, vote.id)
    assert closed.state is VoteState.CLOSED and closed.result is not None
    assert closed.result.ballots == 1
    async with parts.store.transaction() as uow:
        types = [e.type for e in await uow.events.after(w.meeting_id, 0, 1000)]
    assert types.index("vote.closed") < types.index("meeting.ended")  # closed, then ended
