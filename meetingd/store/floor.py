"""Who asked for the floor in a meeting, and who holds it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.domain import FloorEntry, FloorState
from meetingd.store.models import FloorRow


def _entry(row: FloorRow) -> FloorEntry:
    return FloorEntry(
        meeting_id=row.meeting_id,
        subject=row.subject,
        name=row.name,
        state=FloorState(row.state),
        requested_at=row.requested_at,
        granted_at=row.granted_at,
        muted=row.muted,
    )


class FloorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def entries(self, meeting_id: int) -> list[FloorEntry]:
        """Holders first (in the order they were given the floor), then requests in order."""
        res = await self._s.execute(
            select(FloorRow)
            .where(FloorRow.meeting_id == meeting_id)
            .order_by(FloorRow.state, FloorRow.granted_at, FloorRow.requested_at, FloorRow.id)
            .execution_options(populate_existing=True)
        )
        rows = [_entry(r) for r in res.scalars()]
        held = [e for e in rows if e.state is FloorState.GRANTED]
        asked = [e for e in rows if e.state is FloorState.REQUESTED]
        return held + asked

    async def get(self, meeting_id: int, subject: str) -> FloorEntry | None:
        row = (
            await self._s.execute(
                select(FloorRow)
                .where(FloorRow.meeting_id == meeting_id, FloorRow.subject == subject)
                .execution_options(populate_existing=True)
            )
        ).scalar()
        return _entry(row) if row else None

    async def add(
        self, meeting_id: int, subject: str, name: str, state: FloorState, now: datetime
    ) -> None:
        self._s.add(
            FloorRow(
                meeting_id=meeting_id,
                subject=subject,
                name=name,
                state=state.value,
                requested_at=now,
                granted_at=now if state is FloorState.GRANTED else None,
                muted=False,
            )
        )
        await self._s.flush()

    async def grant(self, meeting_id: int, subject: str, now: datetime) -> None:
        await self._s.execute(
            update(FloorRow)
            .where(FloorRow.meeting_id == meeting_id, FloorRow.subject == subject)
            .values(state=FloorState.GRANTED.value, granted_at=now, muted=False)
        )

    async def set_muted(self, meeting_id: int, subject: str, muted: bool) -> None:
        await self._s.execute(
            update(FloorRow)
            .where(FloorRow.meeting_id == meeting_id, FloorRow.subject == subject)
            .values(muted=muted)
        )

    async def remove(self, meeting_id: int, subject: str) -> None:
        await self._s.execute(
            delete(FloorRow).where(FloorRow.meeting_id == meeting_id, FloorRow.subject == subject)
        )

    async def clear(self, meeting_id: int) -> None:
        await self._s.execute(delete(FloorRow).where(FloorRow.meeting_id == meeting_id))
