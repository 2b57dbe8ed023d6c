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
