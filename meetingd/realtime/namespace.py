"""The socket.io namespace ``/``: authentication on connect, then commands with acks.

Every event a client sends is a command looked up in the registry; the answer is the ack
``{ok: true, data}`` or ``{ok: false, error: {code, message, field?}}``. Errors of the
:mod:`meetingd.errors` hierarchy are mapped here, once; anything else is logged with its
traceback and answered ``internal``.

Each connection has a token bucket (``realtime.commands_per_second`` refilled up to
``realtime.command_burst``). A command over the limit is answered ``rate_limited`` and
changes nothing; after ``command_burst`` refusals in a row the server sends
``connection.closed`` with the reason and closes the connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from meetingd.errors import AuthenticationError, MeetingdError, RateLimited, StateError
from meetingd.errors import ValidationError as BadRequest
from meetingd.logs import request_id
from meetingd.realtime.connection import CommandContext, Connection, Rooms
from meetingd.realtime.media_bridge import MediaBridge
from meetingd.realtime.registry import CommandRegistry
from meetingd.realtime.wire import Ack, failed, internal_error, ok, payload_error
from meetingd.services import Services
from meetingd.services.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

NAMESPACE = "/"


class MeetingNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """Authenticates connections and dispatches their commands through the registry."""

    def __init__(
        self,
        *,
        services: Services,
        rooms: Rooms,
        commands: CommandRegistry,
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
        self.connections: dict[str, Connection] = {}

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
        address = str(getattr(request, "remote", None) or environ.get("REMOTE_ADDR", "?"))
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
            principal = await self._services.auth.authenticate(token)
        except AuthenticationError as exc:
            logger.info("connection %s from %s refused: %s", sid, address, exc.message)
            raise socketio.exceptions.ConnectionRefusedError(exc.message, exc.to_dict()) from None
        self.connections[sid] = Connection(sid=sid, principal=principal, address=address)
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
        if conn is None:
            return failed(AuthenticationError("this connection is not authenticated"))
        token = request_id.set(sid)
        try:
            self._admit(conn)
            command = self._commands.get(event) if isinstance(event, str) else None
            if command is None:
                raise MeetingdError(
                    f"unknown command {str(event)[:64]!r} (see docs/realtime.md)",
                    code="unknown_command",
                )
            payload = _parse(command.payload, args)
            meeting_id = getattr(payload, "meeting_id", None)
            if command.needs_join and meeting_id not in conn.joined:
                raise StateError(
                    f"this connection has not joined meeting {meeting_id}: send meeting.join first",
                    code="not_joined",
                    field="meeting_id",
                )
            ctx = CommandContext(conn, self._services, self._rooms, self._media)
            data = await command.handler(ctx, payload)
            logger.debug("%s by %s: ok", event, conn.principal.subject)
            return ok(data)
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

    def _admit(self, conn: Connection) -> None:
        wait = self._limiter.take(conn.sid)
        if wait <= 0:
            conn.strikes = 0
            return
        conn.strikes += 1
        if conn.strikes >= self._flood_strikes and not conn.kicked:
            conn.kicked = True
            task = asyncio.create_task(
                self._close(conn, "rate_limited", "too many commands: the connection is closed"),
                name=f"close-{conn.sid}",
            )
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        raise RateLimited(
            f"too many commands; wait {wait:.1f} s before the next one", retry_after=wait
        )

    async def _close(self, conn: Connection, code: str, message: str) -> None:
        """Tell the client why, then close the connection (after the pending acks)."""
        logger.warning("closing connection %s of %s: %s", conn.sid, conn.principal.subject, code)
        await self.emit(
            "connection.closed", {"code": code, "message": message}, to=conn.sid, ignore_queue=True
        )
        await self.disconnect(conn.sid)

    async def close(self) -> None:
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
        return model.model_validate(raw)
    except PydanticValidationError as exc:
        raise payload_error(exc) from None
