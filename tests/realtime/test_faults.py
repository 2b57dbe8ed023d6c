"""Faults survived by a meeting on two real ``meetingd serve`` processes (issue 13 §4).

Each test runs a live meeting on processes A and B sharing one PostgreSQL database and one
Redis, with screens on both (each a :class:`Mirror` rebuilt from the join snapshot and the
events, as a browser does), while bridge points keep answering the roll call on both. Then
one fault, and afterwards every screen, the ones that lived through the fault and one that
never left, holds every event once, in order, and the same state as a screen joining now:

* ``kill -9`` of B: its screens reconnect (to A, or to B started again), resync from their
  last ``seq`` and get what was committed while they were away, nothing twice;
* Redis killed and started again: commands go on meanwhile (committed, seen at once on their
  own process and through the database log on the other), the bus comes back by itself;
* PostgreSQL stopped and started again: commands answer ``unavailable`` meanwhile (503 over
  REST), nobody is shown offline for it, the processes come back by themselves;
* B slow (SIGSTOP) past the offline threshold: A shows B's participants offline, and B,
  once it runs again, shows them present again without their screens reconnecting;
* ``kill -9`` of B with media: the bridge-point agents on it come back to the restarted B
  with new media sessions by themselves, and the floor holder's video flows again.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from meetingd.errors import ErrorCode
from tests.conftest import World
from tests.realtime.cluster import (
    OFFLINE_AFTER,
    Node,
    OwnPostgres,
    OwnRedis,
    metrics,
    migrated_database,
    nodes,
    seeded,
    wait_healthy,
)
from tests.realtime.livekit import LiveClient, Mirror

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


class Screens:
    """The test's connections: opened on a node, joined to the meeting, closed at the end."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.all: list[LiveClient] = []

    async def open(self, node: Node, who: str) -> LiveClient:
        c = LiveClient(node.url, self.world.tokens[who], name=f"{who}@{node.name}")
        self.all.append(c)
        await c.connect()
        await c.join(self.world.meeting_id)
        return c

    async def reconnect(self, old: LiveClient, node: Node) -> tuple[LiveClient, dict[str, Any]]:
        """A new connection of ``old``'s screen on ``node``, carrying its mirror on."""
        assert old.mirror is not None and old.token is not None
        who = old.name.partition("@")[0]
        c = LiveClient(node.url, old.token, name=f"{who}@{node.name}")
        self.all.append(c)
        await c.connect()
        answer = await c.resync(self.world.meeting_id, old.mirror)
        return c, answer

    async def close(self) -> None:
        for c in self.all:
            with contextlib.suppress(Exception):
                await c.close()


@contextlib.asynccontextmanager
async def screens(world: World) -> AsyncIterator[Screens]:
    s = Screens(world)
    try:
        yield s
    finally:
        await s.close()


@contextlib.asynccontextmanager
async def answering(
    c: LiveClient, meeting_id: int, every: float = 0.05
) -> AsyncIterator[list[dict[str, Any]]]:
    """A bridge point answering the roll call again and again (a busy meeting) until the
    block ends or its connection is lost; yields the acks as they come. A command that gets
    no ack (its process died) is left behind."""
    stop = asyncio.Event()
    acks: list[dict[str, Any]] = []

    async def run() -> None:
        n = 0
        while not stop.is_set() and not c.disconnected.is_set():
            n += 1
            try:
                answer = {"meeting_id": meeting_id, "count": n}
                acks.append(await c.call("rollcall.answer", answer, within=5))
            except Exception:
                # No ack, or the client's own error: fine if its connection went (its
                # process died); anything else fails the test.
                await c.wait_until(c.disconnected.is_set, within=5)
                return
            await asyncio.sleep(every)

    task = asyncio.create_task(run(), name=f"answering-{c.name}")
    try:
        yield acks
    finally:
        stop.set()
        await task


async def start_meeting(chair: LiveClient, meeting_id: int) -> None:
    m = {"meeting_id": meeting_id}
    for verb in ("open", "start"):
        await chair.ok(f"meeting.{verb}", m)
    await chair.ok("rollcall.start", m)


