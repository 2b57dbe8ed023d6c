"""The real-time side of meetingd: socket.io on the app, meeting rooms, ordered fan-out.

Guarantees a client can rely on (see ``docs/realtime.md``):

* A meeting's events reach a connection in ``seq`` order, each once, with no gap, for as
  long as the connection lives; this holds with one process or several on Redis, because
  each process puts the events back in order itself before sending them (see
  :mod:`meetingd.realtime.sequencer`).
* ``meeting.join`` answers a snapshot as of ``seq`` S; every event after S reaches the
  connection after the ack. Events up to S may still arrive after the ack: a client ignores
  an event whose ``seq`` is not above the one it holds.
* ``meeting.resync {after_seq}`` answers the events after ``after_seq`` (or a snapshot) with
  the same promise, so a client that reconnects loses and repeats nothing.
* Events are published after their transaction commits, never for one that rolled back.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

import socketio
from aiohttp import web

from media import CascadeNode, MediaPlane
from meetingd.clock import Clock
from meetingd.commands import COMMANDS
from meetingd.config import Config, host_port
from meetingd.domain import MeetingEvent
from meetingd.errors import MeetingdError, StateError, Unavailable
from meetingd.events import (
    BridgePointUninvited,
    DelegateUninvited,
    Event,
    MeetingLeft,
    MeetingUpdated,
    parse,
    to_data,
)
from meetingd.realtime.bus import RedisEventBus
from meetingd.realtime.cascade import MediaDirectory
from meetingd.realtime.connection import Connection
from meetingd.realtime.fastemit import Deliveries, check_internals, emit_to_room
from meetingd.realtime.joins import WHOLE_MEETING, Entered, JoinBatcher, SharedSnapshot
from meetingd.realtime.media_bridge import MediaBridge
from meetingd.realtime.memory import TICK, FreedMemory, glibc_trim
from meetingd.realtime.namespace import NAMESPACE, MeetingNamespace
from meetingd.realtime.sequencer import Sequencer
from meetingd.realtime.wire import SPLICING_JSON, event_payload, replayed_event, room_name
from meetingd.schemas import (
    DocumentOut,
    FloorEntryOut,
    JoinOut,
    MeetingOut,
    MeetingSnapshotOut,
    PresenceOut,
    PresentationOut,
    RecordingNowOut,
    ReplayOut,
    RollCallOut,
    VoteOut,
)
from meetingd.services import Services
from meetingd.services.ratelimit import RateLimiter
from meetingd.services.stream import MeetingSnapshot
from meetingd.services.votes import COUNT_INTERVAL
from meetingd.store import Store

logger = logging.getLogger(__name__)

#: How often gaps in the streams are looked for (a gap is filled after one to two ticks).
HEAL_INTERVAL = 0.5
#: Reads of a snapshot before giving up joining a meeting that changes without pause.
ATTACH_ATTEMPTS = 5

Answer = JoinOut | ReplayOut
Read = Callable[[], Awaitable[tuple[Answer, int]]]


room = room_name

#: Events after which the connections of a meeting are checked again (who may attend changed).
RECHECK_ON = frozenset(c.type for c in (BridgePointUninvited, DelegateUninvited, MeetingUpdated))
#: How often connections are looked at for an expired token, and speaking times for their end.
EXPIRY_INTERVAL = 0.5
#: How long a shutdown waits for the background tasks it cancelled.
SHUTDOWN_GRACE = 10.0


def snapshot_answer(
    snap: MeetingSnapshot, recording: tuple[str, datetime] | None = None
) -> JoinOut:
    """The ``{snapshot, seq}`` answer of ``meeting.join`` (and of a resync that starts over);
    ``recording``: the recording running on this process's media, if any (name, since)."""
    out = MeetingSnapshotOut(
        meeting=MeetingOut.of(snap.meeting),
        presence=[PresenceOut.of(p) for p in snap.presence],
        rollcall=RollCallOut.of(snap.rollcall) if snap.rollcall is not None else None,
        floor=[FloorEntryOut.of(f) for f in snap.floor],
        documents=[DocumentOut.of(d) for d in snap.documents],
        presenting=PresentationOut.of(snap.presenting) if snap.presenting else None,
        votes=[VoteOut.of(v) for v in snap.votes],
        recording=RecordingNowOut(file=recording[0], since=recording[1]) if recording else None,
    )
    return JoinOut(snapshot=out, seq=snap.seq)


