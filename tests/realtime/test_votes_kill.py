"""A real ``meetingd serve`` killed with SIGKILL in the middle of a vote, and started again:
every acknowledged ballot is there, and the vote goes on (the others vote, nobody twice)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from meetingd.app import build
from meetingd.config import AuthConfig, Config, DatabaseConfig, ServerConfig
from meetingd.schemas import VoteIn
from tests.conftest import TEST_KEY
from tests.realtime.cluster import nodes, seeded
from tests.realtime.livekit import LiveClient

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

VOTERS = 24


@pytest.mark.timeout(180)
async def test_sigkill_mid_vote_loses_no_acknowledged_ballot(
    scaleout_db: str, redis_channel: str, tmp_path: Path
) -> None:
    world = await seeded(scaleout_db, tmp_path)
    parts = build(_config(scaleout_db, tmp_path))
    try:
        a = parts.services.auth
        chair = await a.authenticate(world.tokens["chair"])
        d, m = parts.services.directory, parts.services.meetings
        tokens, subjects = [], []
        for i in range(VOTERS):
            new = await d.create_bridge_point(
                None, unit_id=world.units["C1"], name=f"Điểm cầu biểu quyết {i}"
            )
            tokens.append((await a.device_login(new.credential, "kill")).token)
            subjects.append(f"bridge_point:{new.bridge_point.id}")
            await m.invite_bridge_points(chair, world.meeting_id, [new.bridge_point.id])
        await m.transition(chair, world.meeting_id, "open")
        spec = VoteIn(question="Thông qua?", electorate="named", voters=subjects,
                      bridge_points_vote=True)  # fmt: skip
        vote = await parts.services.votes.open(chair, world.meeting_id, spec)
    finally:
        await parts.store.close()
    ref = {"meeting_id": world.meeting_id, "vote_id": vote.id}

    acked: dict[int, int] = {}  # voter index -> its choice, once the server said yes
    async with nodes(scaleout_db, redis_channel, tmp_path, ("a",)) as n:
        clients = [LiveClient(n["a"].url, t, name=f"v{i}") for i, t in enumerate(tokens)]
        for c in clients:
            await c.connect()
            await c.ok("meeting.join", {"meeting_id": world.meeting_id})

        async def cast(i: int) -> None:
            got = await clients[i].call("vote.cast", {**ref, "choice": [i % 2]}, within=5)
            if got.get("ok"):
                acked[i] = i % 2

        tasks = [asyncio.create_task(cast(i), name=f"cast-{i}") for i in range(VOTERS)]
        while len(acked) < VOTERS // 3:  # a third acknowledged, the rest in flight
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED, timeout=5)
        await n["a"].stop(signal.SIGKILL)
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients:
            await c.close()
    assert len(acked) >= VOTERS // 3

    async with nodes(scaleout_db, redis_channel, tmp_path, ("b",)) as n:
        chair_c = LiveClient(n["b"].url, world.tokens["chair"], name="chair")
        await chair_c.connect()
        await chair_c.ok("meeting.join", {"meeting_id": world.meeting_id})
        got = await chair_c.ok("vote.get", ref)
        assert got["state"] == "open" and got["ballots"] >= len(acked)
        committed = got["ballots"]
        for i, t in enumerate(tokens):
            c = LiveClient(n["b"].url, t, name=f"v{i}")
            await c.connect()
            await c.ok("meeting.join", {"meeting_id": world.meeting_id})
            status = await c.ok("vote.status", ref)
            if i in acked:  # every acknowledged ballot survived the kill, as it was cast
                assert status["voted"] and status["choice"] == [acked[i]], i
                again = await c.error("vote.cast", {**ref, "choice": [0]})
                assert again["code"] == "already_voted"
            elif not status["voted"]:  # the vote goes on: the others vote now
                await c.ok("vote.cast", {**ref, "choice": [i % 2]})
            await c.close()
        closed = await chair_c.ok("vote.close", ref)
        assert closed["result"]["ballots"] == VOTERS >= committed
        await chair_c.close()


def _config(db_url: str, tmp_path: Path) -> Config:
    return Config(
        server=ServerConfig(data_dir=tmp_path / "prep"),
        database=DatabaseConfig(url=db_url),
        auth=AuthConfig(
            signing_key=TEST_KEY, argon2_time_cost=1, argon2_memory_kib=8,
            login_attempts_per_minute_address=10_000, login_attempts_per_minute_account=10_000,
        ),
    )  # fmt: skip
