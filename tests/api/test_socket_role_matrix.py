"""The role matrix over the socket: every socket command, every kind of caller.

Generated from the command table. A command with a REST twin is sent over the socket with
the same request the REST matrix sends, and must be answered the same way: an ok ack where
REST answers 2xx, else the error code of the REST status (403 ``forbidden``, 404
``not_found``, 409 ``invalid_state`` or ``conflict``); a refused command writes nothing. A
socket-only command has its row below. A socket command without a row fails
``test_every_socket_command_has_a_row``. Callers whose token is missing, expired, revoked,
garbage or forged cannot open a connection at all.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import socketio

from meetingd.commands import COMMANDS
from meetingd.config import Config
from tests.api.checks import WriteCounter
from tests.api.conftest import Both
from tests.api.test_role_matrix import (
    AUDITS_REFUSALS,
    CALLERS,
    MATRIX,
    PREPARE,
    REQUESTS,
    Ctx,
    Req,
    Side,
    bad_tokens,
    row,
)
from tests.realtime.livekit import LiveClient

AUTHENTICATED = [c for c in CALLERS if c not in ("none", "expired", "revoked", "garbage", "forged")]

#: REST status -> the socket error codes that say the same.
SAME = {
    400: {"invalid_request"},
    403: {"forbidden"},
    404: {"not_found"},
    409: {"invalid_state", "conflict", "already_voted"},
}

#: Who may read each side's meeting (as the REST matrix's get_meeting row says).
READERS = {side: row(MATRIX["get_meeting"][side]) for side in ("own", "other")}

#: Socket-only commands: what a reader of the meeting is answered ("ok" or an error code);
#: anyone else is told the meeting does not exist. The world's meeting is a draft, so no
#: media flows (rtc.offer) and no media session exists (the rest of rtc.*).
SOCKET_ONLY: dict[str, tuple[str, dict[str, Any]]] = {
    "meeting.join": ("ok", {}),
    "meeting.resync": ("ok", {"after_seq": 0}),
    "meeting.leave": ("ok", {}),
    "rtc.config": ("ok", {}),
    "rtc.offer": ("invalid_state", {"sdp": "v=0"}),
    "rtc.answer": ("no_session", {"sdp": "v=0"}),
    "rtc.candidate": ("no_session", {"candidate": ""}),
    "rtc.layout": ("no_session", {}),
    "rtc.page": ("no_session", {"page": 0}),
    "rtc.link_mode": ("no_session", {"subject": "bridge_point:1", "mode": "low"}),
    "recording.start": ("invalid_state", {}),
    "recording.stop": ("invalid_state", {}),
}

#: A REST operation that cannot be replayed on a shared connection, and why.
SOCKET_SKIP = {
    "logout": "closes the connection it runs on; checked on a connection of its own below",
}


@pytest.fixture
def config(config: Config) -> Config:
    """Hundreds of logins from one address and of commands on one connection: no limits."""
    auth = dataclasses.replace(
        config.auth,
        login_attempts_per_minute_account=10_000,
        login_attempts_per_minute_address=10_000,
    )
    realtime = dataclasses.replace(
        config.realtime, commands_per_second=100_000, command_burst=100_000
    )
    return dataclasses.replace(config, auth=auth, realtime=realtime)


def _rest_twins() -> dict[str, str]:
    """Socket command name -> the REST operation of its twin."""
    return {c.name: c.rest.operation for c in COMMANDS.socket_commands() if c.rest is not None}


def test_every_socket_command_has_a_row() -> None:
    twins = _rest_twins()
    for c in COMMANDS.socket_commands():
        if c.name in twins:
            assert twins[c.name] in MATRIX, f"{c.name}: no REST row for {twins[c.name]}"
        else:
            assert c.name in SOCKET_ONLY, f"add a row for socket-only command {c.name}"
    assert set(SOCKET_ONLY) <= {c.name for c in COMMANDS.socket_commands()}


def _payload(req: Req) -> dict[str, Any]:
    data: dict[str, Any] = {**req.params, **(req.body or {})}
    for part in filter(None, req.query.split("&")):
        key, _, value = part.partition("=")
        data[key] = int(value) if value.isdigit() else value
    return data


async def _connect(url: str, token: str | None, name: str) -> LiveClient:
    return await LiveClient(url, token, name=name).connect()


@pytest.mark.timeout(600)
async def test_socket_role_matrix(client: Any, both: Both, subtests: Any) -> None:
    url = str(client.make_url("/")).rstrip("/")
    ctx = Ctx(both)
    writes = WriteCounter(both.parts.store)
    conns = {caller: await _connect(url, both.w.tokens[caller], caller) for caller in AUTHENTICATED}
    try:
        for command in COMMANDS.socket_commands():
            if command.rest is None:
                continue
            op = command.rest.operation
            if op in SOCKET_SKIP:
                continue
            for side in ("own", "other"):
                ready: Req | None = None
                for caller, want in row(MATRIX[op][side]).items():
                    if caller not in conns:
                        continue
                    with subtests.test(f"{command.name} {side} {caller}"):
                        if ready is None:
                            ready = await REQUESTS[op](ctx, side, caller)
                        req = ready
                        if op in PREPARE:
                            req = await PREPARE[op](ctx, side, caller, req)
                        conn = conns[caller]
                        payload = _payload(req)
                        if command.needs_join:
                            await conn.call("meeting.join", {"meeting_id": payload["meeting_id"]})
                        before = writes.commits
                        got = await conn.call(command.name, payload)
                        wrote = writes.commits - before
                        if wrote:
                            ready = None
                        answer = json.dumps(got, ensure_ascii=False)[:300]
                        if want < 400:
                            assert got["ok"] is True, f"{caller}: REST {want}, socket {answer}"
                        else:
                            assert got["ok"] is False, f"{caller}: REST {want}, socket {answer}"
                            assert got["error"]["code"] in SAME[want], f"{caller}: {answer}"
                            if op not in AUDITS_REFUSALS:
                                assert not wrote, f"{caller}: refused, yet wrote"
    finally:
        for conn in conns.values():
            await conn.close()


@pytest.mark.parametrize("side", ["own", "other"])
async def test_socket_only_commands(client: Any, both: Both, subtests: Any, side: Side) -> None:
    url = str(client.make_url("/")).rstrip("/")
    meeting_id = both.w.meeting_id if side == "own" else both.m2.id
    for caller in AUTHENTICATED:
        conn = await _connect(url, both.w.tokens[caller], caller)
        try:
            reader = READERS[side][caller] == 200
            for name, (for_reader, extra) in SOCKET_ONLY.items():
                with subtests.test(f"{name} {side} {caller}"):
                    command = COMMANDS.get(name)
                    assert command is not None
                    if command.needs_join or name == "meeting.leave":
                        await conn.call("meeting.join", {"meeting_id": meeting_id})
                    got = await conn.call(name, {"meeting_id": meeting_id, **extra})
                    want = for_reader if reader else "not_found"
                    code = "ok" if got["ok"] else got["error"]["code"]
                    assert code == want, f"{caller}: {json.dumps(got)[:300]}"
        finally:
            await conn.close()


async def test_rest_only_commands_are_refused_on_the_socket(client: Any, both: Both) -> None:
    url = str(client.make_url("/")).rstrip("/")
    conn = await _connect(url, both.w.tokens["chair"], "chair")
    try:
        for command in COMMANDS:
            if command.socket:
                continue
            got = await conn.call(command.name, {})
            assert got["ok"] is False and got["error"]["code"] == "unknown_command"
            assert command.socket_why_not in got["error"]["message"]
    finally:
        await conn.close()


async def test_logout_over_the_socket_closes_that_connection(client: Any, both: Both) -> None:
    url = str(client.make_url("/")).rstrip("/")
    ctx = Ctx(both)
    token = await ctx.fresh_token("chair")
    conn = await _connect(url, token, "chair")
    try:
        assert (await conn.call("auth.logout", {}))["ok"] is True
        closed = await conn.wait_event("connection.closed", within=1.0)
        assert closed["code"] == "revoked"
        resp = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401
    finally:
        await conn.close()


async def test_callers_without_a_valid_token_cannot_connect(client: Any, both: Both) -> None:
    url = str(client.make_url("/")).rstrip("/")
    ctx = Ctx(both)
    tokens: dict[str, str | None] = dict(bad_tokens(both))
    revoked = await ctx.fresh_token("admin")
    await both.parts.services.auth.logout(revoked)
    tokens["revoked"] = revoked
    for name, token in tokens.items():
        conn = LiveClient(url, token, name=name)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await conn.connect()
        await conn.close()


async def test_a_bad_payload_answers_the_same_code_on_both_transports(
    client: Any, both: Both, subtests: Any
) -> None:
    """For every command on both transports: an unknown field, and a wrong type for an id,
    are refused with the same code on REST and on the socket, and change nothing."""
    url = str(client.make_url("/")).rstrip("/")
    conn = await _connect(url, both.w.tokens["admin"], "admin")
    writes = WriteCounter(both.parts.store)
    headers = both.w.auth("admin")
    try:
        for command in COMMANDS.socket_commands():
            rest = command.rest
            if rest is None:
                continue
            ids = {p: 1 for p in rest.path_params}
            path = rest.path.format(**ids)
            with subtests.test(command.name):
                before = writes.commits
                if rest.query:
                    resp = await client.request(rest.method, path + "?zzz=1", headers=headers)
                elif command.body_model() is not None:
                    resp = await client.request(
                        rest.method, path, json={"zzz": 1}, headers=headers
                    )
                else:
                    resp = await client.request(rest.method, path + "?zzz=1", headers=headers)
                body = await resp.json()
                assert resp.status == 400, (command.name, resp.status, body)
                got = await conn.call(command.name, {**ids, "zzz": 1})
                assert got["ok"] is False
                assert got["error"]["code"] == body["error"]["code"] == "invalid_request"
                if ids:
                    wrong = {k: "1" for k in ids}  # a string where an id is due
                    got = await conn.call(command.name, wrong)
                    assert got["error"]["code"] == "invalid_request", got
                assert writes.commits == before, f"{command.name}: refused, yet wrote"
    finally:
        await conn.close()
