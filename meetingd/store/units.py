"""Units: the province -> district -> commune tree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.domain import Unit, UnitKind
from meetingd.store.models import UnitRow
from meetingd.store.names import fold, sort_key


def _unit(row: UnitRow) -> Unit:
    return Unit(
        id=row.id,
        parent_id=row.parent_id,
        code=row.code,
        name=row.name,
        kind=UnitKind(row.kind),
        path=row.path,
    )


class UnitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(
        self, *, parent: Unit | None, code: str, name: str, kind: UnitKind, now: datetime
    ) -> Unit:
        row = UnitRow(
            parent_id=parent.id if parent else None,
            code=code,
            name=name,
            name_fold=fold(name),
            sort_key=sort_key(name),
            kind=kind.value,
            path="",
            created_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        row.path = f"{parent.path if parent else '/'}{row.id}/"
        await self._s.flush()
        return _unit(row)

    async def get(self, unit_id: int) -> Unit | None:
        row = await self._s.get(UnitRow, unit_id)
        return _unit(row) if row else None

    async def get_by_code(self, code: str) -> Unit | None:
        row = (await self._s.execute(select(UnitRow).where(UnitRow.code == code))).scalar()
        return _unit(row) if row else None

    async def find(
        self,
        *,
        within_paths: list[str] | None,
        parent_id: int | None = None,
        kind: UnitKind | None = None,
        query: str | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[Unit]:
        """Units under any of ``within_paths`` (None = all), in Vietnamese order."""
        stmt = select(UnitRow)
        if within_paths is not None:
            if not within_paths:
                return []
            from sqlalchemy import or_

            stmt = stmt.where(or_(*(UnitRow.path.startswith(p) for p in within_paths)))
        if parent_id is not None:
            stmt = stmt.where(UnitRow.parent_id == parent_id)
        if kind is not None:
            stmt = stmt.where(UnitRow.kind == kind.value)
        for word in fold(query or "").split():
            stmt = stmt.where(UnitRow.name_fold.contains(word, autoescape=True))
        stmt = stmt.order_by(UnitRow.sort_key, UnitRow.id).limit(limit).offset(offset)
        return [_unit(r) for r in (await self._s.execute(stmt)).scalars()]

    async def rename(self, unit_id: int, name: str) -> None:
        await self._s.execute(
            update(UnitRow)
            .where(UnitRow.id == unit_id)
            .values(name=name, name_fold=fold(name), sort_key=sort_key(name))
        )
