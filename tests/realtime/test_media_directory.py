"""The media directory in Redis (cascading): registrations, rosters, garbage, departures.

Two directories (two media nodes) on the shared Redis under a prefix of the test's own; no
media flows here (tests/realtime/test_cascade.py has it end to end).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from media import CascadeNode, Kind, MediaConfig, RemoteMember, Role
from meetingd.domain import MediaHealth
from meetingd.realtime.cascade import MediaDirectory
from tests.realtime.cluster import REDIS_URL

pytestmark = pytest.mark.redis

Heard = dict[int, dict[str, RemoteMember]]


async def until(check: Callable[[], bool], within: float = 10.0, what: str = "it") -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.fixture
async def two(
    redis_channel: str,
) -> AsyncIterator[tuple[MediaDirectory, MediaDirectory, Heard, Heard, aioredis.Redis]]:
    heard: list[Heard] = [{}, {}]
    made = []
    for i, name in enumerate(("n1", "n2")):
        node = CascadeNode(name, MediaConfig())
        node.start("127.0.0.1", 0)

        def on_members(meeting_id: int, members: dict[str, RemoteMember], i: int = i) -> None:
            heard[i][meeting_id] = dict(members)

        directory = MediaDirectory(REDIS_URL, redis_channel, node, None, on_members)
        await directory.start()
        made.append(directory)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield made[0], made[1], heard[0], heard[1], client
    finally:
        for d in made:
            await d.close()
            await d.node.close()
        keys = [k async for k in client.scan_iter(match=f"{redis_channel}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


MEMBERS = {"bridge_point:1#s1": (Role.BRIDGE_POINT, frozenset({Kind.AUDIO, Kind.VIDEO}))}


async def test_each_node_learns_the_others_endpoints_and_their_departure(
    two: tuple[MediaDirectory, MediaDirectory, Heard, Heard, aioredis.Redis],
) -> None:
    d1, d2, heard1, heard2, _ = two
    await until(lambda: "n2" in d1.node.peers and "n1" in d2.node.peers, what="registrations")
    d1.roster(7, MEMBERS)
    d2.roster(7, {"user:3#s2": (Role.CHAIR, frozenset({Kind.AUDIO}))})
    await until(lambda: "bridge_point:1#s1" in heard2.get(7, {}), what="n1's roster at n2")
    assert heard2[7]["bridge_point:1#s1"] == RemoteMember(
        "n1", Role.BRIDGE_POINT, frozenset({Kind.AUDIO, Kind.VIDEO})
    )
    await until(lambda: "user:3#s2" in heard1.get(7, {}), what="n2's roster at n1")
    assert "bridge_point:1#s1" not in heard1[7]  # a node is not told its own
    d1.roster(7, {})  # n1's last endpoint left the meeting
    await until(lambda: heard2[7] == {}, what="the departure at n2")


async def test_garbage_in_redis_is_ignored_and_removed(
    two: tuple[MediaDirectory, MediaDirectory, Heard, Heard, aioredis.Redis],
    redis_channel: str,
) -> None:
    d1, d2, _heard1, heard2, client = two
    await until(lambda: "n2" in d1.node.peers, what="registration")
    room = f"{redis_channel}:media:room:8"
    await client.hset(room, mapping={
        "junk": b"not json", "bad-role": json.dumps({"n": "n1", "r": "king", "k": []}),
        "dead-node": json.dumps({"n": "gone", "r": "chair", "k": ["audio"], "t": 0}),
    })  # fmt: skip
    await client.set(f"{redis_channel}:media:node:evil", b"{not json")
    secret = "ab" * 32
    for name, host, port in (("port", "127.0.0.1", 70000), ("name", "media.example.vn", 4000)):
        body = {"host": host, "port": port, "secret": secret}
        await client.set(f"{redis_channel}:media:node:{name}", json.dumps(body), ex=30)
    d1.roster(8, MEMBERS)
    d2.roster(8, {"user:3#s2": (Role.CHAIR, frozenset({Kind.AUDIO}))})
    await until(lambda: "bridge_point:1#s1" in heard2.get(8, {}), what="n1's roster at n2")
    assert set(heard2[8]) == {"bridge_point:1#s1"}
    fields = await client.hkeys(room)
    for _ in range(50):
        fields = await client.hkeys(room)
        if not {b"junk", b"bad-role", b"dead-node"} & set(fields):
            break
        await asyncio.sleep(0.1)
    assert not {b"junk", b"bad-role", b"dead-node"} & set(fields), fields
    assert not {"evil", "port", "name"} & set(d2.node.peers)
    assert set(d2.node.peers) == {"n1"}


async def test_health_figures_of_the_other_node(
    two: tuple[MediaDirectory, MediaDirectory, Heard, Heard, aioredis.Redis],
    redis_channel: str,
) -> None:
    d1, d2, _, _, client = two
    await until(lambda: "n1" in d2.node.peers, what="registration")
    now = datetime.now(UTC)
    row = MediaHealth(
        meeting_id=9, subject="bridge_point:1", connection="s1", role="bridge_point",
        state="connected", bitrate_in=1, bitrate_out=2, loss_in=0.0, loss_out=0.0,
        jitter_in_ms=0.0, jitter_out_ms=0.0, rtt_ms=None, fps_in=1.0, fps_out=2.0,
        last_keyframe_at=None, measured_at=now,
    )  # fmt: skip
    d1.health_measured(9, [row])
    got: list[MediaHealth] = []
    for _ in range(50):
        got = await d2.health(9)
        if got:
            break
        await asyncio.sleep(0.1)
    assert got == [row]
    assert await d1.health(9) == []  # its own figures are read where they are kept
    # garbage where n1's figures are: nothing shown from there, no error
    key = f"{redis_channel}:media:health:9:n1"
    for junk in (b"[1, \"x\", null]", b"{}", b"not json", json.dumps([{"subject": 3}]).encode()):
        await client.set(key, junk, ex=10)
        assert await d2.health(9) == []
