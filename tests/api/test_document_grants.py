"""Reading grants: `document.open` authorises a reader once; the range requests then carry
the grant (no token) and are checked without a database query. A grant is refused when it
has expired, was tampered with, names another document, or was withdrawn: each removal of
the viewer's right refuses it on the very next request.

Every test runs twice: with the reading port (`documents.read_listen`: the grant URL points
at it, and it answers the ranges) and without one (the app's own `GET …/read` route)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pypdfium2
import pytest
from aiohttp import web
from sqlalchemy import event

from meetingd.api.reading import READING, serve_reading
from meetingd.app import PARTS, create_app
from meetingd.config import Config
from meetingd.logs import request_id
from meetingd.services.documents import GRANT_TTL
from meetingd.store import Store
from tests.api.checks import expect_error
from tests.api.documents_world import open_reading, plain_pdf, seed_document
from tests.conftest import World


@pytest.fixture(params=["reading_port", "main_port"])
async def app(request: pytest.FixtureRequest, config: Config, clock: Any) -> web.Application:
    a = create_app(config, clock=clock, migrate=False)
    if request.param == "reading_port":
        serve_reading(a, config, listen=("127.0.0.1", 0, True))
    return a


class Reads:
    """GETs of grant URLs: the reading port's (absolute) over a session of their own, the
    main port's (a path) through the test client."""

    def __init__(self, client: Any, http: aiohttp.ClientSession) -> None:
        self.client = client
        self.http = http

    async def get(self, url: str, headers: dict[str, str] | None = None) -> Any:
        if url.startswith("http"):
            return await self.http.get(url, headers=headers)
        return await self.client.get(url, headers=headers)


@pytest.fixture
async def reads(client: Any) -> AsyncIterator[Reads]:
    async with aiohttp.ClientSession() as http:
        yield Reads(client, http)


def _docs(w: World) -> str:
    return f"/api/v1/meetings/{w.meeting_id}/documents"


def _path(url: str) -> str:
    """A grant URL's path and query (the reading port's URL is absolute)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _read(reads: Reads, url: str, rng: str = "bytes=0-99", **headers: str) -> Any:
    return await reads.get(url, headers={"Range": rng, "X-Request-Id": READS, **headers})


async def _refused(reads: Reads, url: str) -> None:
    await expect_error(await _read(reads, url), 403, code="grant_refused")


#: The request id the reads below send (the middleware keeps a safe one it is given).
READS = "grant-read"


@contextlib.contextmanager
def counted_queries(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store's engine runs for requests sent with request id
    :data:`READS` (the app's background loops may query meanwhile: not counted)."""
    seen: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if request_id.get() == READS:
            seen.append(statement)

    target = store.engine.sync_engine
    event.listen(target, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", on_execute)


def _text_of(pdf: bytes) -> str:
    doc = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


async def test_a_grant_reads_ranges_without_a_token_or_a_query(
    client: Any, reads: Reads, api_world: World, app: Any
) -> None:
    w = api_world
    parts = app[PARTS]
    doc = await seed_document(parts, w, w.meeting_id)
    data = plain_pdf()
    with counted_queries(parts.store) as opening:
        resp = await client.post(
            f"{_docs(w)}/{doc.id}/open", headers={**w.auth("delegate"), "X-Request-Id": READS}
        )
        assert resp.status == 200
        opened = await resp.json()
    assert opening, "the counter sees the opening's queries (it can fail)"
    assert opened["size"] == len(data) and opened["variant"] == "original"
    url = opened["url"]
    assert _path(url).startswith(f"{_docs(w)}/{doc.id}/read?grant=")
    if READING in app:  # the reading port, on the host the caller reached the server by
        assert url.startswith(f"http://127.0.0.1:{app[READING].port}/")
    else:
        assert url.startswith("/")
    with counted_queries(parts.store) as queries:
        part = await _read(reads, url, "bytes=10-99")
        assert part.status == 206 and await part.read() == data[10:100]
        assert part.headers["Content-Range"] == f"bytes 10-99/{len(data)}"
        assert part.headers["Accept-Ranges"] == "bytes"
        assert part.headers["Cache-Control"].startswith("private")
        tail = await _read(reads, url, "bytes=-16")
        assert tail.status == 206 and await tail.read() == data[-16:]
        whole = await reads.get(url, headers={"X-Request-Id": READS})
        assert whole.status == 200 and await whole.read() == data
        etag = whole.headers["ETag"]
        assert etag == opened["etag"] or etag  # a strong validator of the served blob
        same = await _read(reads, url, "bytes=0-9", **{"If-Range": etag})
        assert same.status == 206 and await same.read() == data[:10]
        changed = await _read(reads, url, "bytes=0-9", **{"If-Range": '"something-else"'})
        assert changed.status == 200 and await changed.read() == data
        cached = await reads.get(url, headers={"If-None-Match": etag, "X-Request-Id": READS})
        assert cached.status == 304 and await cached.read() == b""
        beyond = await _read(reads, url, f"bytes={len(data)}-")
        assert beyond.status == 416 and beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    assert queries == [], f"range requests under a grant queried the database: {queries}"
    # The opening itself is recorded once, like GET .../file.
    receipts = await client.get(f"{_docs(w)}/receipts", headers=w.auth("chair"))
    assert [r["subject"] for r in await receipts.json()] == [f"user:{w.users['delegate']}"]


async def test_a_confidential_grant_reads_the_viewers_own_copy(
    client: Any, reads: Reads, api_world: World, app: Any
) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id, confidential=True, view_only=True)
    mine = await open_reading(client, w, doc.id, "delegate")
    theirs = await open_reading(client, w, doc.id, "bp1")
    assert mine["variant"] == theirs["variant"] == "watermarked"
    resp = await reads.get(mine["url"])
    assert resp.status == 200 and "no-store" in resp.headers["Cache-Control"]
    assert _text_of(await resp.read()).count("Phạm Thị Ánh") >= 3
    other = await reads.get(theirs["url"])
    assert "Phạm Thị Ánh" not in _text_of(await other.read())
    assert mine["etag"] != theirs["etag"]