class RealtimeServer:
    """Owns the socket.io server, the per-meeting sequencer and the background work.

    It is the store's event publisher: committed events go to this process's sequencer
    and, with Redis, to the other processes.
    """

    def __init__(
        self,
        config: Config,
        services: Services,
        store: Store,
        clock: Clock,
        media: MediaPlane | None = None,
    ) -> None:
        rc = config.realtime
        self.node_id = secrets.token_hex(8)
        self._services = services
        self._offline_after = rc.offline_after_seconds
        self._beat_interval = max(0.05, rc.offline_after_seconds / 3)
        #: Since when the heartbeat has reached the database without a miss (None: it
        #: missed): only a node beating for ``offline_after`` itself sweeps the others.
        self._beating_since: float | None = None
        #: This node's presence rows may not be its connections (swept by the others, or
        #: a departure not written while the database was away): mend at the next beat.
        self._presence_stale = False
        # The manager keeps this process's rooms only: events cross processes on the
        # ordered bus (RedisEventBus), every emit here is local (rooms by fastemit, one
        # connection's with ignore_queue), and a disconnect is of a local connection. A
        # pub/sub manager would only add a second Redis subscription, and its retry errors
        # in the log while Redis is away.
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            client_manager=socketio.AsyncManager(),
            ping_interval=rc.ping_interval,
            ping_timeout=rc.ping_timeout,
            max_http_buffer_size=config.server.max_body_bytes,
            json=SPLICING_JSON,  # join answers carry parts encoded once per batch
            logger=False,
            engineio_logger=False,
        )
        self.sequencer = Sequencer(
            self._fanout, services.stream.committed_after, services.stream.heads
        )
        self._clock = clock
        self._max_queued = rc.max_queued_packets
        #: How room events reached their connections here (written straight, or queued).
        self.deliveries = Deliveries()
        #: Gives back what a join storm freed but the allocator kept (realtime.memory).
        self.memory = FreedMemory(glibc_trim())
        self.bus = (
            RedisEventBus(
                rc.redis_url,
                rc.redis_channel,
                self.node_id,
                self._events_heard,
                on_rights=self._rights_heard,
            )
            if rc.redis_url
            else None
        )
        self._rechecks: set[asyncio.Task[None]] = set()
        self.media = (
            MediaBridge(media, services, self._emit_to, connected=self._connected)
            if media is not None
            else None
        )
        #: with Redis and media: this process is a media node of the deployment, its
        #: meetings' media cascaded with the other nodes (meetingd.realtime.cascade)
        self.directory: MediaDirectory | None = None
        self._cascade_bind: tuple[str, int] | None = None
        if rc.redis_url and media is not None and self.media is not None:
            mc = config.media
            self._cascade_bind = host_port(mc.cascade_address)
            node = CascadeNode(self.node_id, media.config)
            media.attach_cascade(node)
            self.directory = MediaDirectory(
                rc.redis_url,
                rc.redis_channel,
                node,
                host_port(mc.cascade_announce) if mc.cascade_announce else None,
                self.media.set_remote,
                self.media.link_mode_heard,
            )
            self.media.directory = self.directory
            services.health.elsewhere = self.directory.health
        self.namespace = MeetingNamespace(
            media=self.media,
            services=services,
            rooms=self,
            commands=COMMANDS,
            limiter=RateLimiter(clock, rate=rc.commands_per_second, burst=rc.command_burst),
            flood_strikes=rc.command_burst,
        )
        self.sio.register_namespace(self.namespace)
        self.joins = JoinBatcher(
            lambda meeting_id, arrivals, snapshot: services.presence.enter_many_and_read(
                meeting_id, self.node_id, arrivals, WHOLE_MEETING if snapshot else None
            ),
            self._share,
            self._orphaned,
        )
        check_internals(self.sio)
        self._tasks: list[asyncio.Task[None]] = []
        store.publisher = self

    def attach(self, app: web.Application) -> None:
        """Serve socket.io at ``/socket.io`` on ``app``, and run with its lifetime."""
        self.sio.attach(app, socketio_path="socket.io")
        app.cleanup_ctx.append(self._lifetime)

    # -- publishing ---------------------------------------------------------------------

    async def publish(self, events: Sequence[MeetingEvent]) -> None:
        """Committed events: to this process's connections, and to the other processes."""
        self._services.documents.events_heard(events)  # reading grants they withdraw
        self.sequencer.offer(events)
        if self.bus is not None:
            self.bus.send(list(events))

    async def rights_changed(self, keys: Sequence[str]) -> None:
        """Committed removals of rights: check the callers' connections here and elsewhere
        (the callers' reading grants stop first, before any await)."""
        self._services.documents.revoke_grants(keys)
        if self.bus is not None:
            self.bus.send_rights(list(keys))
        await self.namespace.recheck(keys)

    def _connected(self, sid: str) -> bool:
        """The connection ``sid`` is open on this process (not closed, not being dropped)."""
        conn = self.namespace.connections.get(sid)
        return conn is not None and not conn.closed

    def _rights_heard(self, keys: list[str]) -> None:
        self._services.documents.revoke_grants(keys)
        self._spawn(self.namespace.recheck(keys), "recheck-rights")

    def _events_heard(self, events: list[MeetingEvent]) -> None:
        """Another process's committed events: grants they withdraw stop here too."""
        self._services.documents.events_heard(events)
        self.sequencer.offer(events)

    async def _fanout(self, ev: MeetingEvent) -> None:
        # Encoded once, queued to every connection of the room in this process.
        emit_to_room(
            self.sio,
            ev.type,
            event_payload(ev),
            room(ev.meeting_id),
            NAMESPACE,
            max_queued=self._max_queued,
            on_full=self.namespace.drop_slow,
            counts=self.deliveries,
        )
        if self.media is not None:
            await self.media.on_event(ev)
        if ev.type in RECHECK_ON:
            self._spawn(self._recheck_meeting(ev), f"recheck-{ev.meeting_id}")

    async def _recheck_meeting(self, ev: MeetingEvent) -> None:
        """Who may attend the meeting changed: its connections here are checked again."""
        match parse(ev.type, ev.data):
            case BridgePointUninvited(bridge_point_id=bp):
                subject: str | None = f"bridge_point:{bp}"
            case DelegateUninvited(user_id=uid):
                subject = f"user:{uid}"
            case _:
                subject = None
        for conn in list(self.namespace.connections.values()):
            if ev.meeting_id in conn.joined and subject in (None, conn.principal.subject):
                await self.namespace.recheck_connection(conn, ev.meeting_id)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._rechecks.add(task)
        task.add_done_callback(self._rechecks.discard)

    async def evict(self, conn: Connection, meeting_id: int, why: MeetingdError) -> None:
        """Take ``conn`` out of a meeting it may no longer attend, and tell it why."""
        async with conn.lock:
            if meeting_id not in conn.joined:
                return
            conn.joined.discard(meeting_id)
            self.sio.manager.basic_leave_room(conn.sid, NAMESPACE, room(meeting_id))
            self.sequencer.release(meeting_id)
        logger.info("meeting %s: %s taken out (%s)", meeting_id, conn.principal.subject, why.code)
        if self.media is not None:
            await self.media.drop(conn.sid, meeting_id)
        left = MeetingLeft(meeting_id=meeting_id, code=why.code, message=why.message)
        await self._emit_to(conn.sid, left)
        await self._forget(meeting_id, [conn.sid])

    async def _emit_to(self, sid: str, event: Event) -> None:
        """A per-connection event (``rtc.offered``, ``rtc.layout``): not in the stream.

        ``sid`` is a connection of this process: sent straight to it, not round the
        socket.io manager's Redis channel (which would lose it while Redis is away)."""
        await self.sio.emit(
            event.type, to_data(event), to=sid, namespace=NAMESPACE, ignore_queue=True
        )

    # -- rooms (the Rooms protocol of the commands) ---------------------------------------

    async def join(self, conn: Connection, meeting_id: int) -> JoinOut:
        async def read() -> tuple[Answer, int]:
            snap = await self._services.stream.snapshot(conn.principal, meeting_id)
            return snapshot_answer(snap, self._recording_now(meeting_id)), snap.seq

        async with conn.lock:
            answer = await self._attach(conn, meeting_id, read, shared=True)
        assert isinstance(answer, JoinOut)
        return answer

    async def resync(self, conn: Connection, meeting_id: int, after_seq: int) -> Answer:
        async def read() -> tuple[Answer, int]:
            stream = self._services.stream
            events = await stream.events_after(conn.principal, meeting_id, after_seq)
            if events is None:
                snap = await stream.snapshot(conn.principal, meeting_id)
                return snapshot_answer(snap, self._recording_now(meeting_id)), snap.seq
            high = events[-1].seq if events else after_seq
            return ReplayOut(events=[replayed_event(e) for e in events], seq=high), high

        async with conn.lock:
            return await self._attach(conn, meeting_id, read, shared=False)

    def _share(self, snap: MeetingSnapshot) -> SharedSnapshot:
        """The snapshot a batch of joins shares (every document; each joiner gets its own)."""
        return SharedSnapshot(snap, snapshot_answer(snap, self._recording_now(snap.meeting.id)))

    def _recording_now(self, meeting_id: int) -> tuple[str, datetime] | None:
        """The meeting's recording in progress, for a snapshot (its events may be long gone
        from the log, and every screen must say that the meeting is recorded)."""
        return self.media.recording_now(meeting_id) if self.media is not None else None

    def _orphaned(self, meeting_id: int, sid: str) -> None:
        """A join's presence row was committed after its caller had gone: take it away."""
        self._spawn(self._leave_quietly(meeting_id, sid), f"orphan-{sid}")

    async def _leave_quietly(self, meeting_id: int, sid: str) -> None:
        try:
            await self._forget(meeting_id, [sid])
        except Exception:
            logger.exception("meeting %s: could not record %s leaving", meeting_id, sid)

    async def _forget(self, meeting_id: int, sids: list[str]) -> None:
        """Connections of this node left a meeting: their rows go. While the database is
        away the rows stay, and the first heartbeat that reaches it takes them away
        (:meth:`_mend_presence`)."""
        try:
            await self._services.presence.leave(meeting_id, self.node_id, sids)
        except Unavailable:
            self._presence_stale = True
            logger.warning(
                "meeting %s: %s left; recorded when the database is back", meeting_id, sids
            )

    async def _attach(
        self, conn: Connection, meeting_id: int, read: Read, *, shared: bool
    ) -> Answer:
        """Read (snapshot or events) and, on a new meeting, join its room, consistently.

        A new meeting's presence row is written with the joins around it (see
        :mod:`meetingd.realtime.joins`); a join then answers the batch's shared snapshot, or
        reads its own when that one is already behind what this process has sent.

        The room is entered with no suspension between the check against the sequencer and
        the entry, and the ack follows without one: whatever the sequencer sends after
        ``high`` reaches the connection after the ack.
        """
        first = meeting_id not in conn.joined
        present = False
        entered: Entered | None = None
        if first:
            self.sequencer.retain(meeting_id)
        try:
            if first:
                entered = await self.joins.enter(
                    conn.principal, meeting_id, conn.sid, snapshot=shared
                )
                present = True
            for attempt in range(ATTACH_ATTEMPTS):
                batch = entered.shared if entered is not None and attempt == 0 else None
                if batch is not None:
                    answer: Answer = batch.answer_for(conn.principal)
                    high = batch.seq
                else:
                    answer, high = await read()
                if conn.closed or not self.sio.manager.is_connected(conn.sid, NAMESPACE):
                    raise MeetingdError("the connection has closed", code="gone")
                self.sequencer.position(meeting_id, high)
                emitted = self.sequencer.emitted(meeting_id)
                if emitted is not None and emitted > high:
                    continue  # sent beyond what we read: read again
                if first:
                    self.sio.manager.basic_enter_room(conn.sid, NAMESPACE, room(meeting_id))
                    conn.joined.add(meeting_id)
                return answer
            raise MeetingdError(
                f"meeting {meeting_id} changes too fast to join; try again", code="busy"
            )
        except BaseException:
            if first:
                self.sequencer.release(meeting_id)
                if present:
                    with suppress(Exception):
                        await self._forget(meeting_id, [conn.sid])
            raise

    async def leave(self, conn: Connection, meeting_id: int) -> None:
        async with conn.lock:
            if meeting_id not in conn.joined:
                raise StateError(
                    f"this connection has not joined meeting {meeting_id}", code="not_joined"
                )
            conn.joined.discard(meeting_id)
            self.sio.manager.basic_leave_room(conn.sid, NAMESPACE, room(meeting_id))
            self.sequencer.release(meeting_id)
            await self._forget(meeting_id, [conn.sid])
        if self.media is not None:
            await self.media.drop(conn.sid, meeting_id)

    async def drop(self, conn: Connection) -> None:
        conn.closed = True
        if self.media is not None:
            await self.media.drop(conn.sid)
        async with conn.lock:
            joined = sorted(conn.joined)
            conn.joined.clear()
            for meeting_id in joined:
                self.sequencer.release(meeting_id)
        for meeting_id in joined:
            try:
                await self._forget(meeting_id, [conn.sid])
            except Exception:
                logger.exception("meeting %s: could not record %s leaving", meeting_id, conn.sid)

    # -- lifetime -------------------------------------------------------------------------

    async def _lifetime(self, app: web.Application) -> AsyncIterator[None]:
        presence = self._services.presence
        await presence.heartbeat(self.node_id)
        await presence.sweep(self.node_id)  # connections left by a process that died
        self._beating_since = time.monotonic() - self._offline_after
        if self.bus is not None:
            await self.bus.start()
        if self.media is not None:
            self.media.plane.start()  # ICE restricted before any peer gathers; closed below
        if self.directory is not None and self._cascade_bind is not None:
            self.directory.node.start(*self._cascade_bind)
            await self.directory.start()
        self._tasks = [
            asyncio.create_task(every(HEAL_INTERVAL, self.sequencer.heal), name="heal"),
            asyncio.create_task(every(self._beat_interval, self._beat), name="heartbeat"),
            asyncio.create_task(every(EXPIRY_INTERVAL, self._expire), name="expiry"),
            asyncio.create_task(
                every(EXPIRY_INTERVAL, self._services.floor.expire), name="speaking-time"
            ),
            asyncio.create_task(
                every(EXPIRY_INTERVAL, self._services.votes.expire), name="vote-deadlines"
            ),
            asyncio.create_task(
                every(COUNT_INTERVAL, self._services.votes.flush_counts), name="vote-counts"
            ),
            asyncio.create_task(every(TICK, self._trim_memory), name="memory-trim"),
        ]
        logger.info("real-time node %s ready", self.node_id)
        try:
            yield
        finally:
            running = [*self._tasks, *self._rechecks]
            for t in running:
                t.cancel()
            if running:
                _, stuck = await asyncio.wait(running, timeout=SHUTDOWN_GRACE)
                for t in stuck:  # never the reason a shutdown hangs
                    logger.error("task %s did not stop within %g s", t.get_name(), SHUTDOWN_GRACE)
            await self.namespace.close()
            await self.joins.close()
            if self.directory is not None:
                await self.directory.close()
            if self.media is not None:
                await self.media.close()
            await self.sio.shutdown()
            await self.sequencer.close()
            with suppress(Exception):
                await presence.forget_node(self.node_id)
            if self.bus is not None:
                await self.bus.close()

    async def _expire(self) -> None:
        self.namespace.expire(self._clock.now())

    async def _trim_memory(self) -> None:
        self.memory.tick()

    # -- presence across nodes ---------------------------------------------------------------

    async def _beat(self) -> None:
        """Prove this node alive; mend its presence rows if they may be wrong; sweep away the
        connections of nodes that stopped beating.

        A node whose heartbeat was late (slow, paused, cut from the database for a while)
        finds its registration gone: the others took it for dead and showed its participants
        offline. Its connections are still open, so it puts their rows back at once (they
        are shown online again) rather than waiting for them to reconnect.

        After its own heartbeat missed (the database away), a node does not sweep until it
        has beaten again for ``offline_after``: the others' heartbeats missed too, and they
        are not dead for that.
        """
        presence = self._services.presence
        try:
            registered = await presence.heartbeat(self.node_id)
        except Unavailable:
            self._beating_since = None
            raise
        now = time.monotonic()
        if self._beating_since is None:
            self._beating_since = now
        if not registered:
            logger.warning(
                "node %s was taken for dead by the others (its heartbeat was late): "
                "its connections are shown present again",
                self.node_id,
            )
            self._presence_stale = True
        if self._presence_stale:
            self._presence_stale = False
            try:
                await self._mend_presence()
            except BaseException:
                self._presence_stale = True
                raise
        if now - self._beating_since >= self._offline_after:
            await presence.sweep(self.node_id)

    async def _mend_presence(self) -> None:
        """Make this node's presence rows those of its connections in their meetings: put
        back the rows of connections that are in a meeting without one, take away those of
        connections that are not (or no longer) there. A connection busy joining, resyncing
        or leaving writes its own row and is looked at again at the next beat."""
        presence = self._services.presence
        recorded = await presence.recorded(self.node_id)
        attending: dict[int, list[Connection]] = {}
        busy: set[str] = set()
        for conn in list(self.namespace.connections.values()):
            if conn.lock.locked():
                busy.add(conn.sid)
            elif not (conn.closed or conn.kicked):
                for meeting_id in conn.joined:
                    attending.setdefault(meeting_id, []).append(conn)
        if busy:
            self._presence_stale = True
        for meeting_id in sorted(recorded.keys() | attending.keys()):
            rows = recorded.get(meeting_id, set())
            conns = attending.get(meeting_id, [])
            missing = [c for c in conns if c.sid not in rows]
            gone = rows - {c.sid for c in conns} - busy
            if missing:
                outcomes = await presence.enter_many(
                    meeting_id, self.node_id, [(c.principal, c.sid) for c in missing]
                )
                for c, outcome in zip(missing, outcomes, strict=True):
                    if isinstance(outcome, MeetingdError):  # its right re-check takes it out
                        logger.info("meeting %s: %s not put back: %s", meeting_id, c.sid, outcome)
                    elif c.closed or meeting_id not in c.joined:
                        gone.add(c.sid)  # left while its row was written
                logger.info(
                    "meeting %s: %d connections of this node put back", meeting_id, len(missing)
                )
            if gone:
                await presence.leave(meeting_id, self.node_id, sorted(gone))
                logger.info("meeting %s: %d rows of closed connections gone", meeting_id, len(gone))


async def every(seconds: float, work: Callable[[], Awaitable[object]]) -> None:
    """Run ``work`` every ``seconds`` until cancelled; a failure is logged, not fatal."""
    me = asyncio.current_task()
    while True:
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception as exc:
            # A cancel that lands inside a database call can come back as the driver's
            # error (asyncpg's rollback on a connection cut mid-query): the task was still
            # told to stop, and looping on would hang the shutdown that waits for it.
            if me is not None and me.cancelling():
                raise asyncio.CancelledError from None
            if not isinstance(exc, Unavailable):  # that one the store logs once per outage
                logger.exception("background work %s failed", getattr(work, "__name__", work))
