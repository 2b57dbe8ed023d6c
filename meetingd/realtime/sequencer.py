"""Hands committed events to this process's connections in ``seq`` order, per meeting.

Transactions of one meeting commit in ``seq`` order (each takes the meeting row's lock to
take its ``seq``), but the code that publishes after the commit runs in many tasks, and
with several processes events also arrive over Redis: event 8 may be offered before 7. The
sequencer keeps, for each meeting that has connections here, the next ``seq`` to send and
holds back anything after a gap. A gap that stays for a heal tick (half a second) is filled
from the event log in the database, so an event whose publisher died after the commit, or
that Redis dropped, still reaches every screen, at most about a second late.

One drain task per meeting sends ready events one after the other. The fan-out
(``AsyncServer.emit`` to a room) picks the room's members before its first suspension, and
:attr:`emitted` moves before it does: a connection that entered the room after checking
``emitted`` gets every later event, and none that it could have missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from meetingd.domain import MeetingEvent

logger = logging.getLogger(__name__)

Fanout = Callable[[MeetingEvent], Awaitable[None]]
Fetch = Callable[[int, int, int], Awaitable[list[MeetingEvent]]]
"""(meeting_id, after_seq, limit) -> the committed events after ``after_seq``, in order."""
Heads = Callable[[list[int]], Awaitable[dict[int, int]]]
"""meeting ids -> their current ``seq`` in the database."""

#: Events read from the log per meeting and heal tick.
HEAL_BATCH = 1000


@dataclass(eq=False)
class _Stream:
    meeting_id: int
    holders: int = 0
    #: The next ``seq`` to queue; None until a connection's snapshot says where we stand.
    next: int | None = None
    #: The last ``seq`` handed to the fan-out.
    emitted: int = 0
    pending: dict[int, MeetingEvent] = field(default_factory=dict)
    ready: deque[MeetingEvent] = field(default_factory=deque)
    drain: asyncio.Task[None] | None = None
    #: ``next`` as seen by the previous heal tick while the database was ahead.
    stalled_at: int | None = None


class Sequencer:
    """Per meeting, passes committed events to ``fanout`` exactly once and in ``seq`` order.

    Only meetings that have connections in this process are followed
    (:meth:`retain` / :meth:`release`); events of other meetings are dropped at once.
    """

    def __init__(self, fanout: Fanout, fetch: Fetch, heads: Heads) -> None:
        self._fanout = fanout
        self._fetch = fetch
        self._heads = heads
        self._streams: dict[int, _Stream] = {}
        self._drains: set[asyncio.Task[None]] = set()
        self.delivered = 0  # events handed to the fan-out (for tests and metrics)
        self.healed = 0  # events read from the log because they did not arrive

    # -- following meetings ---------------------------------------------------------------

    def retain(self, meeting_id: int) -> None:
        """A connection here is joining ``meeting_id``: follow its events from now on.

        Events offered before :meth:`position` is first called are held, since the joining
        connection's snapshot may be older than them.
        """
        st = self._streams.get(meeting_id)
        if st is None:
            st = self._streams[meeting_id] = _Stream(meeting_id)
        st.holders += 1

    def release(self, meeting_id: int) -> None:
        """A connection here left ``meeting_id``; stop following it when none is left."""
        st = self._streams.get(meeting_id)
        if st is None:
            return
        st.holders -= 1
        if st.holders <= 0:
            del self._streams[meeting_id]

    def position(self, meeting_id: int, seq: int) -> None:
        """A joining connection's state is as of ``seq``: continue after it if not placed yet."""
        st = self._streams.get(meeting_id)
        if st is None or st.next is not None:
            return
        st.next = seq + 1
        st.emitted = seq
        self._advance(st)

    def emitted(self, meeting_id: int) -> int | None:
        """The last ``seq`` sent to this process's connections in ``meeting_id``."""
        st = self._streams.get(meeting_id)
        return None if st is None or st.next is None else st.emitted

    @property
    def meetings(self) -> list[int]:
        return list(self._streams)

    # -- events -----------------------------------------------------------------------------

    def offer(self, events: Iterable[MeetingEvent]) -> None:
        """Committed events, in any order, possibly repeated; never blocks."""
        touched: set[_Stream] = set()
        for ev in events:
            st = self._streams.get(ev.meeting_id)
            if st is None or (st.next is not None and ev.seq < st.next):
                continue
            st.pending[ev.seq] = ev
            touched.add(st)
        for st in touched:
            self._advance(st)

    def _advance(self, st: _Stream) -> None:
        if st.next is None:
            return
        for seq in [s for s in st.pending if s < st.next]:
            del st.pending[seq]
        while st.next in st.pending:
            st.ready.append(st.pending.pop(st.next))
            st.next += 1
        if st.ready and st.drain is None:
            st.drain = asyncio.create_task(self._drain(st), name=f"meeting-{st.meeting_id}-fanout")
            self._drains.add(st.drain)
            st.drain.add_done_callback(self._drains.discard)

    async def _drain(self, st: _Stream) -> None:
        try:
            while st.ready:
                ev = st.ready.popleft()
                st.emitted = ev.seq
                self.delivered += 1
                try:
                    await self._fanout(ev)
                except Exception:
                    logger.exception(
                        "meeting %s: could not send event %s (%s)", ev.meeting_id, ev.seq, ev.type
                    )
        finally:
            st.drain = None

    # -- healing gaps -----------------------------------------------------------------------

    async def heal(self) -> None:
        """Fill gaps from the event log: run every heal tick.

        A meeting whose database ``seq`` is at or past our ``next`` is behind; if it was
        already behind at the same ``next`` on the previous tick, the missing events are
        read from the log. When the log no longer has them (far more events than it keeps
        went by), the stream jumps ahead; clients see the jump in ``seq`` and resync.
        """
        followed = [m for m, st in self._streams.items() if st.next is not None]
        if not followed:
            return
        heads = await self._heads(followed)
        for meeting_id in followed:
            st = self._streams.get(meeting_id)
            head = heads.get(meeting_id)
            if st is None or st.next is None or head is None:
                continue
            if head < st.next:
                st.stalled_at = None
                continue
            if st.stalled_at != st.next:
                st.stalled_at = st.next  # give in-flight events one tick to arrive
                continue
            missing = st.next
            events = await self._fetch(meeting_id, missing - 1, HEAL_BATCH)
            if st.next != missing:  # they arrived while we read
                continue
            logger.warning(
                "meeting %s: events from seq %s never arrived; read %s from the log",
                meeting_id,
                missing,
                len(events),
            )
            if events and events[0].seq != missing:
                logger.warning(
                    "meeting %s: the log no longer holds seq %s..%s; skipping ahead",
                    meeting_id,
                    missing,
                    events[0].seq - 1,
                )
                st.next = events[0].seq
            self.healed += len(events)
            self.offer(events)

    async def close(self) -> None:
        """Stop the drain tasks (at shutdown)."""
        tasks = list(self._drains)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._streams.clear()
