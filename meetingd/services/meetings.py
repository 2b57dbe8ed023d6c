"""Meetings: creation, invitations, agenda, and the lifecycle state machine.

Every change appends an event to the meeting's stream (published after commit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from meetingd import events as ev
from meetingd.clock import Clock
from meetingd.domain import AgendaItem, AgendaItemState, Meeting, MeetingState, Principal, Role
from meetingd.errors import NotFound, StateError, ValidationError
from meetingd.schemas import AgendaItemOut, MeetingOut
from meetingd.services import authz
from meetingd.services.authz import HELD, Permission
from meetingd.services.floor import end_all_speeches
from meetingd.services.votes import VoteService
from meetingd.store import Store, UnitOfWork

logger = logging.getLogger(__name__)

S = MeetingState


@dataclass(frozen=True, slots=True)
class Transition:
    name: str  # command verb: meeting.<name>
    event: type[ev.MeetingStateChanged]
    sources: frozenset[MeetingState]
    target: MeetingState


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition("schedule", ev.MeetingScheduled, frozenset({S.DRAFT}), S.SCHEDULED),
        Transition("unschedule", ev.MeetingUnscheduled, frozenset({S.SCHEDULED}), S.DRAFT),
        Transition("open", ev.MeetingOpened, frozenset({S.DRAFT, S.SCHEDULED}), S.OPEN),
        Transition("start", ev.MeetingStarted, frozenset({S.SCHEDULED, S.OPEN}), S.LIVE),
        Transition("pause", ev.MeetingPaused, frozenset({S.LIVE}), S.PAUSED),
        Transition("resume", ev.MeetingResumed, frozenset({S.PAUSED}), S.LIVE),
        Transition("end", ev.MeetingEnded, frozenset({S.OPEN, S.LIVE, S.PAUSED}), S.ENDED),
    )
}

EDITABLE = frozenset({S.DRAFT, S.SCHEDULED, S.OPEN, S.LIVE, S.PAUSED})


@dataclass(frozen=True, slots=True)
class MeetingChanges:
    title: str | None = None
    description: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    chair_id: int | None = None
    secretary_id: int | None = None


class MeetingService:
    def __init__(self, store: Store, clock: Clock, votes: VoteService | None = None) -> None:
        self._store = store
        self._clock = clock
        #: Closes the votes still open when a meeting ends (with their results).
        self._votes = votes

    # -- reading --------------------------------------------------------------------

    async def _manage(
        self,
        uow: UnitOfWork,
        principal: Principal,
        meeting_id: int,
        states: frozenset[MeetingState] | None = EDITABLE,
        doing: str = "changing the meeting",
    ) -> Meeting:
        return await authz.meeting_for(
            uow,
            principal,
            meeting_id,
            need=Permission.MANAGE_MEETING,
            states=states,
            doing=doing,
            lock=True,
        )

    async def get(self, principal: Principal, meeting_id: int) -> Meeting:
        async with self._store.transaction() as uow:
            return await authz.meeting_for(uow, principal, meeting_id)

    async def list_meetings(
        self,
        principal: Principal,
        *,
        state: MeetingState | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[Meeting]:
        """Meetings the caller takes part in or oversees."""
        async with self._store.transaction() as uow:
            if principal.kind == "bridge_point":
                return await uow.meetings.find(
                    within_paths=None,
                    bridge_point_id=principal.id,
                    state=state,
                    limit=limit,
                    offset=offset,
                )
            paths = authz.paths_with(principal, Role.CHAIR, Role.SECRETARY, Role.OPERATOR)
            return await uow.meetings.find(
                within_paths=paths,
                user_id=None if paths is None else principal.id,
                state=state,
                limit=limit,
                offset=offset,
            )

    # -- creating and changing ----------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        *,
        unit_id: int,
        title: str,
        description: str,
        starts_at: datetime,
        ends_at: datetime | None,
        chair_id: int | None,
        secretary_id: int | None,
    ) -> Meeting:
        authz.require_user(principal)
        async with self._store.transaction() as uow:
            uow.actor = principal.subject
            unit = await uow.units.get(unit_id)
            if unit is None or not authz.can_see_unit(principal, unit.path):
                raise NotFound(f"unit {unit_id} does not exist", field="unit_id")
            authz.require_role(
                principal, unit.path, Role.CHAIR, Role.SECRETARY, what="creating a meeting"
            )
            _check_times(starts_at, ends_at)
            await self._check_officer(uow, unit.path, chair_id, Role.CHAIR, "chair_id")
            await self._check_officer(uow, unit.path, secretary_id, Role.SECRETARY, "secretary_id")
            meeting_id = await uow.meetings.add(
                unit_id=unit_id,
                title=title,
                description=description,
                starts_at=starts_at,
                ends_at=ends_at,
                chair_id=chair_id,
                secretary_id=secretary_id,
                created_by=principal.id,
                now=self._clock.now(),
            )
            meeting = await self._emit_meeting(uow, meeting_id, ev.MeetingCreated)
            return meeting

    async def open_test_call(self, principal: Principal, bridge_point_id: int) -> Meeting:
        """An operator's test call with one bridge point before a meeting: a meeting of the
        point's unit, chaired by the operator, with the point invited, already open (media
        flows). The operator ends it like any meeting."""
        async with self._store.transaction() as uow:
            uow.actor = principal.subject
            bp = await uow.bridge_points.get(bridge_point_id)
            staff = (Role.OPERATOR, Role.CHAIR, Role.SECRETARY)
            if bp is None or not principal.has_role(bp.unit_path, *staff):
                raise NotFound(
                    f"bridge point {bridge_point_id} does not exist", field="bridge_point_id"
                )
            authz.require_role(principal, bp.unit_path, Role.OPERATOR, what="a test call")
            if bp.disabled:
                raise StateError(f"bridge point {bridge_point_id} is disabled")
            now = self._clock.now()
            meeting_id = await uow.meetings.add(
                unit_id=bp.unit_id,
                title=f"Gọi thử: {bp.name}",
                description="Kiểm tra hình ảnh, âm thanh và đường truyền trước cuộc họp",
                starts_at=now,
                ends_at=None,
                chair_id=principal.id,
                secretary_id=None,
                created_by=principal.id,
                now=now,
            )
            await self._emit_meeting(uow, meeting_id, ev.MeetingCreated)
            await uow.meetings.invite_bridge_points(meeting_id, [bridge_point_id])
            await uow.emit(meeting_id, ev.BridgePointsInvited(bridge_point_ids=[bridge_point_id]))
            await uow.meetings.update(meeting_id, now, state=S.OPEN.value)
            await uow.emit(
                meeting_id,
                ev.MeetingOpened(state="open", previous_state="draft", by=principal.subject),
            )
            got = await uow.meetings.get(meeting_id)
            assert got is not None
            return got

    async def update(
        self, principal: Principal, meeting_id: int, changes: MeetingChanges
    ) -> Meeting:
        async with self._store.transaction() as uow:
            meeting = await self._manage(uow, principal, meeting_id)
            values = {k: v for k, v in vars_of(changes).items() if v is not None}
            if not values:
                raise ValidationError("nothing to change: give at least one field")
            _check_times(
                changes.starts_at or meeting.starts_at,
                changes.ends_at if changes.ends_at is not None else meeting.ends_at,
            )
            await self._check_officer(
                uow, meeting.unit_path, changes.chair_id, Role.CHAIR, "chair_id"
            )
            await self._check_officer(
                uow, meeting.unit_path, changes.secretary_id, Role.SECRETARY, "secretary_id"
            )
            await uow.meetings.update(meeting_id, self._clock.now(), **values)
            return await self._emit_meeting(uow, meeting_id, ev.MeetingUpdated)

    async def transition(self, principal: Principal, meeting_id: int, name: str) -> Meeting:
        """Apply a lifecycle command (schedule, open, start, pause, resume, end)."""
        t = TRANSITIONS.get(name)
        if t is None:
            raise ValidationError(f"unknown meeting command {name!r}", field="command")
        async with self._store.transaction() as uow:
            meeting = await self._manage(uow, principal, meeting_id, states=None)
            if meeting.state not in t.sources:
                allowed = ", ".join(sorted(s.value for s in t.sources))
                raise StateError(
                    f"cannot {name} a meeting that is {meeting.state.value} (only when {allowed})"
                )
            values: dict[str, object] = {"state": t.target.value}
            now = self._clock.now()
            if t.target is S.ENDED and meeting.current_agenda_item_id is not None:
                await uow.meetings.update_agenda_item(
                    meeting.current_agenda_item_id, state=AgendaItemState.DONE.value
                )
            if t.target is S.ENDED:
                await end_all_speeches(uow, meeting_id, now, principal.subject)
                if self._votes is not None:
                    await self._votes.close_all(uow, meeting_id, principal.subject)
            await uow.meetings.update(meeting_id, now, **values)
            await uow.emit(
                meeting_id,
                t.event(
                    state=t.target.value,
                    previous_state=meeting.state.value,
                    by=principal.subject,
                ),
            )
            got = await uow.meetings.get(meeting_id)
            assert got is not None
            return got

    async def move_to_item(self, principal: Principal, meeting_id: int, item_id: int) -> Meeting:
        """Make ``item_id`` the current agenda item; the previous one is marked done."""
        async with self._store.transaction() as uow:
            meeting = await self._manage(uow, principal, meeting_id, HELD, "moving on the agenda")
            item = await uow.meetings.get_agenda_item(meeting_id, item_id)
            if item is None:
                raise NotFound(
                    f"agenda item {item_id} is not in meeting {meeting_id}", field="item_id"
                )
            previous = meeting.current_agenda_item_id
            if previous == item_id:
                raise StateError(f"agenda item {item_id} is already the current item")
            if previous is not None:
                await uow.meetings.update_agenda_item(previous, state=AgendaItemState.DONE.value)
            await uow.meetings.update_agenda_item(item_id, state=AgendaItemState.ACTIVE.value)
            await uow.meetings.update(meeting_id, self._clock.now(), current_agenda_item_id=item_id)
            await uow.emit(meeting_id, ev.AgendaMoved(item_id=item_id, previous_item_id=previous))
            got = await uow.meetings.get(meeting_id)
            assert got is not None
            return got

    # -- invitations --------------------------------------------------------------------

    async def invite_bridge_points(
        self, principal: Principal, meeting_id: int, ids: list[int]
    ) -> Meeting:
        async with self._store.transaction() as uow:
            meeting = await self._manage(uow, principal, meeting_id, doing="inviting")
            found = {bp.id: bp for bp in await uow.bridge_points.get_many(ids)}
            for bp_id in ids:
                bp = found.get(bp_id)
                if bp is None or not bp.unit_path.startswith(meeting.unit_path):
                    raise ValidationError(
                        f"ids: bridge point {bp_id} does not exist in this meeting's unit",
                        field="ids",
                    )
            new = await uow.meetings.invite_bridge_points(meeting_id, ids)
            if new:
                await uow.emit(meeting_id, ev.BridgePointsInvited(bridge_point_ids=new))
            got = await uow.meetings.get(meeting_id)
            assert got is not None
            return got

    async def uninvite_bridge_point(
        self, principal: Principal, meeting_id: int, bp_id: int
    ) -> Meeting:
        async with self._store.transaction() as uow:
            await self._manage(uow, principal, meeting_id, doing="uninviting")
            if not await uow.meetings.uninvite_bridge_point(meeting_id, bp_id):
                raise NotFound(f"bridge point {bp_id} is not invited", field="bridge_point_id")
            await uow.emit(meeting_id, ev.BridgePointUninvited(bridge_point_id=bp_id))
            got = await uow.meetings.get(meeting_id)
            assert got is not None
            return got

    async def invite_delegates(
        self, principal: Principal, meeting_id: int, ids: list[int]
    ) -> Meeting:
        async with self._store.transaction() as uow:
            meeting = await self._manage(uow, principal, meeting_id, doing="inviting")
            users = {u.id: u for u in await uow.users.get_many(ids)}
            for uid in ids:
                u = users.get(uid)
                if (
                    u is None
                    or u.disabled
                    or not any(
                        g.unit_path.startswith(meeting.unit_path)
                        or meeting.unit_path.startswith(g.unit_path)
                        for g in u.grants
                    )
                ):
                    raise ValidationError(
                        f"ids: user {uid} does not exist or belongs to no unit of this meeting",
                        field="ids",
                    )
            new = await uow.meetings.invite_delegates(meeting_id, ids)
            if new:
                await uow.emit(meeting_id, ev.DelegatesInvited(user_ids=new))
            got = await uow.meetings.get(meeting_id)
            assert got is not None
            return got

    async def uninvite_delegate(
        self, principal: Principal, meeting_id: int, user_id: int
    ) -> Meeting:
        async with self._store.transaction() as uow:
            await self._manage(uow, principal, meeting_id, doing="uninviting")
            if not await uow.meetings.uninvite_delegate(meeting_id, user_id):
                raise NotFound(f"user {user_id} is not invited", field="user_id")
            await uow.emit(meeting_id, ev.DelegateUninvited(user_id=user_id))
            got = await uow.meetings.get(meeting_id)
            assert got is not None
            return got

    # -- agenda ----------------------------------------------------------------------------

    async def add_agenda_item(
        self,
        principal: Principal,
        meeting_id: int,
        *,
        title: str,
        description: str,
        duration_minutes: int | None,
    ) -> AgendaItem:
        async with self._store.transaction() as uow:
            await self._manage(uow, principal, meeting_id, doing="changing the agenda")
            item = await uow.meetings.add_agenda_item(
                meeting_id, title=title, description=description, duration_minutes=duration_minutes
            )
            await uow.emit(meeting_id, ev.AgendaItemAdded(item=AgendaItemOut.of(item)))
            return item

    async def update_agenda_item(
        self,
        principal: Principal,
        meeting_id: int,
        item_id: int,
        *,
        title: str | None,
        description: str | None,
        duration_minutes: int | None,
        state: AgendaItemState | None,
    ) -> AgendaItem:
        async with self._store.transaction() as uow:
            meeting = await self._manage(uow, principal, meeting_id, doing="changing the agenda")
            item = await uow.meetings.get_agenda_item(meeting_id, item_id)
            if item is None:
                raise NotFound(
                    f"agenda item {item_id} is not in meeting {meeting_id}", field="item_id"
                )
            values: dict[str, object] = {
                k: v
                for k, v in (
                    ("title", title),
                    ("description", description),
                    ("duration_minutes", duration_minutes),
                    ("state", state.value if state else None),
                )
                if v is not None
            }
            if not values:
                raise ValidationError("nothing to change: give at least one field")
            if state is AgendaItemState.ACTIVE and meeting.current_agenda_item_id != item_id:
                raise ValidationError(
                    "state: an item becomes active only by moving to it on the agenda "
                    "(move_to_item)",
                    field="state",
                )
            await uow.meetings.update_agenda_item(item_id, **values)
            got = await uow.meetings.get_agenda_item(meeting_id, item_id)
            assert got is not None
            await uow.emit(meeting_id, ev.AgendaItemUpdated(item=AgendaItemOut.of(got)))
            return got

    async def remove_agenda_item(self, principal: Principal, meeting_id: int, item_id: int) -> None:
        async with self._store.transaction() as uow:
            meeting = await self._manage(uow, principal, meeting_id, doing="changing the agenda")
            if await uow.meetings.get_agenda_item(meeting_id, item_id) is None:
                raise NotFound(
                    f"agenda item {item_id} is not in meeting {meeting_id}", field="item_id"
                )
            if meeting.current_agenda_item_id == item_id:
                raise StateError("the current agenda item cannot be removed; move on first")
            await uow.meetings.delete_agenda_item(item_id)
            await uow.emit(meeting_id, ev.AgendaItemRemoved(item_id=item_id))

    async def reorder_agenda(
        self, principal: Principal, meeting_id: int, ids: list[int]
    ) -> Meeting:
        async with self._store.transaction() as uow:
            meeting = await self._manage(uow, principal, meeting_id, doing="changing the agenda")
            have = [a.id for a in meeting.agenda]
            if sorted(ids) != sorted(have) or len(set(ids)) != len(ids):
                raise ValidationError(
                    "ids must list every agenda item of the meeting exactly once", field="ids"
                )
            await uow.meetings.reorder_agenda(meeting_id, ids)
            await uow.emit(meeting_id, ev.AgendaReordered(item_ids=ids))
            got = await uow.meetings.get(meeting_id)
            assert got is not None
            return got

    # -- helpers -------------------------------------------------------------------------

    async def _check_officer(
        self, uow: UnitOfWork, unit_path: str, user_id: int | None, role: Role, field: str
    ) -> None:
        if user_id is None:
            return
        user = await uow.users.get(user_id)
        if (
            user is None
            or user.disabled
            or not (
                user.is_admin
                or any(g.role is role and unit_path.startswith(g.unit_path) for g in user.grants)
            )
        ):
            raise ValidationError(
                f"{field}: user {user_id} does not exist or has no {role.value} role for this unit",
                field=field,
            )

    async def _emit_meeting(
        self,
        uow: UnitOfWork,
        meeting_id: int,
        event: type[ev.MeetingCreated] | type[ev.MeetingUpdated],
    ) -> Meeting:
        meeting = await uow.meetings.get(meeting_id)
        assert meeting is not None
        logged = await uow.emit(meeting_id, event(meeting=MeetingOut.of(meeting)))
        return _with_seq(meeting, logged.seq)


def vars_of(changes: MeetingChanges) -> dict[str, object]:
    return {f: getattr(changes, f) for f in MeetingChanges.__slots__}


def _with_seq(meeting: Meeting, seq: int) -> Meeting:
    from dataclasses import replace

    return replace(meeting, seq=seq)


def _check_times(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at <= starts_at:
        raise ValidationError("ends_at must be after starts_at", field="ends_at")
