"""FloorService: requests to speak, grants, withdrawals, mutes, and who may do what."""

from __future__ import annotations

import pytest

from meetingd.app import Parts
from meetingd.domain import FloorState
from meetingd.errors import ConflictError, NotFound, PermissionDenied, StateError, ValidationError
from tests.conftest import World


async def _live(parts: Parts, w: World) -> None:
    chair = await parts.services.auth.authenticate(w.tokens["chair"])
    await parts.services.meetings.transition(chair, w.meeting_id, "open")
    await parts.services.meetings.transition(chair, w.meeting_id, "start")


async def test_request_grant_mute_revoke(parts: Parts, world: World) -> None:
    w, f, a = world, parts.services.floor, parts.services.auth
    await _live(parts, w)
    bp1 = await a.authenticate(w.tokens["bp1"])
    chair = await a.authenticate(w.tokens["chair"])
    delegate = await a.authenticate(w.tokens["delegate"])
    await f.request(bp1, w.meeting_id)
    await f.request(delegate, w.meeting_id)
    entries = await f.entries(chair, w.meeting_id)
    assert [(e.subject, e.state) for e in entries] == [
        (bp1.subject, FloorState.REQUESTED),
        (delegate.subject, FloorState.REQUESTED),
    ]
    await f.grant(chair, w.meeting_id, delegate.subject)
    entries = await f.entries(chair, w.meeting_id)
    assert entries[0].subject == delegate.subject and entries[0].state is FloorState.GRANTED
    muted = await f.mute(chair, w.meeting_id, delegate.subject, True)
    assert muted.muted
    with pytest.raises(StateError):
        await f.mute(chair, w.meeting_id, delegate.subject, True)
    # The holder finishes speaking by revoking themself.
    await f.revoke(delegate, w.meeting_id, delegate.subject)
    await f.withdraw(bp1, w.meeting_id)
    assert await f.entries(chair, w.meeting_id) == []


async def test_rules(parts: Parts, world: World) -> None:
    w, f, a = world, parts.services.floor, parts.services.auth
    bp1 = await a.authenticate(w.tokens["bp1"])
    bp2 = await a.authenticate(w.tokens["bp2"])
    bp3 = await a.authenticate(w.tokens["bp3"])
    chair = await a.authenticate(w.tokens["chair"])
    with pytest.raises(StateError):  # the meeting is still a draft
        await f.request(bp1, w.meeting_id)
    await _live(parts, w)
    with pytest.raises(NotFound):  # not invited: the meeting is invisible
        await f.request(bp3, w.meeting_id)
    with pytest.raises(PermissionDenied):  # the chair does not ask, the chair grants
        await f.request(chair, w.meeting_id)
    await f.request(bp1, w.meeting_id)
    with pytest.raises(ConflictError):
        await f.request(bp1, w.meeting_id)
    with pytest.raises(PermissionDenied):  # a bridge point cannot grant
        await f.grant(bp1, w.meeting_id, bp1.subject)
    with pytest.raises(PermissionDenied):  # nor revoke someone else
        await f.revoke(bp2, w.meeting_id, bp1.subject)
    with pytest.raises(ValidationError):
        await f.grant(chair, w.meeting_id, bp3.subject)
    with pytest.raises(ValidationError):
        await f.grant(chair, w.meeting_id, "nobody:1")
    # Granting directly, without a request:
    entry = await f.grant(chair, w.meeting_id, bp2.subject)
    assert entry.state is FloorState.GRANTED and entry.name == "Điểm cầu bp2"
    with pytest.raises(ConflictError):
        await f.grant(chair, w.meeting_id, bp2.subject)


async def test_floor_events_and_end_clears(parts: Parts, world: World) -> None:
    w, f, a = world, parts.services.floor, parts.services.auth
    await _live(parts, w)
    bp1 = await a.authenticate(w.tokens["bp1"])
    chair = await a.authenticate(w.tokens["chair"])
    await f.request(bp1, w.meeting_id)
    await f.grant(chair, w.meeting_id, bp1.subject)
    async with parts.store.transaction() as uow:
        types = [e.type for e in await uow.events.after(w.meeting_id, 0, 1000)]
    assert types[-4:] == ["meeting.opened", "meeting.started", "floor.requested", "floor.granted"]
    await parts.services.meetings.transition(chair, w.meeting_id, "end")
    async with parts.store.transaction() as uow:
        assert await uow.floor.entries(w.meeting_id) == []


