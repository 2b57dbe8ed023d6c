"""A right removed on one process reaches a socket and its media on another, at once.

Two `meetingd serve` processes share one PostgreSQL database and one Redis. The victim's
socket and its real aiortc peer are on process B, in a live meeting whose media room is on
B too (a meeting's media lives where its peers are connected; the chair publishes there).
The right is removed on process A (a REST call, or the token simply expiring, or the
command line with Redis configured). Within a second, B tells the socket
(``connection.closed``, or ``meeting.left`` when only the meeting is lost), drops its media
endpoint so its peer receives nothing more and B's health view no longer lists it; no
further event of the meeting reaches it (A starts a roll call after), and its next command,
or a new connection with the old token, is refused.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from meetingd.app import build
from meetingd.config import AuthConfig, Config, DatabaseConfig, ServerConfig
from tests.conftest import PASSWORD, TEST_KEY, World
from tests.realtime.cluster import node_env, nodes, seeded
from tests.realtime.livekit import LiveClient
from tests.realtime.rtcpeer import SocketPeer
from tests.realtime.test_media_signalling import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

#: B's health view is refreshed this often, so that a dropped endpoint leaves it quickly.
STATS_INTERVAL = 0.5
#: Lifetime of the victim's token in the expiry case: long enough to set its media up.
SHORT_TTL = 12


@dataclass
class Cluster:
    """The two processes, the seeded world, and what a case needs to act."""

    a: str
    b: str
    world: World
    db_url: str
    channel: str
    tmp_path: Path
    #: When the victim's token expires (epoch seconds), in the expiry case.
    expires_at: float | None = None
    clients: list[LiveClient] = field(default_factory=list)

    async def rest(self, method: str, path: str, who: str, body: object = None) -> int:
        """One call to process A as ``who``; its status."""
        headers = {"Authorization": f"Bearer {self.world.tokens[who]}"}
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.a + path, json=body, headers=headers) as resp,
        ):
            return resp.status


@dataclass(frozen=True)
class Case:
    victim: str
    #: The connection is closed (True) or only taken out of the meeting (False).
    closes: bool
    code: str
    act: Callable[[Cluster], Awaitable[None]]
    prepare: Callable[[Cluster], Awaitable[None]] | None = None
    #: The delay counts from the start of ``act`` (a REST call), else from its end.
    act_is_call: bool = True


async def _logout(c: Cluster) -> None:
    assert await c.rest("POST", "/api/v1/auth/logout", "delegate") == 204


async def _short_token(c: Cluster) -> None:
    # The nodes check the token's own expiry against the real clock: give the victim one
    # that runs out soon, from a login with a short lifetime (below what a configuration
    # file may set, hence not through the nodes).
    config = Config(
        server=ServerConfig(data_dir=c.tmp_path / "short"),
        database=DatabaseConfig(url=c.db_url),
        auth=AuthConfig(
            signing_key=TEST_KEY,
            token_ttl_seconds=SHORT_TTL,
            argon2_time_cost=1,
            argon2_memory_kib=8,
        ),
    )
    parts = build(config)
    try:
        issued = await parts.services.auth.login("delegate", PASSWORD, "test")
    finally:
        await parts.store.close()
    c.world.tokens["delegate"] = issued.token
    assert issued.principal.expires_at is not None
    c.expires_at = issued.principal.expires_at.timestamp()


async def _expire(c: Cluster) -> None:
    assert c.expires_at is not None
    left = c.expires_at - time.time()
    assert left > 0, f"the setup outlasted the victim's {SHORT_TTL} s token"
    await asyncio.sleep(left)


async def _remove_role(c: Cluster) -> None:
    w = c.world
    body = {"unit_id": w.units["D1"], "role": "operator"}
    path = f"/api/v1/users/{w.users['operator']}/grants"
    assert await c.rest("DELETE", path, "admin", body) == 200


async def _uninvite(c: Cluster) -> None:
    w = c.world
    path = f"/api/v1/meetings/{w.meeting_id}/bridge-points/{w.bridge_points['bp1']}"
    assert await c.rest("DELETE", path, "chair") == 200


async def _disable_device(c: Cluster) -> None:
    path = f"/api/v1/bridge-points/{c.world.bridge_points['bp1']}/disable"
    assert await c.rest("POST", path, "admin") == 200


async def _disable_user(c: Cluster) -> None:
    path = f"/api/v1/users/{c.world.users['delegate']}/disable"
    assert await c.rest("POST", path, "admin") == 200


async def _reset_credential(c: Cluster) -> None:
    path = f"/api/v1/bridge-points/{c.world.bridge_points['bp1']}/credential"
    assert await c.rest("POST", path, "admin") == 201


async def _reset_password(c: Cluster) -> None:
    path = f"/api/v1/users/{c.world.users['delegate']}/password"
    assert await c.rest("POST", path, "admin", {"password": "mật khẩu mới rất dài"}) == 200


async def _cli_disable_user(c: Cluster) -> None:
    # A third process, with no real-time server: it tells the nodes through Redis.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "meetingd", "user", "disable", "delegate",
        "--data-dir", str(c.tmp_path / "cli"),
        env=node_env(c.db_url, c.channel), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()[-2000:]


CASES = {
    "logout": Case("delegate", True, "revoked", _logout),
    "expiry": Case("delegate", True, "token_expired", _expire, _short_token, act_is_call=False),
    "role_removed": Case("operator", False, "not_found", _remove_role),
    "uninvited": Case("bp1", False, "not_found", _uninvite),
    "device_disabled": Case("bp1", True, "revoked", _disable_device),
    "user_disabled": Case("delegate", True, "revoked", _disable_user),
    "credential_reset": Case("bp1", True, "revoked", _reset_credential),
    "password_reset": Case("delegate", True, "revoked", _reset_password),
    "cli_user_disabled": Case("delegate", True, "revoked", _cli_disable_user, act_is_call=False),
}


def _stream_after(client: LiveClient, index: int) -> list[tuple[str, Any]]:
    """Events of a meeting's stream (they carry ``seq``) received after ``index``."""
    return [(e, d) for e, d in client.events[index + 1 :] if isinstance(d, dict) and "seq" in d]


