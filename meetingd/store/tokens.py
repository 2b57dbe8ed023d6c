"""Revoked tokens (logout). Rows outlive their token only until it would have expired."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.store.models import RevokedTokenRow


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def revoke(self, jti: str, expires_at: datetime) -> None:
        if await self._s.get(RevokedTokenRow, jti) is None:
            self._s.add(RevokedTokenRow(jti=jti, expires_at=expires_at))
            await self._s.flush()

    async def is_revoked(self, jti: str) -> bool:
        res = await self._s.execute(select(RevokedTokenRow.jti).where(RevokedTokenRow.jti == jti))
        return res.first() is not None

    async def revoked_among(self, jtis: list[str]) -> set[str]:
        """Which of ``jtis`` are revoked (one query for a batch of checks)."""
        if not jtis:
            return set()
        res = await self._s.execute(
            select(RevokedTokenRow.jti).where(RevokedTokenRow.jti.in_(jtis))
        )
        return set(res.scalars())

    async def purge_expired(self, now: datetime) -> None:
        await self._s.execute(delete(RevokedTokenRow).where(RevokedTokenRow.expires_at < now))
