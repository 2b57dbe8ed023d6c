"""A client that keeps its connection alive but reads nothing (a slow consumer): it is
dropped when its outgoing queue is full, not buffered for as long as it stays."""

from __future__ import annotations

import asyncio
import time

from meetingd.realtime.fastemit import queued
from meetingd.realtime.namespace import NAMESPACE
from tests.realtime.conftest import StartLive
from tests.realtime.livekit import DeafDevice

LIMIT = 20
#: 20,000 characters of Vietnamese: each agenda event carries ~20-120 KB.
DESCRIPTION = ("Báo cáo tình hình kinh tế – xã hội của xã, phường. " * 400)[:20_000]


async def test_a_client_that_reads_nothing_is_dropped_with_its_queue_bounded(
    start_live: StartLive,
) -> None:
    live = await start_live(max_queued_packets=LIMIT)
    mid, ns = live.meeting_id, live.realtime.namespace
    watcher = await live.connect("secretary")  # reads everything
    await watcher.join(mid)
    deaf = DeafDevice(live.url, live.world.tokens["delegate"])
    try:
        assert (await deaf.join(mid))["ok"] is True
        deaf.keep_alive()
        delegate = f"user:{live.world.users['delegate']}"
        (sid,) = [c.sid for c in ns.connections.values() if c.principal.subject == delegate]
        chair = await live.who("chair")
        item = live.world.agenda_ids[0]
        services = live.parts.services
        sent, deepest, deadline = 0, 0, time.monotonic() + 60
        # until the kernel's buffers are full, then the queue, then the drop (bounded)
        while sid in ns.connections and not ns.connections[sid].kicked:
            assert sent < 2000 and time.monotonic() < deadline, (sent, deepest)
            await services.meetings.update_agenda_item(
                chair, mid, item, title=None, description=f"{sent} {DESCRIPTION}"[:20_000],
                duration_minutes=None, state=None,
            )  # fmt: skip
            sent += 1
            await asyncio.sleep(0.01)  # the fan-out runs
            deepest = max(deepest, queued(live.realtime.sio, sid, NAMESPACE))
        assert ns.slow_dropped == 1
        # its queue never grew past the bound (pings queued beside events aside)
        assert deepest <= LIMIT + 10, deepest
        # the reading client got every event, in order; the dropped one is shown offline
        await watcher.wait_until(
            lambda: sum(e == "agenda.item_updated" for e, _ in watcher.events) == sent, within=30
        )
        seen = [int(d["item"]["description"].split()[0])
                for e, d in watcher.events if e == "agenda.item_updated"]  # fmt: skip
        assert seen == list(range(sent))
        left = await watcher.wait_event("presence.left", within=15)
        assert left["id"] == live.world.users["delegate"]
        # the connection itself is gone from the server, not held half-open
        await watcher.wait_until(lambda: sid not in ns.connections, within=15)
    finally:
        await deaf.close()
