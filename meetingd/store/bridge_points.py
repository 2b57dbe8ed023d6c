"""Bridge points: the fixed meeting rooms of the units, each a device with a credential."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.domain import BridgePoint
from meetingd.store.models import BridgePointRow, UnitRow
from meetingd.store.names import fold, sort_key


def _bp(row: BridgePointRow, unit_path: str) -> BridgePoint:
    return BridgePoint(
        id=row.id,
        unit_id=row.unit_id,
        name=row.name,
        room=row.room,
        last_seen_at=row.last_seen_at,
        disabled=row.disabled,
        unit_path=unit_path,
        token_stamp=row.credential_key,
    )


class BridgePointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    def _select(self) -> Select[BridgePointRow, str]:
        return select(BridgePointRow, UnitRow.path).join(
            UnitRow, UnitRow.id == BridgePointRow.unit_id
        )

    async def add(
        self,
        *,
        unit_id: int,
        name: str,
        room: str,
        credential_key: str,
        credential_hash: str,
        now: datetime,
    ) -> BridgePoint:
        row = BridgePointRow(
            unit_id=unit_id,
            name=name,
            name_fold=fold(name),
            sort_key=sort_key(name),
            room=room,
            credential_key=credential_key,
            credential_hash=credential_hash,
            disabled=False,
            created_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        got = await self.get(row.id)
        assert got is not None
        return got

    async def get(self, bp_id: int) -> BridgePoint | None:
        res = (
            await self._s.execute(
                self._select()
                .where(BridgePointRow.id == bp_id)
                .execution_options(populate_existing=True)
            )
        ).first()
        return _bp(res[0], res[1]) if res else None

    async def get_many(self, ids: list[int]) -> list[BridgePoint]:
        if not ids:
            return []
        res = await self._s.execute(
            self._select().where(BridgePointRow.id.in_(ids)).order_by(BridgePointRow.sort_key)
        )
        return [_bp(r[0], r[1]) for r in res]

    async def get_credential(self, credential_key: str) -> tuple[BridgePoint, str] | None:
        """The bridge point with this credential key and the stored hash of its secret."""
        res = (
            await self._s.execute(
                self._select().where(BridgePointRow.credential_key == credential_key)
            )
        ).first()
        return (_bp(res[0], res[1]), res[0].credential_hash) if res else None

    async def set_credential(self, bp_id: int, credential_key: str, credential_hash: str) -> None:
        await self._s.execute(
            update(BridgePointRow)
            .where(BridgePointRow.id == bp_id)
            .values(credential_key=credential_key, credential_hash=credential_hash)
        )

    async def find(
        self,
        *,
        within_paths: list[str] | None,
        unit_id: int | None = None,
        query: str | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[BridgePoint]:
        stmt = self._select()
        if within_paths is not None:
            if not within_paths:
                return []
            stmt = stmt.where(or_(*(UnitRow.path.startswith(p) for p in within_paths)))
        if unit_id is not None:
            stmt = stmt.where(BridgePointRow.unit_id == unit_id)
        for word in fold(query or "").split():
            stmt = stmt.where(BridgePointRow.name_fold.contains(word, autoescape=True))
        stmt = stmt.order_by(BridgePointRow.sort_key, BridgePointRow.id).limit(limit).offset(offset)
        return [_bp(r[0], r[1]) for r in await self._s.execute(stmt)]

    async def update(
        self,
        bp_id: int,
        *,
        name: str | None = None,
        room: str | None = None,
        disabled: bool | None = None,
    ) -> None:
        values: dict[str, object] = {}
        if name is not None:
            values.update(name=name, name_fold=fold(name), sort_key=sort_key(name))
        if room is not None:
            values["room"] = room
        if disabled is not None:
            values["disabled"] = disabled
        if values:
            await self._s.execute(
                update(BridgePointRow).where(BridgePointRow.id == bp_id).values(**values)
            )

    async def touch(self, bp_id: int, now: datetime) -> None:
        await self._s.execute(
            update(BridgePointRow).where(BridgePointRow.id == bp_id).values(last_seen_at=now)
        )
