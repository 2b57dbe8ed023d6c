"""Signalling for the headless agent over meetingd's wire protocol (HTTP + socket.io).

This speaks the documented protocol only (``POST /api/v1/auth/device``, socket.io
``meeting.join``, ``rtc.config``, ``rtc.offer``, ``rtc.answer``, event ``rtc.offered``);
like every other client it knows nothing of the server's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import socketio

from .config import IceServer

logger = logging.getLogger(__name__)

_CLOSED = object()


class SignallingRefused(Exception):
    """The server answered a command with ``{ok: false}``; not worth retrying at once."""


class SocketIOSignaller:
    """One bridge point's signalling session to a meetingd server; reusable across sessions.

    ``meeting_id`` None joins the first meeting that is live, else open, that the bridge
    point is invited to.
    """

    def __init__(
        self, server: str, credential: str, meeting_id: int | None = None, timeout: float = 10.0
    ) -> None:
        self.server = server.rstrip("/")
        self.credential = credential.strip()
        self.wanted_meeting = meeting_id
        self.meeting_id: int | None = None
        self.timeout = timeout
        self.ice_servers: tuple[IceServer, ...] = ()
        self._sio: socketio.AsyncClient | None = None
        self._offers: asyncio.Queue[object] = asyncio.Queue()

    async def _login(self, http: aiohttp.ClientSession) -> str:
        async with http.post(
            f"{self.server}/api/v1/auth/device", json={"credential": self.credential}
        ) as r:
            body = await r.json()
            if r.status != 200:
                raise SignallingRefused(f"device login refused: {body.get('error')}")
            token: str = body["token"]
            return token

    async def _pick_meeting(self, http: aiohttp.ClientSession, token: str) -> int:
        if self.wanted_meeting is not None:
            return self.wanted_meeting
        headers = {"Authorization": f"Bearer {token}"}
        for state in ("live", "paused", "open"):
            async with http.get(
                f"{self.server}/api/v1/meetings", params={"state": state}, headers=headers
            ) as r:
                meetings = await r.json()
                if r.status == 200 and meetings:
                    return int(meetings[0]["id"])
        raise ConnectionError("no live or open meeting for this bridge point yet")

    async def _call(self, name: str, payload: dict[str, Any]) -> Any:
        if self._sio is None or not self._sio.connected:
            raise ConnectionError("signalling is not connected")
        try:
            ack = await self._sio.call(name, payload, timeout=self.timeout)
        except socketio.exceptions.TimeoutError:
            raise ConnectionError(f"{name}: no answer within {self.timeout} s") from None
        except socketio.exceptions.SocketIOError as exc:
            raise ConnectionError(f"{name}: {exc}") from None
        if not isinstance(ack, dict) or not ack.get("ok"):
            error = ack.get("error") if isinstance(ack, dict) else ack
            raise SignallingRefused(f"{name} refused: {error}")
        return ack.get("data")

    async def connect(self) -> None:
        await self.close()
        self._offers = asyncio.Queue()
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                token = await self._login(http)
                self.meeting_id = await self._pick_meeting(http, token)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ConnectionError(f"cannot reach {self.server}: {exc}") from None
        sio = socketio.AsyncClient(reconnection=False)
        offers = self._offers

        async def on_offer(data: dict[str, Any]) -> None:
            if data.get("meeting_id") == self.meeting_id and isinstance(data.get("sdp"), str):
                await offers.put(data["sdp"])

        async def on_disconnect(*_: Any) -> None:
            await offers.put(_CLOSED)

        sio.on("rtc.offered", on_offer)
        sio.on("disconnect", on_disconnect)

        try:
            await sio.connect(
                self.server,
                auth={"token": token},
                transports=["websocket"],
                wait_timeout=self.timeout,
            )
        except socketio.exceptions.ConnectionError as exc:
            raise ConnectionError(f"socket.io connection refused: {exc}") from None
        self._sio = sio
        await self._call("meeting.join", {"meeting_id": self.meeting_id})
        config = await self._call("rtc.config", {"meeting_id": self.meeting_id})
        self.ice_servers = tuple(
            IceServer(
                urls=tuple(s["urls"]), username=s.get("username"), credential=s.get("credential")
            )
            for s in config.get("ice_servers", [])
        )
        logger.info("agent joined meeting %s on %s", self.meeting_id, self.server)

    async def offer(self, sdp: str) -> str:
        data = await self._call("rtc.offer", {"meeting_id": self.meeting_id, "sdp": sdp})
        answer: str = data["sdp"]
        return answer

    async def answer(self, sdp: str) -> None:
        await self._call("rtc.answer", {"meeting_id": self.meeting_id, "sdp": sdp})

    async def server_offer(self) -> str:
        item = await self._offers.get()
        if item is _CLOSED:
            raise ConnectionError("signalling connection dropped")
        assert isinstance(item, str)
        return item

    async def close(self) -> None:
        sio, self._sio = self._sio, None
        if sio is not None:
            with contextlib.suppress(Exception):
                await sio.disconnect()
