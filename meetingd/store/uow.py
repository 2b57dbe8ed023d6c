"""Units of work: one session and one transaction, events published only after commit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from typing import Protocol

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from meetingd.clock import Clock
from meetingd.domain import MeetingEvent
from meetingd.errors import ConflictError, Unavailable
from meetingd.events import Event, to_data
from meetingd.outage import Outage
from meetingd.store.audit import AuditRepository
from meetingd.store.bridge_points import BridgePointRepository
from meetingd.store.db import READ_ONLY
from meetingd.store.documents import DocumentRepository
from meetingd.store.events import EventRepository
from meetingd.store.floor import FloorRepository, SpeechRepository
from meetingd.store.meetings import MeetingRepository
from meetingd.store.presence import NodeRepository, PresenceRepository
from meetingd.store.rollcalls import RollCallRepository
from meetingd.store.stream import StreamRepository
from meetingd.store.tokens import TokenRepository
from meetingd.store.units import UnitRepository
from meetingd.store.users import UserRepository
from meetingd.store.votes import MinutesRepository, VoteRepository

logger = logging.getLogger(__name__)


class EventPublisher(Protocol):
    """Receives a committed transaction's events, in ``seq`` order per meeting."""

    async def publish(self, events: Sequence[MeetingEvent]) -> None: ...

    async def rights_changed(self, keys: Sequence[str]) -> None:
        """Callers named by ``keys`` may have lost rights: check their connections again."""


class UnitOfWork:
    """Repositories over one session, plus the events the work has caused.

    ``actor`` is who the work is done for (set by the guard that authorises it, or by the
    caller): every decision it emits is audited in its name, in the same transaction.
    """

    def __init__(self, session: AsyncSession, clock: Clock, event_log_size: int) -> None:
        self.session = session
        self.clock = clock
        self.units = UnitRepository(session)
        self.bridge_points = BridgePointRepository(session)
        self.users = UserRepository(session)
        self.meetings = MeetingRepository(session)
        self.tokens = TokenRepository(session)
        self.events = EventRepository(session, event_log_size)
        self.audit = AuditRepository(session)
        self.floor = FloorRepository(session)
        self.speeches = SpeechRepository(session)
        self.presence = PresenceRepository(session)
        self.nodes = NodeRepository(session)
        self.rollcalls = RollCallRepository(session)
        self.documents = DocumentRepository(session)
        self.stream = StreamRepository(session)
        self.votes = VoteRepository(session)
        self.minutes = MinutesRepository(session)
        self.actor = "system"
        self.emitted: list[MeetingEvent] = []
        self.revoked: list[str] = []

    async def record(
        self, action: str, subject: str, data: dict[str, object], *, actor: str | None = None
    ) -> None:
        """Audit a decision in the actor's name (what ``emit`` does for meeting events);
        ``actor`` names another one (a batch of ballots is work for several callers)."""
        await self.audit.record(
            at=self.clock.now(), actor=actor or self.actor, action=action, subject=subject,
            data=data,
        )  # fmt: skip

    def rights_changed(self, *keys: str) -> None:
        """Callers lost rights (``user:5``, ``bridge_point:3``, ``token:<jti>``): once the
        commit returns, their open connections are checked again on every process."""
        self.revoked.extend(keys)

    async def emit(self, meeting_id: int, event: Event) -> MeetingEvent:
        """Append an event to the meeting's log; it is published once the commit returns."""
        data = to_data(event)
        ev = await self.events.append(meeting_id, event.type, data, self.clock.now())
        if event.audited:
            await self.record(event.type, f"meeting:{meeting_id}", {"seq": ev.seq, **data})
        self.emitted.append(ev)
        return ev


class Store:
    """Opens units of work on one engine; owns the publisher of committed events."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        event_log_size: int = 1000,
        publisher: EventPublisher | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.event_log_size = event_log_size
        self.publisher = publisher
        #: Whether the database answered the last unit of work (logged once each way).
        self.outage = Outage(
            "the database", "commands answer unavailable (503) until it is back", logger
        )
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        # SQLite runs one transaction at a time (each begins IMMEDIATE). Queue them here, in
        # order, rather than in SQLite's busy handler, which sleeps and retries and can make
        # one transaction wait seconds behind a stream of others.
        self._turns = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._readers = async_sessionmaker(
            engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False,
            autoflush=False,
        )  # fmt: skip

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """One unit of work: commit on success, roll back on any error.

        An :class:`IntegrityError` becomes a :class:`ConflictError`. Events emitted in the
        unit are handed to the publisher after the commit returns, never before, and
        never after a rollback.
        """
        began = time.monotonic()
        async with self._turns or nullcontext(), self._sessions() as session:
            uow = UnitOfWork(session, self.clock, self.event_log_size)
            try:
                async with session.begin():
                    yield uow
                    await uow.audit.flush()  # the chain's lock: last taken, held to commit
            except IntegrityError as exc:
                logger.info("integrity conflict: %s", exc.orig)
                raise ConflictError(_conflict_message(exc)) from None
            except Exception as exc:
                self._unavailable(exc)
                raise
        self.outage.answered(began)
        if uow.emitted and self.publisher is not None:
            await self.publisher.publish(uow.emitted)
        if uow.revoked and self.publisher is not None:
            await self.publisher.rights_changed(uow.revoked)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work that only reads (a token checked on every command, say): on
        SQLite it neither waits for the writers' turn nor takes one, and reads the last
        commit. Writing, emitting or auditing in it is a bug, refused at its end."""
        began = time.monotonic()
        async with self._readers() as session:
            uow = UnitOfWork(session, self.clock, self.event_log_size)
            try:
                async with session.begin():
                    yield uow
                    if uow.emitted or uow.revoked or uow.audit.pending or session.dirty \
                            or session.new or session.deleted:  # fmt: skip
                        raise RuntimeError("a reading unit of work changed something")
            except Exception as exc:
                self._unavailable(exc)
                raise
        self.outage.answered(began)

    def _unavailable(self, exc: Exception) -> None:
        """Raise :class:`Unavailable` if ``exc`` says the database cannot be reached."""
        if not unreachable(exc):
            return
        # The driver's words, not SQLAlchemy's wrapper: that one quotes the statement and its
        # parameters (a secret ballot's, say), which the log never holds.
        orig = exc.orig if isinstance(exc, DBAPIError) else None
        self.outage.failed(orig if isinstance(orig, BaseException) else exc)
        raise Unavailable("the database cannot be reached; try again shortly") from None

    async def close(self) -> None:
        await self.engine.dispose()


#: asyncpg's names for a connection that is gone, refused or not yet accepting.
_LOST = {
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "CannotConnectNowError",
    "AdminShutdownError",
    "CrashShutdownError",
}


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (not a bug, not a conflict).

    The one place connection failures are recognised, so that every command on both
    transports answers ``unavailable`` (503) while the database is away, not ``internal``.
    """
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 10:  # the chain SQLAlchemy and asyncpg build
        if isinstance(cause, OSError | TimeoutError | PoolTimeout):
            return True
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        if type(cause).__name__ in _LOST and "asyncpg" in type(cause).__module__:
            return True
        orig = getattr(cause, "orig", None)
        cause = orig if isinstance(orig, BaseException) else cause.__cause__ or cause.__context__
        seen += 1
    return False


def _conflict_message(exc: IntegrityError) -> str:
    text = str(exc.orig).lower()
    if "unique" in text or "duplicate" in text:
        return "this already exists (a unique value is taken)"
    if "foreign key" in text:
        return "a referenced record does not exist or is still in use"
    return "the change conflicts with stored data"
