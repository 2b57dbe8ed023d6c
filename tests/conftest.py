"""Shared fixtures: a store on SQLite and on PostgreSQL, the app, and a seeded world.

Every test that asks for ``parts``, ``client`` or ``world`` runs twice: once on a fresh
SQLite file and once on a throw-away PostgreSQL database (127.0.0.1:5432, user postgres).
Without a PostgreSQL server that half is skipped with a one-line reason; with
``REQUIRE_SERVICES=1`` (set by .ci/run) it fails instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meetingd.app import PARTS, Parts, build, create_app
from meetingd.clock import ManualClock
from meetingd.config import AuthConfig, Config, DatabaseConfig, ServerConfig
from meetingd.domain import Role, UnitKind

PG_ADMIN_URL = os.environ.get("PG_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
TEST_KEY = "test-signing-key-" + "x" * 32


def run_sync(coro_fn: Any) -> Any:
    """Run ``coro_fn()`` to completion on a loop of its own, even from inside a running loop."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn())).result()


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service is missing, unless CI demands every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


# -- databases ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating each time is slow)."""
    from meetingd.store.db import create_engine
    from meetingd.store.migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"

    async def make() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()  # the last connection to close folds the WAL into the file

    run_sync(make)
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """A throw-away PostgreSQL database for this run, migrated once, dropped at the end."""
    try:
        import asyncpg
    except ImportError:  # pragma: no cover
        yield None
        return
    name = f"meetingd_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        run_sync(lambda: admin(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        print(f"PostgreSQL not available at {PG_ADMIN_URL}: {exc}")
        yield None
        return
    server = PG_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
    url = f"{server}/{name}"

    async def migrate() -> None:
        from meetingd.store.db import create_engine
        from meetingd.store.migrate import upgrade

        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()

    run_sync(migrate)
    try:
        yield url
    finally:
        run_sync(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_pg(url: str) -> None:
    from sqlalchemy import text

    from meetingd.store.db import create_engine
    from meetingd.store.models import Base

    engine = create_engine(url)
    async with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[str]:
    """The database URL of this test: a fresh SQLite file, or the emptied PostgreSQL one."""
    if request.param == "sqlite":
        path = tmp_path / "meetingd.sqlite3"
        shutil.copy(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("pg_database")
    if url is None:
        skip_or_fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    await _truncate_pg(url)
    yield url


# -- the application -------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Config:
    return Config(
        server=ServerConfig(data_dir=tmp_path / "data", public_url="http://127.0.0.1"),
        database=DatabaseConfig(url=db_url),
        # The cheapest argon2 the config allows: hashing is not what these tests test,
        # and the seeded world hashes a dozen passwords per test.
        auth=AuthConfig(signing_key=TEST_KEY, argon2_time_cost=1, argon2_memory_kib=8),
    )


@pytest.fixture
async def parts(config: Config, clock: ManualClock) -> AsyncIterator[Parts]:
    """The services over a real store, without HTTP."""
    p = build(config, clock)
    try:
        yield p
    finally:
        await p.store.close()


@pytest.fixture
async def app(config: Config, clock: ManualClock) -> web.Application:
    return create_app(config, clock=clock, migrate=False)


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


# -- a seeded world ---------------------------------------------------------------------

PASSWORD = "mật-khẩu-thử-1"


@dataclass
class World:
    """Ids and tokens of a small province: two districts, three communes, one meeting.

    ``tokens`` maps a name (admin, operator, chair, secretary, delegate, operator_d2,
    chair_d2, delegate_other, bp1, bp2, bp3) to a bearer token.
    """

    units: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    bridge_points: dict[str, int] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    meeting_id: int = 0
    agenda_ids: list[int] = field(default_factory=list)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


async def seed_world(parts: Parts) -> World:
    """Province P > districts D1 (communes C1, C2) and D2 (commune C3).

    Users: admin; operator, chair, secretary of D1; delegate of C1; operator and chair of D2;
    delegate_other of C3. Bridge points bp1 (C1), bp2 (C2), bp3 (C3). A D1 meeting chaired by
    chair with secretary, inviting bp1, bp2 and delegate, with three agenda items.
    """
    d, m, a = parts.services.directory, parts.services.meetings, parts.services.auth
    w = World()
    async def unit(code: str, name: str, kind: UnitKind, parent: int | None) -> Any:
        return await d.create_unit(None, code=code, name=name, kind=kind, parent_id=parent)

    p = await unit("P", "Tỉnh Thanh Hóa", UnitKind.PROVINCE, None)
    d1 = await unit("D1", "Huyện Hoằng Hóa", UnitKind.DISTRICT, p.id)
    d2 = await unit("D2", "Huyện Đông Sơn", UnitKind.DISTRICT, p.id)
    c1 = await unit("C1", "Xã Hoằng Đạo", UnitKind.COMMUNE, d1.id)
    c2 = await unit("C2", "Xã Hoằng Châu", UnitKind.COMMUNE, d1.id)
    c3 = await unit("C3", "Xã Đông Hòa", UnitKind.COMMUNE, d2.id)
    w.units = {"P": p.id, "D1": d1.id, "D2": d2.id, "C1": c1.id, "C2": c2.id, "C3": c3.id}
    people: list[tuple[str, str, Role | None, str]] = [
        ("admin", "Quản Trị", None, "P"),
        ("operator", "Lê Văn Kỹ", Role.OPERATOR, "D1"),
        ("chair", "Nguyễn Thị Hoà", Role.CHAIR, "D1"),
        ("secretary", "Trần Đức Thắng", Role.SECRETARY, "D1"),
        ("delegate", "Phạm Thị Ánh", Role.DELEGATE, "C1"),
        ("operator_d2", "Võ Văn Tám", Role.OPERATOR, "D2"),
        ("chair_d2", "Đỗ Thị Lan", Role.CHAIR, "D2"),
        ("delegate_other", "Bùi Văn Sáu", Role.DELEGATE, "C3"),
    ]
    for login, name, role, unit in people:
        u = await d.create_user(
            None, login=login, display_name=name, password=PASSWORD, is_admin=role is None,
            grants=[(w.units[unit], role)] if role else [],
        )
        w.users[login] = u.id
        w.tokens[login] = (await a.login(login, PASSWORD, "seed")).token
    for name, unit in (("bp1", "C1"), ("bp2", "C2"), ("bp3", "C3")):
        new = await d.create_bridge_point(None, unit_id=w.units[unit], name=f"Điểm cầu {name}")
        w.bridge_points[name] = new.bridge_point.id
        w.credentials[name] = new.credential
        w.tokens[name] = (await a.device_login(new.credential, "seed")).token
    chair = await a.authenticate(w.tokens["chair"])
    meeting = await m.create(
        chair, unit_id=d1.id, title="Giao ban tháng 11", description="",
        starts_at=parts.clock.now() + timedelta(hours=1), ends_at=None,
        chair_id=w.users["chair"], secretary_id=w.users["secretary"],
    )
    w.meeting_id = meeting.id
    for title in ("Khai mạc", "Báo cáo", "Kết luận"):
        item = await m.add_agenda_item(
            chair, meeting.id, title=title, description="", duration_minutes=10
        )
        w.agenda_ids.append(item.id)
    await m.invite_bridge_points(
        chair, meeting.id, [w.bridge_points["bp1"], w.bridge_points["bp2"]]
    )
    await m.invite_delegates(chair, meeting.id, [w.users["delegate"]])
    return w


# Seeding through the services takes ~250 statements, a large part of many tests' time.
# The first world on each backend is seeded for real by a Parts of its own; its rows are
# kept and written straight into the emptied database of every later test. Ids, times
# (the ManualClock always starts at the same instant), hashes and tokens (signed with
# TEST_KEY) come out the same, and no test's rate limiter has seen the seeding logins.

#: Kept up to date by the real-time node on a timer, not part of the world.
_LIVENESS_TABLES = frozenset({"realtime_nodes", "presence"})
_SEEDED: dict[str, tuple[World, list[tuple[str, list[dict[str, Any]]]]]] = {}


async def _world_tables(parts: Parts) -> list[Any]:
    from sqlalchemy import inspect

    from meetingd.store.models import Base

    async with parts.store.engine.connect() as conn:
        present = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    return [
        t
        for t in Base.metadata.sorted_tables
        if t.name in present and t.name not in _LIVENESS_TABLES
    ]


async def _restore_world(parts: Parts, rows: list[tuple[str, list[dict[str, Any]]]]) -> None:
    from sqlalchemy import text

    tables = {t.name: t for t in await _world_tables(parts)}
    async with parts.store.engine.begin() as conn:
        for name, table_rows in rows:
            if table_rows:
                await conn.execute(tables[name].insert(), table_rows)
                if parts.store.dialect == "postgresql" and "id" in tables[name].c:
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f'(SELECT MAX(id) FROM "{name}"))'
                        )
                    )


