"""Several real ``meetingd serve`` processes on one PostgreSQL database and one Redis.

The fixtures ``scaleout_db`` (a migrated database of its own on the shared PostgreSQL) and
``redis_channel`` (a channel of its own on the shared Redis) are registered for every test in
``tests/realtime`` by its conftest. :func:`nodes` starts the processes; each :class:`Node` can
be killed, restarted on its port, paused and resumed (by its PID). For the fault tests,
:class:`OwnRedis` and :class:`OwnPostgres` are servers of the test's own, on free ports in
temporary directories, that it may stop and start again without touching the shared ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from meetingd.app import build
from meetingd.config import AuthConfig, Config, DatabaseConfig, ServerConfig
from tests.conftest import PG_ADMIN_URL, TEST_KEY, World, run_sync, seed_world, skip_or_fail

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
OFFLINE_AFTER = 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- databases ------------------------------------------------------------------------------


async def _admin(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    from meetingd.store.db import create_engine
    from meetingd.store.migrate import upgrade

    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()


@contextlib.contextmanager
def migrated_database(admin_url: str) -> Iterator[str]:
    """A new database on the server of ``admin_url`` (a libpq URL), migrated; dropped after.
    Yields its SQLAlchemy URL."""
    import asyncpg

    name = f"meetingd_scaleout_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        create = f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"
        run_sync(lambda: _admin(admin_url, create))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        skip_or_fail(f"PostgreSQL not available at {admin_url}: {exc}")
    base = admin_url.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
    url = f"{base}/{name}"
    run_sync(lambda: _migrate(url))
    try:
        yield url
    finally:
        run_sync(lambda: _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def scaleout_db() -> Iterator[str]:
    """A PostgreSQL database of its own on the shared server, migrated, dropped at the end."""
    with migrated_database(PG_ADMIN_URL) as url:
        yield url


@pytest.fixture
async def redis_channel() -> str:
    """A pub/sub channel of this test's own on the shared Redis."""
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


# -- server processes -----------------------------------------------------------------------


@dataclass
class Node:
    """One ``meetingd serve`` process on a fixed port and data directory."""

    name: str
    port: int
    data_dir: Path
    env: dict[str, str]
    log: Path
    proc: asyncio.subprocess.Process | None = None
    #: How many times it was started (the log holds every run, one after the other).
    runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start the process (again, on the same port and data directory)."""
        assert self.proc is None or self.proc.returncode is not None, "already running"
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "meetingd", "serve", "--host", "127.0.0.1",
                "--port", str(self.port), "--data-dir", str(self.data_dir),
                env=self.env, stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        self.runs += 1

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop this node's process (by its PID), waiting for it to exit."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        if sig != signal.SIGCONT:
            proc.send_signal(signal.SIGCONT)  # a paused process would not act on it
        proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    def pause(self) -> None:
        """SIGSTOP: the process is slow (not dead): nothing of it runs until :meth:`resume`."""
        assert self.proc is not None and self.proc.returncode is None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None and self.proc.returncode is None
        self.proc.send_signal(signal.SIGCONT)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


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
    """Start one ``meetingd serve`` per name; ``settings`` are more ``MEETINGD_*`` variables
    (``MEETINGD_REALTIME_REDIS_URL`` among them, for a Redis other than the shared one)."""
    env = node_env(db_url, channel, **settings)
    started: dict[str, Node] = {}
    try:
        for name in names:
            node = Node(
                name, free_port(), tmp_path / f"data-{name}", env, tmp_path / f"node-{name}.log"
            )
            await node.start()
            started[name] = node
        async with aiohttp.ClientSession() as http:
            for node in started.values():
                await wait_healthy(http, node)
        yield started
    finally:
        for node in started.values():
            await node.stop()


async def wait_healthy(http: aiohttp.ClientSession, node: Node, within: float = 30) -> None:
    """Wait until the node answers ``/healthz`` with 200 (it fails if the process exits)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if node.proc is not None and node.proc.returncode is not None:
            raise AssertionError(f"node {node.name} exited:\n{node.log_text()[-3000:]}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{node.url}/healthz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise AssertionError(f"node {node.name} did not start:\n{node.log_text()[-3000:]}")


async def metrics(http: aiohttp.ClientSession, node: Node) -> dict[str, float]:
    """The node's unlabelled Prometheus figures by name."""
    async with http.get(f"{node.url}/metrics") as r:
        assert r.status == 200, r.status
        text = await r.text()
    out: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if line and not line.startswith("#") and "{" not in name:
            out[name] = float(value)
    return out


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


# -- servers of a test's own, to stop and start again -----------------------------------------


async def _wait_port(
    port: int, within: float, what: str, proc: asyncio.subprocess.Process | None = None
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc is not None and proc.returncode is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port} within {within} s")


@dataclass
class OwnRedis:
    """A ``redis-server`` of the test's own (no persistence), on a free port."""

    dir: Path
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start it (again, on the same port)."""
        exe = shutil.which("redis-server")
        if exe is None:
            skip_or_fail("redis-server is not installed (scripts/system-deps.sh installs it)")
        assert exe is not None
        with (self.dir / "redis.log").open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir),
                stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        await _wait_port(self.port, 10, "redis-server", self.proc)

    async def kill(self) -> None:
        """SIGKILL (by its PID): gone without a word, its connections cut."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await asyncio.wait_for(self.proc.wait(), 10)


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    """A Redis of this test's own, started; killed at the end."""
    d = tmp_path / "redis"
    d.mkdir()
    server = OwnRedis(d)
    await server.start()
    try:
        yield server
    finally:
        await server.kill()


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class OwnPostgres:
    """A throw-away PostgreSQL cluster (Debian's initdb and pg_ctl) on a free port.

    PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` user
    and its commands run through ``runuser``.
    """

    bin: Path
    dir: Path
    port: int = field(default_factory=free_port)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def _run(self, *argv: str) -> None:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed: {out.decode(errors='replace')}")

    async def init(self) -> None:
        await self._run(
            "initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip

    async def start(self) -> None:
        """Start it (again, on the same port); returns once it accepts connections."""
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off"
        )
        await self._run(
            "pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "postgres.log"),
            "-o", options, "-w", "-t", "30", "start",
        )  # fmt: skip

    async def stop(self, mode: str = "fast") -> None:
        """``fast`` is what a restart does: every session ended with an error, then down."""
        await self._run(
            "pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "-t", "30", "stop"
        )


@pytest.fixture
async def own_postgres() -> AsyncIterator[OwnPostgres]:
    """A PostgreSQL cluster of this test's own, started; stopped and removed at the end."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        skip_or_fail("PostgreSQL's server programs (/usr/lib/postgresql/*/bin) are missing")
    assert bin_dir is not None
    # Not under pytest's tmp_path (mode 0700 under root's): the postgres user must reach it.
    d = Path(tempfile.mkdtemp(prefix="meetingd-pg-"))
    if os.geteuid() == 0:
        shutil.chown(d, "postgres")
    cluster = OwnPostgres(bin_dir, d)
    try:
        await cluster.init()
        await cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(AssertionError, TimeoutError):
            await cluster.stop("immediate")
        shutil.rmtree(d, ignore_errors=True)
