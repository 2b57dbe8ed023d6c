"""The media plane of one process: rooms by id, and the ICE servers clients should use."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

from ._aiortc_private import HostAddressLease, restrict_host_addresses
from .cascade import CascadeNode
from .config import IceServer, MediaConfig, turn_credentials
from .errors import ConflictError, NotFoundError
from .room import LayoutCallback, Room, StatsCallback


class MediaPlane:
    """The SFU of one process: rooms by id. Use it inside the running event loop.

    Its lifetime runs from :meth:`start` (or ``async with``, or the first
    :meth:`create_room`) to :meth:`close`. While it is open it holds a lease on the one
    process-wide aioice patch, which makes ICE gather on ``config.listen_ips`` only; the
    patch is removed when the last open plane (or bridge-point agent) lets go.
    """

    def __init__(self, config: MediaConfig | None = None) -> None:
        self.config = config or MediaConfig()
        self._rooms: dict[str, Room] = {}
        self._host_lease: HostAddressLease | None = None
        #: the links to the other media nodes of a cluster (cascading), once attached
        self.cascade: CascadeNode | None = None

    def attach_cascade(self, node: CascadeNode) -> None:
        """Cascade this plane's rooms with other nodes through ``node`` (before any room);
        the plane closes it with itself."""
        if self._rooms:
            raise ConflictError("rooms_open", "attach the cascade before opening rooms")
        self.cascade = node
        self.start()

    def start(self) -> None:
        """Open the plane: restrict ICE to ``config.listen_ips`` (idempotent)."""
        if self._host_lease is None:
            self._host_lease = restrict_host_addresses(self.config.listen_ips)

    @property
    def started(self) -> bool:
        """Between :meth:`start` (or the first room) and :meth:`close`."""
        return self._host_lease is not None

    async def __aenter__(self) -> MediaPlane:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def create_room(
        self,
        room_id: str,
        *,
        on_stats: StatsCallback | None = None,
        on_layout: LayoutCallback | None = None,
        page_size: int | None = None,
    ) -> Room:
        """Open a room; ``on_stats(room_id, stats)`` is called every ``stats_interval``.

        Starts the plane if it was not started yet.
        """
        if room_id in self._rooms:
            raise ConflictError("room_exists", f"room {room_id} already exists")
        self.start()
        room = Room(self, room_id, on_stats, on_layout, page_size)
        self._rooms[room_id] = room
        return room

    def room(self, room_id: str) -> Room:
        """The room with this id (NotFoundError if unknown)."""
        try:
            return self._rooms[room_id]
        except KeyError:
            raise NotFoundError("room_not_found", f"no room {room_id}") from None

    @property
    def rooms(self) -> Mapping[str, Room]:
        """Open rooms by id (read-only view)."""
        return dict(self._rooms)

    async def close_room(self, room_id: str) -> None:
        """Close a room and all its peer connections."""
        room = self._rooms.pop(room_id, None)
        if room is None:
            raise NotFoundError("room_not_found", f"no room {room_id}")
        await room.close()

    async def close(self) -> None:
        """Close every room and give back the ICE restriction (idempotent)."""
        try:
            for room_id in list(self._rooms):
                await self.close_room(room_id)
        finally:
            if self.cascade is not None:
                await self.cascade.close()
                self.cascade = None
            if self._host_lease is not None:
                self._host_lease.release()
                self._host_lease = None

    def client_ice_servers(self, user: str) -> tuple[IceServer, ...]:
        """ICE servers to hand a client: STUN urls plus TURN with fresh REST credentials."""
        out: list[IceServer] = []
        if self.config.ice_servers:
            out.append(IceServer(urls=tuple(self.config.ice_servers)))
        if self.config.turn_urls and self.config.turn_secret:
            username, password = turn_credentials(
                self.config.turn_secret, self.config.turn_ttl, user
            )
            out.append(
                IceServer(urls=tuple(self.config.turn_urls), username=username, credential=password)
            )
        return tuple(out)
