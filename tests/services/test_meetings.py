"""MeetingService: the lifecycle state machine, the agenda, invitations, events and audit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meetingd.app import Parts
from meetingd.domain import AgendaItemState, MeetingState, Principal, Role
from meetingd.errors import NotFound, PermissionDenied, StateError, ValidationError
from meetingd.services.meetings import TRANSITIONS
from tests.api.worlds import PATH_TO, fresh_meeting
from tests.conftest import PASSWORD, World

#: Every command from every state, by hand: the state it leads to, or None if refused.
LIFECYCLE: dict[str, dict[str, str | None]] = {
    #            schedule     unschedule  open    start   pause     resume  end
    "draft":     {"schedule": "scheduled", "unschedule": None, "open": "open", "start": None,
                  "pause": None, "resume": None, "end": None},
    "scheduled": {"schedule": None, "unschedule": "draft", "open": "open", "start": "live",
                  "pause": None, "resume": None, "end": None},
    "open":      {"schedule": None, "unschedule": None, "open": None, "start": "live",
                  "pause": None, "resume": None, "end": "ended"},
    "live":      {"schedule": None, "unschedule": None, "open": None, "start": None,
                  "pause": "paused", "resume": None, "end": "ended"},
    "paused":    {"schedule": None, "unschedule": None, "open": None, "start": None,
                  "pause": None, "resume": "live", "end": "ended"},
    "ended":     {"schedule": None, "unschedule": None, "open": None, "start": None,
                  "pause": None, "resume": None, "end": None},
}  # fmt: skip
EVENTS = {
    "schedule": "meeting.scheduled",
    "unschedule": "meeting.unscheduled",
    "open": "meeting.opened",
    "start": "meeting.started",
    "pause": "meeting.paused",
    "resume": "meeting.resumed",
    "end": "meeting.ended",
}


async def who(parts: Parts, w: World, name: str) -> Principal:
    return await parts.services.auth.authenticate(w.tokens[name])


def test_the_table_covers_every_state_and_command() -> None:
    assert set(LIFECYCLE) == {s.value for s in MeetingState} == set(PATH_TO)
    for row in LIFECYCLE.values():
        assert set(row) == set(TRANSITIONS) == set(EVENTS)


@pytest.mark.parametrize("state", list(LIFECYCLE))
async def test_every_transition_from(parts: Parts, world: World, state: str) -> None:
    m = parts.services.meetings
    chair = await who(parts, world, "chair")
    for command, target in LIFECYCLE[state].items():
        ref = await fresh_meeting(parts, world, "own", state)
        before = await m.get(chair, ref.id)
        assert before.state.value == state
        if target is None:
            with pytest.raises(StateError, match=state):
                await m.transition(chair, ref.id, command)
            after = await m.get(chair, ref.id)
            assert (after.state, after.seq) == (before.state, before.seq), command
            continue
        done = await m.transition(chair, ref.id, command)
        assert done.state.value == target, command
        async with parts.store.transaction() as uow:
            events = await uow.events.after(ref.id, before.seq, 10)
            audit = await uow.audit.for_subject(f"meeting:{ref.id}")
        assert [(e.seq, e.type) for e in events] == [(before.seq + 1, EVENTS[command])]
        assert events[0].data == {
            "state": target,
            "previous_state": state,
            "by": f"user:{chair.id}",
        }
        assert audit[-1][1:] == (f"user:{chair.id}", EVENTS[command])


async def test_an_unknown_command_is_refused(parts: Parts, world: World) -> None:
    with pytest.raises(ValidationError):
        await parts.services.meetings.transition(
            await who(parts, world, "chair"), world.meeting_id, "explode"
        )


# -- creating and changing ---------------------------------------------------------------------


async def test_create_checks_times_and_officers(parts: Parts, world: World) -> None:
    m = parts.services.meetings
    sec = await who(parts, world, "secretary")
    start = parts.clock.now() + timedelta(days=2)
    common = {"unit_id": world.units["D1"], "title": "Họp", "description": ""}
    for ends_at in (start, start - timedelta(minutes=1)):
        with pytest.raises(ValidationError) as exc:
            await m.create(sec, **common, starts_at=start, ends_at=ends_at, chair_id=None,
                           secretary_id=None)  # fmt: skip
        assert exc.value.field == "ends_at"
    wrong = [("chair_id", "chair_d2"), ("chair_id", "delegate"), ("secretary_id", "chair")]
    for field, uid in wrong:
        with pytest.raises(ValidationError) as exc:
            await m.create(sec, **common, starts_at=start, ends_at=None,
                           **{"chair_id": None, "secretary_id": None,
                              field: world.users[uid]})  # fmt: skip
        assert exc.value.field == field
    # A chair of the province may chair a meeting of a district below it.
    admin = await who(parts, world, "admin")
    boss = await parts.services.directory.create_user(
        admin, login="chu.tich", display_name="Chủ Tịch", password=PASSWORD,
        grants=[(world.units["P"], Role.CHAIR)],
    )  # fmt: skip
    made = await m.create(sec, **common, starts_at=start, ends_at=None, chair_id=boss.id,
                          secretary_id=world.users["secretary"])  # fmt: skip
    assert (made.state, made.chair_id, made.seq) == (MeetingState.DRAFT, boss.id, 1)
    # Created by someone who cannot chair here: an operator.
    with pytest.raises(PermissionDenied):
        await m.create(await who(parts, world, "operator"), **common, starts_at=start,
                       ends_at=None, chair_id=None, secretary_id=None)  # fmt: skip


async def test_update_keeps_times_in_order(parts: Parts, world: World) -> None:
    from meetingd.services.meetings import MeetingChanges

    m = parts.services.meetings
    chair = await who(parts, world, "chair")
    meeting = await m.get(chair, world.meeting_id)
    with pytest.raises(ValidationError) as exc:
        await m.update(chair, meeting.id, MeetingChanges(ends_at=meeting.starts_at))
    assert exc.value.field == "ends_at"
    later = meeting.starts_at + timedelta(hours=3)
    await m.update(chair, meeting.id, MeetingChanges(ends_at=later))
    with pytest.raises(ValidationError) as exc:  # the start may not move past the end
        await m.update(chair, meeting.id, MeetingChanges(starts_at=later + timedelta(hours=1)))
    assert exc.value.field == "ends_at"
    got = await m.get(chair, meeting.id)
    assert got.ends_at == later and got.starts_at == meeting.starts_at
    with pytest.raises(ValidationError):
        await m.update(chair, meeting.id, MeetingChanges())


# -- agenda ---------------------------------------------------------------------------------


async def titles(parts: Parts, chair: Principal, meeting_id: int) -> list[str]:
    meeting = await parts.services.meetings.get(chair, meeting_id)
    return [a.title for a in meeting.agenda]


async def test_agenda_add_update_reorder_remove(parts: Parts, world: World) -> None:
    m = parts.services.meetings
    chair = await who(parts, world, "chair")
    mid = world.meeting_id
    a, b, c = world.agenda_ids
    item = await m.add_agenda_item(chair, mid, title="Bế mạc", description="", duration_minutes=5)
    assert item.position == 4 and item.state is AgendaItemState.PENDING
    assert await titles(parts, chair, mid) == ["Khai mạc", "Báo cáo", "Kết luận", "Bế mạc"]

    got = await m.update_agenda_item(chair, mid, b, title="Báo cáo tổng hợp", description=None,
                                     duration_minutes=25, state=None)  # fmt: skip
    assert (got.title, got.duration_minutes) == ("Báo cáo tổng hợp", 25)
    skipped = AgendaItemState.SKIPPED
    got = await m.update_agenda_item(chair, mid, c, title=None, description=None,
                                     duration_minutes=None, state=skipped)  # fmt: skip
    assert got.state is AgendaItemState.SKIPPED
    with pytest.raises(ValidationError):
        await m.update_agenda_item(chair, mid, c, title=None, description=None,
                                   duration_minutes=None, state=None)  # fmt: skip

    await m.reorder_agenda(chair, mid, [item.id, c, a, b])
    assert await titles(parts, chair, mid) == ["Bế mạc", "Kết luận", "Khai mạc", "Báo cáo tổng hợp"]
    meeting = await m.get(chair, mid)
    assert [x.position for x in meeting.agenda] == [1, 2, 3, 4]
    for bad in ([a, b, c], [a, b, c, item.id, a], [a, b, c, 999_999]):
        with pytest.raises(ValidationError):
            await m.reorder_agenda(chair, mid, bad)

    await m.remove_agenda_item(chair, mid, c)
    assert await titles(parts, chair, mid) == ["Bế mạc", "Khai mạc", "Báo cáo tổng hợp"]
    with pytest.raises(NotFound):
        await m.remove_agenda_item(chair, mid, c)
    # A new item goes to the end, after the reordered ones.
    last = await m.add_agenda_item(chair, mid, title="Thêm", description="", duration_minutes=None)
    assert (await titles(parts, chair, mid))[-1] == "Thêm" and last.position == 5

    async with parts.store.transaction() as uow:
        types = [e.type for e in await uow.events.after(mid, 0, 100)]
    assert types[-6:] == [
        "agenda.item_added",
        "agenda.item_updated",
        "agenda.item_updated",
        "agenda.reordered",
        "agenda.item_removed",
        "agenda.item_added",
    ]


async def test_move_to_item(parts: Parts, world: World) -> None:
    m = parts.services.meetings
    chair = await who(parts, world, "chair")
    ref = await fresh_meeting(parts, world, "own", "draft", items=3)
    one, two, three = ref.items
    with pytest.raises(StateError, match="draft"):
        await m.move_to_item(chair, ref.id, one)
    await m.transition(chair, ref.id, "open")
    got = await m.move_to_item(chair, ref.id, one)
    assert got.current_agenda_item_id == one
    assert [a.state for a in got.agenda] == [AgendaItemState.ACTIVE, AgendaItemState.PENDING,
                                             AgendaItemState.PENDING]  # fmt: skip
    with pytest.raises(StateError):
        await m.move_to_item(chair, ref.id, one)
    got = await m.move_to_item(chair, ref.id, three)
    assert [a.state for a in got.agenda] == [AgendaItemState.DONE, AgendaItemState.PENDING,
                                             AgendaItemState.ACTIVE]  # fmt: skip
    with pytest.raises(StateError):  # the current item stays
        await m.remove_agenda_item(chair, ref.id, three)
    with pytest.raises(ValidationError) as exc:  # active only by moving to it
        await m.update_agenda_item(chair, ref.id, two, title=None, description=None,
                                   duration_minutes=None, state=AgendaItemState.ACTIVE)  # fmt: skip
    assert exc.value.field == "state"
    with pytest.raises(NotFound):
        await m.move_to_item(chair, ref.id, world.agenda_ids[0])  # another meeting's item
    await m.transition(chair, ref.id, "end")
    ended = await m.get(chair, ref.id)
    assert [a.state for a in ended.agenda] == [AgendaItemState.DONE, AgendaItemState.PENDING,
                                               AgendaItemState.DONE]  # fmt: skip


# -- invitations --------------------------------------------------------------------------------


async def test_bridge_points_come_from_the_meeting_units_subtree(
    parts: Parts, world: World
) -> None:
    m = parts.services.meetings
    admin = await who(parts, world, "admin")
    chair = await who(parts, world, "chair")
    start = parts.clock.now() + timedelta(days=1)
    bp = world.bridge_points
    # (creator, unit) -> which bridge points may be invited, by hand
    cases = [
        (admin, "P", {"bp1", "bp2", "bp3"}),
        (chair, "D1", {"bp1", "bp2"}),
        (chair, "C1", {"bp1"}),
        (admin, "C3", {"bp3"}),
    ]
    for creator, unit, allowed in cases:
        meeting = await m.create(creator, unit_id=world.units[unit], title="Họp", description="",
                                 starts_at=start, ends_at=None, chair_id=None,
                                 secretary_id=None)  # fmt: skip
        for name in ("bp1", "bp2", "bp3"):
            if name in allowed:
                got = await m.invite_bridge_points(creator, meeting.id, [bp[name]])
                assert bp[name] in got.bridge_point_ids
            else:
                with pytest.raises(ValidationError) as exc:
                    await m.invite_bridge_points(creator, meeting.id, [bp[name]])
                assert exc.value.field == "ids", (unit, name)
        got = await m.get(creator, meeting.id)
        assert set(got.bridge_point_ids) == {bp[n] for n in allowed}, unit


async def test_delegates_belong_to_the_meeting_unit_or_above(parts: Parts, world: World) -> None:
    m = parts.services.meetings
    chair = await who(parts, world, "chair")
    mid = world.meeting_id
    for ok in ("delegate", "chair", "operator"):
        got = await m.invite_delegates(chair, mid, [world.users[ok]])
        assert world.users[ok] in got.delegate_ids
    for bad in ("delegate_other", "chair_d2", "admin"):  # other district; no grant at all
        with pytest.raises(ValidationError):
            await m.invite_delegates(chair, mid, [world.users[bad]])
    with pytest.raises(ValidationError):
        await m.invite_delegates(chair, mid, [999_999])


async def test_invitations_are_idempotent_and_withdrawable(parts: Parts, world: World) -> None:
    m = parts.services.meetings
    chair = await who(parts, world, "chair")
    mid = world.meeting_id
    before = (await m.get(chair, mid)).seq
    again = await m.invite_bridge_points(chair, mid, [world.bridge_points["bp1"]] * 2)
    assert again.seq == before  # nothing new, no event
    got = await m.uninvite_bridge_point(chair, mid, world.bridge_points["bp1"])
    assert world.bridge_points["bp1"] not in got.bridge_point_ids and got.seq == before + 1
    with pytest.raises(NotFound):
        await m.uninvite_bridge_point(chair, mid, world.bridge_points["bp1"])
    got = await m.uninvite_delegate(chair, mid, world.users["delegate"])
    assert got.delegate_ids == ()
    with pytest.raises(NotFound):  # no longer invited: the meeting is not theirs to see
        await m.get(await who(parts, world, "delegate"), mid)
    with pytest.raises(NotFound):
        await m.get(await who(parts, world, "bp1"), mid)


# -- events and audit ------------------------------------------------------------------------


async def test_event_seq_goes_up_by_one_with_every_change(parts: Parts, world: World) -> None:
    m = parts.services.meetings
    chair = await who(parts, world, "chair")
    ref = await fresh_meeting(parts, world, "own", "live", items=2)
    await m.move_to_item(chair, ref.id, ref.items[0])
    await m.add_agenda_item(chair, ref.id, title="x", description="", duration_minutes=None)
    await m.transition(chair, ref.id, "pause")
    async with parts.store.transaction() as uow:
        events = await uow.events.after(ref.id, 0, 1000)
        assert await uow.events.oldest_seq(ref.id) == 1
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert (await m.get(chair, ref.id)).seq == seqs[-1]
    assert events[0].type == "meeting.created"
    # Another meeting's stream counts on its own.
    async with parts.store.transaction() as uow:
        other = [e.seq for e in await uow.events.after(world.meeting_id, 0, 1000)]
    assert other == list(range(1, len(other) + 1))


async def test_changes_are_audited(parts: Parts, world: World) -> None:
    m = parts.services.meetings
    chair = await who(parts, world, "chair")
    from meetingd.services.meetings import MeetingChanges

    await m.update(chair, world.meeting_id, MeetingChanges(title="Giao ban quý IV"))
    async with parts.store.transaction() as uow:
        rows = await uow.audit.for_subject(f"meeting:{world.meeting_id}")
        units = await uow.audit.for_subject(f"unit:{world.units['C1']}")
        users = await uow.audit.for_subject(f"user:{world.users['chair']}")
    # Every decision about the meeting, by the unit of work, in its actor's name.
    assert [(actor, action) for _, actor, action in rows] == [
        (f"user:{chair.id}", "meeting.created"),
        (f"user:{chair.id}", "agenda.item_added"),
        (f"user:{chair.id}", "agenda.item_added"),
        (f"user:{chair.id}", "agenda.item_added"),
        (f"user:{chair.id}", "meeting.bridge_points_invited"),
        (f"user:{chair.id}", "meeting.delegates_invited"),
        (f"user:{chair.id}", "meeting.updated"),
    ]
    assert [(actor, action) for _, actor, action in units] == [("cli", "unit.created")]
    assert [(actor, action) for _, actor, action in users] == [("cli", "user.created")]
    assert all(at == parts.clock.now() for at, _, _ in rows)
