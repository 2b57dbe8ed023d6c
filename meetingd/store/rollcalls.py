"""Roll calls ("điểm danh"): answers of bridge points, confirmations of delegates, results."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.domain import (
    Quorum,
    RollCall,
    RollCallAnswer,
    RollCallBridgePoint,
    RollCallConfirmation,
    RollCallDelegate,
    RollCallResult,
    RollCallState,
)
from meetingd.store.models import (
    BridgePointRow,
    MeetingBridgePointRow,
    MeetingDelegateRow,
    RollCallAnswerRow,
    RollCallConfirmationRow,
    RollCallRow,
    UnitRow,
    UserRow,
)


@dataclasses.dataclass(frozen=True, slots=True)
class InvitedBridgePoint:
    id: int
    name: str
    unit_id: int
    unit_name: str


@dataclasses.dataclass(frozen=True, slots=True)
class InvitedDelegate:
    id: int
    name: str


def result_to_json(result: RollCallResult) -> dict[str, object]:
    data: dict[str, object] = dataclasses.asdict(result)
    return data


def result_from_json(data: dict[str, Any]) -> RollCallResult:
    return RollCallResult(
        bridge_points=tuple(RollCallBridgePoint(**b) for b in data["bridge_points"]),
        delegates=tuple(RollCallDelegate(**d) for d in data["delegates"]),
        bridge_points_invited=data["bridge_points_invited"],
        bridge_points_present=data["bridge_points_present"],
        people_at_bridge_points=data["people_at_bridge_points"],
        delegates_invited=data["delegates_invited"],
        delegates_present=data["delegates_present"],
        quorum=Quorum(**data["quorum"]),
    )


class RollCallRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, meeting_id: int, started_by: str, now: datetime) -> int:
        row = RollCallRow(
            meeting_id=meeting_id,
            state=RollCallState.OPEN.value,
            started_at=now,
            started_by=started_by,
        )
        self._s.add(row)
        await self._s.flush()
        return row.id

    async def latest(self, meeting_id: int) -> RollCall | None:
        """The meeting's open roll call, else its most recent one."""
        row = (
            await self._s.execute(
                select(RollCallRow)
                .where(RollCallRow.meeting_id == meeting_id)
                .order_by(RollCallRow.id.desc())
                .limit(1)
                .execution_options(populate_existing=True)
            )
        ).scalar()
        if row is None:
            return None
        answers = tuple(
            RollCallAnswer(
                bridge_point_id=a.bridge_point_id, count=a.count, answered_at=a.answered_at
            )
            for a in (
                await self._s.execute(
                    select(RollCallAnswerRow)
                    .where(RollCallAnswerRow.rollcall_id == row.id)
                    .order_by(RollCallAnswerRow.bridge_point_id)
                    .execution_options(populate_existing=True)
                )
            ).scalars()
        )
        confirmations = tuple(
            RollCallConfirmation(user_id=c.user_id, confirmed_at=c.confirmed_at)
            for c in (
                await self._s.execute(
                    select(RollCallConfirmationRow)
                    .where(RollCallConfirmationRow.rollcall_id == row.id)
                    .order_by(RollCallConfirmationRow.user_id)
                )
            ).scalars()
        )
        return RollCall(
            id=row.id,
            meeting_id=row.meeting_id,
            state=RollCallState(row.state),
            started_at=row.started_at,
            started_by=row.started_by,
            closed_at=row.closed_at,
            closed_by=row.closed_by,
            answers=answers,
            confirmations=confirmations,
            result=result_from_json(row.result) if row.result is not None else None,
        )

    async def answer(
        self, rollcall_id: int, bridge_point_id: int, count: int, now: datetime
    ) -> None:
        """Store a bridge point's count; a second answer replaces the first."""
        row = await self._s.get(RollCallAnswerRow, (rollcall_id, bridge_point_id))
        if row is None:
            self._s.add(
                RollCallAnswerRow(
                    rollcall_id=rollcall_id,
                    bridge_point_id=bridge_point_id,
                    count=count,
                    answered_at=now,
                )
            )
        else:
            row.count = count
            row.answered_at = now
        await self._s.flush()

    async def confirm(self, rollcall_id: int, user_id: int, now: datetime) -> bool:
        """Store a delegate's confirmation; answers False when it was already confirmed."""
        if await self._s.get(RollCallConfirmationRow, (rollcall_id, user_id)) is not None:
            return False
        self._s.add(
            RollCallConfirmationRow(rollcall_id=rollcall_id, user_id=user_id, confirmed_at=now)
        )
        await self._s.flush()
        return True

    async def close(
        self, rollcall_id: int, closed_by: str, now: datetime, result: RollCallResult
    ) -> None:
        await self._s.execute(
            update(RollCallRow)
            .where(RollCallRow.id == rollcall_id)
            .values(
                state=RollCallState.CLOSED.value,
                closed_at=now,
                closed_by=closed_by,
                result=result_to_json(result),
            )
        )

    async def invited_bridge_points(self, meeting_id: int) -> list[InvitedBridgePoint]:
        res = await self._s.execute(
            select(BridgePointRow.id, BridgePointRow.name, UnitRow.id, UnitRow.name)
            .join(MeetingBridgePointRow, MeetingBridgePointRow.bridge_point_id == BridgePointRow.id)
            .join(UnitRow, UnitRow.id == BridgePointRow.unit_id)
            .where(MeetingBridgePointRow.meeting_id == meeting_id)
            .order_by(UnitRow.sort_key, BridgePointRow.sort_key, BridgePointRow.id)
        )
        return [InvitedBridgePoint(a, b, c, d) for a, b, c, d in res]

    async def invited_delegates(self, meeting_id: int) -> list[InvitedDelegate]:
        res = await self._s.execute(
            select(UserRow.id, UserRow.display_name)
            .join(MeetingDelegateRow, MeetingDelegateRow.user_id == UserRow.id)
            .where(MeetingDelegateRow.meeting_id == meeting_id)
            .order_by(UserRow.sort_key, UserRow.id)
        )
        return [InvitedDelegate(a, b) for a, b in res]
