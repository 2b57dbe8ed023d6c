"""Fixtures for the media plane tests: real aiortc peers on loopback (no media mocks)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from media_peers import ConnectFn, Peer, wait_for

from media import MediaConfig, MediaPlane, Room


@pytest.fixture
async def plane() -> AsyncIterator[MediaPlane]:
    async with MediaPlane(
        MediaConfig(listen_ips=("127.0.0.1",), keyframe_min_interval=0.3)
    ) as mp:
        yield mp


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    made: list[Peer] = []
    yield made
    for p in made:
        await p.close()


@pytest.fixture
def join(peers: list[Peer]) -> ConnectFn:
    async def _join(room: Room, endpoint_id: str, role: str, **kw: object) -> Peer:
        peer = Peer(room, endpoint_id, role, **kw)  # type: ignore[arg-type]
        peers.append(peer)
        await peer.connect()
        await asyncio.wait_for(peer.negotiated.wait(), 10)
        kinds = {k for k, on in (("audio", peer.audio_track), ("video", peer.video_track)) if on}
        await wait_for(
            lambda: {k.value for k in peer.endpoint.published_kinds()} >= kinds,
            what=f"{endpoint_id} publishing {kinds}",
        )
        return peer

    return _join
