"""The socket.io namespace ``/``: authentication on connect, then commands with acks.

Every event a client sends is a command looked up in the registry; the answer is the ack
``{ok: true, data}`` or ``{ok: false, error: {code, message, field?}}``. Errors of the
:mod:`meetingd.errors` hierarchy are mapped here, once; anything else is logged with its
traceback and answered ``internal``.

Every command re-checks its caller: the token is verified again (not revoked, not expired,
account or device still enabled, password or device credential not reset since) at most
``RECHECK_SECONDS`` after the last check, and at once when a right is removed anywhere (the
store announces it after the commit, other processes hear it through the event bus). A caller
that fails the check is told why (``connection.closed``) and disconnected; one that may no
longer attend a meeting it joined is taken out of it (``meeting.left``), events and media.

Each connection has a token bucket (``realtime.commands_per_second`` refilled up to
``realtime.command_burst``). A command over the limit is answered ``rate_limited`` and
changes nothing; after ``command_burst`` refusals in a row the server sends
``connection.closed`` with the reason and closes the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Collection, Coroutine
from datetime import datetime
from typing import Any

import socketio
from aiohttp import web
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from meetingd.api.context import client_address, request_host
from meetingd.commands.table import Command, CommandTable, Context
from meetingd.errors import (
    AuthenticationError,
    ErrorCode,
    MeetingdError,
    RateLimited,
    StateError,
    invalid,
)
from meetingd.errors import ValidationError as BadRequest
from meetingd.events import ConnectionClosed, to_data
from meetingd.logs import request_id
from meetingd.realtime.connection import Connection, Rooms, SocketSide
from meetingd.realtime.fastemit import abort_transport, queued
from meetingd.realtime.media_bridge import MediaBridge
from meetingd.realtime.tokens import TokenChecks
from meetingd.realtime.wire import Ack, WiredJoin, failed, internal_error, ok, room_name
from meetingd.schemas import answer_adapter, integral_numbers
from meetingd.services import Services
from meetingd.services.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

NAMESPACE = "/"
#: How long a verified token is trusted before a command checks it again. Removed rights are
#: pushed at once; this bounds the delay when a push is lost (Redis away).
RECHECK_SECONDS = 1.0


class MeetingNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """Authenticates connections and dispatches their commands through the registry."""

    def __init__(
        self,
        *,
        services: Services,
        rooms: Rooms,
        commands: CommandTable,
        limiter: RateLimiter,
        flood_strikes: int,
        media: MediaBridge | None = None,
    ) -> None:
        super().__init__(NAMESPACE)
        self._services = services
        self._media = media
        self._rooms = rooms
        self._commands = commands
        self._limiter = limiter
        self._flood_strikes = flood_strikes
        self._closing: set[asyncio.Task[None]] = set()
        #: Every check of a caller's token goes through here (made together in a storm).
        self.tokens = TokenChecks(services.auth.authenticate_many)
        self.connections: dict[str, Connection] = {}
        #: Connections dropped because their client read nothing (see :meth:`drop_slow`).
        self.slow_dropped = 0

    def _transport_event(self, sid: str) -> bool:
        # socket.io itself triggers "connect" before the connection is complete and
        # "disconnect" once it is going; a client may also *send* events by those names,
        # which must not pass for the real ones.
        return not self.server.manager.is_connected(sid, NAMESPACE)

    async def trigger_event(self, event: str, *args: Any) -> Any:
        sid = args[0]
        if event == "connect" and self._transport_event(sid):
            return await self._connect(sid, args[1], args[2] if len(args) > 2 else None)
        if event == "disconnect" and self._transport_event(sid):
            await self._disconnect(sid, str(args[1]) if len(args) > 1 else "")
            return None
        return await self.dispatch(sid, event, args[1:])

    # -- connections ----------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: object) -> bool:
        request = environ.get("aiohttp.request")
        if isinstance(request, web.Request):
            address = client_address(request)  # X-Forwarded-For from trusted proxies only
            host = request_host(request)
        else:
            address = str(environ.get("REMOTE_ADDR", "?"))
            host = ""
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token:
            logger.info("connection %s from %s refused: no token", sid, address)
            raise socketio.exceptions.ConnectionRefusedError(
                "send the token from the REST login as auth: {token}",
                {
                    "code": "unauthenticated",
                    "message": "send the token from the REST login as auth: {token}",
                },
            )
        try:
            principal = await self.tokens.check(token)
        except MeetingdError as exc:  # a bad token, or the database away (unavailable)
            logger.info("connection %s from %s refused: %s", sid, address, exc.message)
            raise socketio.exceptions.ConnectionRefusedError(exc.message, exc.to_dict()) from None
        self.connections[sid] = Connection(
            sid=sid,
            principal=principal,
            address=address,
            token=token,
            checked_until=time.monotonic() + RECHECK_SECONDS,  # just verified
            host=host,
        )
        logger.info("connection %s from %s: %s", sid, address, principal.subject)
        return True

    async def _disconnect(self, sid: str, reason: str) -> None:
        conn = self.connections.pop(sid, None)
        self._limiter.reset(sid)
        if conn is None:
            return
        logger.info("connection %s of %s closed (%s)", sid, conn.principal.subject, reason)
        await self._rooms.drop(conn)

    # -- commands -------------------------------------------------------------------------

    async def dispatch(self, sid: str, event: str, args: tuple[Any, ...]) -> Ack:
        """Run one command and answer its ack."""
        conn = self.connections.get(sid)
        if conn is None or conn.kicked:
            return failed(AuthenticationError("this connection is not authenticated"))
        token = request_id.set(sid)
        try:
            self._admit(conn)
            await self._verify(conn)
            command = self._command(event)
            payload = _parse(command.payload, args)
            meeting_id: int | None = getattr(payload, "meeting_id", None)
            if command.needs_join and meeting_id is not None and meeting_id not in conn.joined:
                # Someone who may not read the meeting is told it does not exist, as over REST.
                await self._services.meetings.get(conn.principal, meeting_id)
                raise StateError(
                    f"this connection has not joined meeting {meeting_id}: send meeting.join first",
                    code="not_joined",
                    field="meeting_id",
                )
            ctx = Context(
                services=self._services,
                principal_or_none=conn.principal,
                token=conn.token,
                address=conn.address,
                host=conn.host,
                socket=SocketSide(conn, self._rooms, self._media),
            )
            result = await command.handler(ctx, payload)
            logger.debug("%s by %s: ok", event, conn.principal.subject)
            if command.answer is None or result is None:
                return ok({})
            if isinstance(result, WiredJoin):  # dumped and encoded once for its batch
                return ok(result.wire())
            return ok(answer_adapter(command.answer).dump_python(result, mode="json"))
        except MeetingdError as exc:
            logger.info(
                "%.64s by %s -> %s: %s", event, conn.principal.subject, exc.code, exc.message
            )
            return failed(exc)
        except Exception:
            logger.exception("command %.64s by %s failed", event, conn.principal.subject)
            return internal_error()
        finally:
            request_id.reset(token)

    # -- rights ---------------------------------------------------------------------------

    async def _verify(self, conn: Connection) -> None:
        """Check the caller's token again unless it was checked a moment ago."""
        now = time.monotonic()
        if now < conn.checked_until:
            return
        try:
            conn.principal = await self.tokens.check(conn.token)
        except AuthenticationError as exc:
            self._revoke(conn, exc)
            raise
        conn.checked_until = now + RECHECK_SECONDS

    async def recheck(self, keys: Collection[str]) -> None:
        """Rights were removed from the callers named by ``keys`` (``user:5``,
        ``bridge_point:3``, ``token:<jti>``): check each of their connections now."""
        wanted = set(keys)
        for conn in list(self.connections.values()):
            p = conn.principal
            if p.subject in wanted or f"token:{p.token_id}" in wanted:
                await self.recheck_connection(conn)

    async def recheck_connection(self, conn: Connection, meeting_id: int | None = None) -> None:
        """Verify ``conn`` now; close it, or take it out of the meetings it may not attend."""
        if conn.kicked or conn.closed:
            return
        conn.checked_until = 0.0
        try:
            await self._verify(conn)
        except AuthenticationError:
            return
        for joined in sorted(conn.joined):
            if meeting_id is not None and joined != meeting_id:
                continue
            try:
                await self._services.meetings.get(conn.principal, joined)
            except MeetingdError as exc:
                await self._rooms.evict(conn, joined, exc)

    def expire(self, now: datetime) -> None:
        """Close the connections whose token expired by ``now``."""
        for conn in list(self.connections.values()):
            exp = conn.principal.expires_at
            if exp is not None and exp <= now and not conn.kicked:
                self._revoke(
                    conn,
                    AuthenticationError(
                        "the token has expired; log in again", code="token_expired"
                    ),
                )

    def _revoke(self, conn: Connection, exc: MeetingdError) -> None:
        """The caller lost its right to this connection: nothing more reaches it from now
        on (rooms left, media stopped at once), then it is told why and disconnected."""
        if conn.kicked:
            return
        logger.info("connection %s of %s revoked: %s", conn.sid, conn.principal.subject, exc.code)
        self._cut_off(conn)
        self._spawn(self._close(conn, exc.code, exc.message), f"close-{conn.sid}")

    def drop_slow(self, sid: str) -> None:
        """The client of ``sid`` reads nothing (its outgoing queue is full): out of its
        rooms and media at once, and its TCP connection cut, not closed politely (a close
        would wait behind what it does not read). It reconnects and resyncs as after any
        lost connection; the log and ``meetingd_realtime_slow_consumers_dropped`` say why."""
        conn = self.connections.get(sid)
        if conn is None or conn.kicked:
            return
        logger.warning("connection %s of %s dropped: %s (%d packets queued, not read)",
                       sid, conn.principal.subject, ErrorCode.SLOW_CONSUMER,
                       queued(self.server, sid, NAMESPACE))  # fmt: skip
        self._cut_off(conn)
        self.slow_dropped += 1
        abort_transport(self.server, sid, NAMESPACE)

    def _cut_off(self, conn: Connection) -> None:
        """Nothing more reaches ``conn`` from now on: its rooms left, its media stopped."""
        conn.kicked = True
        for meeting_id in conn.joined:
            self.server.manager.basic_leave_room(conn.sid, NAMESPACE, room_name(meeting_id))
        if self._media is not None:
            self._spawn(self._media.drop(conn.sid), f"media-drop-{conn.sid}")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _command(self, event: object) -> Command[Any]:
        command = self._commands.get(event) if isinstance(event, str) else None
        if command is None:
            raise MeetingdError(
                f"unknown command {str(event)[:64]!r} (see docs/realtime.md)",
                code="unknown_command",
            )
        if not command.socket:
            raise MeetingdError(
                f"{command.name} is not served on the socket: {command.socket_why_not}",
                code="unknown_command",
            )
        return command

    def _admit(self, conn: Connection) -> None:
        wait = self._limiter.take(conn.sid)
        if wait <= 0:
            conn.strikes = 0
            return
        conn.strikes += 1
        if conn.strikes >= self._flood_strikes and not conn.kicked:
            conn.kicked = True
            self._spawn(
                self._close(conn, "rate_limited", "too many commands: the connection is closed"),
                f"close-{conn.sid}",
            )
        raise RateLimited(
            f"too many commands; wait {wait:.1f} s before the next one", retry_after=wait
        )

    async def _close(self, conn: Connection, code: str, message: str) -> None:
        """Tell the client why, then close the connection (after the pending acks)."""
        logger.warning("closing connection %s of %s: %s", conn.sid, conn.principal.subject, code)
        closed = ConnectionClosed(code=code, message=message)
        await self.emit(closed.type, to_data(closed), to=conn.sid, ignore_queue=True)
        await self.disconnect(conn.sid)

    async def close(self) -> None:
        await self.tokens.close()
        for task in list(self._closing):
            task.cancel()
        await asyncio.gather(*self._closing, return_exceptions=True)


def _parse(model: type[BaseModel], args: tuple[Any, ...]) -> BaseModel:
    if len(args) > 1:
        raise BadRequest("a command takes one payload object", field="payload")
    raw = args[0] if args else {}
    if not isinstance(raw, dict):
        raise BadRequest("the payload must be a JSON object", field="payload")
    try:
        # As JSON, like a REST body: strict types, yet enums and date-times as strings.
        return model.model_validate_json(json.dumps(integral_numbers(raw), ensure_ascii=False))
    except PydanticValidationError as exc:
        raise invalid(exc, "field", "payload") from None
