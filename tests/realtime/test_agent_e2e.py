"""The headless bridge-point agent joins a live meeting through meetingd itself (device
login, socket.io, ``rtc.*``), sends and receives media, and comes back after its link drops."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from media.agent import AgentConfig, BridgePointAgent
from media.sio_signaller import SocketIOSignaller
from tests.realtime.conftest import StartLive
from tests.realtime.rtcpeer import SocketPeer


async def wait_for(check: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.1)


async def test_agent_joins_through_meetingd_and_reconnects(start_live: StartLive) -> None:
    live = await start_live()
    await live.transition("open")
    await live.transition("start")
    chair_client = await live.connect("chair")
    await chair_client.join(live.meeting_id)
    chair = SocketPeer(chair_client, live.meeting_id, size=(160, 120))
    await chair.start()
    # The agent finds the meeting by itself (meeting_id None: the live one it is invited to).
    signaller = SocketIOSignaller(live.url, live.world.credentials["bp1"], meeting_id=None)
    agent = BridgePointAgent(
        signaller,
        AgentConfig(
            local_ips=("127.0.0.1",),
            video_size=(192, 144),
            reconnect_delay=0.2,
            link_timeout=5.0,
            health_interval=0.5,
        ),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop), name="agent")
    try:
        await wait_for(
            lambda: agent.health.frames_received > 5, 20, "the chair's video at the agent"
        )
        await wait_for(lambda: (192, 144) in chair.sizes(), 20, "the agent's video at the chair")
        assert signaller.meeting_id == live.meeting_id
        sessions = agent.health.sessions
        # The server drops the agent's socket: it comes back with a new session by itself.
        sids = [
            sid
            for sid, c in live.realtime.namespace.connections.items()
            if c.principal.kind == "bridge_point"
        ]
        assert len(sids) == 1
        await live.realtime.sio.disconnect(sids[0], namespace="/")
        await wait_for(lambda: agent.health.sessions > sessions, 20, "a new session")
        frames = agent.health.frames_received
        await wait_for(
            lambda: agent.health.frames_received > frames + 5, 20, "media again after the reconnect"
        )
    finally:
        stop.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task, 10)
        await chair.close()
