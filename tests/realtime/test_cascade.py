"""One meeting's media across two ``meetingd serve`` processes (cascading through Redis).

Bridge-point agents (real aiortc, signalling over the socket as in production) sit on
both processes: the floor holder on B is seen and heard on A, each of its tracks crossing
once however many watch it on A; the operator's health view on A shows B's endpoints;
B killed (-9) and started again (a new node): the links are made again by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.realtime.cluster import Node, OwnRedis, nodes, seeded, wait_healthy
from tests.realtime.rtcpeer import SocketPeer
from tests.realtime.test_faults import screens, start_meeting

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def _until(check: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.1)


async def cascade_streams(http: aiohttp.ClientSession, node: Node) -> dict[str, float]:
    """``direction`` -> tracks crossing to or from other nodes, from the node's /metrics."""
    async with http.get(f"{node.url}/metrics") as r:
        text = await r.text()
    out: dict[str, float] = {}
    for m in re.finditer(
        r'^meetingd_media_cascade_streams\{direction="(\w+)",peer="\w+"\} (\S+)$', text, re.M
    ):
        out[m[1]] = out.get(m[1], 0.0) + float(m[2])
    return out


@pytest.mark.timeout(240)
async def test_floor_holder_on_one_process_reaches_the_other_once(
    scaleout_db: str, redis_channel: str, tmp_path: Path
) -> None:
    from media.agent import AgentConfig, BridgePointAgent
    from media.sio_signaller import SocketIOSignaller

    world = await seeded(scaleout_db, tmp_path)
    mid = world.meeting_id
    async with (
        nodes(scaleout_db, redis_channel, tmp_path, ("a", "b")) as n,
        screens(world) as s,
        aiohttp.ClientSession() as http,
    ):
        chair = await s.open(n["a"], "chair")
        await start_meeting(chair, mid)
        speaker = f"bridge_point:{world.bridge_points['bp2']}"
        await chair.ok("floor.grant", {"meeting_id": mid, "subject": speaker})
        stop = asyncio.Event()
        agents: dict[str, BridgePointAgent] = {}
        tasks = []
        # bp2 (the floor holder) on B; bp1 (an agent) and the delegate (a screen with an
        # aiortc peer) watch it from A
        delegate = SocketPeer(await s.open(n["a"], "delegate"), mid, size=(160, 120))
        for who, node in (("bp2", "b"), ("bp1", "a")):
            agents[who] = BridgePointAgent(
                SocketIOSignaller(n[node].url, world.credentials[who], meeting_id=mid),
                AgentConfig(
                    local_ips=("127.0.0.1",),
                    video_size=(160, 120),
                    reconnect_delay=0.2,
                    reconnect_max_delay=1.0,
                    link_timeout=6.0,
                    health_interval=0.5,
                ),
            )
            tasks.append(asyncio.create_task(agents[who].run(stop), name=f"agent-{who}"))
        try:
            await delegate.start()
            await _until(
                lambda: agents["bp1"].health.frames_received > 10,
                40,
                "the floor holder's video (on B) at bp1 (on A)",
            )
            await _until(
                lambda: delegate.frames("video") > 10, 20, "its video at the delegate (on A)"
            )
            await _until(lambda: delegate.frames("audio") > 10, 20, "its voice at the delegate")
            # bp2's audio and video cross B -> A once each, for two watchers on A; nothing
            # crosses A -> B (the chair publishes nothing, bp2 is not shown itself)
            b_streams = await cascade_streams(http, n["b"])
            assert b_streams.get("out") == 2, b_streams
            a_streams = await cascade_streams(http, n["a"])
            assert a_streams.get("in") == 2 and not a_streams.get("out"), a_streams
            # the health view on A holds B's endpoint too (collected from every node)
            subjects: set[str] = set()

            listener = f"bridge_point:{world.bridge_points['bp1']}"

            async def health_has_both() -> bool:
                rows = await chair.ok("media.health", {"meeting_id": mid})
                subjects.clear()
                subjects.update(r["subject"] for r in rows)
                return {speaker, listener} <= subjects

            deadline = time.monotonic() + 20
            while not await health_has_both():
                assert time.monotonic() < deadline, subjects
                await asyncio.sleep(0.5)

            # bp1 (on A) speaks too: bp2 (on B) gets its video across; the operator's
            # console on A puts bp2's link in "audio only", and its video stops (on B): as
            # the health figures on A say (B's own, through Redis)
            await chair.ok("floor.grant", {"meeting_id": mid, "subject": listener})

            async def video_to_speaker(check: Any, what: str) -> None:
                deadline = time.monotonic() + 30
                while True:
                    rows = await chair.ok("media.health", {"meeting_id": mid})
                    fps = [r["fps_out"] for r in rows if r["subject"] == speaker]
                    if fps and check(fps[0]):
                        return
                    assert time.monotonic() < deadline, (what, fps)
                    await asyncio.sleep(0.5)

            await video_to_speaker(lambda fps: fps > 5, "bp1's video (on A) at bp2 (on B)")
            answer = await chair.ok(
                "rtc.link_mode", {"meeting_id": mid, "subject": speaker, "mode": "audio_only"}
            )
            assert answer["mode"] == "audio_only", answer
            await video_to_speaker(lambda fps: fps == 0, "no video to bp2 in audio only")
            await chair.ok(
                "rtc.link_mode", {"meeting_id": mid, "subject": speaker, "mode": "normal"}
            )
            await video_to_speaker(lambda fps: fps > 5, "video to bp2 again")
            await chair.ok("floor.revoke", {"meeting_id": mid, "subject": listener})

            # B dies (-9) and comes back as a new node: bp2's agent reconnects to it, the
            # nodes find each other again in Redis and the video crosses again
            sessions = agents["bp2"].health.sessions
            await n["b"].stop(signal.SIGKILL)
            await n["b"].start()
            await wait_healthy(http, n["b"])
            await _until(
                lambda: agents["bp2"].health.sessions > sessions, 40, "bp2 back on B"
            )
            frames = agents["bp1"].health.frames_received
            await _until(
                lambda: agents["bp1"].health.frames_received > frames + 10,
                40,
                "the floor holder's video at bp1 again",
            )
            for node in n.values():
                assert "cascade timer failed" not in node.log_text()
                assert "roster work failed" not in node.log_text()
        finally:
            stop.set()
            await delegate.close()
            for t in tasks:
                with contextlib.suppress(asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(t, 10)


@pytest.mark.timeout(240)
async def test_media_across_processes_survives_redis_restarting_empty(
    scaleout_db: str, own_redis: OwnRedis, tmp_path: Path
) -> None:
    """Redis is killed and started again with nothing in it: the media already crossing
    goes on while it is away (the links are the nodes' own), and once it is back the nodes
    register and write their rosters again by themselves: a bridge point that joins after
    the restart on A gets the floor holder's video from B."""
    from media.agent import AgentConfig, BridgePointAgent
    from media.sio_signaller import SocketIOSignaller

    world = await seeded(scaleout_db, tmp_path)
    mid = world.meeting_id
    own = {"MEETINGD_REALTIME_REDIS_URL": own_redis.url}
    async with (
        nodes(scaleout_db, "cascade-redis", tmp_path, ("a", "b"), **own) as n,
        screens(world) as s,
    ):
        chair = await s.open(n["a"], "chair")
        await start_meeting(chair, mid)
        speaker = f"bridge_point:{world.bridge_points['bp2']}"
        await chair.ok("floor.grant", {"meeting_id": mid, "subject": speaker})
        stop = asyncio.Event()
        config = AgentConfig(
            local_ips=("127.0.0.1",), video_size=(160, 120), reconnect_delay=0.2,
            reconnect_max_delay=1.0, link_timeout=8.0, health_interval=0.5,
        )  # fmt: skip
        speaking = BridgePointAgent(
            SocketIOSignaller(n["b"].url, world.credentials["bp2"], meeting_id=mid), config
        )
        tasks = [asyncio.create_task(speaking.run(stop), name="agent-bp2")]
        delegate: SocketPeer | None = None
        try:
            delegate = SocketPeer(await s.open(n["a"], "delegate"), mid, size=(160, 120))
            await delegate.start()
            await _until(lambda: delegate.frames("video") > 10, 40, "video across, before")
            await own_redis.kill()
            frames = delegate.frames("video")
            await asyncio.sleep(4.0)  # longer than the soft state's expiry (3.5 s)
            assert delegate.frames("video") > frames + 20, "the video stopped with Redis"
            await own_redis.start()  # empty: no registration, no roster
            listener = BridgePointAgent(
                SocketIOSignaller(n["a"].url, world.credentials["bp1"], meeting_id=mid), config
            )
            tasks.append(asyncio.create_task(listener.run(stop), name="agent-bp1"))
            await _until(
                lambda: listener.health.frames_received > 10, 40, "video at a new joiner"
            )
            frames = delegate.frames("video")
            await _until(lambda: delegate.frames("video") > frames + 10, 20, "video goes on")
            for node in n.values():  # each says so at its own next refresh
                await _until(
                    lambda node=node: "media directory: Redis answers again" in node.log_text(),
                    15,
                    f"{node.name} saying Redis is back",
                )
                assert "media directory: Redis is away" in node.log_text()
        finally:
            stop.set()
            if delegate is not None:
                await delegate.close()
            for t in tasks:
                with contextlib.suppress(asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(t, 10)
