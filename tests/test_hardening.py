"""Hardening found by reading the code (issue 13 §5): /metrics privacy, login limits,
trusted proxies, the generated signing key, and the schema revision checked at start."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meetingd.api.context import forwarded_client, proxy_networks
from meetingd.app import PARTS, Parts, create_app, signing_key
from meetingd.clock import ManualClock
from meetingd.config import (
    AuthConfig,
    Config,
    ConfigError,
    DatabaseConfig,
    ServerConfig,
    load_config,
)
from meetingd.domain import MediaHealth
from meetingd.errors import AuthenticationError, RateLimited
from meetingd.services.ratelimit import FailureThrottle, RateLimiter
from meetingd.store.db import create_engine
from meetingd.store.migrate import SchemaMismatch, current_revision, head_revision, upgrade
from tests.conftest import (
    PASSWORD,
    PG_ADMIN_URL,
    TEST_KEY,
    World,
    seeded_world,
    skip_or_fail,
)

METRICS_TOKEN = "metrics-" + "t" * 24


def _with_server(config: Config, **changes: Any) -> Config:
    return dataclasses.replace(config, server=dataclasses.replace(config.server, **changes))


@pytest.fixture
async def open_app(
    config: Config, clock: ManualClock
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], World]]:
    """An app with a metrics token and 10.0.0.0/8 as trusted proxies (127.0.0.1 is not one)."""
    cfg = _with_server(config, metrics_token=METRICS_TOKEN, trusted_proxies=("10.0.0.0/8",))
    app = create_app(cfg, clock=clock, migrate=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c, await seeded_world(app[PARTS])


# -- /metrics --------------------------------------------------------------------------------


def _health(meeting_id: int, subject: str, connection: str, at: datetime) -> MediaHealth:
    return MediaHealth(
        meeting_id=meeting_id,
        subject=subject,
        connection=connection,
        role="bridge_point",
        state="connected",
        bitrate_in=300_000,
        bitrate_out=500_000,
        loss_in=0.01,
        loss_out=0.0,
        jitter_in_ms=3.0,
        jitter_out_ms=2.0,
        rtt_ms=20.0,
        fps_in=15.0,
        fps_out=15.0,
        last_keyframe_at=None,
        measured_at=at,
    )


async def test_metrics_show_aggregates_to_anyone_and_details_only_on_the_token(
    open_app: tuple[Any, World], clock: ManualClock
) -> None:
    client, world = open_app
    health = client.server.app[PARTS].services.health
    now = clock.now()
    health.record(
        world.meeting_id,
        [
            _health(world.meeting_id, "bridge_point:7", "SockIdAbc", now),
            _health(world.meeting_id, "user:9", "SockIdDef", now),
        ],
    )
    resp = await client.get("/metrics")
    assert resp.status == 200
    text = await resp.text()
    assert "meetingd_media_links 2.0" in text
    assert "meetingd_media_bitrate_in_bps_max 300000.0" in text
    for secret in ("SockIdAbc", "bridge_point:7", "user:9", f'meeting="{world.meeting_id}"'):
        assert secret not in text
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert resp.status == 200
    detail = await resp.text()
    assert 'connection="SockIdAbc"' in detail and 'subject="user:9"' in detail
    assert "meetingd_media_links 2.0" in detail  # the aggregates too
    resp = await client.get("/metrics", headers={"Authorization": "Bearer wrong-token"})
    assert resp.status == 401


async def test_metrics_details_are_off_without_a_configured_token(client: Any) -> None:
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert resp.status == 401
    assert "server.metrics_token" in (await resp.json())["error"]["message"]
    assert (await client.get("/metrics")).status == 200


def test_metrics_token_comes_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "metrics-token"
    secret.write_text(METRICS_TOKEN + "\n")
    config = load_config(env={"MEETINGD_SERVER_METRICS_TOKEN_FILE": str(secret)})
    assert config.server.metrics_token == METRICS_TOKEN
    assert config.redacted()["server"]["metrics_token"] == "***"
    with pytest.raises(ConfigError, match=r"server\.metrics_token: must be at least 16"):
        load_config(env={"MEETINGD_SERVER_METRICS_TOKEN": "short"})


# -- login limits ----------------------------------------------------------------------------


async def test_a_flood_of_junk_logins_cannot_flush_a_real_accounts_count(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    auth = parts.services.auth
    for i in range(6):  # someone guesses at the chair's password from many addresses
        with pytest.raises(AuthenticationError):
            await auth.login("chair", "sai", f"192.0.2.{i}")
    with pytest.raises(RateLimited) as before:
        await auth.login("chair", PASSWORD, "192.0.2.200")
    # One address floods junk logins: its own limit stops it after twenty.
    refused = 0
    for i in range(500):
        try:
            await auth.login(f"rac{i}", "sai", "198.51.100.66")
        except RateLimited:
            refused += 1
        except AuthenticationError:
            pass
    assert refused == 480
    with pytest.raises(RateLimited) as after:
        await auth.login("chair", PASSWORD, "192.0.2.200")
    assert after.value.retry_after == pytest.approx(before.value.retry_after)


def test_the_throttle_forgets_idle_keys_first_and_never_all_at_once() -> None:
    clock = ManualClock()
    throttle = FailureThrottle(clock, free_per_minute=5, max_delay=30, max_keys=100)
    for _ in range(9):
        throttle.failed("user:chair")
    wait = throttle.attempt("user:chair")
    assert wait == pytest.approx(8.0)  # 2 ** (9 - 5 - 1)
    # Ten thousand junk accounts (from as many addresses) pass through a table of 100.
    for i in range(10_000):
        throttle.failed(f"user:junk{i}")
    assert len(throttle) == 100
    assert "user:chair" in throttle
    assert throttle.attempt("user:chair") == pytest.approx(8.0)
    limiter = RateLimiter(clock, rate=1.0, burst=2.0, max_keys=100)
    assert limiter.take("10.0.0.1") == 0.0 and limiter.take("10.0.0.1") == 0.0
    for i in range(10_000):
        limiter.take(f"junk{i}")
    assert len(limiter) == 100 and "10.0.0.1" in limiter
    assert limiter.take("10.0.0.1") > 0


async def test_five_wrong_passwords_a_minute_never_keep_the_right_one_out(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    """Five wrong a minute (evenly or in one burst) cost the official nothing, for ten minutes."""
    auth = parts.services.auth
    for minute in range(10):
        for i in range(5):
            with pytest.raises(AuthenticationError):
                await auth.login("secretary", "sai", f"203.0.113.{i}")
            if minute % 2:
                clock.advance(12)  # evenly spread on odd minutes, a burst on even ones
        if minute % 2 == 0:
            clock.advance(60)
        issued = await auth.login("secretary", PASSWORD, "192.0.2.1")  # never a 429
        assert issued.principal.id == world.users["secretary"]


async def test_a_burst_of_guesses_keeps_the_official_out_at_most_the_ceiling(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    auth = parts.services.auth
    ceiling = parts.config.auth.login_max_delay_seconds
    guesses = 0
    for step in range(600):  # an attacker on many addresses tries every second for 10 min
        try:
            await auth.login("secretary", "sai", f"203.0.113.{step % 250}")
        except RateLimited as exc:
            assert exc.retry_after <= ceiling
        except AuthenticationError:
            guesses += 1
        clock.advance(1)
    assert guesses <= 5 + 10 * 5 + 600 / ceiling  # the free five a minute, and few more
    with pytest.raises(RateLimited) as exc:
        await auth.login("secretary", PASSWORD, "192.0.2.1")
    assert exc.value.retry_after <= ceiling
    clock.advance(exc.value.retry_after)
    assert (await auth.login("secretary", PASSWORD, "192.0.2.1")).principal.id


# -- X-Forwarded-For from trusted proxies only ------------------------------------------------


def test_the_client_is_the_rightmost_hop_that_is_not_a_proxy() -> None:
    proxies = proxy_networks(["10.0.0.0/8", "192.168.1.1"])
    # Untrusted peer: its header is ignored, whatever it says.
    assert forwarded_client("203.0.113.5", "1.2.3.4", proxies) == "203.0.113.5"
    # Trusted peer: the right-most untrusted hop, not the forgeable left-most one.
    assert forwarded_client("10.1.1.1", "6.6.6.6, 198.51.100.7", proxies) == "198.51.100.7"
    assert forwarded_client("10.1.1.1", "6.6.6.6, 198.51.100.7, 192.168.1.1", proxies) == (
        "198.51.100.7"
    )
    assert forwarded_client("10.1.1.1", "10.2.2.2, 10.3.3.3", proxies) == "10.2.2.2"
    assert forwarded_client("10.1.1.1", "", proxies) == "10.1.1.1"
    assert forwarded_client("::ffff:10.1.1.1", "198.51.100.9", proxies) == "198.51.100.9"


async def test_xff_from_an_untrusted_peer_is_ignored(open_app: tuple[Any, World]) -> None:
    client, _ = open_app  # the test client's peer 127.0.0.1 is not in 10.0.0.0/8
    for i in range(20):
        headers = {"X-Forwarded-For": f"203.0.113.{i}"}  # a new "address" every time
        resp = await client.post(
            "/api/v1/auth/login", json={"login": f"khach{i}", "password": "x"}, headers=headers
        )
        assert resp.status == 401
    resp = await client.post(
        "/api/v1/auth/login",
        json={"login": "admin", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.1"},
    )
    assert resp.status == 429  # all twenty counted against 127.0.0.1


async def test_xff_from_a_trusted_proxy_names_the_client(
    config: Config, clock: ManualClock
) -> None:
    cfg = _with_server(config, trusted_proxies=("127.0.0.1/32",))
    app = create_app(cfg, clock=clock, migrate=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await seeded_world(app[PARTS])
        for i in range(25):  # 25 clients behind the proxy: none is held back by the others
            resp = await client.post(
                "/api/v1/auth/login",
                json={"login": "admin", "password": PASSWORD},
                headers={"X-Forwarded-For": f"6.6.6.6, 203.0.113.{i}"},
            )
            assert resp.status == 200, await resp.text()


# -- the generated signing key ---------------------------------------------------------------


def _keyless(tmp_path: Path) -> Config:
    return Config(server=ServerConfig(data_dir=tmp_path / "data"))


def test_the_signing_key_is_written_whole_and_private(tmp_path: Path) -> None:
    config = _keyless(tmp_path)
    key = signing_key(config)
    path = tmp_path / "data" / "signing-key"
    assert len(key) >= 32 and path.read_text() == key + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["signing-key"]  # no temporary left
    assert signing_key(config) == key  # read back, not regenerated


@pytest.mark.parametrize("content", ["", "\n", "short-key\n"])
def test_an_empty_or_short_signing_key_is_refused(tmp_path: Path, content: str) -> None:
    config = _keyless(tmp_path)
    path = tmp_path / "data" / "signing-key"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(ConfigError) as exc:
        signing_key(config)
    line = str(exc.value)
    assert line.startswith("config: auth.signing_key:") and str(path) in line
    assert "\n" not in line and "delete the file" in line


def test_serve_says_why_it_refuses_a_short_signing_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "signing-key").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "meetingd", "serve", "--data-dir", str(data), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert done.returncode == 2
    assert "config: auth.signing_key:" in done.stderr and "Traceback" not in done.stderr


# -- the schema revision at start -------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def old_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database migrated only to revision 0004."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
        admin = None
        name = ""
    else:
        import asyncpg

        name = f"meetingd_old_{os.getpid()}_{secrets.token_hex(3)}"
        try:
            admin = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            skip_or_fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
        await admin.execute(f'CREATE DATABASE "{name}"')
        server = PG_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
        url = f"{server}/{name}"
    engine = create_engine(url)
    await upgrade(engine, "0004")
    await engine.dispose()
    try:
        yield url
    finally:
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


async def _start(config: Config) -> None:
    app = create_app(config)
    runner = web.AppRunner(app)
    try:
        await runner.setup()  # runs the cleanup contexts' start: the store's check
    finally:
        await runner.cleanup()


def _on(url: str, tmp_path: Path, *, auto_migrate: bool = False) -> Config:
    return Config(
        server=ServerConfig(data_dir=tmp_path / "data"),
        database=DatabaseConfig(url=url, auto_migrate=auto_migrate),
        auth=AuthConfig(signing_key=TEST_KEY, argon2_time_cost=1, argon2_memory_kib=8),
    )


async def test_serve_refuses_an_older_schema_naming_both_revisions(
    old_db_url: str, tmp_path: Path
) -> None:
    cfg = _on(old_db_url, tmp_path)
    with pytest.raises(SchemaMismatch) as exc:
        await _start(cfg)
    line = str(exc.value)
    assert "0004" in line and head_revision() in line and "meetingd db upgrade" in line
    assert "\n" not in line
    engine = create_engine(old_db_url)
    assert await current_revision(engine) == "0004"  # untouched
    await engine.dispose()


async def test_auto_migrate_brings_an_older_schema_up_at_start(
    old_db_url: str, tmp_path: Path
) -> None:
    await _start(_on(old_db_url, tmp_path, auto_migrate=True))
    engine = create_engine(old_db_url)
    assert await current_revision(engine) == head_revision()
    await engine.dispose()


def test_the_serve_command_prints_one_line_for_an_older_schema(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()

    async def old() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{data / 'meetingd.sqlite3'}")
        await upgrade(engine, "0004")
        await engine.dispose()

    asyncio.run(old())
    done = subprocess.run(
        [sys.executable, "-m", "meetingd", "serve", "--data-dir", str(data), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert done.returncode == 1, done.stderr
    assert "schema revision 0004" in done.stderr and "meetingd db upgrade" in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_405_names_the_allowed_methods(client: Any) -> None:
    resp = await client.put("/api/v1/auth/login", json={})
    assert resp.status == 405
    assert "POST" in resp.headers["Allow"]
    assert (await resp.json())["error"]["code"] == "method_not_allowed"
