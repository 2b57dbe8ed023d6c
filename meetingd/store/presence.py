"""Who is connected to which meeting, per connection, and which server processes are alive.

A participant is present while at least one of its connections has a row. Rows are tagged
with the server process (node) that holds the connection; a node proves it is alive with a
heartbeat, so the rows of a process that died can be swept by any other process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.domain import PresenceEntry
from meetingd.store.models import PresenceRow, RealtimeNodeRow


def _entry(row: PresenceRow) -> PresenceEntry:
    return PresenceEntry(
        kind=row.principal_kind,
        id=row.principal_id,
        name=row.name,
        role=row.role,
        since=row.since,
    )


@dataclass(frozen=True, slots=True)
class _Known:
    """A connection's row as :meth:`PresenceRepository.add_many` needs it."""

    node_id: str
    connection_id: str
    name: str
    role: str
    since: datetime


@dataclass(frozen=True, slots=True)
class NewConnection:
    """A connection to record in a meeting: whose it is and what it is there."""

    connection_id: str
    kind: str
    principal_id: int
    name: str
    role: str


class PresenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(
        self,
        *,
        meeting_id: int,
        node_id: str,
        connection_id: str,
        kind: str,
        principal_id: int,
        name: str,
        role: str,
        now: datetime,
    ) -> tuple[PresenceEntry, bool]:
        """Record a connection; answer the participant's entry and whether it just arrived.

        Recording the same connection twice changes nothing.
        """
        rows = list(
            (
                await self._s.execute(
                    select(PresenceRow).where(
                        PresenceRow.meeting_id == meeting_id,
                        PresenceRow.principal_kind == kind,
                        PresenceRow.principal_id == principal_id,
                    )
                )
            ).scalars()
        )
        if any(r.node_id == node_id and r.connection_id == connection_id for r in rows):
            return _entry(rows[0]), False
        since = min((r.since for r in rows), default=now)
        row = PresenceRow(
            meeting_id=meeting_id,
            node_id=node_id,
            connection_id=connection_id,
            principal_kind=kind,
            principal_id=principal_id,
            name=name,
            role=role,
            since=since,
            connected_at=now,
        )
        self._s.add(row)
        await self._s.flush()
        return _entry(row), not rows

    async def add_many(
        self, *, meeting_id: int, node_id: str, connections: Sequence[NewConnection], now: datetime
    ) -> list[tuple[PresenceEntry, bool]]:
        """Record several connections at once (one read, one write): :meth:`add` for each, in
        order, so that a participant with two devices in the batch arrives once.

        The read takes only the columns it needs and the rows go in as one ``executemany``
        (no ORM objects): in a join storm this ran once per batch of hundreds, and the ORM's
        unit of work sent SQLite one ``INSERT`` (one round trip to its thread) per row."""
        ids = sorted({c.principal_id for c in connections})
        known: dict[tuple[str, int], list[_Known]] = {}
        for kind, pid, nid, cid, name, role, since in await self._s.execute(
            select(
                PresenceRow.principal_kind,
                PresenceRow.principal_id,
                PresenceRow.node_id,
                PresenceRow.connection_id,
                PresenceRow.name,
                PresenceRow.role,
                PresenceRow.since,
            )
            .where(PresenceRow.meeting_id == meeting_id, PresenceRow.principal_id.in_(ids))
            .order_by(PresenceRow.id)
        ):
            known.setdefault((kind, pid), []).append(_Known(nid, cid, name, role, since))
        out: list[tuple[PresenceEntry, bool]] = []
        new: list[dict[str, object]] = []
        for c in connections:
            rows = known.setdefault((c.kind, c.principal_id), [])
            if any(r.node_id == node_id and r.connection_id == c.connection_id for r in rows):
                first = rows[0]
                out.append(
                    (PresenceEntry(c.kind, c.principal_id, first.name, first.role, first.since),
                     False)
                )  # fmt: skip
                continue
            since = min((r.since for r in rows), default=now)
            out.append((PresenceEntry(c.kind, c.principal_id, c.name, c.role, since), not rows))
            rows.append(_Known(node_id, c.connection_id, c.name, c.role, since))
            new.append(
                {
                    "meeting_id": meeting_id,
                    "node_id": node_id,
                    "connection_id": c.connection_id,
                    "principal_kind": c.kind,
                    "principal_id": c.principal_id,
                    "name": c.name,
                    "role": c.role,
                    "since": since,
                    "connected_at": now,
                }
            )
        if new:
            await self._s.execute(insert(PresenceRow), new)
        return out

    async def remove(
        self, *, meeting_id: int, node_id: str, connection_ids: list[str] | None = None
    ) -> list[PresenceEntry]:
        """Remove a node's connections (all, or those listed) from a meeting.

        Answers the participants that are no longer present at all (their last connection went).
        """
        cond = [PresenceRow.meeting_id == meeting_id, PresenceRow.node_id == node_id]
        if connection_ids is not None:
            cond.append(PresenceRow.connection_id.in_(connection_ids))
        gone = list((await self._s.execute(select(PresenceRow).where(*cond))).scalars())
        if not gone:
            return []
        await self._s.execute(delete(PresenceRow).where(PresenceRow.id.in_([r.id for r in gone])))
        left: dict[tuple[str, int], PresenceEntry] = {}
        for r in gone:
            left.setdefault((r.principal_kind, r.principal_id), _entry(r))
        remaining = {
            (k, i)
            for k, i in await self._s.execute(
                select(PresenceRow.principal_kind, PresenceRow.principal_id).where(
                    PresenceRow.meeting_id == meeting_id
                )
            )
        }
        return [e for key, e in left.items() if key not in remaining]

    async def entries(self, meeting_id: int) -> list[PresenceEntry]:
        """Present participants, each once, in order of arrival (columns, not ORM objects:
        every snapshot reads all of a meeting's connections)."""
        res = await self._s.execute(
            select(
                PresenceRow.principal_kind,
                PresenceRow.principal_id,
                PresenceRow.name,
                PresenceRow.role,
                PresenceRow.since,
            )
            .where(PresenceRow.meeting_id == meeting_id)
            .order_by(PresenceRow.since, PresenceRow.principal_kind, PresenceRow.principal_id)
        )
        seen: dict[tuple[str, int], PresenceEntry] = {}
        for kind, pid, name, role, since in res:
            if (kind, pid) not in seen:
                seen[(kind, pid)] = PresenceEntry(kind, pid, name, role, since)
        return list(seen.values())

    async def meetings_of(self, node_id: str, connection_id: str | None = None) -> list[int]:
        """Meetings in which a node (or one of its connections) has rows."""
        stmt = select(PresenceRow.meeting_id).where(PresenceRow.node_id == node_id).distinct()
        if connection_id is not None:
            stmt = stmt.where(PresenceRow.connection_id == connection_id)
        return sorted((await self._s.execute(stmt)).scalars())

    async def connections_of_node(self, node_id: str) -> dict[int, set[str]]:
        """The connections of a node that have rows, by meeting."""
        res = await self._s.execute(
            select(PresenceRow.meeting_id, PresenceRow.connection_id).where(
                PresenceRow.node_id == node_id
            )
        )
        out: dict[int, set[str]] = {}
        for meeting_id, connection_id in res:
            out.setdefault(meeting_id, set()).add(connection_id)
        return out

    async def nodes_with_rows(self) -> list[str]:
        return list((await self._s.execute(select(PresenceRow.node_id).distinct())).scalars())