async def more_answers(c: LiveClient, more: int) -> None:
    """Wait until ``c`` has received ``more`` roll-call answers beyond those it has now."""
    enough = len(c.of("rollcall.answered")) + more
    await c.wait_until(lambda: len(c.of("rollcall.answered")) >= enough)


def mirror(c: LiveClient) -> Mirror:
    assert c.mirror is not None
    return c.mirror


async def settle(screens: list[LiveClient], within: float = 15) -> int:
    """Wait until every screen holds the same head (nothing more in flight); answer it."""
    deadline = time.monotonic() + within
    while True:
        head = max(mirror(c).seq for c in screens)
        for c in screens:
            left = max(0.1, deadline - time.monotonic())
            await c.wait_until(lambda c=c, head=head: mirror(c).seq >= head, within=left)  # type: ignore[misc]
        if max(mirror(c).seq for c in screens) == head:
            return head
        assert time.monotonic() < deadline, "the screens never agreed on a head"


def assert_every_event_once(c: LiveClient, head: int, *, since: int | None = None) -> None:
    """``c``'s mirror applied each event up to ``head`` exactly once, in order, from its first
    (or from ``since``), across however many connections it was carried over."""
    m = mirror(c)
    assert m.gaps == [], (c.name, m.gaps)
    assert m.applied, c.name
    first = m.applied[0] if since is None else since
    assert m.applied == list(range(first, head + 1)), (c.name, m.applied[:5], m.applied[-5:])


async def same_view_as_a_new_screen(s: Screens, node: Node, screens: list[LiveClient]) -> int:
    """Every screen shows what a screen joining now is given; answers the head they hold
    (with nothing more going on, the screens stay there)."""
    fresh = await s.open(node, "admin")
    head = await settle([*screens, fresh])
    view = mirror(fresh).view()
    for c in screens:
        assert mirror(c).view() == view, c.name
    return head


async def dead_node_swept(db_url: str, alive: int, within: float = OFFLINE_AFTER * 5) -> None:
    """Wait until only ``alive`` nodes are registered and no presence row belongs to another."""
    import asyncpg

    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            registered = await conn.fetchval("SELECT count(*) FROM realtime_nodes")
            orphans = await conn.fetchval(
                "SELECT count(*) FROM presence WHERE node_id NOT IN (SELECT id FROM realtime_nodes)"
            )
            if registered == alive and orphans == 0:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"still {registered} nodes registered, {orphans} orphan rows")
    finally:
        await conn.close()


async def all_hold_every_event_once(s: Screens, node: Node, screens: list[LiveClient]) -> None:
    """Every screen, still on the connection it had, holds every event once, in order, and
    what a screen joining now is given."""
    head = await same_view_as_a_new_screen(s, node, screens)
    for c in screens:
        assert_every_event_once(c, head)
        assert not c.disconnected.is_set(), c.name


def present(c: LiveClient) -> set[tuple[str, int]]:
    return {(p["kind"], p["id"]) for p in mirror(c).state["presence"]}


def told_once(n: dict[str, Node], logger: str, service: str) -> None:
    """Each node's log tells of the outage of ``service`` in two warnings, when it went and
    when it was back (not one per refused attempt), and holds no traceback."""
    for node in n.values():
        log = node.log_text()
        said = []
        for line in log.splitlines():
            if f" WARNING {logger} " in line:
                went = f"{service} cannot be reached (" in line
                assert went or f"{service} is reachable again after" in line, line
                said.append("went" if went else "back")
        assert said == ["went", "back"], (node.name, said)
        assert "Traceback" not in log, node.name


