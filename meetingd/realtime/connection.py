"""A socket.io connection as the server sees it, and what a command gets of it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from meetingd.domain import Principal

if TYPE_CHECKING:
    from meetingd.errors import MeetingdError
    from meetingd.realtime.media_bridge import MediaBridge
    from meetingd.schemas import JoinOut, ReplayOut


@dataclass(eq=False, slots=True)
class Connection:
    """One authenticated connection (one device); ``sid`` is its socket.io id."""

    sid: str
    principal: Principal
    address: str
    #: The token it connected with; every command re-checks it (see ``Gatekeeper``).
    token: str = ""
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
    #: Monotonic time until which the last check of the token holds (0: check now).
    checked_until: float = 0.0
    #: The host name it reached this server by, when not through a trusted proxy (see
    #: :func:`meetingd.api.context.direct_host`).
    host: str = ""


class Rooms(Protocol):
    """Joining and leaving a meeting's stream (implemented by the realtime server)."""

    async def join(self, conn: Connection, meeting_id: int) -> JoinOut: ...

    async def leave(self, conn: Connection, meeting_id: int) -> None: ...

    async def resync(
        self, conn: Connection, meeting_id: int, after_seq: int
    ) -> ReplayOut | JoinOut: ...

    async def drop(self, conn: Connection) -> None:
        """The connection closed: it leaves every meeting it joined."""

    async def evict(self, conn: Connection, meeting_id: int, why: MeetingdError) -> None:
        """The caller may no longer attend: the connection leaves the meeting, is told why."""


@dataclass(frozen=True, slots=True)
class SocketSide:
    """What a command run on the socket may reach besides the services."""

    conn: Connection
    rooms: Rooms
    #: The media plane's bridge (None on a server without media).
    media: MediaBridge | None = None
