"""Who asked for the floor in a meeting, and who holds it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.domain import FloorEntry, FloorState, Speech, SpeechEnd
from meetingd.store.models import FloorRow, SpeechRow


def _entry(row: FloorRow) -> FloorEntry:
    return FloorEntry(
        meeting_id=row.meeting_id,
        subject=row.subject,
        name=row.name,
        state=FloorState(row.state),
        requested_at=row.requested_at,
        granted_at=row.granted_at,
        muted=row.muted,
        deadline=row.deadline,
    )


class FloorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def entries(self, meeting_id: int) -> list[FloorEntry]:
        """Holders first (in the order they were given the floor), then requests in order."""
        res = await self._s.execute(
            select(FloorRow)
            .where(FloorRow.meeting_id == meeting_id)
            .order_by(
                FloorRow.state,
                FloorRow.granted_at,
                FloorRow.position,
                FloorRow.requested_at,
                FloorRow.id,
            )
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
        self,
        meeting_id: int,
        subject: str,
        name: str,
        state: FloorState,
        now: datetime,
        deadline: datetime | None = None,
    ) -> None:
        last = (
            await self._s.execute(
                select(func.max(FloorRow.position)).where(FloorRow.meeting_id == meeting_id)
            )
        ).scalar()
        self._s.add(
            FloorRow(
                position=(last or 0) + 1,
                meeting_id=meeting_id,
                subject=subject,
                name=name,
                state=state.value,
                requested_at=now,
                granted_at=now if state is FloorState.GRANTED else None,
                muted=False,
                deadline=deadline,
            )
        )
        await self._s.flush()

    async def grant(
        self, meeting_id: int, subject: str, now: datetime, deadline: datetime | None = None
    ) -> None:
        await self._s.execute(
            update(FloorRow)
            .where(FloorRow.meeting_id == meeting_id, FloorRow.subject == subject)
            .values(state=FloorState.GRANTED.value, granted_at=now, muted=False, deadline=deadline)
        )

    async def reorder(self, meeting_id: int, subjects: list[str]) -> None:
        """The requests in the order of ``subjects`` (each listed once)."""
        for position, subject in enumerate(subjects, start=1):
            await self._s.execute(
                update(FloorRow)
                .where(FloorRow.meeting_id == meeting_id, FloorRow.subject == subject)
                .values(position=position)
            )

    async def overdue(self, now: datetime, limit: int = 100) -> list[FloorEntry]:
        """Floor holders whose speaking time has run out, earliest first (any meeting)."""
        res = await self._s.execute(
            select(FloorRow)
            .where(FloorRow.deadline.is_not(None), FloorRow.deadline <= now)
            .order_by(FloorRow.deadline)
            .limit(limit)
        )
        return [_entry(r) for r in res.scalars()]

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


def _speech(row: SpeechRow) -> Speech:
    return Speech(
        id=row.id,
        meeting_id=row.meeting_id,
        subject=row.subject,
        name=row.name,
        granted_at=row.granted_at,
        granted_by=row.granted_by,
        limit_seconds=row.limit_seconds,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
        end_reason=SpeechEnd(row.end_reason) if row.end_reason else None,
    )


class SpeechRepository:
    """The durable speech log of a meeting (rows are never deleted while the meeting lasts)."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def start(
        self,
        meeting_id: int,
        subject: str,
        name: str,
        *,
        at: datetime,
        by: str,
        limit_seconds: int | None,
    ) -> None:
        self._s.add(
            SpeechRow(
                meeting_id=meeting_id,
                subject=subject,
                name=name,
                granted_at=at,
                granted_by=by,
                limit_seconds=limit_seconds,
            )
        )
        await self._s.flush()

    async def end(
        self,
        meeting_id: int,
        subject: str | None,
        *,
        at: datetime,
        by: str,
        reason: SpeechEnd,
    ) -> None:
        """End the open speech of ``subject`` (of everyone when None)."""
        where = [SpeechRow.meeting_id == meeting_id, SpeechRow.ended_at.is_(None)]
        if subject is not None:
            where.append(SpeechRow.subject == subject)
        await self._s.execute(
            update(SpeechRow).where(*where).values(ended_at=at, ended_by=by, end_reason=reason)
        )

    async def of_meeting(self, meeting_id: int) -> list[Speech]:
        res = await self._s.execute(
            select(SpeechRow)
            .where(SpeechRow.meeting_id == meeting_id)
            .order_by(SpeechRow.granted_at, SpeechRow.id)
            .execution_options(populate_existing=True)
        )
        return [_speech(r) for r in res.scalars()]
