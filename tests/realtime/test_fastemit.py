"""The room fan-out that queues on engine.io sockets directly: its internals are there, and it
delivers one encoded event to every connection of the room (and only of the room), in order."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from meetingd.realtime.fastemit import PINNED, Deliveries, check_internals, emit_to_room
from meetingd.realtime.namespace import NAMESPACE
from meetingd.realtime.server import room
from tests.realtime.conftest import Live
from tests.realtime.livekit import LiveClient


def test_the_pinned_versions_are_the_installed_ones() -> None:
    from importlib.metadata import version

    for dist, want in PINNED.items():
        assert version(dist) == want, f"re-check meetingd/realtime/fastemit.py for {dist}"


async def test_emit_to_room_reaches_the_room_only_in_order(live: Live) -> None:
    check_internals(live.realtime.sio)
    inside = await live.connect("bp1")
    await inside.join(live.meeting_id)
    outside = await live.connect("bp2")  # connected, not joined
    sent = 0
    for i in range(50):
        sent += emit_to_room(
            live.realtime.sio,
            "test.pinged",
            {"i": i, "tên": "Hoằng Hóa"},
            room(live.meeting_id),
            NAMESPACE,
        )
    assert sent == 50
    await inside.wait_until(lambda: len(inside.of("test.pinged")) == 50)
    assert [d["i"] for d in inside.of("test.pinged")] == list(range(50))
    assert inside.of("test.pinged")[0]["tên"] == "Hoằng Hóa"
    await outside.ok("meeting.join", {"meeting_id": live.meeting_id})  # a round trip
    assert outside.of("test.pinged") == []


def _socket(live: Live, client: LiveClient) -> Any:
    sio = live.realtime.sio
    eio_sid = sio.manager.eio_sid_from_sid(client.sio.get_sid(NAMESPACE), NAMESPACE)
    return sio.eio.sockets[eio_sid]


async def test_an_event_goes_straight_to_an_idle_connection_and_never_overtakes(
    live: Live,
) -> None:
    sio, where = live.realtime.sio, room(live.meeting_id)
    c = await live.connect("bp1")
    await c.join(live.meeting_id)
    counts = Deliveries()
    assert emit_to_room(sio, "test.pinged", {"i": 0}, where, NAMESPACE, counts=counts) == 1
    assert (counts.direct, counts.queued) == (1, 0)  # the writer was idle: written at once
    await c.wait_until(lambda: len(c.of("test.pinged")) == 1)
    # something waits in the connection's queue, not written yet: the event goes behind it
    marker = sio.packet_class(sio_packet.EVENT, namespace=NAMESPACE, data=["test.marker", {}])
    _socket(live, c).queue.put_nowait(eio_packet.Packet(eio_packet.MESSAGE, marker.encode()))
    emit_to_room(sio, "test.pinged", {"i": 1}, where, NAMESPACE, counts=counts)
    assert (counts.direct, counts.queued) == (1, 1)
    await c.wait_until(lambda: len(c.of("test.pinged")) == 2)
    names = [e for e, _ in c.events if e in ("test.marker", "test.pinged")]
    assert names == ["test.pinged", "test.marker", "test.pinged"]
    # commands and their acks between events: every event and ack arrives, in send order
    for i in range(2, 40):
        emit_to_room(sio, "test.pinged", {"i": i}, where, NAMESPACE, counts=counts)
        if i % 5 == 0:
            await c.ok("meeting.resync", {"meeting_id": live.meeting_id, "after_seq": 0})
    await c.wait_until(lambda: len(c.of("test.pinged")) == 40)
    assert [d["i"] for d in c.of("test.pinged")] == list(range(40))
    assert counts.direct > 20, counts


async def test_a_compressing_connection_reads_the_shared_frames(live: Live) -> None:
    """A client that negotiated permessage-deflate (as browsers do) reads the uncompressed
    frames written straight, between the compressed ones its writer sends."""
    url = live.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, compress=15) as ws:
        assert ws.compress, "permessage-deflate was negotiated"
        assert (await ws.receive_str()).startswith("0{")
        await ws.send_str("40" + json.dumps({"token": live.world.tokens["bp1"]}))
        while not (await ws.receive_str()).startswith("40"):
            pass
        await ws.send_str("420" + json.dumps(["meeting.join", {"meeting_id": live.meeting_id}]))
        while not (await ws.receive_str()).startswith("430"):
            pass
        counts = Deliveries()
        text = "Hoằng Hóa " * 500  # large enough that aiohttp would compress it
        for i in range(5):
            emit_to_room(live.realtime.sio, "test.pinged", {"i": i, "t": text},
                         room(live.meeting_id), NAMESPACE, counts=counts)  # fmt: skip
            await asyncio.sleep(0.05)
        got = []
        async with asyncio.timeout(10):
            while len(got) < 5:
                msg = await ws.receive_str()
                if msg == "2":
                    await ws.send_str("3")
                elif msg.startswith('42["test.pinged"'):
                    got.append(json.loads(msg[2:])[1])
        assert [g["i"] for g in got] == list(range(5)) and got[0]["t"] == text
        assert counts.direct >= 1, counts
