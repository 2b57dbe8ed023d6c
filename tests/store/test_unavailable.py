"""PostgreSQL away for a moment (issue 13 §4): a clear ``unavailable``, recovery by itself.

A small TCP proxy (asyncio, in the test) sits between the store and PostgreSQL on loopback;
cutting it drops every connection and refuses new ones for ~2 s, as a restart would.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from sqlalchemy import text

from meetingd.clock import SystemClock
from meetingd.errors import ErrorCode, Unavailable
from meetingd.store.db import create_engine
from meetingd.store.uow import Store

PG = ("127.0.0.1", 5432)


class Proxy:
    """Pipes loopback connections to PostgreSQL until cut; ``restore`` listens again."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*PG)
        self._writers |= {writer, up_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.transport.abort()  # no goodbye, as when the database goes away
        self._writers.clear()
        await self._server.wait_closed()

    async def restore(self) -> None:
        await self.start()


async def _select_one(store: Store) -> int:
    async with store.transaction() as uow:
        return int((await uow.session.execute(text("SELECT 1"))).scalar_one())


@pytest.mark.timeout(60)
async def test_postgresql_away_answers_unavailable_then_recovers_by_itself() -> None:
    proxy = Proxy()
    await proxy.start()
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/postgres")
    store = Store(engine, SystemClock())
    try:
        assert await _select_one(store) == 1  # a pooled connection through the proxy
        await proxy.cut()
        started = time.monotonic()
        refused = 0
        while time.monotonic() - started < 2.0:  # ~2 s away: every attempt is told why
            with pytest.raises(Unavailable) as caught:
                await _select_one(store)
            assert caught.value.code == ErrorCode.UNAVAILABLE.value
            assert caught.value.status == 503
            refused += 1
            await asyncio.sleep(0.2)
        assert refused >= 5
        await proxy.restore()
        assert await _select_one(store) == 1, "the next command after it is back succeeds"
    finally:
        await engine.dispose()
        await proxy.cut()
