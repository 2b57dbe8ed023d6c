"""The headless bridge-point agent publishes, receives and reconnects by itself."""

from __future__ import annotations

import asyncio
import contextlib

from media_peers import ConnectFn, wait_for

from media import Endpoint, MediaPlane, NotFoundError, Room
from media.agent import AgentConfig, BridgePointAgent


class PlaneSignaller:
    """In-test signalling straight to a MediaPlane (stands in for REST + socket.io)."""

    def __init__(self, room: Room, endpoint_id: str) -> None:
        self.room = room
        self.endpoint_id = endpoint_id
        self.down = False
        self.connects = 0
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._endpoint: Endpoint | None = None

    async def connect(self) -> None:
        self.connects += 1
        if self.down:
            raise ConnectionError("server unreachable")
        with contextlib.suppress(NotFoundError):  # a device re-login replaces its old session
            await self.room.remove_endpoint(self.endpoint_id)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._queue = queue

        def on_state(state: str) -> None:
            if state in ("closed", "failed", "disconnected"):
                queue.put_nowait(None)

        self._endpoint = self.room.add_endpoint(
            self.endpoint_id, "bridge_point", on_offer=queue.put, on_state=on_state
        )

    def _ep(self) -> Endpoint:
        if self._endpoint is None or self.down:
            raise ConnectionError("not connected")
        return self._endpoint

    async def offer(self, sdp: str) -> str:
        return await self._ep().handle_offer(sdp)

    async def answer(self, sdp: str) -> None:
        await self._ep().handle_answer(sdp)

    async def server_offer(self) -> str:
        sdp = await self._queue.get()
        if sdp is None:
            raise ConnectionError("session dropped")
        return sdp

    async def close(self) -> None:
        self._endpoint = None


async def test_agent_publishes_receives_and_reconnects(
    plane: MediaPlane, join: ConnectFn
) -> None:
    room = plane.create_room("r-agent")
    chair = await join(room, "chair", "chair", size=(160, 120))
    signaller = PlaneSignaller(room, "bp-agent")
    agent = BridgePointAgent(
        signaller,
        AgentConfig(video_size=(176, 144), fps=10, link_timeout=2.0, reconnect_delay=0.2,
                    health_interval=0.5),
    )
    stop = asyncio.Event()
    task = asyncio.ensure_future(agent.run(stop))
    try:
        await wait_for(lambda: agent.health.frames_received > 20, what="agent receives chair")
        # the chair sees the agent's camera as a thumbnail
        await wait_for(lambda: room.layout("chair").video[1].source == "bp-agent",
                       what="agent thumbnail")
        thumb = room.layout("chair").video[1].mid
        await wait_for(lambda: chair.size(thumb) == (176, 144), what="agent video at chair")
        assert agent.health.state == "connected"

        # the server drops the agent and stays unreachable for a while
        signaller.down = True
        await room.remove_endpoint("bp-agent")
        await wait_for(lambda: agent.health.state == "reconnecting", what="agent notices")
        attempts = signaller.connects
        await wait_for(lambda: signaller.connects > attempts + 1, what="agent retries")
        assert "bp-agent" not in room.endpoints

        # back up: the agent is connected again without any help, media flows both ways
        signaller.down = False
        frames = agent.health.frames_received
        await wait_for(lambda: agent.connected.is_set(), within=15, what="agent reconnected")
        await wait_for(lambda: agent.health.frames_received > frames + 20,
                       what="media after reconnect")
        n = chair.frames(thumb)
        await wait_for(lambda: chair.frames(thumb) > n + 5, what="agent video after reconnect")
        assert agent.health.sessions >= 2
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert agent.health.state == "stopped"
