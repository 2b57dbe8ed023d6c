"""A socket.io connection as the server sees it, and what a command handler is given."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from meetingd.domain import Principal
from meetingd.services import Services

if TYPE_CHECKING:
    from meetingd.realtime.media_bridge import MediaBridge


@dataclass(eq=False)
class Connection:
    """One authenticated connection (one device); ``sid`` is its socket.io id."""

    sid: str
    principal: Principal
    address: str
    #: Meetings this connection joined (it is in their rooms and counted present).
    joined: set[int] = field(default_factory=set)
    #: Serialises join, leave, resync and the clean-up at disconnect.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Set when the transport has gone (or is going); nothing new may be attached.
    closed: bool = False
    #: Commands refused in a row for flooding; reset by an accepted one.
    strikes: int = 0
    #: The server decided to close the connection (it will send ``connection.closed``).
    kicked: bool = False


class Rooms(Protocol):
    """Joining and leaving a meeting's stream (implemented by the realtime server)."""

    async def join(self, conn: Connection, meeting_id: int) -> dict[str, object]: ...

    async def leave(self, conn: Connection, meeting_id: int) -> None: ...

    async def resync(
        self, conn: Connection, meeting_id: int, after_seq: int
    ) -> dict[str, object]: ...

    async def drop(self, conn: Connection) -> None:
        """The connection closed: it leaves every meeting it joined."""


@dataclass(frozen=True)
class CommandContext:
    """What a command handler may use: its connection, the services and the rooms."""

    conn: Connection
    services: Services
    rooms: Rooms
    #: The media plane's bridge (None on a server without media).
    media: MediaBridge | None = None

    @property
    def principal(self) -> Principal:
        return self.conn.principal
