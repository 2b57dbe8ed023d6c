"""Run Alembic migrations programmatically (``meetingd db upgrade`` and at ``serve`` start)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"

logger = logging.getLogger(__name__)


class SchemaMismatch(Exception):
    """The database's schema is not the one this version of meetingd runs on."""

    def __init__(self, current: str | None, head: str, *, newer: bool) -> None:
        self.current = current
        self.head = head
        if newer:
            message = (
                f"the database is at schema revision {current}, which this version of meetingd "
                f"(head {head}) does not know: it was migrated by a newer meetingd; run that one"
            )
        else:
            message = (
                f"the database is at schema revision {current or 'none (not created by meetingd)'}"
                f", this version of meetingd needs {head}: run `meetingd db upgrade` (with the "
                "same configuration) first, or set database.auto_migrate = true"
            )
        super().__init__(message)


def alembic_config(url: str, password: str = "") -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["password"] = password
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database at ``engine`` up to ``revision``."""

    def _do(sync_conn) -> None:  # type: ignore[no-untyped-def]
        cfg = alembic_config(str(engine.url))
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_do)


async def is_empty(engine: AsyncEngine) -> bool:
    """True when the database has no tables at all (a fresh install)."""
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    return not names


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _known(revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return any(r.revision == revision for r in script.walk_revisions())


async def prepare(engine: AsyncEngine, *, create: bool, auto_migrate: bool) -> None:
    """At ``serve`` start: create an empty database (``create``), then check its revision.

    A database at an older revision is migrated when ``auto_migrate``, else refused with
    :class:`SchemaMismatch` (one line naming both revisions and the command to run), so a
    server never starts on tables its queries do not match. One at a revision this code does
    not know (a newer meetingd migrated it) is always refused.
    """
    if await is_empty(engine):
        if create:
            logger.info("empty database: creating the schema")
            await upgrade(engine)
        return
    head = head_revision()
    current = await current_revision(engine)
    if current == head:
        return
    newer = current is not None and not _known(current)
    if auto_migrate and not newer:
        logger.info("database at schema revision %s: migrating to %s", current, head)
        await upgrade(engine)
        return
    raise SchemaMismatch(current, head, newer=newer)


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
