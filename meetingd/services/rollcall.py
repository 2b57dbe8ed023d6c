"""Roll call ("điểm danh"): who is really there, counted at the start of a session.

The chair or the secretary starts a roll call; each invited bridge point answers with the
number of people in its room (a second answer replaces the first: the room filled up);
each invited delegate confirms their own presence (once; confirming again changes
nothing). Closing it computes and stores the result: per bridge point present or absent
with its count, per delegate present or absent, and whether the quorum is reached.

Quorum: when the meeting has invited delegates, more than half of them must have confirmed;
a meeting without delegates (a plain briefing of units) needs more than half of its invited
bridge points to have counted at least one person.
"""

from __future__ import annotations

import logging

from meetingd.clock import Clock
from meetingd.domain import (
    Meeting,
    Principal,
    Quorum,
    RollCall,
    RollCallBridgePoint,
    RollCallDelegate,
    RollCallResult,
    RollCallState,
)
from meetingd.errors import NotFound, StateError, ValidationError
from meetingd.events import RollCallAnswered, RollCallClosed, RollCallConfirmed, RollCallStarted
from meetingd.schemas import RollCallOut
from meetingd.services import authz
from meetingd.services.authz import HELD, Permission
from meetingd.store import Store, UnitOfWork
from meetingd.store.rollcalls import InvitedBridgePoint, InvitedDelegate

logger = logging.getLogger(__name__)

MAX_COUNT = 1000

QUORUM_DELEGATES = "more than half of the invited delegates confirmed their presence"
QUORUM_BRIDGE_POINTS = "more than half of the invited bridge points counted at least one person"
QUORUM_NOBODY = "nobody is invited"


def compute_result(
    rollcall: RollCall,
    bridge_points: list[InvitedBridgePoint],
    delegates: list[InvitedDelegate],
) -> RollCallResult:
    """The result of ``rollcall`` over the participants invited now."""
    counts = {a.bridge_point_id: a.count for a in rollcall.answers}
    confirmed = {c.user_id for c in rollcall.confirmations}
    bps = tuple(
        RollCallBridgePoint(
            id=b.id,
            name=b.name,
            unit_id=b.unit_id,
            unit_name=b.unit_name,
            present=counts.get(b.id, 0) > 0,
            count=counts.get(b.id),
        )
        for b in bridge_points
    )
    dels = tuple(
        RollCallDelegate(id=d.id, name=d.name, present=d.id in confirmed) for d in delegates
    )
    bps_present = sum(b.present for b in bps)
    dels_present = sum(d.present for d in dels)
    if dels:
        rule, base, present = QUORUM_DELEGATES, len(dels), dels_present
    elif bps:
        rule, base, present = QUORUM_BRIDGE_POINTS, len(bps), bps_present
    else:
        rule, base, present = QUORUM_NOBODY, 0, 0
    required = base // 2 + 1
    return RollCallResult(
        bridge_points=bps,
        delegates=dels,
        bridge_points_invited=len(bps),
        bridge_points_present=bps_present,
        people_at_bridge_points=sum(b.count or 0 for b in bps),
        delegates_invited=len(dels),
        delegates_present=dels_present,
        quorum=Quorum(
            rule=rule, required=required, present=present, reached=base > 0 and present >= required
        ),
    )


