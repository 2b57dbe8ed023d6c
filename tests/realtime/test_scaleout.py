"""Two `meetingd serve` processes on one PostgreSQL database and one Redis, over loopback.

A screen on process A sees every event caused on process B (and on A) in ``seq`` order,
with no loss and no repeat, also while both processes commit to the same meeting at once;
when process B dies, A shows B's participants offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from meetingd.app import build
from meetingd.config import AuthConfig, Config, DatabaseConfig, ServerConfig
from tests.conftest import PG_ADMIN_URL, TEST_KEY, World, run_sync, seed_world, skip_or_fail
from tests.realtime.livekit import LiveClient, Mirror, normalised

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
OFFLINE_AFTER = 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def scaleout_db() -> Iterator[str]:
    """A PostgreSQL database of its own, migrated, dropped at the end."""
    import asyncpg

    name = f"meetingd_scaleout_{os.getpid()}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        run_sync(lambda: admin(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        skip_or_fail(f"PostgreSQL not available at {PG_ADMIN_URL}: {exc}")
    base = PG_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
    url = f"{base}/{name}"

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


@pytest.fixture
async def redis_channel() -> str:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        skip_or_fail(f"Redis not available at {REDIS_URL}: {exc}")
    finally:
        await client.aclose()
    return f"meetingd-test-{os.getpid()}-{secrets.token_hex(4)}"  # this run's alone


@dataclass
class Node:
    name: str
    url: str
    proc: asyncio.subprocess.Process
    log: Path

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop this node's process (by its PID), waiting for it to exit."""
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def node_env(db_url: str, channel: str, **settings: str) -> dict[str, str]:
    """The environment of a ``meetingd`` process of this cluster (a server or a CLI run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
    env.update(
        MEETINGD_DATABASE_URL=db_url,
        MEETINGD_REALTIME_REDIS_URL=REDIS_URL,
        MEETINGD_REALTIME_REDIS_CHANNEL=channel,
        MEETINGD_REALTIME_OFFLINE_AFTER_SECONDS=str(OFFLINE_AFTER),
        MEETINGD_AUTH_SIGNING_KEY=TEST_KEY,
        MEETINGD_SERVER_LOG_LEVEL="INFO",
    )
    env.update(settings)
    return env


@contextlib.asynccontextmanager
async def nodes(
    db_url: str, channel: str, tmp_path: Path, names: tuple[str, ...], **settings: str
) -> AsyncIterator[dict[str, Node]]:
    """Start one ``meetingd serve`` per name; ``settings`` are more ``MEETINGD_*`` variables."""
    env = node_env(db_url, channel, **settings)
    started: dict[str, Node] = {}
    try:
        for name in names:
            port = free_port()
            log = tmp_path / f"node-{name}.log"
            with log.open("wb") as out:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "meetingd", "serve", "--host", "127.0.0.1",
                    "--port", str(port), "--data-dir", str(tmp_path / f"data-{name}"),
                    env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
                )  # fmt: skip
            started[name] = Node(name, f"http://127.0.0.1:{port}", proc, log)
        async with aiohttp.ClientSession() as http:
            for node in started.values():
                await wait_healthy(http, node)
        yield started
    finally:
        for node in started.values():
            await node.stop()


async def wait_healthy(http: aiohttp.ClientSession, node: Node) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if node.proc.returncode is not None:
            raise AssertionError(f"node {node.name} exited:\n{node.log.read_text()[-3000:]}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{node.url}/healthz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise AssertionError(f"node {node.name} did not start:\n{node.log.read_text()[-3000:]}")


async def seeded(db_url: str, tmp_path: Path) -> World:
    config = Config(
        server=ServerConfig(data_dir=tmp_path / "seed"),
        database=DatabaseConfig(url=db_url),
        auth=AuthConfig(signing_key=TEST_KEY, argon2_time_cost=1, argon2_memory_kib=8),
    )
    parts = build(config)
    try:
        return await seed_world(parts)
    finally:
        await parts.store.close()


async def test_two_processes_deliver_every_event_to_every_screen_in_order(
    scaleout_db: str, redis_channel: str, tmp_path: Path
) -> None:
    world = await seeded(scaleout_db, tmp_path)
    mid = world.meeting_id
    m = {"meeting_id": mid}
    async with nodes(scaleout_db, redis_channel, tmp_path, ("a", "b")) as n:
        clients: list[LiveClient] = []

        async def on(node: str, who: str) -> LiveClient:
            c = LiveClient(n[node].url, world.tokens[who], name=f"{who}@{node}")
            clients.append(c)
            return await c.connect()

        try:
            # A watches; B does the chairing; both have participants.
            watch_a = await on("a", "operator")
            bp1_a, delegate_a = await on("a", "bp1"), await on("a", "delegate")
            chair_b, secretary_b, bp2_b = (
                await on("b", "chair"),
                await on("b", "secretary"),
                await on("b", "bp2"),
            )
            mirrors: dict[str, Mirror] = {}
            for c in (watch_a, bp1_a, delegate_a, chair_b, secretary_b, bp2_b):
                mirrors[c.name] = await c.join(mid)
            start = mirrors[watch_a.name].seq

            for verb in ("open", "start"):
                await chair_b.ok(f"meeting.{verb}", m)
            await chair_b.ok("meeting.move_to_item", {**m, "item_id": world.agenda_ids[0]})
            await secretary_b.ok("rollcall.start", m)

            # Both processes commit to the same meeting at once.
            async def answers(c: LiveClient, base: int) -> None:
                for i in range(15):
                    await c.ok("rollcall.answer", {**m, "count": base + i})

            async def toggles() -> None:
                for _ in range(5):
                    await chair_b.ok("meeting.pause", m)
                    await chair_b.ok("meeting.resume", m)

            await asyncio.gather(answers(bp1_a, 10), answers(bp2_b, 50), toggles())
            await delegate_a.ok("rollcall.confirm", m)
            closed = await secretary_b.ok("rollcall.close", m)
            assert closed["result"]["quorum"]["reached"] is True

            # A screen joining late on A and one resyncing on B agree too.
            late_a = await on("a", "chair")
            mirrors[late_a.name] = await late_a.join(mid)
            head = max(mm.seq for mm in mirrors.values())
            for c in clients:
                mm = mirrors[c.name]
                await c.wait_until(lambda mm=mm, head=head: mm.seq >= head)  # type: ignore[misc]
            head = max(mm.seq for mm in mirrors.values())
            assert head - start == 4 + 30 + 10 + 2  # lifecycle, answers, toggles, confirm+close
            views = set()
            for name, mm in mirrors.items():
                assert mm.gaps == [], (name, mm.gaps)
                if mm.applied:
                    assert mm.applied == list(range(mm.applied[0], mm.seq + 1)), name
                views.add(repr(mm.view()))
            assert len(views) == 1, "every screen holds the same state"
            # The watcher on A saw everything B caused, in order, each once.
            seen = [d["seq"] for e, d in watch_a.events if isinstance(d, dict) and "seq" in d]
            assert seen == list(range(seen[0], head + 1)) and seen[0] <= start + 1
            firsts = ("meeting.opened", "meeting.started", "agenda.moved", "rollcall.started")
            assert [e for e, _ in watch_a.events if e in firsts] == list(firsts)

            # Process B dies without a word: A shows its participants offline.
            await n["b"].stop(signal.SIGKILL)
            t0 = time.monotonic()
            gone = {
                ("user", world.users["secretary"]),
                ("bridge_point", world.bridge_points["bp2"]),
            }

            def left() -> set[tuple[str, int]]:
                return {(d["kind"], d["id"]) for e, d in watch_a.events if e == "presence.left"}

            await watch_a.wait_until(lambda: gone <= left(), within=OFFLINE_AFTER * 5)
            took = time.monotonic() - t0
            assert took < OFFLINE_AFTER * 4, f"offline after {took:.1f} s"
            # The chair stays: it has another device on A.
            still = normalised(mirrors[watch_a.name].state)["presence"]
            assert {(p["kind"], p["id"]) for p in still} == {
                ("user", world.users["operator"]),
                ("user", world.users["chair"]),
                ("user", world.users["delegate"]),
                ("bridge_point", world.bridge_points["bp1"]),
            }
        finally:
            for c in clients:
                with contextlib.suppress(Exception):
                    await c.close()