# -- kill -9 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("back_to", "kills"),
    [
        ("survivor", 1),
        ("restarted", 1),
        pytest.param("restarted", 10, marks=[pytest.mark.soak, pytest.mark.timeout(600)]),
    ],
    ids=["survivor", "restarted", "soak-restarted-10"],
)
@pytest.mark.timeout(120)
async def test_kill9_screens_reconnect_resync_and_lose_or_repeat_nothing(
    scaleout_db: str, redis_channel: str, tmp_path: Path, back_to: str, kills: int
) -> None:
    world = await seeded(scaleout_db, tmp_path)
    mid = world.meeting_id
    m = {"meeting_id": mid}
    async with (
        nodes(scaleout_db, redis_channel, tmp_path, ("a", "b")) as n,
        screens(world) as s,
        aiohttp.ClientSession() as http,
    ):
        steady = await s.open(n["a"], "operator")  # never leaves
        start = mirror(steady).seq
        chair, bp1 = await s.open(n["a"], "chair"), await s.open(n["a"], "bp1")
        victims = [await s.open(n["b"], who) for who in ("secretary", "delegate", "bp2")]
        await start_meeting(chair, mid)
        target = n["a"] if back_to == "survivor" else n["b"]

        async with answering(bp1, mid):
            for _ in range(kills):
                async with answering(victims[-1], mid):  # bp2 answers from B ...
                    # ... while bp1 does from A; B dies in the middle of it.
                    await more_answers(steady, 20)
                    await n["b"].stop(signal.SIGKILL)
                    for v in victims:
                        await v.wait_until(v.disconnected.is_set, within=10)
                # The meeting goes on on A while B's screens are away.
                for verb in ("pause", "resume"):
                    await chair.ok(f"meeting.{verb}", m)
                while_away = mirror(steady).seq
                if back_to == "restarted":
                    await n["b"].start()
                    await wait_healthy(http, n["b"])
                back: list[LiveClient] = []
                for v in victims:
                    before = mirror(v).seq
                    c, answer = await s.reconnect(v, target)
                    # The log holds what it missed: replayed in order, from the next seq on,
                    # including everything committed on A while B was down.
                    assert "events" in answer, (c.name, answer.keys())
                    got = [e["seq"] for e in answer["events"]]
                    assert got == list(range(before + 1, answer["seq"] + 1)), (c.name, got)
                    assert answer["seq"] >= while_away, (c.name, answer["seq"], while_away)
                    back.append(c)
                victims = back
            async with answering(victims[-1], mid):  # bp2 goes on from its new connection
                await more_answers(victims[-1], 10)

        await dead_node_swept(scaleout_db, alive=2 if back_to == "restarted" else 1)
        head = await same_view_as_a_new_screen(s, n["a"], [steady, chair, bp1, *victims])
        assert_every_event_once(steady, head, since=start + 1)
        for c in [chair, bp1, *victims]:
            assert_every_event_once(c, head)
            assert mirror(c).snapshots == 1, "resynced from the log, never a new snapshot"
        # The screens that came back show their participants present.
        assert {
            ("user", world.users["secretary"]),
            ("user", world.users["delegate"]),
            ("bridge_point", world.bridge_points["bp2"]),
        } <= present(steady)
        assert n["b"].runs == (kills + 1 if back_to == "restarted" else 1)
        assert not steady.disconnected.is_set()


# -- a slow node, swept by its peer ------------------------------------------------------------


@pytest.mark.timeout(120)
async def test_a_slow_node_swept_by_its_peer_shows_its_participants_present_again(
    scaleout_db: str, redis_channel: str, tmp_path: Path
) -> None:
    world = await seeded(scaleout_db, tmp_path)
    mid = world.meeting_id
    # Pings far longer than the pause: the fault is a late heartbeat, not dropped sockets.
    slow_pings = {"MEETINGD_REALTIME_PING_INTERVAL": "2", "MEETINGD_REALTIME_PING_TIMEOUT": "20"}
    async with (
        nodes(scaleout_db, redis_channel, tmp_path, ("a", "b"), **slow_pings) as n,
        screens(world) as s,
    ):
        steady = await s.open(n["a"], "operator")
        chair, bp1 = await s.open(n["a"], "chair"), await s.open(n["a"], "bp1")
        on_b = [await s.open(n["b"], who) for who in ("secretary", "delegate", "bp2")]
        sids = [c.sio.get_sid() for c in on_b]
        theirs = {
            ("user", world.users["secretary"]),
            ("user", world.users["delegate"]),
            ("bridge_point", world.bridge_points["bp2"]),
        }
        await start_meeting(chair, mid)
        await steady.wait_until(lambda: theirs <= present(steady))

        async with answering(bp1, mid):
            # B is stopped (not dead) past the offline threshold: A takes it for dead.
            n["b"].pause()
            paused = time.monotonic()
            try:
                await steady.wait_until(lambda: not theirs & present(steady), OFFLINE_AFTER * 5)
            finally:
                n["b"].resume()
            resumed = time.monotonic()
            # Its last heartbeat came up to a third of the threshold before the pause.
            assert resumed - paused > OFFLINE_AFTER * 2 / 3
            # B notices at its next heartbeat and puts its connections' rows back.
            await steady.wait_until(lambda: theirs <= present(steady), OFFLINE_AFTER * 3)
            took = time.monotonic() - resumed
            await more_answers(bp1, 10)

        assert took < OFFLINE_AFTER * 2, f"shown present again {took:.1f} s after B resumed"
        # Without reconnecting: the same connections, never dropped.
        assert [c.sio.get_sid() for c in on_b] == sids
        await all_hold_every_event_once(s, n["a"], [steady, chair, bp1, *on_b])
        # B's screens saw themselves leave and come back, in order, like everyone else.
        bp2_id = world.bridge_points["bp2"]
        for c in (steady, on_b[-1]):
            moves = [
                e for e, d in c.events
                if e.startswith("presence.") and bp2_id in _bridge_points(e, d)
            ]  # fmt: skip
            assert moves[-2:] == ["presence.left", _arrival(moves[-1])], (c.name, moves)
        assert "taken for dead" in n["b"].log_text()


