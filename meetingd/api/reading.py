"""The reading port: pdf.js's range requests under a reading grant, answered on a listener of
their own, without the app's router, middleware and request objects.

A reader opens a document once (``document.open``) and then fetches it in 64 KiB ranges, a
few hundred for a large file; aiohttp's request and response machinery cost about six times
what moving the bytes costs. This listener speaks just enough HTTP/1.1 for those requests:
``GET`` and ``HEAD`` of ``/api/v1/meetings/{m}/documents/{d}/read?grant=…`` (the same path as
the app's route, so a reverse proxy can send it here by path) and the CORS preflight. Every
request is checked like the app's route (:meth:`DocumentService.readable`: signature, expiry,
this process's revocations, so a removed right stops the next range) and answered by the same
rules (:func:`meetingd.api.ranges.answer`), with the served file's type (a PDF, or a
recording's video) and ``download=true`` as an attachment (403 ``view_only`` for a private
copy); the body goes by ``sendfile`` straight from the blob's open descriptor, its head in
the same segment (``MSG_MORE``).

Hostile clients are bounded: a request head over :attr:`Limits.max_head` bytes or
:attr:`Limits.max_fields` fields is answered 431 and the connection closed; a head not
complete within :attr:`Limits.head_seconds`, an idle keep-alive past
:attr:`Limits.idle_seconds` and a body that does not move for :attr:`Limits.send_seconds`
close it; a request with a body, a malformed line or an unknown version is answered 400 (or
413) and closed; pipelined requests are answered in order, one at a time, and reading stops
while an answer waits for the client (at most :attr:`Limits.max_head` unread bytes and one
chunk of unsent body are held per connection); past :attr:`Limits.max_connections` a new
connection is answered 503 and closed.

Errors are the app's: ``{"error": {"code", "message"[, "field"]}}`` (each code has its
Vietnamese sentence in :data:`meetingd.errors.ERROR_TEXTS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from typing import Protocol, cast
from urllib.parse import unquote_plus, urlsplit

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from meetingd.api.ranges import answer
from meetingd.api.reading_process import ReadingProcess, child_settings
from meetingd.config import Config, ConfigError, split_listen
from meetingd.documents.grants import MAX_GRANT_CHARS
from meetingd.documents.reader import Readable
from meetingd.errors import MeetingdError, PayloadTooLarge, PermissionDenied, ValidationError
from meetingd.logs import request_id
from meetingd.schemas import MAX_ID
from meetingd.services.documents import ReadingPort

logger = logging.getLogger(__name__)

#: A header field: a token, a colon, a value of visible characters, spaces and tabs.
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_FIELDS = re.compile(rb"(?:" + _TOKEN + rb":[\t\x20-\x7e\x80-\xff]*\r\n)*")
_FIELD = re.compile(rb"(" + _TOKEN + rb"):[\t ]*([^\r]*)\r\n")
_PATH = re.compile(rb"/api/v1/meetings/([0-9]+)/documents/([0-9]+)/read")
_SAFE_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
#: Fields a request may carry once only (RFC 9110 §5.3: several Host fields are refused).
_SINGLE = frozenset({b"host", b"content-length", b"transfer-encoding"})
_METHODS = b"GET, HEAD, OPTIONS"
_ALLOWED_HEADERS = b"Range, If-Range, If-Match, If-None-Match, X-Request-Id"
_EXPOSED = b"Accept-Ranges, Content-Range, Content-Length, ETag, X-Request-Id"
_REASONS = {
    200: b"OK",
    204: b"No Content",
    206: b"Partial Content",
    304: b"Not Modified",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    412: b"Precondition Failed",
    413: b"Content Too Large",
    416: b"Range Not Satisfiable",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}
_STATUS_LINES = {s: b"HTTP/1.1 %d %s\r\n" % (s, r) for s, r in _REASONS.items()}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client may hold of the reading port."""

    #: Largest request head (request line and fields), bytes.
    max_head: int = 16 * 1024
    #: Most header fields in one request.
    max_fields: int = 100
    #: Seconds from a head's first byte to its end.
    head_seconds: float = 10.0
    #: Seconds a keep-alive connection may wait for its next request.
    idle_seconds: float = 60.0
    #: Seconds an answer's body may wait for the client to take more of it.
    send_seconds: float = 60.0
    #: Connections at once; one more is answered 503 and closed.
    max_connections: int = 4096
    #: Bytes read into memory at a time when the socket is full and ``sendfile`` must wait.
    chunk: int = 256 * 1024


