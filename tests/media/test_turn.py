"""A client behind TURN only (relay candidates) reaches the SFU through coturn."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from aioice import stun
from aiortc import RTCIceServer
from media_peers import Peer, wait_for

from media import MediaConfig, MediaPlane
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.turn

SECRET = "test-turn-secret"


@dataclass(frozen=True)
class Turn:
    port: int
    url: str


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stun_ping(port: int) -> bool:
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        s.sendto(bytes(request), ("127.0.0.1", port))
        try:
            s.recvfrom(2048)
        except OSError:
            return False
    return True


@pytest.fixture
def turn_server(tmp_path: os.PathLike[str]) -> Iterator[Turn]:
    binary = shutil.which("turnserver")
    if binary is None:
        skip_or_fail("coturn's turnserver is not installed (apt-get install -y coturn)")
    port = _free_udp_port()
    relay_min = 40000 + port % 20000
    proc = subprocess.Popen(
        [
            binary,
            "-n",
            "--listening-ip",
            "127.0.0.1",
            "--relay-ip",
            "127.0.0.1",
            "--listening-port",
            str(port),
            "--min-port",
            str(relay_min),
            "--max-port",
            str(relay_min + 100),
            "--use-auth-secret",
            "--static-auth-secret",
            SECRET,
            "--realm",
            "meetingd.test",
            "--allow-loopback-peers",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--no-tcp",
            "--no-tcp-relay",
            "--log-file",
            "stdout",
            "--simple-log",
            "--pidfile",
            f"{tmp_path}/turn.pid",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _stun_ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("turnserver did not start")
        yield Turn(port=port, url=f"turn:127.0.0.1:{port}?transport=udp")
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
async def turn_plane(turn_server: Turn) -> AsyncIterator[MediaPlane]:
    plane = MediaPlane(MediaConfig(turn_urls=(turn_server.url,), turn_secret=SECRET))
    yield plane
    await plane.close()


async def test_relay_only_client_through_coturn(turn_plane: MediaPlane) -> None:
    room = turn_plane.create_room("r-turn")
    servers = turn_plane.client_ice_servers("bp1")
    assert len(servers) == 1 and servers[0].username and servers[0].username.endswith(":bp1")
    ice = [
        RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
        for s in servers
    ]
    chair = Peer(room, "chair", "chair", audio=False)
    relayed = Peer(
        room, "bp1", "bridge_point", audio=False, size=(176, 144), ice_servers=ice, relay_only=True
    )
    try:
        for p in (chair, relayed):
            await p.connect()
            await asyncio.wait_for(p.negotiated.wait(), 15)
        local = relayed.pc.localDescription.sdp
        candidates = [line for line in local.splitlines() if line.startswith("a=candidate")]
        assert candidates and all(" typ relay" in c for c in candidates), candidates
        # media both ways through the relay
        await wait_for(lambda: room.layout("bp1").video[0].source == "chair", what="layout")
        mid = room.layout("bp1").video[0].mid
        await wait_for(lambda: relayed.frames(mid) >= 5, within=15, what="video via TURN")
        await wait_for(lambda: room.layout("chair").video[1].source == "bp1", what="thumb")
        thumb = room.layout("chair").video[1].mid
        await wait_for(lambda: chair.size(thumb) == (176, 144), within=15, what="relayed upload")
    finally:
        for p in (chair, relayed):
            with contextlib.suppress(Exception):
                await p.close()
