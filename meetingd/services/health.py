"""Link health of the media connections, for the operator's view and ``/metrics``.

The media plane pushes its figures here every ~2 s (through the realtime layer, which owns
the media rooms). The figures kept here are this process's; with cascading, a meeting's
view adds the other media nodes' (``elsewhere``, read from Redis).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

from meetingd.clock import Clock
from meetingd.domain import MediaHealth, Principal
from meetingd.services import authz
from meetingd.services.authz import Permission
from meetingd.store import Store


class HealthService:
    def __init__(self, store: Store, clock: Clock, *, stale_after_seconds: float = 10.0) -> None:
        self._store = store
        self._clock = clock
        self._stale = stale_after_seconds
        self._latest: dict[int, list[MediaHealth]] = {}
        #: with cascading: the other media nodes' figures of a meeting
        self.elsewhere: Callable[[int], Awaitable[list[MediaHealth]]] | None = None

    def now(self) -> datetime:
        """The time figures are stamped with."""
        return self._clock.now()

    def record(self, meeting_id: int, figures: Iterable[MediaHealth]) -> None:
        """The latest figures of a meeting's media room (replacing the previous ones)."""
        self._latest[meeting_id] = sorted(figures, key=lambda h: (h.subject, h.connection))

    def forget(self, meeting_id: int) -> None:
        self._latest.pop(meeting_id, None)

    def current(self) -> dict[int, list[MediaHealth]]:
        """Every meeting's figures that are fresh enough to show (for ``/metrics``)."""
        now = self._clock.now()
        return {
            mid: rows
            for mid, rows in self._latest.items()
            if rows and (now - rows[0].measured_at).total_seconds() <= self._stale
        }

    async def for_meeting(self, principal: Principal, meeting_id: int) -> list[MediaHealth]:
        """The health view of a meeting: for its operators, chair and secretary."""
        async with self._store.transaction() as uow:
            await authz.meeting_for(uow, principal, meeting_id, need=Permission.WATCH_HEALTH)
        rows = list(self.current().get(meeting_id, []))
        if self.elsewhere is not None:
            rows += await self.elsewhere(meeting_id)
            rows.sort(key=lambda h: (h.subject, h.connection))
        return rows
