"""The headless bridge-point agent publishes, receives and reconnects by itself."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib

import av
from media_peers import ConnectFn, wait_for

from media import Endpoint, Kind, MediaPlane, NotFoundError, Room
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


def _make_clip(path: pathlib.Path, seconds: float = 1.0, fps: int = 15) -> None:
    """A short VP8 clip (160x120) to loop, made with PyAV."""
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame(160, 120, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(i * 9) & 0xFF]) * plane.buffer_size)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


async def test_agent_loops_a_clip_and_records_the_chair(
    plane: MediaPlane, join: ConnectFn, tmp_path: pathlib.Path
) -> None:
    clip = tmp_path / "clip.webm"
    _make_clip(clip)
    room = plane.create_room("r-clip")
    chair = await join(room, "chair", "chair", size=(176, 144))
    agent = BridgePointAgent(
        PlaneSignaller(room, "bp-clip"),
        AgentConfig(source=str(clip), record_to=str(tmp_path / "rec.mp4"), health_interval=0.5),
    )
    stop = asyncio.Event()
    task = asyncio.ensure_future(agent.run(stop))
    try:
        await wait_for(lambda: room.layout("chair").video[1].source == "bp-clip", what="thumb")
        thumb = room.layout("chair").video[1].mid
        # longer than the clip: it loops
        await wait_for(lambda: chair.frames(thumb) >= 25, within=15, what="looping clip")
        assert chair.size(thumb) == (160, 120)
        # the recorder is writing the chair
        await wait_for(lambda: agent.health.frames_received > 40, what="agent records")
        slot = room.endpoint("bp-clip").slots(Kind.VIDEO)[0]
        await wait_for(lambda: slot.packets_out > 20, what="chair video sent to the agent")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    recordings = [tmp_path / "rec-1.mp4", tmp_path / "rec-2.mp4"]
    recordings = [r for r in recordings if r.exists()]
    assert recordings, agent.health
    with av.open(str(recordings[0])) as rec:
        assert rec.streams.video, (agent.health, [str(s) for s in rec.streams])
        frames = list(rec.decode(rec.streams.video[0]))
    assert frames and (frames[0].width, frames[0].height) == (176, 144)


async def test_agent_publishes_simulcast_layers(plane: MediaPlane, join: ConnectFn) -> None:
    room = plane.create_room("r-agent-simulcast")
    chair = await join(room, "chair", "chair", size=(160, 120))
    agent = BridgePointAgent(
        PlaneSignaller(room, "bp-agent"),
        AgentConfig(fps=10, simulcast=((80, 60, 150_000), (320, 240, 900_000))),
    )
    stop = asyncio.Event()
    task = asyncio.ensure_future(agent.run(stop))
    try:
        room.set_floor(["bp-agent"])
        await wait_for(
            lambda: "bp-agent" in room.endpoints
            and len(room.endpoint("bp-agent").primary_layers(Kind.VIDEO)) == 2,
            what="two layers",
        )
        layers = room.endpoint("bp-agent").primary_layers(Kind.VIDEO)
        assert [t.max_bitrate for t in layers] == [150_000, 900_000]
        speaker = room.layout("chair").video[0].mid
        thumb = next(s.mid for s in room.layout("chair").video[1:] if s.source == "bp-agent")
        await wait_for(lambda: chair.size(speaker) == (320, 240), within=15, what="big layer")
        await wait_for(lambda: chair.size(thumb) == (80, 60), within=15, what="small layer")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