async def seeded_world(parts: Parts) -> World:
    """:func:`seed_world`'s world in ``parts``' empty database, restored from rows when a
    previous test on the same backend has seeded it already."""
    import copy

    from sqlalchemy import delete, select

    if not (
        parts.config.auth.signing_key == TEST_KEY
        and parts.clock.now() == ManualClock().now()
        and isinstance(parts.clock, ManualClock)
    ):
        return await seed_world(parts)  # tokens and times would not match
    key = parts.store.dialect
    if key not in _SEEDED:
        seeder = build(parts.config, ManualClock())
        try:
            world = await seed_world(seeder)
        finally:
            await seeder.store.close()
        tables = await _world_tables(parts)
        captured: list[tuple[str, list[dict[str, Any]]]] = []
        async with parts.store.engine.begin() as conn:
            for table in tables:
                result = await conn.execute(select(table))
                captured.append((table.name, [dict(r) for r in result.mappings()]))
            for table in reversed(tables):  # children first; a tree from its leaves
                if any(fk.column.table is table for fk in table.foreign_keys):
                    for row in sorted(captured[tables.index(table)][1], key=lambda r: -r["id"]):
                        await conn.execute(delete(table).where(table.c.id == row["id"]))
                await conn.execute(delete(table))
        _SEEDED[key] = (world, captured)
    world, captured = _SEEDED[key]
    await _restore_world(parts, captured)
    return copy.deepcopy(world)


@pytest.fixture
async def world(parts: Parts) -> World:
    return await seeded_world(parts)


@pytest.fixture
async def api_world(app: web.Application, client: Any) -> World:
    """The same world, in the database of the app that ``client`` talks to."""
    return await seeded_world(app[PARTS])