class NodeRepository:
    """The server processes holding connections, each with a heartbeat."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def heartbeat(self, node_id: str, now: datetime) -> bool:
        """Record that the node is alive; answers whether its row was there (False the first
        time, and after other nodes swept it as dead)."""
        res = await self._s.execute(
            update(RealtimeNodeRow).where(RealtimeNodeRow.id == node_id).values(heartbeat_at=now)
        )
        if res.rowcount:  # type: ignore[attr-defined]
            return True
        self._s.add(RealtimeNodeRow(id=node_id, started_at=now, heartbeat_at=now))
        await self._s.flush()
        return False

    async def alive(self, since: datetime) -> set[str]:
        """Nodes whose last heartbeat is not older than ``since``."""
        res = await self._s.execute(
            select(RealtimeNodeRow.id).where(RealtimeNodeRow.heartbeat_at >= since)
        )
        return set(res.scalars())

    async def delete(self, node_ids: list[str]) -> None:
        if node_ids:
            await self._s.execute(delete(RealtimeNodeRow).where(RealtimeNodeRow.id.in_(node_ids)))

    async def purge(self, before: datetime) -> None:
        """Forget nodes silent since before ``before`` (their rows are swept already)."""
        await self._s.execute(delete(RealtimeNodeRow).where(RealtimeNodeRow.heartbeat_at < before))