def _bridge_points(event: str, d: dict[str, Any]) -> set[int]:
    entries = d["entries"] if event == "presence.arrived" else [d]
    return {e["id"] for e in entries if e["kind"] == "bridge_point"}


def _arrival(event: str) -> str:
    assert event in ("presence.joined", "presence.arrived"), event
    return event


# -- Redis restarted -----------------------------------------------------------------------------


async def wait_metric(
    http: aiohttp.ClientSession, node: Node, name: str, check: Any, within: float = 15
) -> float:
    """Wait until the node's figure ``name`` passes ``check``; answer it."""
    deadline = time.monotonic() + within
    while True:
        value = (await metrics(http, node)).get(name)
        if value is not None and check(value):
            return value
        assert time.monotonic() < deadline, f"{node.name}: {name} = {value}"
        await asyncio.sleep(0.1)


def answers_of(c: LiveClient, bp: int, after: int = 0) -> list[int]:
    """The seqs of the roll-call answers of bridge point ``bp`` that ``c`` received."""
    return [
        d["seq"] for e, d in c.events
        if e == "rollcall.answered" and d["bridge_point_id"] == bp and d["seq"] > after
    ]  # fmt: skip


@pytest.mark.timeout(120)
async def test_redis_restarted_commands_go_on_and_nothing_is_lost(
    scaleout_db: str, own_redis: OwnRedis, tmp_path: Path
) -> None:
    world = await seeded(scaleout_db, tmp_path)
    mid = world.meeting_id
    m = {"meeting_id": mid}
    bp1_id, bp2_id = world.bridge_points["bp1"], world.bridge_points["bp2"]
    own = {"MEETINGD_REALTIME_REDIS_URL": own_redis.url}
    async with (
        nodes(scaleout_db, "meetingd-faults", tmp_path, ("a", "b"), **own) as n,
        screens(world) as s,
        aiohttp.ClientSession() as http,
    ):
        steady = await s.open(n["a"], "operator")
        chair, bp1 = await s.open(n["a"], "chair"), await s.open(n["a"], "bp1")
        secretary, bp2 = await s.open(n["b"], "secretary"), await s.open(n["b"], "bp2")
        await start_meeting(chair, mid)
        for node in n.values():
            await wait_metric(http, node, "meetingd_realtime_redis_up", lambda v: v == 1)

        async with answering(bp1, mid) as acks1, answering(bp2, mid) as acks2:
            await steady.wait_until(lambda: len(answers_of(steady, bp2_id)) >= 5)
            await own_redis.kill()
            mark = max(mirror(c).seq for c in (steady, secretary))
            # Both processes say Redis is away, and go on: every command is committed, seen
            # at once by the screens of its process, and by the other's through the log.
            for node in n.values():
                await wait_metric(http, node, "meetingd_realtime_redis_up", lambda v: v == 0)
            for verb in ("pause", "resume"):
                await chair.ok(f"meeting.{verb}", m)
            await secretary.wait_event("meeting.resumed")
            await steady.wait_until(lambda: len(answers_of(steady, bp2_id, mark)) >= 10)
            await secretary.wait_until(lambda: len(answers_of(secretary, bp1_id, mark)) >= 10)
            healed = {
                k: (await metrics(http, v))["meetingd_realtime_events_healed_total"]
                for k, v in n.items()
            }
            assert all(h > 0 for h in healed.values()), healed

            await own_redis.start()
            # Both come back by themselves; B's events reach A through Redis again.
            for node in n.values():
                await wait_metric(http, node, "meetingd_realtime_redis_up", lambda v: v == 1)
            for node in n.values():
                got = (await metrics(http, node))["meetingd_realtime_bus_events_received_total"]
                await wait_metric(
                    http,
                    node,
                    "meetingd_realtime_bus_events_received_total",
                    lambda v, g=got: v >= g + 10,
                )
        assert acks1 and acks2 and all(a.get("ok") for a in [*acks1, *acks2]), "none refused"

        await all_hold_every_event_once(s, n["b"], [steady, chair, bp1, secretary, bp2])
        told_once(n, "meetingd.realtime.bus", "Redis")


