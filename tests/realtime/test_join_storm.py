"""Join storms: joins that come together are written together, and each is still its own.

Over the wire: a burst of joins is acknowledged join by join, every presence row is
committed, the connections already in get the arrivals as coalesced ``presence.arrived``
events (one per batch, not one per newcomer), and a caller refused inside a batch (no
longer invited) is refused alone. Below the wire: a join is never answered before the
transaction that holds its row returns, a batch's failure reaches each of its joins, a
caller that left while its batch was written has its row taken away again, and the answer
shared by a batch is, for each caller, exactly what its own snapshot would have been.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import event

from meetingd.domain import PresenceEntry, Principal
from meetingd.errors import MeetingdError, NotFound
from meetingd.realtime.joins import WHOLE_MEETING, JoinBatcher, SharedSnapshot
from meetingd.realtime.server import snapshot_answer
from meetingd.realtime.wire import SPLICING_JSON, RawJSON
from meetingd.schemas import JoinOut, answer_adapter
from tests.realtime.conftest import Live
from tests.realtime.livekit import LiveClient

BURST = 24


async def _more_bridge_points(live: Live, count: int, *, invite: bool = True) -> list[str]:
    """``count`` new bridge points of commune C1, logged in (and invited): their names."""
    s = live.parts.services
    chair = await live.who("chair")
    names, ids = [], []
    for i in range(count):
        name = f"storm{i}"
        new = await s.directory.create_bridge_point(
            None, unit_id=live.world.units["C1"], name=f"Điểm cầu xã {i}"
        )
        live.world.tokens[name] = (
            await s.auth.device_login(new.credential, f"192.0.2.{len(live.world.tokens) % 250}")
        ).token
        names.append(name)
        ids.append(new.bridge_point.id)
    if invite:
        await s.meetings.invite_bridge_points(chair, live.meeting_id, ids)
    return names


async def test_a_burst_of_joins_is_acknowledged_committed_and_announced_together(
    live: Live,
) -> None:
    mid = live.meeting_id
    names = await _more_bridge_points(live, BURST)
    uninvited = (await _more_bridge_points(live, 1, invite=False))[0]
    watcher = await live.connect("chair")
    await watcher.join(mid)
    # Everything sent in one go gathers in one or a few batches (1 s window: generous).
    live.realtime.joins.window = 1.0
    clients = [live.client(n) for n in [*names, "bp1", "delegate", uninvited, "bp3"]]
    await asyncio.gather(*(c.connect() for c in clients))
    acks = await asyncio.gather(
        *(c.call("meeting.join", {"meeting_id": mid}, within=30) for c in clients)
    )

    by_name = {c.name: a for c, a in zip(clients, acks, strict=True)}
    for name in ("bp3", uninvited):  # refused alone, told the meeting does not exist
        assert by_name.pop(name)["ok"] is False
    for name, ack in by_name.items():
        assert ack["ok"] is True, (name, ack)
    assert all(a["error"]["code"] == "not_found" for a in acks if not a["ok"])

    present = await live.parts.services.presence.present(await live.who("chair"), mid)
    subjects = {f"{p.kind}:{p.id}" for p in present}
    for c, ack in zip(clients, acks, strict=True):
        if not ack["ok"]:
            continue
        me = await live.parts.services.auth.authenticate(c.token or "")
        assert me.subject in subjects  # its row is committed
        seen = {f"{p['kind']}:{p['id']}" for p in ack["data"]["snapshot"]["presence"]}
        assert me.subject in seen  # its own answer shows it present
    refused = {await _subject(live, n) for n in ("bp3", uninvited)}
    assert not refused & subjects

    # The connection already in hears every arrival once, in fewer events than arrivals.
    arrivals = len(by_name)
    assert live.realtime.joins.batches < arrivals + 1

    def announced() -> list[str]:
        out = [f"{d['kind']}:{d['id']}" for d in watcher.of("presence.joined")]
        for d in watcher.of("presence.arrived"):
            out += [f"{e['kind']}:{e['id']}" for e in d["entries"]]
        return out

    await watcher.wait_until(lambda: len(announced()) >= arrivals, within=30)
    got = announced()
    assert len(got) == len(set(got)) == arrivals
    assert set(got) == subjects - {"user:" + str(live.world.users["chair"])}
    coalesced = watcher.of("presence.arrived")
    assert coalesced and max(len(d["entries"]) for d in coalesced) > 1
    assert len(watcher.of("presence.joined")) + len(coalesced) < arrivals
    assert watcher.mirror is not None
    seqs = [d["seq"] for e, d in watcher.events if isinstance(d, dict) and "seq" in d]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))  # in order, no repeat
    # What the watcher's mirror holds is what a fresh join reads.
    late = await live.connect("secretary")
    fresh = await late.join(mid)
    mirrored = {(p["kind"], p["id"]) for p in watcher.mirror.state["presence"]}
    assert mirrored | {("user", live.world.users["secretary"])} == {
        (p["kind"], p["id"]) for p in fresh.state["presence"]
    }


async def _subject(live: Live, name: str) -> str:
    return (await live.parts.services.auth.authenticate(live.world.tokens[name])).subject


async def test_the_shared_answer_is_each_callers_own_snapshot(live: Live) -> None:
    """The batch's snapshot is read once for the whole meeting; cut down per caller it
    equals, byte for byte on the wire, the snapshot that caller would have read alone."""
    mid = live.meeting_id
    stream = live.parts.services.stream
    snap = await stream.snapshot(WHOLE_MEETING, mid)
    shared = SharedSnapshot(snap, snapshot_answer(snap))
    for name in ("chair", "secretary", "delegate", "bp1", "bp2"):
        who = await live.who(name)
        own = snapshot_answer(await stream.snapshot(who, mid))
        wired = shared.answer_for(who)
        want = answer_adapter(JoinOut).dump_python(own, mode="json")
        assert json.loads(SPLICING_JSON.dumps(wired.wire())) == want, name
        assert answer_adapter(JoinOut).dump_python(wired, mode="json") == want, name
    with pytest.raises(NotFound):
        shared.answer_for(await live.who("bp3"))  # not invited: refused, as alone


def test_fragments_are_spliced_in_as_they_are() -> None:
    data = {"a": [1, RawJSON({"b": ["é", None]})], "c": RawJSON([2, 3]), "d": "\x00"}
    text = SPLICING_JSON.dumps(data, separators=(",", ":"))
    assert json.loads(text) == {"a": [1, {"b": ["é", None]}], "c": [2, 3], "d": "\x00"}
    plain = {"x": [1, "y"]}
    assert SPLICING_JSON.dumps(plain, separators=(",", ":")) == json.dumps(
        plain, separators=(",", ":")
    )


# -- the batcher alone --------------------------------------------------------------------

P = [Principal(kind="bridge_point", id=i, name=f"bp{i}", token_id=str(i)) for i in range(1, 6)]


def _entry(p: Principal) -> PresenceEntry:
    from datetime import UTC, datetime

    return PresenceEntry(
        kind=p.kind, id=p.id, name=p.name, role="bridge_point", since=datetime.now(UTC)
    )


class FakePresence:
    """enter_many that waits until told to commit; refuses principals in ``refuse``."""

    def __init__(self, refuse: Sequence[int] = ()) -> None:
        self.refuse = set(refuse)
        self.commit = asyncio.Event()
        self.calls: list[list[str]] = []
        self.called = asyncio.Event()
        self.fail: Exception | None = None

    async def wait_calls(self, n: int) -> None:
        while len(self.calls) < n:
            self.called.clear()
            await asyncio.wait_for(self.called.wait(), 10)

    async def enter_many(
        self, meeting_id: int, arrivals: Sequence[tuple[Principal, str]], snapshot: bool
    ) -> tuple[list[PresenceEntry | MeetingdError | None], None]:
        assert not snapshot, "no snapshot was asked for"
        self.calls.append([sid for _, sid in arrivals])
        self.called.set()
        await self.commit.wait()
        if self.fail is not None:
            raise self.fail
        return [
            NotFound("meeting 1 does not exist") if p.id in self.refuse else _entry(p)
            for p, _ in arrivals
        ], None


def _no_snapshot(snap: Any) -> Any:
    raise AssertionError("no snapshot was asked for")


async def test_joins_are_answered_only_once_their_batch_is_committed() -> None:
    fake = FakePresence(refuse=[3])
    orphans: list[str] = []
    batcher = JoinBatcher(
        fake.enter_many, _no_snapshot, lambda m, sid: orphans.append(sid), window=0.01
    )
    tasks = [asyncio.create_task(batcher.enter(p, 1, f"s{p.id}", snapshot=False)) for p in P[:4]]
    await fake.wait_calls(1)
    late = asyncio.create_task(batcher.enter(P[4], 1, "s5", snapshot=False))
    await asyncio.sleep(0.05)
    assert fake.calls == [["s1", "s2", "s3", "s4"]]  # one batch; the late one waits
    assert not any(t.done() for t in [*tasks, late])  # nothing answered before the commit
    fake.commit.set()
    results = await asyncio.gather(*tasks, late, return_exceptions=True)
    assert isinstance(results[2], NotFound)  # refused alone
    assert [r.entry.id for r in results if not isinstance(r, BaseException)] == [1, 2, 4, 5]
    assert fake.calls == [["s1", "s2", "s3", "s4"], ["s5"]]
    assert batcher.batches == 2 and orphans == []
    await batcher.close()


async def test_a_failed_batch_fails_each_join_and_a_gone_caller_is_taken_away() -> None:
    fake = FakePresence()
    orphans: list[str] = []
    batcher = JoinBatcher(
        fake.enter_many, _no_snapshot, lambda m, sid: orphans.append(sid), window=0.01
    )
    a = asyncio.create_task(batcher.enter(P[0], 1, "s1", snapshot=False))
    b = asyncio.create_task(batcher.enter(P[1], 1, "s2", snapshot=False))
    await fake.wait_calls(1)
    b.cancel()  # its caller goes while the batch is being written
    fake.commit.set()
    assert (await a).entry is not None
    with pytest.raises(asyncio.CancelledError):
        await b
    assert orphans == ["s2"]  # committed for nobody: taken away again

    fake.commit.clear()
    fake.fail = MeetingdError("the database is away", code="unavailable")
    c = asyncio.create_task(batcher.enter(P[2], 1, "s3", snapshot=False))
    d = asyncio.create_task(batcher.enter(P[3], 1, "s4", snapshot=False))
    await fake.wait_calls(2)
    fake.commit.set()
    for t in (c, d):
        with pytest.raises(MeetingdError) as err:
            await t
        assert err.value.code == "unavailable"
    await batcher.close()


async def test_clients_that_mirror_the_stream_apply_a_coalesced_arrival(live: Live) -> None:
    """A screen that joined before a storm ends with the same presence list as one that
    joins after it (the test mirror applies ``presence.arrived`` as the web client does)."""
    mid = live.meeting_id
    names = await _more_bridge_points(live, 6)
    watcher = await live.connect("chair")
    mirror = await watcher.join(mid)
    live.realtime.joins.window = 1.0
    clients: list[LiveClient] = [live.client(n) for n in names]
    await asyncio.gather(*(c.connect() for c in clients))
    await asyncio.gather(*(c.join(mid) for c in clients))
    await watcher.wait_until(lambda: len(mirror.state["presence"]) == 7, within=30)
    after = await (await live.connect("secretary")).join(mid)
    await watcher.wait_until(lambda: len(mirror.state["presence"]) == 8, within=30)
    want = sorted((p["kind"], p["id"]) for p in after.state["presence"])
    assert sorted((p["kind"], p["id"]) for p in mirror.state["presence"]) == want


async def test_token_checks_made_together_refuse_each_revoked_caller_alone(live: Live) -> None:
    """Connections opened together are authenticated in one read of the database, and a
    caller whose token was revoked (logged out) among them is refused alone."""
    names = await _more_bridge_points(live, 8)
    auth = live.parts.services.auth
    await auth.logout(live.world.tokens[names[3]])
    checks = live.realtime.namespace.tokens
    checks.window = 1.0  # everything sent in one go lands in one batch
    before = checks.batches
    clients = [live.client(n) for n in names]
    outcomes = await asyncio.gather(*(c.connect() for c in clients), return_exceptions=True)
    refused = [c.name for c, o in zip(clients, outcomes, strict=True) if isinstance(o, Exception)]
    assert refused == [names[3]]
    assert checks.batches - before < len(names)  # gathered, not one read each
    acks = await asyncio.gather(
        *(
            c.call("meeting.join", {"meeting_id": live.meeting_id})
            for c in clients
            if c.sio.connected
        )
    )
    assert all(a["ok"] for a in acks) and len(acks) == len(names) - 1
    many = await auth.authenticate_many(
        [live.world.tokens[n] for n in names[2:5]] + ["not a token"]
    )
    assert [type(o).__name__ for o in many] == [
        "Principal",
        "AuthenticationError",
        "Principal",
        "AuthenticationError",
    ]


async def test_a_batch_of_joins_is_written_in_one_statement(live: Live) -> None:
    """The rows of a batch go in as one ``executemany`` (the ORM's unit of work sent SQLite
    one ``INSERT`` per row, a round trip to its thread each); every connection is recorded,
    a participant arrives once, and a second device of one already present arrives not."""
    s = live.parts.services
    mid, node = live.meeting_id, live.realtime.node_id
    names = await _more_bridge_points(live, 30)
    who = [await s.auth.authenticate(live.world.tokens[n]) for n in names]
    inserts: list[bool] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PRESENCE"):
            inserts.append(many)

    engine = live.parts.store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        first = await s.presence.enter_many(mid, node, [(p, f"a{p.id}") for p in who])
        assert inserts == [True]
        again = await s.presence.enter_many(
            mid, node, [(p, f"b{p.id}") for p in who[:10]] + [(who[0], f"a{who[0].id}")]
        )
        assert inserts == [True, True]  # the one already recorded is not written again
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert all(isinstance(o, PresenceEntry) for o in [*first, *again])
    recorded = (await s.presence.recorded(node))[mid]
    assert {f"a{p.id}" for p in who} | {f"b{p.id}" for p in who[:10]} <= recorded
    present = await s.presence.present(await live.who("chair"), mid)
    assert sum(1 for p in present if p.kind == "bridge_point" and p.id in {w.id for w in who}) == 30
    # Each device of a participant shows the participant's first arrival.
    by_id = {o.id: o for o in first if isinstance(o, PresenceEntry)}
    for o in again:
        assert isinstance(o, PresenceEntry) and o.since == by_id[o.id].since


async def test_a_batch_reads_its_snapshot_in_its_own_transaction(live: Live) -> None:
    """The batch's snapshot is read after its rows and their event, before the commit: it is
    the snapshot read alone right after (the new arrivals in it, at their event's seq); with
    no viewer, or nobody admitted, nothing is read."""
    s = live.parts.services
    mid, node = live.meeting_id, live.realtime.node_id
    names = await _more_bridge_points(live, 5)
    who = [await s.auth.authenticate(live.world.tokens[n]) for n in names]
    before = (await s.stream.snapshot(WHOLE_MEETING, mid)).seq
    outcomes, snap = await s.presence.enter_many_and_read(
        mid, node, [(p, f"x{p.id}") for p in who], WHOLE_MEETING
    )
    assert snap is not None and all(isinstance(o, PresenceEntry) for o in outcomes)
    assert snap.seq == before + 1  # the batch's presence.arrived
    assert {p.id for p in who} <= {e.id for e in snap.presence if e.kind == "bridge_point"}
    assert snap == await s.stream.snapshot(WHOLE_MEETING, mid)
    outcomes, none = await s.presence.enter_many_and_read(
        mid, node, [(who[0], "y")], None
    )  # no viewer: no snapshot
    assert none is None and isinstance(outcomes[0], PresenceEntry)
    _, refused = await s.presence.enter_many_and_read(
        mid, node, [(await live.who("bp3"), "z")], WHOLE_MEETING
    )
    assert refused is None  # nobody admitted: nothing read
