"""A minimal socket.io client for benchmarks: Engine.IO v4 / Socket.IO v5 over aiohttp.

One ``socketio.AsyncClient`` per connection costs about a core for 500 connections, so a
fan-out benchmark built on it measures its own client. This one speaks only what a
benchmark needs, over one shared :class:`aiohttp.ClientSession`:

* websocket transport straight away (``GET /socket.io/?EIO=4&transport=websocket``);
* the Engine.IO open packet ``0{...}`` and ping ``2`` -> pong ``3``;
* the Socket.IO connect ``40{auth}`` -> ``40{"sid"}`` (or ``44{"message"}``: refused);
* events ``42["name", payload]`` handed to one callback with the raw text, so the caller
  parses only what it needs; calls with an ack ``42<id>[...]`` -> ``43<id>[...]``.

The default namespace only, no binary packets, no polling, no reconnection.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

#: on_event(name_and_payload_text, receipt_wall_time): the text after ``42``.
OnEvent = Callable[[str, float], None]


class Refused(Exception):
    """The server refused the socket.io connection (``44``) or closed it while connecting."""


class AckError(Exception):
    """A command's ack did not arrive (timeout or connection lost)."""


class LightSocket:
    """One socket.io connection; call :meth:`connect`, then :meth:`call`, then :meth:`close`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        auth: dict[str, Any] | None,
        on_event: OnEvent | None = None,
        *,
        compress: int = 0,
    ) -> None:
        self._session = session
        self._url = base_url.rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        self._auth = auth
        self._on_event = on_event
        self._compress = compress
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self.sid: str | None = None
        self.open_info: dict[str, Any] = {}
        self.closed_reason: str | None = None
        self.closed_at: float | None = None
        self.pings = 0

    async def connect(self, within: float = 20.0) -> None:
        self._ws = await self._session.ws_connect(
            self._url,
            compress=self._compress,
            autoping=True,
            max_msg_size=0,
            timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
        )
        self._reader = asyncio.create_task(self._read(), name="sio-light-read")
        try:
            await asyncio.wait_for(self._connected.wait(), within)
        except TimeoutError:
            self.closed_reason = self.closed_reason or f"no socket.io connect answer in {within} s"
            await self.close()
            raise Refused(self.closed_reason) from None
        if self.sid is None:
            await self.close()
            raise Refused(self.closed_reason or "refused")

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        on_event = self._on_event
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING):
                        self.closed_reason = (
                            f"websocket closed by the server (code {ws.close_code})"
                        )
                        break
                    if msg.type is aiohttp.WSMsgType.ERROR:
                        self.closed_reason = f"websocket error: {ws.exception()!r}"
                        break
                    continue
                text: str = msg.data
                # Hot path first: a socket.io event.
                if text.startswith("42"):
                    if on_event is not None:
                        body = text[2:]
                        if body[:1] == "[":
                            on_event(body, time.time())
                        # else an event that asks us for an ack: benches send none
                    continue
                kind = text[:1]
                if kind == "2":  # engine.io ping
                    self.pings += 1
                    await ws.send_str("3" + text[1:])
                elif text.startswith("43"):
                    self._ack(text[2:])
                elif kind == "0":  # engine.io open
                    self.open_info = json.loads(text[1:])
                    payload = "40" if self._auth is None else "40" + json.dumps(self._auth)
                    await ws.send_str(payload)
                elif text.startswith("40"):
                    self.sid = json.loads(text[2:] or "{}").get("sid")
                    self._connected.set()
                elif text.startswith("44"):
                    try:
                        self.closed_reason = str(json.loads(text[2:]).get("message"))
                    except ValueError:
                        self.closed_reason = text[2:]
                    self._connected.set()
                    break
                elif text.startswith("41"):
                    self.closed_reason = "socket.io disconnect (41) from the server"
                    break
                elif kind == "1":
                    self.closed_reason = "engine.io close (1) from the server"
                    break
        except (aiohttp.ClientError, ConnectionError) as exc:
            self.closed_reason = f"connection lost: {exc!r}"
        finally:
            if self.closed_reason is None:
                self.closed_reason = f"websocket ended (code {ws.close_code})"
            self.closed_at = time.time()
            self._connected.set()
            for fut in self._acks.values():
                if not fut.done():
                    fut.set_exception(AckError(self.closed_reason))
            self._acks.clear()

    def _ack(self, body: str) -> None:
        i = 0
        while i < len(body) and body[i].isdigit():
            i += 1
        if i == 0:
            return
        fut = self._acks.pop(int(body[:i]), None)
        if fut is not None and not fut.done():
            args = json.loads(body[i:])
            fut.set_result(args[0] if len(args) == 1 else args)

    @property
    def is_open(self) -> bool:
        return (
            self._ws is not None
            and not self._ws.closed
            and self._reader is not None
            and (not self._reader.done())
        )

    async def call(self, name: str, data: Any, within: float = 30.0) -> Any:
        """Send a command and await its ack (the first ack argument)."""
        if not self.is_open:
            raise AckError(self.closed_reason or "not connected")
        assert self._ws is not None
        ack_id = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = fut
        await self._ws.send_str(f"42{ack_id}" + json.dumps([name, data], separators=(",", ":")))
        try:
            return await asyncio.wait_for(fut, within)
        except TimeoutError:
            self._acks.pop(ack_id, None)
            raise AckError(f"no ack for {name} within {within} s") from None

    async def emit(self, name: str, data: Any) -> None:
        """Send an event without asking for an ack."""
        assert self._ws is not None
        await self._ws.send_str("42" + json.dumps([name, data], separators=(",", ":")))

    async def close(self) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            try:
                await ws.send_str("41")
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                pass
            await ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
