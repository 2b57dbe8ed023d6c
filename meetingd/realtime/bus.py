"""Committed events between server processes, over a Redis pub/sub channel.

Each process publishes the events its own transactions committed, in commit order, on
``<channel>:events``; every other process feeds what it receives to its sequencer, which
restores ``seq`` order per meeting and fills anything lost from the event log. Redis is
thus only the fast path: if it drops a message or is down for a while, screens catch up
from the database within about a second (the heal tick), while it is away too.

While Redis is away nothing is refused: a command commits and its events reach this
process's screens at once and the other processes' through the database log. The log says
once that Redis went and once that it is back (:class:`~meetingd.outage.Outage`); what was
waiting to be published when it failed is dropped, not sent stale after it comes back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from meetingd.domain import MeetingEvent
from meetingd.outage import Outage

logger = logging.getLogger(__name__)

#: Messages kept while Redis is slow; beyond that they are dropped (and healed).
MAX_QUEUED = 10_000
#: Seconds between attempts to reach Redis again, doubling from the first to the last.
RETRY_FIRST = 0.25
RETRY_MAX = 2.0


def encode(node_id: str, events: list[MeetingEvent], rights: list[str] | None = None) -> str:
    return json.dumps(
        {
            "node": node_id,
            "rights": rights or [],
            "events": [
                {
                    "meeting_id": ev.meeting_id,
                    "seq": ev.seq,
                    "type": ev.type,
                    "data": ev.data,
                    "at": ev.created_at.isoformat(),
                }
                for ev in events
            ],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode(raw: bytes | str) -> tuple[str, list[MeetingEvent], list[str]]:
    msg: dict[str, Any] = json.loads(raw)
    events = [
        MeetingEvent(
            meeting_id=int(e["meeting_id"]),
            seq=int(e["seq"]),
            type=str(e["type"]),
            data=dict(e["data"]),
            created_at=datetime.fromisoformat(e["at"]),
        )
        for e in msg["events"]
    ]
    rights = [str(k) for k in msg.get("rights", [])]
    return str(msg["node"]), events, rights


class RedisEventBus:
    """Publishes this node's committed events and receives the other nodes' ones."""

    def __init__(
        self,
        url: str,
        channel: str,
        node_id: str,
        receive: Callable[[list[MeetingEvent]], None],
        on_rights: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.channel = f"{channel}:events"
        self._url = url
        self._node_id = node_id
        self._receive = receive
        self._on_rights = on_rights
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._redis: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self.outage = Outage(
            "Redis",
            "commands go on; their events reach the other processes through the database "
            "log, about a second late",
            logger,
        )
        #: The sides (publishing, subscription) that failed their last attempt.
        self._failing: set[str] = set()
        #: Events received from the other nodes, and messages not published (healed).
        self.received = 0
        self.dropped = 0
        self._warned_full_at = 0.0

    async def start(self) -> None:
        """Connect and subscribe; events published after this returns are received."""
        self._redis = aioredis.Redis.from_url(self._url)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.channel)
        self._tasks = [
            asyncio.create_task(self._listen(), name="redis-events-listen"),
            asyncio.create_task(self._publish(), name="redis-events-publish"),
        ]
        logger.info(
            "events shared through Redis channel %s as node %s", self.channel, self._node_id
        )

    def send(self, events: list[MeetingEvent]) -> None:
        """Queue a committed transaction's events for the other nodes; never blocks."""
        if self._queue.qsize() >= MAX_QUEUED:
            self.dropped += 1
            if time.monotonic() - self._warned_full_at > 10:  # once per ten seconds at most
                self._warned_full_at = time.monotonic()
                logger.warning("Redis is not keeping up: events not shared (healed later)")
            return
        self._queue.put_nowait(encode(self._node_id, events))

    def send_rights(self, keys: list[str]) -> None:
        """Tell the other nodes that these callers lost rights (their connections are
        checked again there); a lost message is caught by the next command's re-check."""
        self._queue.put_nowait(encode(self._node_id, [], keys))

    def _failed(self, side: str, exc: BaseException) -> None:
        self._failing.add(side)
        self.outage.failed(exc)

    def _answered(self, side: str, began: float) -> None:
        if side in self._failing:
            self._failing.discard(side)
            if not self._failing:
                self.outage.answered(began)

    async def _publish(self) -> None:
        assert self._redis is not None
        while True:
            message = await self._queue.get()
            began = time.monotonic()
            try:
                await self._redis.publish(self.channel, message)
            except (RedisError, OSError) as exc:
                _stop_if_cancelled()
                self._failed("publishing", exc)
                self.dropped += 1
                await self._until_back()
                continue
            self._answered("publishing", began)

    async def _until_back(self) -> None:
        """Wait until Redis answers again. What is queued meanwhile is dropped: it would be
        stale by then, and the other nodes read it from the database log anyway."""
        assert self._redis is not None
        backoff = RETRY_FIRST
        while True:
            self._drop_queued()
            await asyncio.sleep(backoff)
            began = time.monotonic()
            try:
                await self._redis.ping()
            except (RedisError, OSError):
                _stop_if_cancelled()
                backoff = min(backoff * 2, RETRY_MAX)
                continue
            self._drop_queued()
            self._answered("publishing", began)
            return

    def _drop_queued(self) -> None:
        self.dropped += self._queue.qsize()
        while not self._queue.empty():
            self._queue.get_nowait()

    async def _listen(self) -> None:
        backoff = RETRY_FIRST
        while True:
            began = time.monotonic()
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except (RedisError, OSError) as exc:
                _stop_if_cancelled()
                self._failed("subscription", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX)
                continue
            backoff = RETRY_FIRST
            self._answered("subscription", began)
            if message is None or message.get("type") != "message":
                continue
            try:
                node, events, rights = decode(message["data"])
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("ignored a malformed message on %s: %s", self.channel, exc)
                continue
            if node == self._node_id:
                continue
            if events:
                self.received += len(events)
                self._receive(events)
            if rights and self._on_rights is not None:
                self._on_rights(rights)

    async def close(self) -> None:
        """Publish what is still queued (for a second at most), then disconnect."""
        for _ in range(20):
            if self._queue.empty():
                break
            await asyncio.sleep(0.05)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()


def _stop_if_cancelled() -> None:
    """A cancel that reached redis-py mid-call may come back as a connection error: the
    loop was still told to stop (:meth:`RedisEventBus.close` waits for it)."""
    me = asyncio.current_task()
    if me is not None and me.cancelling():
        raise asyncio.CancelledError