async def _health_subjects(c: Cluster, node: str) -> set[str]:
    """Who has a media connection on ``node``, from its health view."""
    url = f"{node}/api/v1/meetings/{c.world.meeting_id}/media-health"
    async with aiohttp.ClientSession() as http, http.get(url, headers=c.world.auth("chair")) as r:
        assert r.status == 200, await r.text()
        return {str(h["subject"]) for h in await r.json()}


async def _until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
async def test_a_right_removed_on_one_process_stops_socket_and_media_on_the_other(
    scaleout_db: str, redis_channel: str, tmp_path: Path, case: str
) -> None:
    c = CASES[case]
    world = await seeded(scaleout_db, tmp_path)
    mid = world.meeting_id
    m = {"meeting_id": mid}
    settings = {"MEETINGD_MEDIA_STATS_INTERVAL_SECONDS": str(STATS_INTERVAL)}
    async with nodes(scaleout_db, redis_channel, tmp_path, ("a", "b"), **settings) as n:
        cl = Cluster(n["a"].url, n["b"].url, world, scaleout_db, redis_channel, tmp_path)
        peers: list[SocketPeer] = []

        async def on(node: str, who: str, name: str) -> LiveClient:
            client = LiveClient(node, world.tokens[who], name=name)
            cl.clients.append(client)
            await client.connect()
            await client.ok("meeting.join", m)  # no mirror: events are only recorded
            return client

        async def peer(client: LiveClient, size: tuple[int, int]) -> SocketPeer:
            p = SocketPeer(client, mid, size=size)
            peers.append(p)
            await asyncio.wait_for(p.start(), 20)
            return p

        try:
            chair_a = await on(cl.a, "chair", "chair@a")
            for verb in ("open", "start"):
                await chair_a.ok(f"meeting.{verb}", m)
            # The chair's second device publishes on B: the meeting's media room is there.
            chair_b = await on(cl.b, "chair", "chair@b")
            await peer(chair_b, (176, 144))
            if c.prepare is not None:
                await c.prepare(cl)
            victim = await peer(await on(cl.b, c.victim, f"{c.victim}@b"), (160, 120))
            await wait_for(lambda: victim.frames("video") > 10, 15, "the chair's video at B")
            who = (
                f"bridge_point:{world.bridge_points[c.victim]}"
                if c.victim.startswith("bp")
                else f"user:{world.users[c.victim]}"
            )

            async def listed() -> bool:
                return who in await _health_subjects(cl, cl.b)

            await _until(listed, 10, f"{who} in B's health view")

            began = time.monotonic()
            await c.act(cl)
            acted = time.monotonic()
            event = "connection.closed" if c.closes else "meeting.left"
            notice = await victim.client.wait_event(event, within=3)
            # From the REST call; from the instant of expiry; from the end of the CLI run.
            took = time.monotonic() - (began if c.act_is_call else acted)
            assert took < 1.0, f"{event} on B after {took:.2f} s"
            assert notice["code"] == c.code, notice
            if not c.closes:
                assert notice["meeting_id"] == mid
            told = next(
                i for i, (e, d) in enumerate(victim.client.events) if e == event and d is notice
            )

            # Its media stopped on B: the peer receives nothing more, the endpoint is gone.
            await asyncio.sleep(0.3)
            frames = victim.frames("video")
            await asyncio.sleep(1.0)
            assert victim.frames("video") - frames <= 1, "the victim still receives video"

            async def unlisted() -> bool:
                return who not in await _health_subjects(cl, cl.b)

            await _until(unlisted, STATS_INTERVAL * 6, f"{who} gone from B's health view")

            # A goes on with the meeting; B forwards it (the chair's device there sees it),
            # the victim gets none of it.
            await chair_a.ok("rollcall.start", m)
            await chair_b.wait_event("rollcall.started", within=5)
            await asyncio.sleep(0.3)
            assert _stream_after(victim.client, told) == []

            if c.closes:
                await asyncio.wait_for(victim.client.disconnected.wait(), 5)
                for node in (cl.b, cl.a):
                    again = LiveClient(node, victim.client.token, name="again")
                    try:
                        with pytest.raises(socketio.exceptions.ConnectionError):
                            await again.connect()
                    finally:
                        await again.close()
            else:
                # It may no longer read the meeting: told it does not exist, as over REST.
                for command in ("floor.list", "meeting.join"):
                    err = await victim.client.error(command, m)
                    assert err["code"] == "not_found", (command, err)
        finally:
            for p in peers:
                await p.close()
            for client in cl.clients:
                await client.close()