async def test_an_expired_grant_is_refused(
    client: Any, reads: Reads, api_world: World, app: Any, clock: Any
) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    url = (await open_reading(client, w, doc.id))["url"]
    clock.advance(GRANT_TTL.total_seconds() - 1)
    assert (await _read(reads, url)).status == 206
    clock.advance(1)
    await _refused(reads, url)


def _flip(text: str, at: int) -> str:
    c = text[at]
    return text[:at] + ("A" if c != "A" else "B") + text[at + 1 :]


async def test_a_tampered_grant_is_refused(
    client: Any, reads: Reads, api_world: World, app: Any
) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    url = (await open_reading(client, w, doc.id))["url"]
    base, grant = url.split("?grant=")
    body, mac = grant.split(".")
    assert (await _read(reads, url)).status == 206
    for bad in (
        f"{_flip(body, 5)}.{mac}",  # another viewer, document or expiry
        f"{body}.{_flip(mac, 3)}",  # another signature
        f"{body}.{mac[:-2]}",  # a shortened one
        f"{body}{mac}",  # no separator
        "not-a-grant",
    ):
        await _refused(reads, f"{base}?grant={bad}")
    # One signed with another key (a forged server): refused by its signature.
    from meetingd.documents import grants

    g = grants.parse(grants.grant_key(app[PARTS].config.auth.signing_key), grant)
    forged = grants.sign(grants.grant_key("another-signing-key-" + "x" * 32), g)
    await _refused(reads, f"{base}?grant={forged}")
    missing = await reads.get(base, headers={"Range": "bytes=0-9"})
    await expect_error(missing, 400)


