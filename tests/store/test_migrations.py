"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from meetingd.app import Parts
from meetingd.store.migrate import current_revision
from meetingd.store.models import Base


async def test_migrated_schema_matches_models(parts: Parts) -> None:
    async with parts.store.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    assert diff == []


async def test_database_is_at_head(parts: Parts) -> None:
    from alembic.script import ScriptDirectory

    from meetingd.store.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert await current_revision(parts.store.engine) == head
