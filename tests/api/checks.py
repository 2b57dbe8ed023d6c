"""Assertions shared by the API tests: the error shape, and "nothing was written"."""

from __future__ import annotations

import re
import weakref
from contextlib import suppress
from typing import Any

from sqlalchemy import MetaData, Table, event, exc, select

from meetingd.store import Store

Snapshot = dict[str, list[tuple[Any, ...]]]


def check_error_body(body: Any, status: int) -> dict[str, Any]:
    """``body`` is ``{"error": {"code", "message"[, "field"]}}``; returns the inner object."""
    assert isinstance(body, dict) and set(body) == {"error"}, f"{status}: {body!r}"
    err = body["error"]
    assert isinstance(err, dict), body
    assert set(err) <= {"code", "message", "field"} and {"code", "message"} <= set(err), body
    assert isinstance(err["code"], str) and err["code"], body
    assert isinstance(err["message"], str) and err["message"], body
    assert "Traceback" not in err["message"]
    return err


async def expect_error(
    resp: Any,
    status: int,
    *,
    field: str | None = None,
    code: str | None = None,
    mentions: str | None = None,
) -> dict[str, Any]:
    """The response is ``status`` with the error shape, naming ``field``.

    The message must contain ``mentions`` (default: the field's name); a 404 names the
    thing instead ("meeting 99 does not exist").
    """
    text = await resp.text()
    assert resp.status == status, f"expected {status}, got {resp.status}: {text[:500]}"
    assert resp.content_type == "application/json", resp.content_type
    err = check_error_body(await resp.json(), status)
    if code is not None:
        assert err["code"] == code, err
    if field is not None:
        assert err.get("field") == field, err
    words = mentions if mentions is not None else field
    if words is not None:
        assert words in err["message"], f"the message does not name {words!r}: {err}"
    return err


#: Written on a timer by the real-time node's heartbeat and sweep, not by requests.
LIVENESS_TABLES = frozenset({"realtime_nodes", "presence"})
_DML = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)

_TABLES: weakref.WeakKeyDictionary[Store, list[Table]] = weakref.WeakKeyDictionary()


async def snapshot(store: Store) -> Snapshot:
    """Every row of every table but the liveness ones, in primary-key order: equal
    snapshots mean no write."""
    async with store.engine.connect() as conn:
        if store not in _TABLES:
            meta = MetaData()
            await conn.run_sync(lambda c: meta.reflect(c))
            skip = {"alembic_version", *LIVENESS_TABLES}
            _TABLES[store] = [t for t in meta.sorted_tables if t.name not in skip]
        out: Snapshot = {}
        for table in _TABLES[store]:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = await conn.execute(select(table).order_by(*order))
            out[table.name] = [tuple(r) for r in rows]
        return out


def diff(before: Snapshot, after: Snapshot) -> list[str]:
    """The tables whose rows differ, with the rows added and removed."""
    out = []
    for name in sorted(set(before) | set(after)):
        b = {repr(r) for r in before.get(name, [])}
        a = {repr(r) for r in after.get(name, [])}
        if a != b:
            out.append(f"{name}: added {sorted(a - b)}, removed {sorted(b - a)}")
    return out


class WriteCounter:
    """Counts committed transactions that ran an INSERT, UPDATE or DELETE on ``store``
    (on a table other than the liveness ones).

    Cheaper than :func:`snapshot` where a test sends hundreds of requests: a request that
    leaves the count unchanged committed no write, whatever the table.
    """

    def __init__(self, store: Store) -> None:
        self.commits = 0
        self._engine = store.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._execute)
        event.listen(self._engine, "commit", self._commit)
        event.listen(self._engine, "rollback", self._rollback)

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._execute)
        event.remove(self._engine, "commit", self._commit)
        event.remove(self._engine, "rollback", self._rollback)

    def _execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        m = _DML.match(statement)
        if m and m.group(1).lower() not in LIVENESS_TABLES:
            conn.info["meetingd_test_wrote"] = True

    def _commit(self, conn: Any) -> None:
        if conn.info.pop("meetingd_test_wrote", False):
            self.commits += 1

    def _rollback(self, conn: Any) -> None:
        # A transaction cut by a cancel (a background task stopped mid-query) has an
        # invalidated connection whose info cannot be read; its DBAPI connection is dropped.
        with suppress(exc.PendingRollbackError):
            conn.info.pop("meetingd_test_wrote", None)