async def test_the_speech_log_keeps_who_spoke_when_and_why_it_ended(
    parts: Parts, world: World
) -> None:
    w, f, a, clock = world, parts.services.floor, parts.services.auth, parts.clock
    await _live(parts, w)
    chair = await a.authenticate(w.tokens["chair"])
    bp1 = await a.authenticate(w.tokens["bp1"])
    delegate = await a.authenticate(w.tokens["delegate"])
    start = clock.now()
    await f.grant(chair, w.meeting_id, bp1.subject)
    clock.advance(30)
    await f.revoke(bp1, w.meeting_id, bp1.subject)  # it finished speaking
    await f.grant(chair, w.meeting_id, delegate.subject)
    clock.advance(45)
    await f.revoke(chair, w.meeting_id, delegate.subject)  # the chair took it back
    await f.grant(chair, w.meeting_id, bp1.subject)
    clock.advance(5)
    await parts.services.meetings.transition(chair, w.meeting_id, "end")
    log = await f.speeches(chair, w.meeting_id)
    assert [(s.subject, s.granted_by, s.ended_by, s.end_reason) for s in log] == [
        (bp1.subject, chair.subject, bp1.subject, "finished"),
        (delegate.subject, chair.subject, chair.subject, "revoked"),
        (bp1.subject, chair.subject, chair.subject, "meeting_ended"),
    ]
    assert [(s.ended_at - s.granted_at).total_seconds() for s in log] == [30, 45, 5]  # type: ignore[operator]
    assert log[0].granted_at == start and log[0].name == "Điểm cầu bp1"
    # The audit names each decision and who took it.
    async with parts.store.transaction() as uow:
        rows = await uow.audit.for_subject(f"meeting:{w.meeting_id}")
    floor_rows = [(actor, action) for _, actor, action in rows if action.startswith("floor.")]
    assert floor_rows == [
        (chair.subject, "floor.granted"),
        (bp1.subject, "floor.revoked"),
        (chair.subject, "floor.granted"),
        (chair.subject, "floor.revoked"),
        (chair.subject, "floor.granted"),
    ]


async def test_a_speaking_time_limit_takes_the_floor_back_once(parts: Parts, world: World) -> None:
    w, f, a, clock = world, parts.services.floor, parts.services.auth, parts.clock
    await _live(parts, w)
    chair = await a.authenticate(w.tokens["chair"])
    bp1 = await a.authenticate(w.tokens["bp1"])
    with pytest.raises(ValidationError, match="limit_seconds"):
        await f.grant(chair, w.meeting_id, bp1.subject, limit_seconds=5)
    entry = await f.grant(chair, w.meeting_id, bp1.subject, limit_seconds=60)
    assert entry.deadline is not None and (entry.deadline - clock.now()).total_seconds() == 60
    clock.advance(59)
    assert await f.expire() == 0
    clock.advance(1)
    # Two closers at once (two processes): exactly one ends the speech.
    import asyncio

    ended = await asyncio.gather(f.expire(), f.expire())
    assert sorted(ended) == [0, 1]
    assert await f.entries(chair, w.meeting_id) == []
    (speech,) = await f.speeches(chair, w.meeting_id)
    assert (speech.end_reason, speech.ended_by, speech.limit_seconds) == ("time_up", "system", 60)
    async with parts.store.transaction() as uow:
        last = (await uow.events.after(w.meeting_id, 0, 1000))[-1]
    assert (last.type, last.data["reason"], last.data["by"]) == (
        "floor.revoked",
        "time_up",
        "system",
    )


async def test_the_chair_reorders_the_speaking_queue(parts: Parts, world: World) -> None:
    w, f, a = world, parts.services.floor, parts.services.auth
    await _live(parts, w)
    chair = await a.authenticate(w.tokens["chair"])
    bp1 = await a.authenticate(w.tokens["bp1"])
    bp2 = await a.authenticate(w.tokens["bp2"])
    delegate = await a.authenticate(w.tokens["delegate"])
    for who in (bp1, bp2, delegate):
        await f.request(who, w.meeting_id)
    order = [delegate.subject, bp1.subject, bp2.subject]
    await f.reorder(chair, w.meeting_id, order)
    assert [e.subject for e in await f.entries(chair, w.meeting_id)] == order
    # A new request goes to the end; a grant leaves the others in their order.
    await f.grant(chair, w.meeting_id, bp1.subject)
    assert [e.subject for e in await f.entries(chair, w.meeting_id)] == [
        bp1.subject, delegate.subject, bp2.subject,
    ]  # fmt: skip
    for bad in ([delegate.subject], [delegate.subject, delegate.subject, bp2.subject]):
        with pytest.raises(ValidationError, match="every request"):
            await f.reorder(chair, w.meeting_id, bad)
    with pytest.raises(PermissionDenied):
        await f.reorder(delegate, w.meeting_id, [bp2.subject, delegate.subject])


async def test_an_operator_test_call_with_one_bridge_point(parts: Parts, world: World) -> None:
    w, a = world, parts.services.auth
    operator = await a.authenticate(w.tokens["operator"])
    bp1 = await a.authenticate(w.tokens["bp1"])
    call = await parts.services.meetings.open_test_call(operator, w.bridge_points["bp1"])
    assert call.state.value == "open" and call.chair_id == operator.id
    assert call.bridge_point_ids == (bp1.id,) and "bp1" in call.title
    await parts.services.floor.grant(operator, call.id, bp1.subject)
    # The bridge point sees it among its meetings; the operator ends it like any meeting.
    mine = await parts.services.meetings.list_meetings(bp1)
    assert call.id in [m.id for m in mine]
    ended = await parts.services.meetings.transition(operator, call.id, "end")
    assert ended.state.value == "ended"
    chair = await a.authenticate(w.tokens["chair"])
    with pytest.raises(PermissionDenied):  # a chair is not an operator
        await parts.services.meetings.open_test_call(chair, w.bridge_points["bp1"])
    with pytest.raises(NotFound):  # another district's bridge point
        await parts.services.meetings.open_test_call(operator, w.bridge_points["bp3"])