# -- PostgreSQL restarted -------------------------------------------------------------------------


async def refused_connection(node: Node, token: str) -> Any:
    """A new socket connection to ``node`` (a screen reconnecting): answers the refusal's
    data, or fails if it was let in."""
    import socketio

    refusals: list[Any] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("connect_error", lambda data=None: refusals.append(data))
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(node.url, auth={"token": token}, transports=["websocket"])
    finally:
        await sio.shutdown()
    assert len(refusals) == 1, refusals
    return refusals[0]


def presence_left(c: LiveClient, after: int) -> set[tuple[str, int]]:
    return {(d["kind"], d["id"]) for e, d in c.events if e == "presence.left" and d["seq"] > after}


@pytest.mark.timeout(120)
async def test_postgresql_restarted_commands_told_unavailable_then_recovered(
    own_postgres: OwnPostgres, redis_channel: str, tmp_path: Path
) -> None:
    with migrated_database(own_postgres.admin_url) as db_url:
        await _postgresql_restarted(db_url, own_postgres, redis_channel, tmp_path)


async def _postgresql_restarted(db_url: str, pg: OwnPostgres, channel: str, tmp_path: Path) -> None:
    world = await seeded(db_url, tmp_path)
    mid = world.meeting_id
    m = {"meeting_id": mid}
    bp1_id, bp2_id = world.bridge_points["bp1"], world.bridge_points["bp2"]
    delegate = ("user", world.users["delegate"])
    async with (
        nodes(db_url, channel, tmp_path, ("a", "b")) as n,
        screens(world) as s,
        aiohttp.ClientSession() as http,
    ):
        steady = await s.open(n["a"], "operator")
        chair, bp1 = await s.open(n["a"], "chair"), await s.open(n["a"], "bp1")
        secretary, bp2 = await s.open(n["b"], "secretary"), await s.open(n["b"], "bp2")
        leaver = await s.open(n["b"], "delegate")
        await start_meeting(chair, mid)

        async with answering(bp1, mid) as acks1, answering(bp2, mid) as acks2:
            await steady.wait_until(lambda: len(answers_of(steady, bp2_id)) >= 5)
            await pg.stop("fast")
            stopped = time.monotonic()
            mark = max(mirror(c).seq for c in (steady, secretary))

            # Away longer than the offline threshold: every command is told why, on both
            # transports and both processes; screens stay connected.
            refused = 0
            while time.monotonic() - stopped < OFFLINE_AFTER * 1.5:
                for c in (chair, secretary):
                    err = await c.error("meeting.pause", m)
                    assert err["code"] == "unavailable", err
                async with http.get(
                    f"{n['b'].url}/api/v1/meetings/{mid}", headers=world.auth("chair")
                ) as r:
                    assert r.status == 503, (r.status, await r.text())
                    assert (await r.json())["error"]["code"] == "unavailable"
                async with http.get(f"{n['a'].url}/healthz") as r:
                    assert r.status == 503, r.status
                refused += 1
                await asyncio.sleep(0.2)
            assert refused >= 3
            # What a screen shows for that code (the error catalogue, web/src/generated).
            assert "cơ sở dữ liệu" in ErrorCode.UNAVAILABLE.text.vi
            # A screen reconnecting meanwhile is refused with the reason, not left hanging.
            refusal = await refused_connection(n["b"], world.tokens["bp2"])
            assert refusal["data"]["code"] == "unavailable", refusal
            # A screen that leaves meanwhile: its departure cannot be written yet.
            await leaver.close()

            await pg.start()
            # Both processes come back by themselves: the next commands succeed.
            deadline = time.monotonic() + 15
            for c in (chair, secretary):
                while not (await c.call("meeting.pause", m))["ok"]:
                    assert time.monotonic() < deadline, "not back 15 s after PostgreSQL"
                    await asyncio.sleep(0.2)
                await c.ok("meeting.resume", m)
            back = max(mirror(c).seq for c in (steady, secretary))
            await steady.wait_until(lambda: len(answers_of(steady, bp2_id, back)) >= 5)
            await secretary.wait_until(lambda: len(answers_of(secretary, bp1_id, back)) >= 5)
            # The departure is written once the database is back.
            await steady.wait_until(lambda: delegate in presence_left(steady, mark), 10)

        # Refused while it was away, accepted before and after.
        for acks in (acks1, acks2):
            codes = [a["error"]["code"] for a in acks if not a["ok"]]
            assert set(codes) <= {"unavailable"} and codes, codes
            assert acks[0]["ok"] and acks[-1]["ok"]
        # Nobody else was shown offline for the outage (every node's heartbeat missed).
        assert presence_left(steady, mark) == {delegate}
        await all_hold_every_event_once(s, n["a"], [steady, chair, bp1, secretary, bp2])
        told_once(n, "meetingd.store.uow", "the database")


