"""The browser tests' fixtures: the meetingd server on loopback and one headless Chromium."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from meetingd.config import (
    AuthConfig,
    Config,
    DatabaseConfig,
    DocumentsConfig,
    RealtimeConfig,
    ServerConfig,
)
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import TEST_KEY, skip_or_fail
from tests.e2e.browser import Server


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    config = Config(
        server=ServerConfig(data_dir=tmp_path / "data", public_url="http://127.0.0.1"),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'meetingd.sqlite3'}"),
        auth=AuthConfig(signing_key=TEST_KEY, argon2_time_cost=1, argon2_memory_kib=8),
        realtime=RealtimeConfig(
            ping_interval=1.0, ping_timeout=4.0, commands_per_second=10_000, command_burst=100_000
        ),
        # The readers' range requests on a reading port of their own (another origin: CORS).
        documents=DocumentsConfig(read_listen="127.0.0.1:0"),
    )
    assert config.media.listen_ips == ("127.0.0.1",)
    s = Server(config)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (a stat, once)
        skip_or_fail("Debian's chromium is not installed (apt-get install -y chromium)")
    import playwright.async_api as playwright_api

    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()