async def test_a_grant_reads_only_its_own_document(
    client: Any, reads: Reads, api_world: World, app: Any
) -> None:
    w = api_world
    first = await seed_document(app[PARTS], w, w.meeting_id)
    second = await seed_document(app[PARTS], w, w.meeting_id, title="Tờ trình")
    url = (await open_reading(client, w, first.id))["url"]
    grant = url.split("?grant=")[1]
    origin = url.split("/api/")[0]
    await _refused(reads, f"{origin}{_docs(w)}/{second.id}/read?grant={grant}")
    other_meeting = f"/api/v1/meetings/{w.meeting_id + 1000}/documents/{first.id}"
    await _refused(reads, f"{origin}{other_meeting}/read?grant={grant}")
    assert (await _read(reads, url)).status == 206


Revoke = Callable[[Any, World, Any, int], Awaitable[None]]


async def _logout(client: Any, w: World, parts: Any, doc_id: int) -> None:
    resp = await client.post("/api/v1/auth/logout", headers=w.auth("delegate"))
    assert resp.status == 204


async def _unpublish(client: Any, w: World, parts: Any, doc_id: int) -> None:
    resp = await client.post(f"{_docs(w)}/{doc_id}/unpublish", headers=w.auth("chair"))
    assert resp.status == 200, await resp.text()


async def _audience(client: Any, w: World, parts: Any, doc_id: int) -> None:
    body = {"audience": [f"bridge_point:{w.bridge_points['bp1']}"]}
    resp = await client.patch(f"{_docs(w)}/{doc_id}", json=body, headers=w.auth("chair"))
    assert resp.status == 200, await resp.text()


async def _remove(client: Any, w: World, parts: Any, doc_id: int) -> None:
    resp = await client.delete(f"{_docs(w)}/{doc_id}", headers=w.auth("chair"))
    assert resp.status == 204, await resp.text()


async def _uninvite(client: Any, w: World, parts: Any, doc_id: int) -> None:
    chair = await parts.services.auth.authenticate(w.tokens["chair"])
    await parts.services.meetings.uninvite_delegate(chair, w.meeting_id, w.users["delegate"])


async def _disable(client: Any, w: World, parts: Any, doc_id: int) -> None:
    await parts.services.directory.set_user_disabled(None, w.users["delegate"], True)


REVOCATIONS: dict[str, Revoke] = {
    "logout": _logout,
    "unpublished": _unpublish,
    "audience_changed": _audience,
    "removed": _remove,
    "uninvited": _uninvite,
    "account_disabled": _disable,
}


@pytest.mark.parametrize("how", sorted(REVOCATIONS))
async def test_a_withdrawn_grant_is_refused_at_once(
    client: Any, reads: Reads, api_world: World, app: Any, clock: Any, how: str
) -> None:
    w = api_world
    parts = app[PARTS]
    doc = await seed_document(parts, w, w.meeting_id)
    url = (await open_reading(client, w, doc.id))["url"]
    assert (await _read(reads, url)).status == 206
    await REVOCATIONS[how](client, w, parts, doc.id)
    await _refused(reads, url)  # the very next request, no waiting
    # Opening again is decided by the database, as before: refused where the right is gone.
    clock.advance(0.01)
    again = await client.post(f"{_docs(w)}/{doc.id}/open", headers=w.auth("delegate"))
    assert again.status in (401, 404), await again.text()


async def test_a_grant_issued_after_a_change_that_keeps_the_right_works(
    client: Any, reads: Reads, api_world: World, app: Any, clock: Any
) -> None:
    """A change that withdraws grants without removing the right (a new title) costs the
    reader one new opening, whose grant works."""
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    url = (await open_reading(client, w, doc.id))["url"]
    resp = await client.patch(
        f"{_docs(w)}/{doc.id}", json={"title": "Báo cáo (sửa)"}, headers=w.auth("chair")
    )
    assert resp.status == 200
    await _refused(reads, url)
    clock.advance(0.01)
    fresh = (await open_reading(client, w, doc.id))["url"]
    assert (await _read(reads, fresh)).status == 206
    # Another viewer's grants on another document are untouched by the delegate's logout.
    other = await seed_document(app[PARTS], w, w.meeting_id, title="Tờ trình")
    bp_url = (await open_reading(client, w, other.id, "bp1"))["url"]
    await _logout(client, w, app[PARTS], doc.id)
    await _refused(reads, fresh)
    assert (await _read(reads, bp_url)).status == 206
