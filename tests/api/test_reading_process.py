"""The reading port served by a process of its own (:mod:`meetingd.api.reading_process`):
it answers the grants the server issues, a removal of rights heard by the server is in force
there for the very next range, a child that dies is replaced and told every removal still in
force, its figures reach the server's ``/metrics``, and it stops with the server."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meetingd.api.reading import READING_PROCESS, serve_reading
from meetingd.app import PARTS, create_app
from meetingd.config import Config
from tests.api.documents_world import open_reading, plain_pdf, seed_document
from tests.conftest import World, seeded_world

WITHIN = 15.0


@pytest.fixture
async def app(config: Config) -> web.Application:
    # the system clock: the child checks expiry by its own
    a = create_app(config, migrate=False)
    serve_reading(a, config, listen=("127.0.0.1", 0, True), process=True)
    return a


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


@pytest.fixture
async def world(app: web.Application, client: Any) -> World:
    return await seeded_world(app[PARTS])


async def _range(http: aiohttp.ClientSession, url: str, first: int, last: int) -> tuple[int, bytes]:
    async with http.get(url, headers={"Range": f"bytes={first}-{last}"}) as r:
        return r.status, await r.read()


async def _until(check: Any, what: str) -> Any:
    deadline = time.monotonic() + WITHIN
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_child_serves_grants_and_a_removal_holds_for_the_next_range(
    app: web.Application, client: Any, world: World
) -> None:
    child = app[READING_PROCESS]
    assert child.pid and child.pid != os.getpid()
    data = plain_pdf()
    docs = [await seed_document(app[PARTS], world, world.meeting_id, title=f"Tài liệu {i}")
            for i in range(5)]  # fmt: skip
    async with aiohttp.ClientSession() as http:
        for doc in docs:
            url = (await open_reading(client, world, doc.id))["url"]
            assert f":{child.sock.getsockname()[1]}/" in url
            for first in range(0, 600, 200):
                assert await _range(http, url, first, first + 199) == (
                    206,
                    data[first : first + 200],
                )
            resp = await client.post(
                f"/api/v1/meetings/{world.meeting_id}/documents/{doc.id}/unpublish",
                headers=world.auth("chair"),
            )
            assert resp.status == 200
            # no wait: the removal was told to the child before the answer came back
            status, body = await _range(http, url, 600, 700)
            assert status == 403 and b"grant_refused" in body
        # the figures reach the server's /metrics
        async def served() -> str:
            async with http.get(f"{client.make_url('/metrics')}") as r:
                return await r.text()

        # copied twice a second: a copy may hold the last range but not yet the last 403
        wanted = ('meetingd_reading_answers_total{status="206"} 15.0',
                  'meetingd_reading_answers_total{status="403"} 5.0')  # fmt: skip
        deadline = time.monotonic() + WITHIN
        while True:
            text = await served()
            if all(w in text for w in wanted):
                break
            assert time.monotonic() < deadline, text[-2000:]
            await asyncio.sleep(0.2)


async def test_a_killed_child_is_replaced_and_told_every_removal_in_force(
    app: web.Application, client: Any, world: World
) -> None:
    child = app[READING_PROCESS]
    data = plain_pdf()
    kept = await seed_document(app[PARTS], world, world.meeting_id, title="Giữ lại")
    gone = await seed_document(app[PARTS], world, world.meeting_id, title="Thu hồi")
    kept_url = (await open_reading(client, world, kept.id))["url"]
    gone_url = (await open_reading(client, world, gone.id))["url"]
    resp = await client.post(
        f"/api/v1/meetings/{world.meeting_id}/documents/{gone.id}/unpublish",
        headers=world.auth("chair"),
    )
    assert resp.status == 200
    first = child.pid
    os.kill(first, signal.SIGKILL)
    await _until(lambda: child.pid != first and child.started == 2, "a new reading process")
    async with aiohttp.ClientSession() as http:
        # the port never closed: the new child takes the connections queued meanwhile
        assert await _range(http, kept_url, 0, 99) == (206, data[:100])
        status, body = await _range(http, gone_url, 0, 99)
        assert status == 403 and b"grant_refused" in body


async def test_the_child_stops_with_the_server(config: Config) -> None:
    a = create_app(config, migrate=False)
    serve_reading(a, config, listen=("127.0.0.1", 0, True), process=True)
    async with TestClient(TestServer(a, host="127.0.0.1")):
        pid = a[READING_PROCESS].pid
        assert os.path.exists(f"/proc/{pid}")  # noqa: ASYNC240 (a stat)
    proc = a[READING_PROCESS].proc
    assert proc is not None and proc.returncode is not None  # exited and reaped


async def test_a_new_child_is_told_a_table_of_removals_larger_than_a_pipe(
    app: web.Application, client: Any, world: World
) -> None:
    """20,000 removals in force (~1.2 MB, more than the pipe holds) and then the one that
    matters: the replacement child still refuses what it withdraws."""
    child = app[READING_PROCESS]
    documents = app[PARTS].services.documents
    gone = await seed_document(app[PARTS], world, world.meeting_id, title="Thu hồi sau cùng")
    gone_url = (await open_reading(client, world, gone.id))["url"]
    for first in range(0, 20_000, 2_000):  # heard in bursts the child keeps up with
        documents.revoke_grants([f"token:{i:032x}" for i in range(first, first + 2_000)])
        await asyncio.sleep(0.05)
    resp = await client.post(
        f"/api/v1/meetings/{world.meeting_id}/documents/{gone.id}/unpublish",
        headers=world.auth("chair"),
    )
    assert resp.status == 200
    first_pid = child.pid
    os.kill(first_pid, signal.SIGKILL)
    await _until(lambda: child.pid != first_pid and child.started == 2, "a new reading process")
    async with aiohttp.ClientSession() as http:
        status, body = await _range(http, gone_url, 0, 99)
        assert status == 403 and b"grant_refused" in body
