"""A live server over loopback (aiohttp TestServer) with the seeded world, and its clients;
the fixtures of several real server processes (:mod:`tests.realtime.cluster`)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from meetingd.app import PARTS, REALTIME, Parts, create_app
from meetingd.clock import ManualClock
from meetingd.config import Config, RealtimeConfig
from meetingd.domain import Principal
from meetingd.realtime.server import RealtimeServer
from tests.conftest import World, seed_world
from tests.realtime.cluster import own_postgres as own_postgres
from tests.realtime.cluster import own_redis as own_redis
from tests.realtime.cluster import redis_channel as redis_channel
from tests.realtime.cluster import scaleout_db as scaleout_db
from tests.realtime.livekit import LiveClient

#: Quick liveness and no rate limit to speak of, unless a test asks otherwise.
#: Pings every second; a client is given up after 3 s more without an answer. The test
#: process runs the server, its clients and their aiortc peers on one loop: a shorter
#: timeout dropped healthy sockets whenever a loaded CI machine stalled that loop for ~2 s.
#: A test about vanished clients asks for a short one itself.
TEST_REALTIME = RealtimeConfig(
    ping_interval=1.0, ping_timeout=3.0, commands_per_second=10_000, command_burst=100_000
)


@dataclasses.dataclass
class Live:
    """A running server with a seeded world."""

    url: str
    app: web.Application
    world: World
    clock: ManualClock
    clients: list[LiveClient] = dataclasses.field(default_factory=list)

    @property
    def parts(self) -> Parts:
        return self.app[PARTS]

    @property
    def realtime(self) -> RealtimeServer:
        return self.app[REALTIME]

    @property
    def meeting_id(self) -> int:
        return self.world.meeting_id

    def client(self, name: str) -> LiveClient:
        c = LiveClient(self.url, self.world.tokens.get(name, name), name=name)
        self.clients.append(c)
        return c

    async def connect(self, name: str) -> LiveClient:
        return await self.client(name).connect()

    async def who(self, name: str) -> Principal:
        return await self.parts.services.auth.authenticate(self.world.tokens[name])

    async def head(self) -> int:
        heads = await self.parts.services.stream.heads([self.meeting_id])
        return heads[self.meeting_id]

    async def transition(self, verb: str, by: str = "chair") -> None:
        await self.parts.services.meetings.transition(await self.who(by), self.meeting_id, verb)


StartLive = Callable[..., Awaitable[Live]]


@pytest.fixture
async def start_live(config: Config, clock: ManualClock) -> AsyncIterator[StartLive]:
    """Start a server with ``RealtimeConfig`` fields changed as given (one per test)."""
    started: list[tuple[Live, TestServer]] = []

    async def start(**realtime: Any) -> Live:
        cfg = dataclasses.replace(config, realtime=dataclasses.replace(TEST_REALTIME, **realtime))
        app = create_app(cfg, clock=clock, migrate=False)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        world = await seed_world(app[PARTS])
        live = Live(str(server.make_url("/")).rstrip("/"), app, world, clock)
        started.append((live, server))
        return live

    yield start
    for live, server in started:
        for c in live.clients:
            await c.close()
        await server.close()


@pytest.fixture
async def live(start_live: StartLive) -> Live:
    return await start_live()
