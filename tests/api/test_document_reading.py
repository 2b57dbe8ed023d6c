"""The reading port (:mod:`meetingd.api.reading`): what only it does, over raw sockets.

Its answers equal the app's `GET …/read` route's for every Range and precondition tried; one
keep-alive connection carries many ranges and the next range after a removal is refused on
it; pipelined requests are answered in order; a hostile client (a huge or endless head, a
slow one, a body, a malformed line, one that stops reading, one connection too many) is
answered and closed, or closed, with what the server holds for it bounded; CORS lets the
app's page read it; `document.open` over the socket points at it too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pikepdf
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meetingd.api.reading import READING, Limits, ReadingServer, serve_reading
from meetingd.app import PARTS, create_app
from meetingd.config import Config, ConfigError
from tests.api.checks import check_error_body
from tests.api.documents_world import chunks, open_reading, plain_pdf, seed_document
from tests.conftest import World, seeded_world
from tests.realtime.livekit import LiveClient

LIMITS = Limits(
    max_head=4096,
    max_fields=20,
    head_seconds=0.4,
    idle_seconds=0.8,
    send_seconds=0.8,
    max_connections=8,
    chunk=64 * 1024,
)
#: Bounds every wait below (a failing run only).
WITHIN = 10.0


@pytest.fixture
async def app(config: Config, clock: Any) -> web.Application:
    a = create_app(config, clock=clock, migrate=False)
    serve_reading(a, config, listen=("127.0.0.1", 0, True), limits=LIMITS)
    return a


def _docs(w: World) -> str:
    return f"/api/v1/meetings/{w.meeting_id}/documents"


def _target(url: str) -> bytes:
    """The request target of an absolute URL (``/api/...?grant=...``)."""
    return ("/" + url.split("/", 3)[3]).encode()


async def _reading(client: Any, w: World, app: Any) -> tuple[int, bytes, Raw]:
    """A published document opened by the delegate: its id, the grant URL's request target,
    and a connection to the reading port."""
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    target = _target((await open_reading(client, w, doc.id))["url"])
    return doc.id, target, await Raw.to(app[READING])


class Raw:
    """One client connection to the reading port, written and read byte by byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def to(cls, server: ReadingServer, rcvbuf: int = 0) -> Raw:
        sock = socket.socket()
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, head: bool = False) -> tuple[int, dict[str, str], bytes]:
        """The next answer (``head``: to a HEAD, so without its body)."""
        got = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), WITHIN)
        lines = got.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        n = 0 if head else int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(n), WITHIN) if n else b""
        return status, headers, body

    async def closed(self) -> bool:
        """Whether the server closes the connection (the rest of what it sent is read)."""
        try:
            while await asyncio.wait_for(self.reader.read(1 << 16), WITHIN):
                pass
        except ConnectionResetError:
            pass
        return True

    def close(self) -> None:
        self.writer.close()


