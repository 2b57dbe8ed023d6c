"""Meetings, their invitations and agenda items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.domain import AgendaItem, AgendaItemState, Meeting, MeetingState
from meetingd.store.models import (
    AgendaItemRow,
    MeetingBridgePointRow,
    MeetingDelegateRow,
    MeetingRow,
    UnitRow,
)


def _item(row: AgendaItemRow) -> AgendaItem:
    return AgendaItem(
        id=row.id,
        meeting_id=row.meeting_id,
        position=row.position,
        title=row.title,
        description=row.description,
        duration_minutes=row.duration_minutes,
        state=AgendaItemState(row.state),
    )


class MeetingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(
        self,
        *,
        unit_id: int,
        title: str,
        description: str,
        starts_at: datetime,
        ends_at: datetime | None,
        chair_id: int | None,
        secretary_id: int | None,
        created_by: int | None,
        now: datetime,
    ) -> int:
        row = MeetingRow(
            unit_id=unit_id,
            title=title,
            description=description,
            starts_at=starts_at,
            ends_at=ends_at,
            state=MeetingState.DRAFT.value,
            chair_id=chair_id,
            secretary_id=secretary_id,
            seq=0,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        return row.id

    async def get(self, meeting_id: int, *, full: bool = True) -> Meeting | None:
        """The meeting; with ``full`` also its invitations and agenda."""
        res = (
            await self._s.execute(
                select(MeetingRow, UnitRow.path)
                .join(UnitRow, UnitRow.id == MeetingRow.unit_id)
                .where(MeetingRow.id == meeting_id)
                .execution_options(populate_existing=True)
            )
        ).first()
        if res is None:
            return None
        row, path = res
        if not full:
            return self._meeting(row, path, (), (), ())
        bps = tuple(
            (
                await self._s.execute(
                    select(MeetingBridgePointRow.bridge_point_id)
                    .where(MeetingBridgePointRow.meeting_id == meeting_id)
                    .order_by(MeetingBridgePointRow.bridge_point_id)
                )
            ).scalars()
        )
        dels = tuple(
            (
                await self._s.execute(
                    select(MeetingDelegateRow.user_id)
                    .where(MeetingDelegateRow.meeting_id == meeting_id)
                    .order_by(MeetingDelegateRow.user_id)
                )
            ).scalars()
        )
        return self._meeting(row, path, bps, dels, tuple(await self.agenda(meeting_id)))

    def _meeting(
        self,
        row: MeetingRow,
        path: str,
        bps: tuple[int, ...],
        dels: tuple[int, ...],
        agenda: tuple[AgendaItem, ...],
    ) -> Meeting:
        return Meeting(
            id=row.id,
            unit_id=row.unit_id,
            unit_path=path,
            title=row.title,
            description=row.description,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            state=MeetingState(row.state),
            chair_id=row.chair_id,
            secretary_id=row.secretary_id,
            current_agenda_item_id=row.current_agenda_item_id,
            seq=row.seq,
            created_at=row.created_at,
            updated_at=row.updated_at,
            bridge_point_ids=bps,
            delegate_ids=dels,
            agenda=agenda,
        )

    async def find(
        self,
        *,
        within_paths: list[str] | None,
        user_id: int | None = None,
        bridge_point_id: int | None = None,
        state: MeetingState | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[Meeting]:
        """Meetings under ``within_paths`` OR involving the user / bridge point."""
        stmt = select(MeetingRow, UnitRow.path).join(UnitRow, UnitRow.id == MeetingRow.unit_id)
        conds: list[ColumnElement[bool]] = []
        if within_paths:
            conds.extend(UnitRow.path.startswith(p) for p in within_paths)
        if user_id is not None:
            conds.append(MeetingRow.chair_id == user_id)
            conds.append(MeetingRow.secretary_id == user_id)
            conds.append(
                MeetingRow.id.in_(
                    select(MeetingDelegateRow.meeting_id).where(
                        MeetingDelegateRow.user_id == user_id
                    )
                )
            )
        if bridge_point_id is not None:
            conds.append(
                MeetingRow.id.in_(
                    select(MeetingBridgePointRow.meeting_id).where(
                        MeetingBridgePointRow.bridge_point_id == bridge_point_id
                    )
                )
            )
        if within_paths is not None or user_id is not None or bridge_point_id is not None:
            if not conds:
                return []
            stmt = stmt.where(or_(*conds))
        if state is not None:
            stmt = stmt.where(MeetingRow.state == state.value)
        stmt = (
            stmt.order_by(MeetingRow.starts_at.desc(), MeetingRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [self._meeting(r, p, (), (), ()) for r, p in await self._s.execute(stmt)]

    async def update(self, meeting_id: int, now: datetime, **values: object) -> None:
        values["updated_at"] = now
        await self._s.execute(
            update(MeetingRow).where(MeetingRow.id == meeting_id).values(**values)
        )

    async def lock(self, meeting_id: int) -> None:
        """Serialise writers of one meeting (row lock on PostgreSQL; SQLite locks the file)."""
        await self._s.execute(
            select(MeetingRow.id).where(MeetingRow.id == meeting_id).with_for_update()
        )

    async def invite_bridge_points(self, meeting_id: int, ids: list[int]) -> list[int]:
        """Invite; returns the ids that were newly invited."""
        have = set(
            (
                await self._s.execute(
                    select(MeetingBridgePointRow.bridge_point_id).where(
                        MeetingBridgePointRow.meeting_id == meeting_id
                    )
                )
            ).scalars()
        )
        new = [i for i in dict.fromkeys(ids) if i not in have]
        self._s.add_all(
            MeetingBridgePointRow(meeting_id=meeting_id, bridge_point_id=i) for i in new
        )
        await self._s.flush()
        return new

    async def uninvite_bridge_point(self, meeting_id: int, bp_id: int) -> bool:
        res = await self._s.execute(
            delete(MeetingBridgePointRow).where(
                MeetingBridgePointRow.meeting_id == meeting_id,
                MeetingBridgePointRow.bridge_point_id == bp_id,
            )
        )
        return bool(res.rowcount)  # type: ignore[attr-defined]

    async def invite_delegates(self, meeting_id: int, ids: list[int]) -> list[int]:
        have = set(
            (
                await self._s.execute(
                    select(MeetingDelegateRow.user_id).where(
                        MeetingDelegateRow.meeting_id == meeting_id
                    )
                )
            ).scalars()
        )
        new = [i for i in dict.fromkeys(ids) if i not in have]
        self._s.add_all(MeetingDelegateRow(meeting_id=meeting_id, user_id=i) for i in new)
        await self._s.flush()
        return new

    async def uninvite_delegate(self, meeting_id: int, user_id: int) -> bool:
        res = await self._s.execute(
            delete(MeetingDelegateRow).where(
                MeetingDelegateRow.meeting_id == meeting_id, MeetingDelegateRow.user_id == user_id
            )
        )
        return bool(res.rowcount)  # type: ignore[attr-defined]

    async def is_bridge_point_invited(self, meeting_id: int, bp_id: int) -> bool:
        res = await self._s.execute(
            select(MeetingBridgePointRow.meeting_id).where(
                MeetingBridgePointRow.meeting_id == meeting_id,
                MeetingBridgePointRow.bridge_point_id == bp_id,
            )
        )
        return res.first() is not None

    async def is_delegate(self, meeting_id: int, user_id: int) -> bool:
        res = await self._s.execute(
            select(MeetingDelegateRow.meeting_id).where(
                MeetingDelegateRow.meeting_id == meeting_id, MeetingDelegateRow.user_id == user_id
            )
        )
        return res.first() is not None

    async def invited_among(
        self, meeting_id: int, users: Sequence[int], bridge_points: Sequence[int]
    ) -> set[str]:
        """The subjects (``user:5``, ``bridge_point:3``) among those given that the meeting
        invites: delegates and bridge points, two queries for a batch of callers."""
        found: set[str] = set()
        if users:
            res = await self._s.execute(
                select(MeetingDelegateRow.user_id).where(
                    MeetingDelegateRow.meeting_id == meeting_id,
                    MeetingDelegateRow.user_id.in_(set(users)),
                )
            )
            found.update(f"user:{u}" for u in res.scalars())
        if bridge_points:
            res = await self._s.execute(
                select(MeetingBridgePointRow.bridge_point_id).where(
                    MeetingBridgePointRow.meeting_id == meeting_id,
                    MeetingBridgePointRow.bridge_point_id.in_(set(bridge_points)),
                )
            )
            found.update(f"bridge_point:{b}" for b in res.scalars())
        return found

    # -- agenda ---------------------------------------------------------------

    async def agenda(self, meeting_id: int) -> list[AgendaItem]:
        res = await self._s.execute(
            select(AgendaItemRow)
            .where(AgendaItemRow.meeting_id == meeting_id)
            .order_by(AgendaItemRow.position, AgendaItemRow.id)
            .execution_options(populate_existing=True)
        )
        return [_item(r) for r in res.scalars()]

    async def add_agenda_item(
        self, meeting_id: int, *, title: str, description: str, duration_minutes: int | None
    ) -> AgendaItem:
        last = (
            await self._s.execute(
                select(func.max(AgendaItemRow.position)).where(
                    AgendaItemRow.meeting_id == meeting_id
                )
            )
        ).scalar()
        row = AgendaItemRow(
            meeting_id=meeting_id,
            position=(last or 0) + 1,
            title=title,
            description=description,
            duration_minutes=duration_minutes,
            state=AgendaItemState.PENDING.value,
        )
        self._s.add(row)
        await self._s.flush()
        return _item(row)

    async def get_agenda_item(self, meeting_id: int, item_id: int) -> AgendaItem | None:
        row = await self._s.get(AgendaItemRow, item_id, populate_existing=True)
        if row is None or row.meeting_id != meeting_id:
            return None
        return _item(row)

    async def update_agenda_item(self, item_id: int, **values: object) -> None:
        await self._s.execute(
            update(AgendaItemRow).where(AgendaItemRow.id == item_id).values(**values)
        )

    async def delete_agenda_item(self, item_id: int) -> None:
        await self._s.execute(delete(AgendaItemRow).where(AgendaItemRow.id == item_id))

    async def reorder_agenda(self, meeting_id: int, ordered_ids: list[int]) -> None:
        for pos, item_id in enumerate(ordered_ids, start=1):
            await self._s.execute(
                update(AgendaItemRow)
                .where(AgendaItemRow.id == item_id, AgendaItemRow.meeting_id == meeting_id)
                .values(position=pos)
            )
