"""A reading grant withdrawn on one process stops working on another, at once.

Two `meetingd serve` processes share one PostgreSQL database and one Redis. The delegate
opens a document on process A and reads ranges there under the grant (no token, no
database). The right is removed on process B: the document is unpublished, or the
delegate logs out, or is uninvited. A hears it over the Redis bus (the same message that
closes sockets) and refuses the grant's next range with 403 ``grant_refused``; a range of
another viewer's grant, untouched by the removal, is still served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import aiohttp
import pytest

from tests.conftest import World
from tests.realtime.cluster import Node, nodes, seeded
from tests.services import pdfs

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

#: Generous: the bus delivers in milliseconds; this only bounds a failing run.
DEADLINE = 15.0


@pytest.fixture
async def cluster(
    scaleout_db: str, redis_channel: str, tmp_path: Path
) -> AsyncIterator[tuple[World, dict[str, Node]]]:
    world = await seeded(scaleout_db, tmp_path)
    async with nodes(scaleout_db, redis_channel, tmp_path, ("a", "b")) as started:
        yield world, started


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, w: World, who: str, **kw: Any
) -> tuple[int, Any]:
    async with http.request(method, url, headers=w.auth(who), **kw) as resp:
        body = await resp.json(content_type=None) if resp.content_length != 0 else None
        return resp.status, body


async def _range(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url, headers={"Range": "bytes=0-99"}) as resp:
        body = await resp.read()
        return resp.status, body


async def _until_refused(http: aiohttp.ClientSession, url: str) -> float:
    """Seconds until ``url`` answers 403 grant_refused (fails past DEADLINE)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < DEADLINE:
        status, body = await _range(http, url)
        if status == 403:
            assert b"grant_refused" in body
            return time.monotonic() - t0
        assert status == 206, (status, body[:200])
        await asyncio.sleep(0.02)
    raise AssertionError(f"the grant still worked {DEADLINE} s after the removal")


async def _published(http: aiohttp.ClientSession, node: Node, w: World, title: str) -> int:
    docs = f"{node.url}/api/v1/meetings/{w.meeting_id}/documents"
    async with http.post(
        f"{docs}?filename={quote(title)}",
        data=pdfs.plain(3),
        headers={**w.auth("chair"), "Content-Type": "application/pdf"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        doc_id = int((await resp.json())["id"])
    status, _ = await _call(http, "POST", f"{docs}/{doc_id}/publish", w, "chair")
    assert status == 200
    return doc_id


async def _grant_url(http: aiohttp.ClientSession, node: Node, w: World, doc: int, who: str) -> str:
    url = f"{node.url}/api/v1/meetings/{w.meeting_id}/documents/{doc}/open"
    status, body = await _call(http, "POST", url, w, who)
    assert status == 200, body
    return urljoin(node.url + "/", str(body["url"]))  # the reading port's, or a path


@pytest.mark.timeout(180)
@pytest.mark.parametrize("how", ["unpublished", "logout", "uninvited"])
async def test_a_grant_withdrawn_on_another_process_is_refused_at_once(
    cluster: tuple[World, dict[str, Node]], how: str
) -> None:
    w, n = cluster
    a, b = n["a"], n["b"]
    async with aiohttp.ClientSession() as http:
        doc = await _published(http, a, w, "Báo cáo quý.pdf")
        mine = await _grant_url(http, a, w, doc, "delegate")
        theirs = await _grant_url(http, a, w, doc, "bp1")
        assert (await _range(http, mine))[0] == 206
        base = f"{b.url}/api/v1/meetings/{w.meeting_id}"
        if how == "unpublished":
            status, _ = await _call(http, "POST", f"{base}/documents/{doc}/unpublish", w, "chair")
            assert status == 200
        elif how == "logout":
            status, _ = await _call(http, "POST", f"{b.url}/api/v1/auth/logout", w, "delegate")
            assert status == 204
        else:
            url = f"{base}/delegates/{w.users['delegate']}"
            status, body = await _call(http, "DELETE", url, w, "chair")
            assert status in (200, 204), body
        took = await _until_refused(http, mine)
        print(f"{how}: refused on A {took * 1000:.0f} ms after B answered")
        other = await _range(http, theirs)
        if how == "unpublished":
            assert other[0] == 403  # the document is gone for everyone
        else:
            assert other[0] == 206  # another viewer's grant stands
