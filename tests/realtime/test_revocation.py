"""A right removed reaches open sockets and media at once, not at the next reconnect.

For each way a caller can lose a right (logout, token expiry, a role removed, an
uninvitation, a disabled account or device, a reset device credential), a real socket and a
real aiortc peer of that caller are in a live meeting; after the change, within a second,
the socket gets no further event of the meeting, its next command is refused, and its media
stops both ways (the server holds no endpoint for it and its peer receives nothing more).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
import socketio

from tests.conftest import PASSWORD
from tests.realtime.conftest import Live
from tests.realtime.livekit import LiveClient
from tests.realtime.rtcpeer import SocketPeer
from tests.realtime.test_media_signalling import live_meeting as live_meeting
from tests.realtime.test_media_signalling import wait_for


async def _peer(live: Live, name: str, size: tuple[int, int] = (160, 120)) -> SocketPeer:
    client = await live.connect(name)
    await client.join(live.meeting_id)
    peer = SocketPeer(client, live.meeting_id, size=size)
    await peer.start()
    return peer


def _endpoints(live: Live) -> set[str]:
    media = live.realtime.media
    assert media is not None
    mm = media._meetings.get(live.meeting_id)
    return set(mm.endpoints.values()) if mm else set()


async def _rest(live: Live, method: str, path: str, token: str, body: object = None) -> int:
    import aiohttp

    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, live.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        return resp.status


@dataclass(frozen=True)
class Case:
    victim: str
    #: The connection is closed (True) or only taken out of the meeting (False).
    closes: bool
    code: str
    act: Callable[[Live], Awaitable[None]]
    prepare: Callable[[Live], Awaitable[None]] | None = None


async def _logout(live: Live) -> None:
    assert await _rest(live, "POST", "/api/v1/auth/logout", live.world.tokens["delegate"]) == 204


async def _near_expiry(live: Live) -> None:
    # Everyone's token was issued together: move to just before they expire and give the
    # chair a fresh one, so that only the victim's runs out.
    live.clock.advance(live.parts.config.auth.token_ttl_seconds - 5)
    fresh = await live.parts.services.auth.login("chair", PASSWORD, "test")
    live.world.tokens["chair"] = fresh.token


async def _expire(live: Live) -> None:
    live.clock.advance(6)


async def _remove_role(live: Live) -> None:
    w = live.world
    status = await _rest(
        live,
        "DELETE",
        f"/api/v1/users/{w.users['operator']}/grants",
        w.tokens["admin"],
        {"unit_id": w.units["D1"], "role": "operator"},
    )
    assert status == 200


async def _uninvite(live: Live) -> None:
    w = live.world
    path = f"/api/v1/meetings/{w.meeting_id}/bridge-points/{w.bridge_points['bp1']}"
    assert await _rest(live, "DELETE", path, w.tokens["chair"]) == 200


async def _disable_device(live: Live) -> None:
    w = live.world
    path = f"/api/v1/bridge-points/{w.bridge_points['bp1']}/disable"
    assert await _rest(live, "POST", path, w.tokens["admin"]) == 200


async def _disable_user(live: Live) -> None:
    w = live.world
    path = f"/api/v1/users/{w.users['delegate']}/disable"
    assert await _rest(live, "POST", path, w.tokens["admin"]) == 200


async def _reset_credential(live: Live) -> None:
    w = live.world
    path = f"/api/v1/bridge-points/{w.bridge_points['bp1']}/credential"
    assert await _rest(live, "POST", path, w.tokens["admin"]) == 201


async def _reset_password(live: Live) -> None:
    w = live.world
    path = f"/api/v1/users/{w.users['delegate']}/password"
    body = {"password": "mật khẩu mới rất dài"}
    assert await _rest(live, "POST", path, w.tokens["admin"], body) == 200


CASES = {
    "logout": Case("delegate", True, "revoked", _logout),
    "expiry": Case("delegate", True, "token_expired", _expire, _near_expiry),
    "role_removed": Case("operator", False, "not_found", _remove_role),
    "uninvited": Case("bp1", False, "not_found", _uninvite),
    "device_disabled": Case("bp1", True, "revoked", _disable_device),
    "user_disabled": Case("delegate", True, "revoked", _disable_user),
    "credential_reset": Case("bp1", True, "revoked", _reset_credential),
    "password_reset": Case("delegate", True, "revoked", _reset_password),
}


def _stream_seqs(client: LiveClient) -> list[int]:
    return [d["seq"] for _, d in client.events if isinstance(d, dict) and "seq" in d]


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
async def test_a_removed_right_stops_the_socket_and_the_media_at_once(
    live_meeting: Live, case: str
) -> None:
    live, c = live_meeting, CASES[case]
    mid = live.meeting_id
    if c.prepare is not None:
        await c.prepare(live)
    chair = await _peer(live, "chair", (176, 144))
    victim = await _peer(live, c.victim)
    try:
        await wait_for(lambda: victim.frames("video") > 10, 15, "the chair's video at the victim")
        assert victim.client.sio.get_sid() in _endpoints(live)

        began = time.monotonic()
        await c.act(live)
        event = "connection.closed" if c.closes else "meeting.left"
        notice = await victim.client.wait_event(event, within=1.5)
        took = time.monotonic() - began
        assert took < 1.0, f"{event} after {took:.2f} s"
        assert notice["code"] == c.code, notice
        if not c.closes:
            assert notice["meeting_id"] == mid
        # Its media has stopped both ways: no endpoint on the server, no frames at the peer.
        await wait_for(lambda: victim.client.sio.get_sid() not in _endpoints(live), 1.0, "media")
        await asyncio.sleep(0.3)
        frames = victim.frames("video")
        await asyncio.sleep(1.0)
        assert victim.frames("video") - frames <= 1, "the victim still receives video"

        # The meeting goes on: the victim hears none of it.
        seen = max(_stream_seqs(victim.client), default=0)
        await chair.client.ok("rollcall.start", {"meeting_id": mid})
        await chair.client.wait_event("rollcall.started")
        await asyncio.sleep(0.3)
        assert max(_stream_seqs(victim.client), default=0) == seen

        if c.closes:
            await victim.client.disconnected.wait()
            again = LiveClient(live.url, victim.client.token, name="again")
            with pytest.raises(socketio.exceptions.ConnectionError):
                await again.connect()
            await again.close()
        else:
            err = await victim.client.error("floor.list", {"meeting_id": mid})
            assert err["code"] == "not_found"  # it may no longer even see the meeting
            err = await victim.client.error("meeting.join", {"meeting_id": mid})
            assert err["code"] == "not_found"
    finally:
        await chair.close()
        await victim.close()


async def test_a_revoked_token_is_refused_on_the_next_command_even_without_a_push(
    live: Live,
) -> None:
    """Were the push lost (Redis away), the per-command check still refuses it."""
    client = await live.connect("chair")
    await client.join(live.meeting_id)
    token_id = (await live.who("chair")).token_id
    async with live.parts.store.transaction() as uow:  # revoked behind the server's back
        await uow.tokens.revoke(token_id, live.clock.now() + timedelta(hours=1))
    await asyncio.sleep(1.1)  # past RECHECK_SECONDS
    err = await client.error("meeting.open", {"meeting_id": live.meeting_id})
    assert err["code"] == "revoked"
    await client.wait_event("connection.closed", within=1.0)
    meeting = await live.parts.services.meetings.get(await live.who("admin"), live.meeting_id)
    assert meeting.state.value == "draft"  # the refused command changed nothing