def get(target: bytes, *fields: bytes, method: bytes = b"GET", version: bytes = b"1.1") -> bytes:
    lines = [method + b" " + target + b" HTTP/" + version, b"Host: 127.0.0.1", *fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def until(ok: Callable[[], bool], what: str) -> None:
    """Wait for a state no event announces (bounded)."""
    deadline = time.monotonic() + WITHIN
    while not ok():
        assert time.monotonic() < deadline, f"not within {WITHIN} s: {what}"
        await asyncio.sleep(0.01)


# -- the same answers as the app's route ------------------------------------------------

CASES: list[dict[str, str]] = [
    {},
    {"Range": "bytes=0-0"},
    {"Range": "bytes=10-99"},
    {"Range": "bytes=900-"},
    {"Range": "bytes=-16"},
    {"Range": "bytes=-5000"},
    {"Range": "bytes=-0"},
    {"Range": "BYTES=0-5"},
    {"Range": "bytes=0-1,5-6"},
    {"Range": "bytes=9-3"},
    {"Range": "bytes=abc"},
    {"Range": "items=0-1"},
    {"Range": "bytes= 0-5"},
    {"Range": "bytes=99999999999999999999999-"},
    {"Range": "bytes=981-"},
    {"Range": "bytes=0-99999999"},
    {"Range": "bytes=0-9", "If-Range": "ETAG"},
    {"Range": "bytes=0-9", "If-Range": '"other"'},
    {"If-None-Match": "ETAG"},
    {"If-None-Match": '"other", ETAG'},
    {"If-None-Match": "*"},
    {"If-Match": '"other"'},
    {"If-Match": "ETAG", "Range": "bytes=3-4"},
    {"If-Match": "*"},
]
COMPARED = (
    "content-type",
    "content-disposition",
    "content-range",
    "content-length",
    "etag",
    "cache-control",
    "accept-ranges",
)


async def test_the_reading_port_answers_like_the_apps_route(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    url = (await open_reading(client, w, doc.id))["url"]
    path = "/" + url.split("/", 3)[3]
    etag = (await client.get(path)).headers["ETag"]
    assert len(plain_pdf()) == 981  # the cases above are made for this size
    tried = [(m, c) for m in ("GET", "HEAD") for c in CASES] + [
        ("GET", {"Range": "bytes=0-9", "?": "&download=true"}),
        ("GET", {"?": "&download=0"}),
    ]
    async with aiohttp.ClientSession() as http:
        for method, case in tried:
            headers = {k: v.replace("ETAG", etag) for k, v in case.items() if k != "?"}
            more = case.get("?", "")
            mine = await http.request(method, url + more, headers=headers)
            # The app's route is GET only (HEAD: 405): HEAD is its GET without the body.
            theirs = await client.get(path + more, headers=headers)
            seen = (mine.status, {k: mine.headers.get(k) for k in COMPARED}, await mine.read())
            want = (
                theirs.status,
                {k: theirs.headers.get(k) for k in COMPARED},
                b"" if method == "HEAD" else await theirs.read(),
            )
            assert seen == want, f"{method} {case}"
            assert mine.headers["X-Content-Type-Options"] == "nosniff"


# -- keep-alive, revocation, pipelining ---------------------------------------------------


async def test_a_download_is_an_attachment_unless_the_copy_is_private(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    plain = await seed_document(app[PARTS], w, w.meeting_id)
    secret = await seed_document(app[PARTS], w, w.meeting_id, confidential=True, view_only=True)
    async with aiohttp.ClientSession() as http:
        url = (await open_reading(client, w, plain.id))["url"]
        got = await http.get(url + "&download=true")
        assert got.status == 200 and got.headers["Content-Disposition"] == "attachment"
        assert await got.read() == plain_pdf()
        url = (await open_reading(client, w, secret.id))["url"]
        refused = await http.get(url + "&download=true")
        assert refused.status == 403
        assert check_error_body(await refused.json(), 403)["code"] == "view_only"
        inline = await http.get(url, headers={"Range": "bytes=0-3"})
        assert inline.status == 206 and inline.headers["Content-Disposition"] == "inline"
        assert inline.headers["Cache-Control"] == "private, no-store"


async def test_one_connection_carries_many_ranges_until_the_right_is_removed(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    doc_id, target, raw = await _reading(client, w, app)
    data = plain_pdf()
    try:
        for first in range(0, 900, 100):
            await raw.send(get(target, b"Range: bytes=%d-%d" % (first, first + 99)))
            status, headers, body = await raw.response()
            assert status == 206 and body == data[first : first + 100]
            assert "connection" not in headers
        assert len(app[READING].connections) == 1  # all of them on the one connection
        resp = await client.post(f"{_docs(w)}/{doc_id}/unpublish", headers=w.auth("chair"))
        assert resp.status == 200
        await raw.send(get(target, b"Range: bytes=900-980"))
        status, headers, body = await raw.response()
        assert status == 403 and headers["content-type"].startswith("application/json")
        assert check_error_body(json.loads(body), 403)["code"] == "grant_refused"
        # The connection stays open for the reader's next (new) grant.
        await raw.send(get(b"/nothing"))
        assert (await raw.response())[0] == 404
    finally:
        raw.close()


async def test_pipelined_requests_are_answered_in_order(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    _, target, raw = await _reading(client, w, app)
    data = plain_pdf()
    try:
        await raw.send(
            get(target, b"Range: bytes=0-9")
            + get(target, b"Range: bytes=500-", method=b"HEAD")
            + get(target.split(b"?")[0] + b"?grant=forged")
            + get(target, b"Range: bytes=-3")
            + get(target, b"Connection: close")
        )
        got = [await raw.response(head=i == 1) for i in range(5)]
        assert [g[0] for g in got] == [206, 206, 403, 206, 200]
        assert got[0][2] == data[:10] and got[1][2] == b"" and got[3][2] == data[-3:]
        assert got[1][1]["content-length"] == str(len(data) - 500)
        assert got[4][2] == data and got[4][1]["connection"] == "close"
        assert await raw.closed()
    finally:
        raw.close()


async def test_http_1_0_is_answered_and_closed(client: Any, api_world: World, app: Any) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    target = _target((await open_reading(client, w, doc.id))["url"])
    raw = await Raw.to(app[READING])
    try:
        await raw.send(target.join([b"GET ", b" HTTP/1.0\r\nRange: bytes=0-3\r\n\r\n"]))
        status, headers, body = await raw.response()
        assert status == 206 and body == plain_pdf()[:4] and headers["connection"] == "close"
        assert await raw.closed()
    finally:
        raw.close()


# -- hostile clients ------------------------------------------------------------------------

MALFORMED: list[tuple[str, bytes, int]] = [
    ("no version", b"GET /x\r\nHost: a\r\n\r\n", 400),
    ("another version", b"GET /x HTTP/2.0\r\nHost: a\r\n\r\n", 400),
    ("two spaces", b"GET  /x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("no colon", b"GET /x HTTP/1.1\r\nHost: a\r\nBroken\r\n\r\n", 400),
    ("space before colon", b"GET /x HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    ("folded", b"GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400),
    ("bare LF", b"GET /x HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400),
    ("NUL", b"GET /x HTTP/1.1\r\nHost: a\x00\r\n\r\n", 400),
    ("two hosts", b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("no host", b"GET /x HTTP/1.1\r\nRange: bytes=0-1\r\n\r\n", 400),
    ("a body", b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 413),
    ("chunked", b"GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 413),
    ("huge head", b"GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n", 431),
    ("endless head", b"GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 5000, 431),
    ("many fields", b"GET /x HTTP/1.1\r\nHost: a\r\n" + b"X-A: b\r\n" * 25 + b"\r\n", 431),
]


@pytest.mark.parametrize(("what", "sent", "status"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_a_malformed_request_is_answered_and_closed(
    app: Any, client: Any, what: str, sent: bytes, status: int
) -> None:
    raw = await Raw.to(app[READING])
    try:
        await raw.send(sent + get(b"/api/v1/meetings/1/documents/1/read?grant=x"))
        got, headers, body = await raw.response()
        assert got == status, (what, body)
        assert headers["connection"] == "close"
        err = check_error_body(json.loads(body), got)
        assert err["code"] in ("bad_request", "payload_too_large"), err
        assert await raw.closed()  # the pipelined request after it is not answered
    finally:
        raw.close()


async def test_wrong_addresses_methods_and_queries_are_clear_errors(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    target = _target((await open_reading(client, w, doc.id))["url"])
    path, _, query = target.partition(b"?")
    raw = await Raw.to(app[READING])
    cases = [
        (get(b"/api/v1/meetings/1/documents/1/file"), 404, "not_found", None),
        (get(b"http://127.0.0.1/x"), 404, "not_found", None),
        (get(target, method=b"POST"), 405, "method_not_allowed", None),
        (get(target, method=b"DELETE"), 405, "method_not_allowed", None),
        (get(path), 400, "invalid_request", "grant"),
        (get(path + b"?grant="), 400, "invalid_request", "grant"),
        (get(target + b"&download=maybe"), 400, "invalid_request", "download"),
        (get(target + b"&zoom=2"), 400, "invalid_request", "zoom"),
        (get(target + b"&" + query), 400, "invalid_request", "grant"),
        (get(path + b"?grant=" + b"a" * 1100), 400, "invalid_request", "grant"),
        (get(path + b"?grant=%00"), 400, "invalid_request", "grant"),
        (get(b"/api/v1/meetings/99999999999/documents/1/read?" + query), 400, None, "meeting_id"),
        (get(b"/api/v1/meetings/1/documents/0/read?" + query), 400, None, "document_id"),
    ]
    try:
        for sent, status, code, field in cases:
            await raw.send(sent)
            got, headers, body = await raw.response()
            assert got == status, (sent, body)
            err = check_error_body(json.loads(body), got)
            assert code is None or err["code"] == code, (sent, err)
            assert field is None or err.get("field") == field, (sent, err)
            if status == 405:
                assert headers["allow"] == "GET, HEAD, OPTIONS"
        await raw.send(get(target, b"Range: bytes=0-1"))
        assert (await raw.response())[0] == 206  # none of them closed the connection
    finally:
        raw.close()


async def test_slow_and_idle_clients_are_closed(app: Any, client: Any) -> None:
    server = app[READING]
    t0 = time.monotonic()
    slow = await Raw.to(server)
    idle = await Raw.to(server)
    try:
        await slow.send(b"GET /api/v1/meetings/1/documents/1/read?grant=x HTTP/1.1\r\nHo")
        assert await slow.closed()
        took = time.monotonic() - t0
        assert LIMITS.head_seconds <= took < LIMITS.head_seconds + 3, took
        assert await idle.closed()
        assert time.monotonic() - t0 >= LIMITS.idle_seconds - 0.05
        await until(lambda: not server.connections, "both closed on the server's side")
    finally:
        slow.close()
        idle.close()


def _big_pdf(megabytes: int) -> bytes:
    """A PDF whose bytes are mostly one incompressible stream (a large served file)."""
    pdf = pikepdf.open(io.BytesIO(plain_pdf()))
    pdf.Root.Ballast = pdf.make_stream(os.urandom(megabytes << 20))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


async def _big_document(app: Any, w: World) -> tuple[int, bytes]:
    parts = app[PARTS]
    data = _big_pdf(4)
    admin = await parts.services.auth.authenticate(w.tokens["admin"])
    doc = await parts.services.documents.upload(admin, w.meeting_id, "lớn.pdf", chunks(data))
    async with parts.store.transaction() as uow:
        await uow.documents.change(doc.id, state="published", published_at=parts.clock.now())
    return doc.id, data


async def test_a_client_that_stops_reading_holds_a_bounded_buffer(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    doc_id, data = await _big_document(app, w)
    target = _target((await open_reading(client, w, doc_id))["url"])
    server = app[READING]
    raw = await Raw.to(server, rcvbuf=16 * 1024)
    try:
        # Twenty whole files asked for at once (80 MB), none read yet.
        raw.writer.write(get(target) * 20)
        await until(lambda: len(server.connections) == 1, "connected")
        (conn,) = server.connections
        await until(lambda: conn.writing_paused, "the answer waits for the client")
        held = conn.transport.get_write_buffer_size()
        assert held <= LIMITS.chunk + 64 * 1024, held
        assert len(conn.buf) <= LIMITS.max_head + 256 * 1024
        # Read now: every answer arrives whole and in order.
        for _ in range(20):
            status, _, body = await raw.response()
            assert status == 200 and body == data
    finally:
        raw.close()


async def test_a_client_that_never_reads_is_closed(client: Any, api_world: World, app: Any) -> None:
    w = api_world
    doc_id, _ = await _big_document(app, w)
    target = _target((await open_reading(client, w, doc_id))["url"])
    server = app[READING]
    raw = await Raw.to(server, rcvbuf=16 * 1024)
    try:
        await raw.send(get(target) * 4)  # more than the kernel's buffers hold
        await until(lambda: bool(server.connections), "connected")
        (conn,) = server.connections
        await until(lambda: conn.writing_paused, "the answer waits for the client")
        t0 = time.monotonic()
        await until(lambda: not server.connections, "closed after send_seconds")
        assert time.monotonic() - t0 < LIMITS.send_seconds + 3
    finally:
        raw.close()


async def test_one_connection_too_many_is_refused(app: Any, client: Any) -> None:
    server = app[READING]
    held = [await Raw.to(server) for _ in range(LIMITS.max_connections)]
    try:
        await until(lambda: len(server.connections) == LIMITS.max_connections, "all open")
        extra = await Raw.to(server)
        status, _, body = await extra.response()
        assert status == 503 and b"unavailable" in body
        assert await extra.closed()
        extra.close()
    finally:
        for r in held:
            r.close()


# -- CORS and the URL -----------------------------------------------------------------------


async def test_cors_lets_the_apps_page_read_and_no_other(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    url = (await open_reading(client, w, doc.id))["url"]
    page = str(client.make_url("/")).rstrip("/")  # the app's origin: same host, its port
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range",
    }
    async with aiohttp.ClientSession() as http:
        ok = await http.options(url, headers={"Origin": page, **preflight})
        assert ok.status == 204
        assert ok.headers["Access-Control-Allow-Origin"] == page
        assert "Range" in ok.headers["Access-Control-Allow-Headers"]
        assert int(ok.headers["Access-Control-Max-Age"]) > 0
        for other in ("http://evil.example", "null", "http://127.0.0.2:8080"):
            no = await http.options(url, headers={"Origin": other, **preflight})
            assert no.status == 403 and "Access-Control-Allow-Origin" not in no.headers
        got = await http.get(url, headers={"Origin": page, "Range": "bytes=0-9"})
        assert got.status == 206 and got.headers["Access-Control-Allow-Origin"] == page
        assert "Content-Range" in got.headers["Access-Control-Expose-Headers"]
        # A refusal is readable by the page too: the reader must see the 403 to open again.
        refused = await http.get(url + "x", headers={"Origin": page})
        assert refused.status == 403
        assert refused.headers["Access-Control-Allow-Origin"] == page
        stranger = await http.get(url, headers={"Origin": "http://evil.example"})
        assert stranger.status == 200 and "Access-Control-Allow-Origin" not in stranger.headers


async def test_document_open_on_the_socket_points_at_the_reading_port(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    sock = await LiveClient(str(client.make_url("/")), w.tokens["bp1"]).connect()
    try:
        await sock.ok("meeting.join", {"meeting_id": w.meeting_id})
        got = await sock.ok("document.open", {"meeting_id": w.meeting_id, "document_id": doc.id})
    finally:
        await sock.sio.disconnect()
    assert got["url"].startswith(f"http://127.0.0.1:{app[READING].port}/api/v1/meetings/")
    async with aiohttp.ClientSession() as http:
        resp = await http.get(got["url"], headers={"Range": "bytes=0-4"})
        assert resp.status == 206 and await resp.read() == plain_pdf()[:5]


@pytest.mark.parametrize(
    ("public", "want"), [("", "/api/"), ("https://doc.example.vn", "https://doc.example.vn/api/")]
)
async def test_behind_a_proxy_the_grant_points_at_the_main_port(
    config: Config, clock: Any, public: str, want: str
) -> None:
    """A caller that came through a trusted proxy (whose Host names the proxy) is given
    the main port's path, unless documents.read_public_url says where the port is."""
    cfg = dataclasses.replace(
        config,
        server=dataclasses.replace(config.server, trusted_proxies=("127.0.0.1",)),
        documents=dataclasses.replace(config.documents, read_public_url=public),
    )
    a = create_app(cfg, clock=clock, migrate=False)
    serve_reading(a, cfg, listen=("127.0.0.1", 0, True), limits=LIMITS)
    async with TestClient(TestServer(a, host="127.0.0.1")) as c:
        w = await seeded_world(a[PARTS])
        doc = await seed_document(a[PARTS], w, w.meeting_id)
        got = await open_reading(c, w, doc.id)
        assert got["url"].startswith(want), got["url"]


async def test_a_taken_port_falls_back_to_the_main_port_unless_it_was_asked_for(
    config: Config, clock: Any
) -> None:
    """The default reading port (the main port + 1) may be taken: readers then use the main
    port. One configured by documents.read_listen that cannot be listened on stops the app."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        a = create_app(config, clock=clock, migrate=False)
        serve_reading(a, config, listen=("127.0.0.1", port, False))
        async with TestClient(TestServer(a, host="127.0.0.1")) as c:
            w = await seeded_world(a[PARTS])
            doc = await seed_document(a[PARTS], w, w.meeting_id)
            got = await open_reading(c, w, doc.id)
            assert got["url"].startswith("/api/"), got["url"]
            resp = await c.get(got["url"], headers={"Range": "bytes=0-1"})
            assert resp.status == 206
        b = create_app(config, clock=clock, migrate=False)
        serve_reading(b, config, listen=("127.0.0.1", port, True))
        runner = web.AppRunner(b)
        try:
            with pytest.raises(ConfigError, match=r"documents\.read_listen"):
                await runner.setup()
        finally:
            await runner.cleanup()
    finally:
        taken.close()


async def test_a_recording_is_read_as_video_with_ranges(
    client: Any, api_world: World, app: Any, tmp_path: Any
) -> None:
    """A recording kept as a document is answered as the video it is, so that a <video>
    element seeks in it with ranges; download=true makes it an attachment."""
    from datetime import timedelta

    from tests.services.videos import webm

    w = api_world
    parts = app[PARTS]
    now = parts.clock.now()
    kept = await parts.services.recording.keep(
        w.meeting_id, webm(tmp_path / "ghi-hinh.webm", frames=15), "video/webm",
        now - timedelta(minutes=5), now,
    )  # fmt: skip
    data = (await client.get(f"{_docs(w)}/{kept.id}/file", headers=w.auth("chair"))).content
    whole = await data.read()
    url = (await open_reading(client, w, kept.id, "chair"))["url"]
    assert url.startswith(f"http://127.0.0.1:{app[READING].port}/")
    async with aiohttp.ClientSession() as http:
        part = await http.get(url, headers={"Range": "bytes=4-19"})
        assert part.status == 206 and part.headers["Content-Type"] == "video/webm"
        assert await part.read() == whole[4:20]
        saved = await http.get(url + "&download=true")
        assert saved.headers["Content-Disposition"] == "attachment"
        assert await saved.read() == whole