# -- kill -9 with media ------------------------------------------------------------------------


async def _until(check: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.mark.timeout(240)
async def test_kill9_media_endpoints_rejoin_on_the_restarted_process(
    scaleout_db: str, redis_channel: str, tmp_path: Path
) -> None:
    """Two bridge-point agents publish and receive through B; B is killed (-9) and started
    again: both come back by themselves with new media sessions, and the floor holder's
    video (the floor as the meeting's database holds it) reaches the other again."""
    from media.agent import AgentConfig, BridgePointAgent
    from media.sio_signaller import SocketIOSignaller

    world = await seeded(scaleout_db, tmp_path)
    mid = world.meeting_id
    async with (
        nodes(scaleout_db, redis_channel, tmp_path, ("a", "b")) as n,
        screens(world) as s,
        aiohttp.ClientSession() as http,
    ):
        chair = await s.open(n["a"], "chair")
        await start_meeting(chair, mid)
        speaker = f"bridge_point:{world.bridge_points['bp2']}"
        await chair.ok("floor.grant", {"meeting_id": mid, "subject": speaker})
        stop = asyncio.Event()
        agents: dict[str, BridgePointAgent] = {}
        tasks = []
        for who in ("bp1", "bp2"):
            agents[who] = BridgePointAgent(
                SocketIOSignaller(n["b"].url, world.credentials[who], meeting_id=mid),
                AgentConfig(
                    local_ips=("127.0.0.1",),
                    video_size=(160, 120),
                    reconnect_delay=0.2,
                    reconnect_max_delay=1.0,
                    link_timeout=4.0,
                    health_interval=0.5,
                ),
            )
            tasks.append(asyncio.create_task(agents[who].run(stop), name=f"agent-{who}"))
        listener = agents["bp1"]
        try:
            await _until(lambda: listener.health.frames_received > 10, 40, "bp2's video at bp1")
            sessions = {who: a.health.sessions for who, a in agents.items()}
            await n["b"].stop(signal.SIGKILL)
            await n["b"].start()
            await wait_healthy(http, n["b"])
            await _until(
                lambda: all(a.health.sessions > sessions[w] for w, a in agents.items()),
                40,
                "new media sessions on the restarted B",
            )
            frames = listener.health.frames_received
            await _until(
                lambda: listener.health.frames_received > frames + 10,
                40,
                "the floor holder's video at bp1 again",
            )
            assert n["b"].runs == 2
        finally:
            stop.set()
            for t in tasks:
                with contextlib.suppress(asyncio.TimeoutError, Exception):
                    await asyncio.wait_for(t, 10)
