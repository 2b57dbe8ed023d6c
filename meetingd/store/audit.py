"""Append-only audit log of changes (who did what to which record, when)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.store.models import AuditRow


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def record(
        self, *, at: datetime, actor: str, action: str, subject: str, data: dict[str, object]
    ) -> None:
        self._s.add(AuditRow(at=at, actor=actor, action=action, subject=subject, data=data))

    async def for_subject(self, subject: str) -> list[tuple[datetime, str, str]]:
        res = await self._s.execute(
            select(AuditRow.at, AuditRow.actor, AuditRow.action)
            .where(AuditRow.subject == subject)
            .order_by(AuditRow.id)
        )
        return [(a, b, c) for a, b, c in res]