class _Refused(MeetingdError):
    """A request the reading port does not take, answered with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


def _error_body(exc: MeetingdError) -> bytes:
    return json.dumps({"error": exc.to_dict()}, ensure_ascii=False, separators=(",", ":")).encode()


class Checks(Protocol):
    """What checks a range request's grant: the server's :class:`DocumentService`, or the
    reading process's own :class:`~meetingd.documents.reader.GrantReader`."""

    def readable(self, grant: str, meeting_id: int, document_id: int) -> Readable: ...


class ReadingServer:
    """The reading port's listener and its connections, over one :class:`Checks`.

    ``origins`` are the app's origins (scheme://host[:port]) allowed to read across origins
    (CORS); a page whose host is the host the request was sent to (the app on the same
    machine, another port) is allowed too.
    """

    def __init__(
        self,
        documents: Checks,
        *,
        origins: tuple[str, ...] = (),
        limits: Limits | None = None,
    ) -> None:
        self.documents = documents
        self.limits = limits or Limits()
        self._origins = frozenset(o.encode() for o in origins)
        self.connections: set[_Connection] = set()
        #: Answers by status, and body bytes sent (``/metrics``).
        self.answered: dict[int, int] = {}
        self.bytes_sent = 0
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._date_at = 0
        self._date = b""
        self._fixed: dict[tuple[str, bool, str, bool], bytes] = {}
        self._cors: dict[tuple[bytes, bytes], bytes] = {}

    def figures(self) -> tuple[int, dict[int, int], int]:
        """Connections, answers by status and body bytes sent (``/metrics``)."""
        return len(self.connections), self.answered, self.bytes_sent

    @property
    def port(self) -> int:
        """The port listened on (0 before :meth:`start`)."""
        if self._server is None or not self._server.sockets:
            return 0
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str, port: int) -> None:
        await self.start_on(listening_socket(host, port))

    async def start_on(self, sock: socket.socket) -> None:
        """Serve on a listening socket (bound here, or by the server for its reading
        process)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), sock=sock)
        self._sweeper = asyncio.create_task(self._sweep(), name="reading-port-sweeper")

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                conn.abort()
            await self._server.wait_closed()
            self._server = None

    async def _sweep(self) -> None:
        """Close the connections whose deadline passed (slow heads, idle keep-alives,
        clients that stopped taking their answer), once a second-ish."""
        loop = asyncio.get_running_loop()
        step = min(1.0, self.limits.head_seconds / 4, self.limits.idle_seconds / 4)
        while True:
            await asyncio.sleep(step)
            now = loop.time()
            for conn in [c for c in self.connections if c.deadline < now]:
                logger.debug("reading port: closing %s (%s)", conn.peer, conn.waiting_for)
                conn.abort()

    def date(self) -> bytes:
        now = int(time.time())
        if now != self._date_at:
            self._date_at = now
            self._date = b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self._date

    def fixed(self, etag: str, private: bool, media_type: str, download: bool) -> bytes:
        """The header fields every answer from one served file carries."""
        key = (etag, private, media_type, download)
        got = self._fixed.get(key)
        if got is None:
            if len(self._fixed) > 1024:
                self._fixed.clear()
            cache = b"private, no-store" if private else b"private, max-age=600"
            got = (
                b"Content-Type: " + media_type.encode() + b"\r\n"
                b"Content-Disposition: " + (b"attachment" if download else b"inline") + b"\r\n"
                b"ETag: " + etag.encode() + b"\r\nAccept-Ranges: bytes\r\n"
                b"Cache-Control: " + cache + b"\r\nX-Content-Type-Options: nosniff\r\n"
                b"Vary: Origin\r\n"
            )
            self._fixed[key] = got
        return got

    def cors(self, origin: bytes | None, host: bytes | None) -> bytes:
        """The CORS fields for a request from ``origin`` sent to ``host`` (empty: none, and
        the browser keeps the answer from the page)."""
        if origin is None:
            return b""
        key = (origin, host or b"")
        got = self._cors.get(key)
        if got is None:
            if len(self._cors) > 1024:
                self._cors.clear()
            got = b""
            if self.allowed(origin, host):
                got = (
                    b"Access-Control-Allow-Origin: " + origin + b"\r\n"
                    b"Access-Control-Expose-Headers: " + _EXPOSED + b"\r\n"
                )
            self._cors[key] = got
        return got

    def allowed(self, origin: bytes, host: bytes | None) -> bool:
        if origin in self._origins:
            return True
        try:
            page = urlsplit(origin.decode("ascii"))
            here = urlsplit("//" + (host or b"").decode("ascii"))
            return (
                page.scheme in ("http", "https")
                and page.hostname is not None
                and page.hostname == here.hostname
            )
        except (UnicodeDecodeError, ValueError):
            return False


class _Connection(asyncio.Protocol):
    """One client connection: requests parsed, checked and answered one at a time."""

    def __init__(self, server: ReadingServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.sock: socket.socket | None = None
        self.buf = b""
        #: How much of ``buf`` is known to hold no end of a head.
        self.scanned = 0
        self.peer = "?"
        #: Loop time past which the sweeper closes the connection, and why.
        self.deadline = 0.0
        self.waiting_for = "a request"
        self.closing = False
        self.eof = False
        self.reading_paused = False
        self.writing_paused = False
        #: The body being sent: file descriptor, offset, bytes left; keep-alive after it.
        self.file = -1
        self.offset = 0
        self.left = 0
        self.keep = True

    # -- the transport's side ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's is not a subclass of asyncio's)
        self.transport = cast(asyncio.Transport, transport)
        s = self.server
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
        self._wait("a request", s.limits.idle_seconds)
        s.connections.add(self)
        if len(s.connections) > s.limits.max_connections:
            logger.warning(
                "reading port: %d connections, refusing %s", len(s.connections), self.peer
            )
            self._refuse(_Refused(503, "unavailable", "too many connections; retry"))
            return
        sock = self.transport.get_extra_info("socket")
        # Our own handle of the socket (the transport's has no send): the head goes with
        # MSG_MORE and the body by sendfile, while the transport's buffer is empty.
        self.sock = socket.socket(fileno=os.dup(sock.fileno()))
        self.sock.setblocking(False)
        self.transport.set_write_buffer_limits(high=64 * 1024, low=0)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.connections.discard(self)
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.left and not self.closing and self._pump():
            self._answered()
            self._serve()

    def eof_received(self) -> bool:
        # The client sends no more: answer what it asked, then close.
        self.eof = True
        if not self.left:
            self._close()
        return True

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if self.buf:
            self.buf += data
        else:
            self.buf = data
            if not self.left:
                self._wait("the rest of the request", self.server.limits.head_seconds)
        if self.left:  # an answer is still going out: hold at most one head meanwhile
            if len(self.buf) > self.server.limits.max_head and not self.reading_paused:
                assert self.transport is not None
                self.transport.pause_reading()
                self.reading_paused = True
            return
        self._serve()

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    # -- requests ----------------------------------------------------------------------

    def _wait(self, what: str, seconds: float) -> None:
        self.waiting_for = what
        self.deadline = asyncio.get_running_loop().time() + seconds

    def _serve(self) -> None:
        """Answer every complete request in the buffer, in order, until one's body has to
        wait for the client."""
        max_head = self.server.limits.max_head
        while not self.closing and not self.left:
            end = self.buf.find(b"\r\n\r\n", max(0, self.scanned - 3), max_head)
            if end < 0:
                if len(self.buf) >= max_head:
                    self._refuse(
                        _Refused(
                            431,
                            "bad_request",
                            f"the request's head is longer than {max_head} bytes",
                        )
                    )
                else:
                    self.scanned = len(self.buf)
                break
            head = self.buf[: end + 2]
            self.buf = self.buf[end + 4 :]
            self.scanned = 0
            try:
                self._request(head)
            except Exception:
                logger.exception("reading port: unhandled error answering %s", self.peer)
                self._refuse(
                    _Refused(500, "internal", "an internal error occurred; it has been logged")
                )
                return
            if not self.left:
                self._answered()
        if self.reading_paused and not self.left and not self.closing:
            assert self.transport is not None
            self.reading_paused = False
            self.transport.resume_reading()

    def _answered(self) -> None:
        """One answer is out: close, or wait for the next request."""
        if self.closing:
            return
        if not self.keep or (self.eof and not self.buf):
            self._close()
        elif self.buf:
            self._wait("the rest of the request", self.server.limits.head_seconds)
        else:
            self._wait("a request", self.server.limits.idle_seconds)

    def _request(self, head: bytes) -> None:
        line_end = head.find(b"\r\n")
        fields = head[line_end + 2 :]
        parts = head[:line_end].split(b" ")
        if len(parts) != 3:
            self._refuse(_Refused(400, "bad_request", "the request line is malformed"))
            return
        method, target, version = parts
        if version == b"HTTP/1.1":
            self.keep = True
        elif version == b"HTTP/1.0":
            self.keep = False
        else:
            self._refuse(_Refused(400, "bad_request", "only HTTP/1.1 and HTTP/1.0 are spoken"))
            return
        if fields.count(b"\r\n") > self.server.limits.max_fields:
            self._refuse(_Refused(431, "bad_request", "the request has too many header fields"))
            return
        if _FIELDS.fullmatch(fields) is None:
            self._refuse(_Refused(400, "bad_request", "a header field is malformed"))
            return
        got: dict[bytes, bytes] = {}
        for raw_name, value in _FIELD.findall(fields):
            name = raw_name.lower()
            if name in got:
                if name in _SINGLE:
                    self._refuse(
                        _Refused(400, "bad_request", f"the {name.decode()} field is given twice")
                    )
                    return
                continue  # the first one counts (as the app's route reads them)
            got[name] = value.rstrip(b" \t") if value.endswith((b" ", b"\t")) else value
        host = got.get(b"host")
        if host is None and version == b"HTTP/1.1":
            self._refuse(_Refused(400, "bad_request", "an HTTP/1.1 request needs a Host field"))
            return
        if b"transfer-encoding" in got or got.get(b"content-length", b"0") != b"0":
            self._refuse(PayloadTooLarge("this address takes no request body"))
            return
        conn = got.get(b"connection")
        if conn is not None:
            tokens = {t.strip() for t in conn.lower().split(b",")}
            if b"close" in tokens:
                self.keep = False
            elif b"keep-alive" in tokens and version == b"HTTP/1.0":
                self.keep = True
        origin = got.get(b"origin")
        extra = self.server.cors(origin, host)
        rid = got.get(b"x-request-id")
        if rid is not None and _SAFE_ID.fullmatch(rid):
            extra += b"X-Request-Id: " + rid + b"\r\n"
        else:
            rid = None
        if not self.keep:
            extra += b"Connection: close\r\n"
        elif version == b"HTTP/1.0":
            extra += b"Connection: keep-alive\r\n"
        path, _, query = target.partition(b"?")
        m = _PATH.fullmatch(path)
        if m is None:
            self._error(_Refused(404, "not_found", "there is nothing at this address"), extra)
            return
        if method == b"OPTIONS":
            self._options(got, origin, host, extra)
            return
        if method not in (b"GET", b"HEAD"):
            self._error(
                _Refused(405, "method_not_allowed", "this method is not allowed here"),
                extra + b"Allow: " + _METHODS + b"\r\n",
            )
            return
        # The caller's request id, when it gave one, names the log lines of its check.
        named = request_id.set(rid.decode()) if rid is not None else None
        try:
            meeting_id = _path_id("meeting_id", m.group(1))
            document_id = _path_id("document_id", m.group(2))
            grant, download = _query(query)
            r = self.server.documents.readable(grant, meeting_id, document_id)
            if download and r.private:
                raise PermissionDenied(
                    "this document may be viewed but not downloaded", code="view_only"
                )
        except MeetingdError as exc:
            logger.info(
                "reading port: %s %s -> %s %s: %s",
                method.decode(),
                path.decode(),
                exc.status,
                exc.code,
                exc.message,
            )
            self._error(exc, extra)
            return
        finally:
            if named is not None:
                request_id.reset(named)
        a = answer(
            r.size,
            r.etag,
            head=method == b"HEAD",
            range_=_text(got.get(b"range")),
            if_range=_text(got.get(b"if-range")),
            if_match=_text(got.get(b"if-match")),
            if_none_match=_text(got.get(b"if-none-match")),
        )
        s = self.server
        out = [
            _STATUS_LINES[a.status],
            s.date(),
            s.fixed(r.etag, r.private, r.media_type, download),
            extra,
        ]
        if a.content_range is not None:
            out.append(b"Content-Range: " + a.content_range.encode() + b"\r\n")
        if a.status != 304:
            out.append(b"Content-Length: %d\r\n" % a.length)
        out.append(b"\r\n")
        s.answered[a.status] = s.answered.get(a.status, 0) + 1
        self._send(b"".join(out), r.fd, a.start, a.body_bytes)

    def _options(
        self, got: dict[bytes, bytes], origin: bytes | None, host: bytes | None, extra: bytes
    ) -> None:
        """A CORS preflight (the reader's fetch sends Range), or a plain OPTIONS."""
        asked = got.get(b"access-control-request-method")
        out = [_STATUS_LINES[204], self.server.date()]
        if origin is not None and asked is not None:
            if not self.server.allowed(origin, host) or asked not in (b"GET", b"HEAD"):
                self._error(
                    _Refused(403, "forbidden", "this origin may not read documents here"), extra
                )
                return
            out.append(
                b"Access-Control-Allow-Methods: GET, HEAD\r\n"
                b"Access-Control-Allow-Headers: " + _ALLOWED_HEADERS + b"\r\n"
                b"Access-Control-Max-Age: 600\r\nVary: Origin\r\n"
            )
        out += [b"Allow: " + _METHODS + b"\r\n", extra, b"Content-Length: 0\r\n\r\n"]
        self.server.answered[204] = self.server.answered.get(204, 0) + 1
        self._send(b"".join(out), -1, 0, 0)

    def _error(self, exc: MeetingdError, extra: bytes) -> None:
        body = _error_body(exc)
        status = exc.status if exc.status in _STATUS_LINES else 400
        s = self.server
        out = [
            _STATUS_LINES[status],
            s.date(),
            b"Content-Type: application/json; charset=utf-8\r\n"
            b"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
            extra,
            b"Content-Length: %d\r\n\r\n" % len(body),
            body,
        ]
        s.answered[status] = s.answered.get(status, 0) + 1
        self._send(b"".join(out), -1, 0, 0)

    def _refuse(self, exc: MeetingdError) -> None:
        """Answer a request that cannot be read safely any further, and close."""
        logger.info("reading port: refused %s: %s %s", self.peer, exc.status, exc.message)
        self.keep = False
        self.buf = b""
        self._error(exc, b"Connection: close\r\n")
        self._close()

    # -- answers -----------------------------------------------------------------------

    def _send(self, head: bytes, fd: int, offset: int, count: int) -> None:
        """The head, then ``count`` bytes of ``fd`` from ``offset``: straight to the socket
        while it takes them, through the transport's buffer (a chunk at a time) when not."""
        t = self.transport
        if t is None or self.closing:
            return
        sock = self.sock
        if not count or sock is None or t.get_write_buffer_size():
            t.write(head)
        else:
            try:
                sent = sock.send(head, socket.MSG_MORE)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.abort()
                return
            if sent < len(head):
                t.write(head[sent:])
        if count:
            self.server.bytes_sent += count
            self.file, self.offset, self.left = fd, offset, count
            self._pump()

    def _pump(self) -> bool:
        """Send what is left of the body; True once all of it is out."""
        t = self.transport
        sock = self.sock
        if t is None or sock is None:
            return False
        chunk = self.server.limits.chunk
        while self.left and not self.writing_paused and not self.closing:
            if not t.get_write_buffer_size():
                try:
                    n = os.sendfile(sock.fileno(), self.file, self.offset, self.left)
                except BlockingIOError:
                    n = -1
                except OSError:
                    self.abort()
                    return False
                if n == 0:  # the file is shorter than it was: a blob is never altered
                    logger.error("reading port: a served file ended early; closing %s", self.peer)
                    self.abort()
                    return False
                if n > 0:
                    self.offset += n
                    self.left -= n
                    continue
            # The socket is full: one chunk into the transport's buffer, which says
            # (resume_writing) when the client has taken it.
            data = os.pread(self.file, min(chunk, self.left), self.offset)
            if not data:
                self.abort()
                return False
            self.offset += len(data)
            self.left -= len(data)
            t.write(data)
        if self.left:
            if not self.closing:
                self._wait("the client to take the answer", self.server.limits.send_seconds)
            return False
        self.file = -1
        return not self.closing

    def _close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


def _path_id(name: str, raw: bytes) -> int:
    if len(raw) > 10 or not 1 <= int(raw) <= MAX_ID:
        raise ValidationError(
            f"path parameter '{name}' is out of range (1 to {MAX_ID})", field=name
        )
    return int(raw)


#: What a boolean query parameter may say (as the app's routes read one).
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _query(query: bytes) -> tuple[str, bool]:
    """The ``grant`` of the query string, and ``download`` (false unless given): the only
    parameters this address takes."""
    if (
        query.startswith(b"grant=")
        and b"&" not in query
        and b"%" not in query
        and b"+" not in query
    ):
        return _checked(query[6:].decode("latin-1")), False
    given: dict[str, str] = {}
    for part in query.split(b"&"):
        if not part:
            continue
        raw_key, _, raw_value = part.partition(b"=")
        key = _unquote(raw_key)
        if key not in ("grant", "download"):
            shown = key.encode("ascii", "replace").decode()[:40]
            raise ValidationError(f"unknown query parameter '{shown}'", field=shown)
        if key in given:
            raise ValidationError(f"query parameter '{key}' is given twice", field=key)
        given[key] = _unquote(raw_value)
    download = given.get("download", "false").lower()
    if download not in _TRUE and download not in _FALSE:
        raise ValidationError("query parameter 'download' must be true or false", field="download")
    return _checked(given.get("grant", "")), download in _TRUE


def _checked(grant: str) -> str:
    if not grant:
        raise ValidationError("query parameter 'grant' is required", field="grant")
    if not grant.isprintable():
        raise ValidationError(
            "query parameter 'grant' has characters that are not printable", field="grant"
        )
    if len(grant) > MAX_GRANT_CHARS:
        raise ValidationError(
            f"query parameter 'grant' is longer than {MAX_GRANT_CHARS} characters", field="grant"
        )
    return grant


def _unquote(raw: bytes) -> str:
    text = raw.decode("latin-1")
    return unquote_plus(text) if b"%" in raw or b"+" in raw else text


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


# -- wiring into the app ---------------------------------------------------------------------


def reading_address(config: Config) -> tuple[str, int, bool] | None:
    """Where ``documents.read_listen`` says the reading port listens: (host, port, whether
    failing to listen stops the server), or None for no reading port. Empty: the server's
    host, its port + 1, and reads stay on the main port when that one is taken."""
    listen = config.documents.read_listen.strip()
    if listen == "off":
        return None
    if not listen:
        port = config.server.port
        return config.server.host, (port + 1 if 0 < port < 65_535 else 0), False
    host, port = split_listen(listen)
    return host, port, True


#: The reading port's connections, answers by status and body bytes sent.
Figures = Callable[[], tuple[int, dict[int, int], int]]


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: any free port)."""
    sock = socket.create_server((host, port), backlog=1024, reuse_port=False)
    sock.setblocking(False)
    return sock


class ReadingCollector(Collector):
    """``/metrics`` series of the reading port (served here or by the reading process)."""

    def __init__(self, figures: Figures) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        connections, answered, body_bytes = self._figures()
        yield GaugeMetricFamily(
            "meetingd_reading_connections",
            "Connections open to the reading port",
            value=connections,
        )
        answers = CounterMetricFamily(
            "meetingd_reading_answers", "Answers of the reading port", labels=["status"]
        )
        for status, n in sorted(answered.items()):
            answers.add_metric([str(status)], n)
        yield answers
        yield CounterMetricFamily(
            "meetingd_reading_body_bytes",
            "Document bytes the reading port sent",
            value=body_bytes,
        )


def serve_reading(
    app: web.Application,
    config: Config,
    *,
    listen: tuple[str, int, bool] | None = None,
    limits: Limits | None = None,
    process: bool = False,
) -> None:
    """Open the reading port with the app (``listen``, default :func:`reading_address`) and
    point the grants ``document.open`` answers at it; close it with the app. ``process``:
    serve it from a process of its own (:mod:`meetingd.api.reading_process`; with a local
    blob store), else on the app's event loop."""
    from meetingd.api.context import SERVICES
    from meetingd.api.system import METRICS
    from meetingd.store.blobs import LocalBlobStore

    where = listen if listen is not None else reading_address(config)
    if where is None:
        return
    host, port, required = where
    documents = app[SERVICES].documents
    origins = tuple(
        o
        for o in (_origin(config.server.public_url), _origin(config.documents.read_public_url))
        if o
    )
    limits = limits or Limits()
    # the child reads the blobs where the local store keeps them
    root = documents.blobs.root if isinstance(documents.blobs, LocalBlobStore) else None
    in_child = process and root is not None
    server = None if in_child else ReadingServer(documents, origins=origins, limits=limits)
    if server is not None:
        app[READING] = server

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        try:
            sock = listening_socket(host, port)
        except OSError as exc:
            if required:
                raise ConfigError(
                    "documents.read_listen", f"cannot listen on {host}:{port}: {exc.strerror}"
                ) from None
            logger.warning(
                "documents' reading port %s:%s is not available (%s): readers fetch from the "
                "main port (set documents.read_listen)",
                host,
                port,
                exc.strerror,
            )
            yield
            return
        child: ReadingProcess | None = None
        if server is None:
            assert root is not None
            settings = child_settings(
                documents.reader.key,
                root,
                origins,
                dataclasses.asdict(limits),
                config.server.log_level,
            )
            child = ReadingProcess(sock, documents.reader, settings)
            documents.on_revoke.append(child.revoked)
            await child.start()
            app[READING_PROCESS] = child
            figures: Figures = child.figures
        else:
            await server.start_on(sock)
            figures = server.figures
        bound = int(sock.getsockname()[1])
        public = config.documents.read_public_url.rstrip("/")
        documents.reading_port = ReadingPort(
            public_url=public,
            port=bound,
            derive=not config.server.public_url.startswith("https:"),
        )
        collector = ReadingCollector(figures)
        app[METRICS].registry.register(collector)
        logger.info("documents' reading port on %s:%s%s", host, bound,
                    f" (process {child.pid})" if child else "")  # fmt: skip
        try:
            yield
        finally:
            documents.reading_port = ReadingPort()
            app[METRICS].registry.unregister(collector)
            if child is not None:
                documents.on_revoke.remove(child.revoked)
                await child.close()
            if server is not None:
                await server.close()

    app.cleanup_ctx.append(lifetime)


def _origin(url: str) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


READING = web.AppKey("reading", ReadingServer)
READING_PROCESS = web.AppKey("reading_process", ReadingProcess)
