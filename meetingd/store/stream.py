"""Reads for the meeting stream: a consistent point to take a snapshot at, and stream heads."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.store.models import MeetingRow


class StreamRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def hold(self, meeting_id: int) -> int | None:
        """Hold the meeting's stream still for the rest of the transaction; answer its ``seq``.

        Every change that emits an event takes the meeting row's write lock (the ``seq``
        update), so a shared lock on the row (PostgreSQL ``FOR SHARE``; SQLite transactions
        are serialised anyway) makes everything read afterwards in this transaction agree
        with the ``seq`` answered here. Readers do not block each other.
        """
        return (
            await self._s.execute(
                select(MeetingRow.seq).where(MeetingRow.id == meeting_id).with_for_update(read=True)
            )
        ).scalar()

    async def heads(self, meeting_ids: list[int]) -> dict[int, int]:
        """The current ``seq`` of each meeting (missing ones are left out)."""
        if not meeting_ids:
            return {}
        res = await self._s.execute(
            select(MeetingRow.id, MeetingRow.seq).where(MeetingRow.id.in_(meeting_ids))
        )
        return {i: s for i, s in res}