class RollCallService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def _held(
        self, uow: UnitOfWork, principal: Principal, meeting_id: int, need: Permission
    ) -> Meeting:
        return await authz.meeting_for(
            uow, principal, meeting_id, need=need, states=HELD, doing="a roll call", lock=True
        )

    async def _open(self, uow: UnitOfWork, meeting_id: int) -> RollCall:
        rollcall = await uow.rollcalls.latest(meeting_id)
        if rollcall is None or rollcall.state is not RollCallState.OPEN:
            raise StateError("no roll call is open in this meeting")
        return rollcall

    async def _reread(self, uow: UnitOfWork, meeting_id: int) -> RollCall:
        got = await uow.rollcalls.latest(meeting_id)
        assert got is not None
        return got

    async def current(self, principal: Principal, meeting_id: int) -> RollCall:
        """The open roll call, else the most recent one."""
        async with self._store.transaction() as uow:
            await authz.meeting_for(uow, principal, meeting_id)
            rollcall = await uow.rollcalls.latest(meeting_id)
        if rollcall is None:
            raise NotFound(f"meeting {meeting_id} has had no roll call", field="meeting_id")
        return rollcall

    async def start(self, principal: Principal, meeting_id: int) -> RollCall:
        """Start a roll call (chair or secretary; meeting open, live or paused)."""
        async with self._store.transaction() as uow:
            await self._held(uow, principal, meeting_id, Permission.MANAGE_MEETING)
            repo = uow.rollcalls
            latest = await repo.latest(meeting_id)
            if latest is not None and latest.state is RollCallState.OPEN:
                raise StateError(f"roll call {latest.id} is still open; close it first")
            await repo.add(meeting_id, principal.subject, self._clock.now())
            rollcall = await self._reread(uow, meeting_id)
            await uow.emit(meeting_id, RollCallStarted(rollcall=RollCallOut.of(rollcall)))
            logger.info(
                "roll call %s started in meeting %s by %s",
                rollcall.id,
                meeting_id,
                principal.subject,
            )
            return rollcall

    async def answer(self, principal: Principal, meeting_id: int, count: int) -> RollCall:
        """An invited bridge point answers how many people are in its room."""
        if not 0 <= count <= MAX_COUNT:
            raise ValidationError(f"count must be between 0 and {MAX_COUNT}", field="count")
        async with self._store.transaction() as uow:
            await self._held(uow, principal, meeting_id, Permission.ANSWER_ROLLCALL)
            rollcall = await self._open(uow, meeting_id)
            now = self._clock.now()
            await uow.rollcalls.answer(rollcall.id, principal.id, count, now)
            await uow.emit(
                meeting_id,
                RollCallAnswered(
                    rollcall_id=rollcall.id,
                    bridge_point_id=principal.id,
                    count=count,
                    answered_at=now,
                ),
            )
            return await self._reread(uow, meeting_id)

    async def confirm(self, principal: Principal, meeting_id: int) -> RollCall:
        """An invited delegate confirms their own presence (again: no change)."""
        async with self._store.transaction() as uow:
            await self._held(uow, principal, meeting_id, Permission.CONFIRM_ROLLCALL)
            rollcall = await self._open(uow, meeting_id)
            now = self._clock.now()
            if await uow.rollcalls.confirm(rollcall.id, principal.id, now):
                await uow.emit(
                    meeting_id,
                    RollCallConfirmed(
                        rollcall_id=rollcall.id, user_id=principal.id, confirmed_at=now
                    ),
                )
            return await self._reread(uow, meeting_id)

    async def close(self, principal: Principal, meeting_id: int) -> RollCall:
        """Close the open roll call and store its result (chair or secretary)."""
        async with self._store.transaction() as uow:
            await self._held(uow, principal, meeting_id, Permission.MANAGE_MEETING)
            rollcall = await self._open(uow, meeting_id)
            repo = uow.rollcalls
            result = compute_result(
                rollcall,
                await repo.invited_bridge_points(meeting_id),
                await repo.invited_delegates(meeting_id),
            )
            await repo.close(rollcall.id, principal.subject, self._clock.now(), result)
            closed = await self._reread(uow, meeting_id)
            await uow.emit(meeting_id, RollCallClosed(rollcall=RollCallOut.of(closed)))
            logger.info(
                "roll call %s closed in meeting %s: quorum %s (%s of %s)",
                rollcall.id,
                meeting_id,
                "reached" if result.quorum.reached else "not reached",
                result.quorum.present,
                result.quorum.required,
            )
            return closed
