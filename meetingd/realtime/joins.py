"""Join storms: the joins of a few milliseconds are written, and answered, together.

At 8:00 every commune of a province connects to the briefing at once. Joined one by one,
each join cost a transaction for its presence row, an event sent to every connection
already in (N joins, N²/2 deliveries) and a snapshot read and encoded for it alone.

:class:`JoinBatcher` does group commit per meeting: a join waits at most ``window`` for
others (and, while a batch is being written, the next one gathers), then the batch's
presence rows are written in one transaction that emits one ``presence.arrived`` for the
participants that arrived (:meth:`PresenceService.enter_many_and_read`). Each caller is
checked on its own in that transaction and refused alone; each join is answered only after
the commit that holds its row. The same transaction, after the rows and their event, reads
one snapshot of the meeting, the same state for all of them (what each would read alone
right after its join), and :class:`SharedSnapshot` answers each joiner from it: its right to
read the meeting checked again, the documents it may see picked out, every other part
encoded once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from meetingd.domain import PresenceEntry, Principal
from meetingd.errors import MeetingdError
from meetingd.realtime.wire import RawJSON, WiredJoin
from meetingd.schemas import JoinOut, answer_adapter
from meetingd.services import authz
from meetingd.services.documents import DocumentService
from meetingd.services.stream import MeetingSnapshot

logger = logging.getLogger(__name__)

#: How long the first join of a batch waits for others (joins arriving while a batch is
#: being written wait for it to finish anyway).
WINDOW = 0.004
#: Joins written in one transaction at most.
MAX_BATCH = 250

#: The meeting as the server sees it (every document): a batch's snapshot is read once in
#: this view, then cut down to what each joiner may see.
WHOLE_MEETING = Principal(kind="user", id=0, name="meetingd", token_id="", is_admin=True)

#: Records the arrivals in one transaction; with ``snapshot`` True also reads the meeting's
#: snapshot (every document) in it, after the rows (None when nobody was admitted).
EnterMany = Callable[
    [int, Sequence[tuple[Principal, str]], bool],
    Awaitable[tuple[list[PresenceEntry | MeetingdError | None], MeetingSnapshot | None]],
]
Share = Callable[[MeetingSnapshot], "SharedSnapshot"]
Orphaned = Callable[[int, str], None]


class SharedSnapshot:
    """One snapshot of a meeting for every joiner of a batch (the same ``seq``)."""

    def __init__(self, snap: MeetingSnapshot, answer: JoinOut) -> None:
        self.snap = snap
        self.seq = answer.seq
        self._typed = answer
        dumped: dict[str, Any] = answer_adapter(JoinOut).dump_python(answer, mode="json")
        parts: dict[str, Any] = dumped["snapshot"]
        self._documents: list[Any] = parts.pop("documents")
        # Encoded once here; spliced into every joiner's ack as they are.
        self._parts = {k: RawJSON(v) for k, v in parts.items()}

    def answer_for(self, principal: Principal) -> WiredJoin:
        """The join answer of ``principal``: refused as :meth:`StreamService.snapshot` would
        refuse it, with the documents it may see."""
        meeting = self.snap.meeting
        authz.require_read_meeting(principal, meeting)
        seen = [
            i
            for i, d in enumerate(self.snap.documents)
            if DocumentService.may_see(principal, meeting, d)
        ]
        snapshot = self._typed.snapshot
        typed = JoinOut.model_construct(
            snapshot=snapshot.model_copy(
                update={"documents": [snapshot.documents[i] for i in seen]}
            ),
            seq=self.seq,
        )
        wire = {
            "snapshot": {**self._parts, "documents": [self._documents[i] for i in seen]},
            "seq": self.seq,
        }
        return WiredJoin.assemble(typed, wire)


@dataclass(frozen=True, slots=True)
class Entered:
    """A join's presence row is committed (``entry`` None: the meeting has ended)."""

    entry: PresenceEntry | None
    #: The batch's snapshot; None when none was wanted or it could not be read.
    shared: SharedSnapshot | None


@dataclass(eq=False)
class _Join:
    principal: Principal
    sid: str
    wants_snapshot: bool
    future: asyncio.Future[Entered] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class JoinBatcher:
    """Group commit of joins, per meeting (see the module's docstring)."""

    def __init__(
        self,
        enter_many: EnterMany,
        share: Share,
        orphaned: Orphaned,
        *,
        window: float = WINDOW,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._enter_many = enter_many
        self._share = share
        self._orphaned = orphaned
        self.window = window
        self._max_batch = max_batch
        self._queues: dict[int, list[_Join]] = {}
        self._writers: dict[int, asyncio.Task[None]] = {}
        #: Batches written and joins in them (for tests and metrics).
        self.batches = 0
        self.joins = 0

    async def enter(
        self, principal: Principal, meeting_id: int, sid: str, *, snapshot: bool
    ) -> Entered:
        """Record the connection ``sid`` of ``principal`` in the meeting, with the joins
        around it; answers once its row is committed. ``snapshot``: also read the batch's
        shared snapshot. Raises the error that refused this caller."""
        join = _Join(principal, sid, snapshot)
        self._queues.setdefault(meeting_id, []).append(join)
        if meeting_id not in self._writers:
            self._writers[meeting_id] = asyncio.create_task(
                self._write(meeting_id), name=f"meeting-{meeting_id}-joins"
            )
        try:
            return await join.future
        except asyncio.CancelledError:
            fut = join.future
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._orphaned(meeting_id, sid)  # committed, yet its caller is gone
            raise

    async def _write(self, meeting_id: int) -> None:
        queue = self._queues[meeting_id]
        batch: list[_Join] = []
        try:
            while queue:
                await asyncio.sleep(self.window)
                batch = queue[: self._max_batch]
                del queue[: self._max_batch]
                await self._flush(meeting_id, batch)
        finally:
            # No suspension between the last look at the queue and this: a join queued
            # from now on starts a new writer. Joins left waiting (a shutdown) are refused.
            del self._writers[meeting_id]
            del self._queues[meeting_id]
            for join in [*batch, *queue]:
                if not join.future.done():
                    join.future.set_exception(
                        MeetingdError("the server is stopping; join again", code="gone")
                    )

    async def _flush(self, meeting_id: int, batch: list[_Join]) -> None:
        live = [j for j in batch if not j.future.done()]  # a caller gone before its turn
        if not live:
            return
        t0 = time.perf_counter()
        wants = any(j.wants_snapshot for j in live)
        try:
            outcomes, snap = await self._enter_many(
                meeting_id, [(j.principal, j.sid) for j in live], wants
            )
        except Exception as exc:
            for j in live:
                if not j.future.done():
                    j.future.set_exception(exc)
            return
        self.batches += 1
        self.joins += len(live)
        t1 = time.perf_counter()
        shared: SharedSnapshot | None = None
        if snap is not None:
            try:
                shared = self._share(snap)
            except Exception:  # each joiner reads its own instead
                logger.exception("meeting %s: could not share the joins' snapshot", meeting_id)
        for j, outcome in zip(live, outcomes, strict=True):
            if isinstance(outcome, MeetingdError):
                if not j.future.done():
                    j.future.set_exception(outcome)
            elif j.future.done():
                self._orphaned(meeting_id, j.sid)  # its row is committed, its caller gone
            else:
                j.future.set_result(Entered(outcome, shared))
        logger.info(
            "meeting %s: %d joins written and read in %.1f ms, answered in %.1f ms",
            meeting_id, len(live), (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3,
        )  # fmt: skip

    async def close(self) -> None:
        """Stop the writers (at shutdown); joins still waiting are cancelled."""
        tasks = list(self._writers.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
