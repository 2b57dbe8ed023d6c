"""The per-meeting event log: every event has a sequence number that only goes up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.domain import MeetingEvent
from meetingd.errors import NotFound
from meetingd.store.models import MeetingEventRow, MeetingRow


def _event(row: MeetingEventRow) -> MeetingEvent:
    return MeetingEvent(
        meeting_id=row.meeting_id,
        seq=row.seq,
        type=row.type,
        data=dict(row.data),
        created_at=row.created_at,
    )


class EventRepository:
    def __init__(self, session: AsyncSession, log_size: int) -> None:
        self._s = session
        self._log_size = log_size

    async def append(
        self, meeting_id: int, type_: str, data: dict[str, object], now: datetime
    ) -> MeetingEvent:
        """Take the meeting's next ``seq`` (locking its row) and store the event."""
        seq = (
            await self._s.execute(
                update(MeetingRow)
                .where(MeetingRow.id == meeting_id)
                .values(seq=MeetingRow.seq + 1)
                .returning(MeetingRow.seq)
            )
        ).scalar()
        if seq is None:
            raise NotFound(f"meeting {meeting_id} does not exist", field="meeting_id")
        row = MeetingEventRow(meeting_id=meeting_id, seq=seq, type=type_, data=data, created_at=now)
        self._s.add(row)
        await self._s.flush()
        if seq % 64 == 0:
            await self._s.execute(
                delete(MeetingEventRow).where(
                    MeetingEventRow.meeting_id == meeting_id,
                    MeetingEventRow.seq <= seq - self._log_size,
                )
            )
        return _event(row)

    async def after(self, meeting_id: int, after_seq: int, limit: int) -> list[MeetingEvent]:
        res = await self._s.execute(
            select(MeetingEventRow)
            .where(MeetingEventRow.meeting_id == meeting_id, MeetingEventRow.seq > after_seq)
            .order_by(MeetingEventRow.seq)
            .limit(limit)
        )
        return [_event(r) for r in res.scalars()]

    async def oldest_seq(self, meeting_id: int) -> int | None:
        return (
            await self._s.execute(
                select(func.min(MeetingEventRow.seq)).where(
                    MeetingEventRow.meeting_id == meeting_id
                )
            )
        ).scalar()
