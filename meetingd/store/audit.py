"""Append-only audit log of changes (who did what to which record, when), hash-chained.

Every row carries its place in the chain (``n``), the hash of the row before it and its
own hash: SHA-256 over the previous hash and the row's canonical JSON content. A changed
row no longer matches its hash, a deleted one leaves a gap in ``n`` and a broken link, a
reordered pair breaks the links; :func:`verify_rows` finds each. The tail of the chain is
one row (``audit_head``), read FOR UPDATE by the transaction that appends, so several
processes on PostgreSQL append one after the other; SQLite runs one writer at a time.

Rows are appended at the end of the unit of work (:meth:`AuditRepository.flush`, called just
before the commit), so the chain's lock is the last one a transaction takes and is held
only for the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.store.models import AuditHeadRow, AuditRow

#: The "previous hash" of the first row.
GENESIS = "0" * 64
HEAD_ID = 1


def canonical(value: object) -> str:
    """The one JSON text of ``value``: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _when(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands naive UTC back to a plain column (migrations)
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def chain_hash(
    prev: str, n: int, at: datetime, actor: str, action: str, subject: str, data: object
) -> str:
    """The hash of row ``n`` whose predecessor's hash is ``prev``."""
    content = canonical(
        {"n": n, "at": _when(at), "actor": actor, "action": action, "subject": subject,
         "data": data}
    )  # fmt: skip
    return hashlib.sha256(f"{prev}\n{content}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log as stored."""

    id: int
    n: int
    at: datetime
    actor: str
    action: str
    subject: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """Where the chain breaks, and how."""

    n: int
    id: int | None
    problem: str


class ChainChecker:
    """Walks the rows in ``n`` order and notes every break (fed one row at a time, so a log
    of any length is checked in constant memory)."""

    def __init__(self) -> None:
        self.problems: list[ChainProblem] = []
        self.rows = 0
        self._prev, self._n = GENESIS, 0

    def feed(self, e: AuditEntry) -> None:
        self.rows += 1
        if e.n != self._n + 1:
            self.problems.append(
                ChainProblem(e.n, e.id, f"row {self._n + 1} is missing or out of place "
                             f"(row {e.n} follows row {self._n})")
            )  # fmt: skip
        if e.prev_hash != self._prev:
            self.problems.append(ChainProblem(e.n, e.id, "link to the previous row is broken"))
        if chain_hash(e.prev_hash, e.n, e.at, e.actor, e.action, e.subject, e.data) != e.hash:
            self.problems.append(ChainProblem(e.n, e.id, "content does not match its hash"))
        self._prev, self._n = e.hash, e.n

    def finish(self, head: tuple[int, str] | None) -> list[ChainProblem]:
        """The problems, once the stored ``head`` is compared with the last row seen."""
        last = (self._n, self._prev)
        if (head or (0, GENESIS)) != last:
            at = head[0] if head else 0
            self.problems.append(
                ChainProblem(at, None, f"the chain head says row {at}, the last row is {last[0]}")
            )
        return self.problems


@dataclass(frozen=True, slots=True)
class _Pending:
    at: datetime
    actor: str
    action: str
    subject: str
    data: dict[str, Any]


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session
        self._pending: list[_Pending] = []

    @property
    def pending(self) -> bool:
        """Rows recorded and not yet written."""
        return bool(self._pending)

    async def record(
        self, *, at: datetime, actor: str, action: str, subject: str, data: dict[str, object]
    ) -> None:
        """Queue a row; it is chained and written by :meth:`flush` before the commit."""
        plain: dict[str, Any] = json.loads(canonical(data))
        self._pending.append(_Pending(at, actor, action, subject, plain))

    async def _head(self) -> AuditHeadRow:
        query = (
            select(AuditHeadRow)
            .where(AuditHeadRow.id == HEAD_ID)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        head = (await self._s.execute(query)).scalar()
        if head is None:  # the first row ever: create the head, once, whoever gets there
            values = {"id": HEAD_ID, "n": 0, "hash": GENESIS}
            upsert = pg_insert if self._s.get_bind().dialect.name == "postgresql" else sqlite_insert
            await self._s.execute(upsert(AuditHeadRow).values(values).on_conflict_do_nothing())
            head = (await self._s.execute(query)).scalar_one()
        return head

    async def flush(self) -> None:
        """Chain and write the queued rows, holding the chain's head until the commit."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        head = await self._head()
        n, prev = head.n, head.hash
        rows: list[dict[str, Any]] = []
        for p in pending:
            n += 1
            h = chain_hash(prev, n, p.at, p.actor, p.action, p.subject, p.data)
            rows.append({
                "n": n, "at": p.at, "actor": p.actor, "action": p.action,
                "subject": p.subject, "data": p.data, "prev_hash": prev, "hash": h,
            })  # fmt: skip
            prev = h
        # One executemany of plain rows (not ORM objects: a unit-of-work flush costs a
        # fraction of a millisecond per row, and a burst of ballots writes hundreds).
        await self._s.execute(insert(AuditRow), rows)
        await self._s.execute(
            update(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID).values(n=n, hash=prev)
        )

    async def for_subject(self, subject: str) -> list[tuple[datetime, str, str]]:
        await self.flush()
        res = await self._s.execute(
            select(AuditRow.at, AuditRow.actor, AuditRow.action)
            .where(AuditRow.subject == subject)
            .order_by(AuditRow.n)
        )
        return [(a, b, c) for a, b, c in res]

    async def entries(self, after_n: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Rows after place ``after_n`` in chain order, ``limit`` at most."""
        res = await self._s.execute(
            select(AuditRow).where(AuditRow.n > after_n).order_by(AuditRow.n).limit(limit)
        )
        return [
            AuditEntry(
                id=r.id, n=r.n, at=r.at, actor=r.actor, action=r.action, subject=r.subject,
                data=dict(r.data), prev_hash=r.prev_hash, hash=r.hash,
            )
            for r in res.scalars()
        ]  # fmt: skip

    async def all_entries(self, batch: int = 1000) -> AsyncIterator[AuditEntry]:
        after = 0
        while True:
            rows = await self.entries(after, batch)
            for r in rows:
                yield r
            if len(rows) < batch:
                return
            after = rows[-1].n

    async def head(self) -> tuple[int, str] | None:
        row = (
            await self._s.execute(
                select(AuditHeadRow.n, AuditHeadRow.hash).where(AuditHeadRow.id == HEAD_ID)
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def count(self) -> int:
        return int((await self._s.execute(select(func.count()).select_from(AuditRow))).scalar_one())
