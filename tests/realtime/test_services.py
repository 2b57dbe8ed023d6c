"""Presence, roll call and the stream, as service calls (no transport)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from meetingd.app import Parts
from meetingd.clock import ManualClock
from meetingd.domain import MeetingEvent, Principal, RollCall, RollCallState
from meetingd.errors import NotFound, PermissionDenied, StateError, ValidationError
from meetingd.events import AgendaItemRemoved
from meetingd.services.rollcall import QUORUM_BRIDGE_POINTS, QUORUM_DELEGATES, compute_result
from meetingd.store.rollcalls import InvitedBridgePoint, InvitedDelegate
from tests.conftest import World


class Recorder:
    """A publisher that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[MeetingEvent] = []

    async def publish(self, events: Sequence[MeetingEvent]) -> None:
        self.events.extend(events)

    def types(self) -> list[str]:
        return [e.type for e in self.events]


async def who(parts: Parts, world: World, name: str) -> Principal:
    return await parts.services.auth.authenticate(world.tokens[name])


async def log_types(parts: Parts, meeting_id: int, after: int = 0) -> list[str]:
    return [e.type for e in await parts.services.stream.committed_after(meeting_id, after, 1000)]


@pytest.fixture
async def opened(parts: Parts, world: World) -> World:
    chair = await who(parts, world, "chair")
    await parts.services.meetings.transition(chair, world.meeting_id, "open")
    return world


async def test_publish_after_commit_only(parts: Parts, world: World) -> None:
    rec = Recorder()
    parts.store.publisher = rec
    with pytest.raises(RuntimeError):
        async with parts.store.transaction() as uow:
            await uow.emit(world.meeting_id, AgendaItemRemoved(item_id=1))
            assert rec.events == []  # not before the commit
            raise RuntimeError("the work fails after emitting")
    assert rec.events == []
    head = (await parts.services.stream.heads([world.meeting_id]))[world.meeting_id]
    # A service that refuses after its checks emits nothing either.
    chair = await who(parts, world, "chair")
    with pytest.raises(StateError):
        await parts.services.meetings.transition(chair, world.meeting_id, "pause")
    assert rec.events == []
    assert (await parts.services.stream.heads([world.meeting_id]))[world.meeting_id] == head
    # And a successful one publishes exactly its event, with the next seq.
    await parts.services.meetings.transition(chair, world.meeting_id, "open")
    assert [(e.type, e.seq) for e in rec.events] == [("meeting.opened", head + 1)]


async def test_rollcall_flow_with_quorum(parts: Parts, opened: World, clock: ManualClock) -> None:
    w = opened
    s = parts.services.rollcall
    rec = Recorder()
    parts.store.publisher = rec
    secretary, bp1, bp2, delegate = [
        await who(parts, w, n) for n in ("secretary", "bp1", "bp2", "delegate")
    ]
    started = await s.start(secretary, w.meeting_id)
    assert started.state is RollCallState.OPEN and started.started_by == secretary.subject
    await s.answer(bp1, w.meeting_id, 12)
    clock.advance(5)
    await s.answer(bp2, w.meeting_id, 0)
    got = await s.answer(bp1, w.meeting_id, 15)  # the room filled up: replaces the first
    assert {(a.bridge_point_id, a.count) for a in got.answers} == {
        (bp1.id, 15),
        (bp2.id, 0),
    }
    await s.confirm(delegate, w.meeting_id)
    again = await s.confirm(delegate, w.meeting_id)  # confirming twice changes nothing
    assert len(again.confirmations) == 1
    closed = await s.close(secretary, w.meeting_id)
    assert closed.state is RollCallState.CLOSED and closed.result is not None
    r = closed.result
    by_id = {b.id: b for b in r.bridge_points}
    assert by_id[bp1.id].present and by_id[bp1.id].count == 15
    assert not by_id[bp2.id].present and by_id[bp2.id].count == 0
    assert by_id[bp1.id].unit_name == "Xã Hoằng Đạo"
    assert (r.bridge_points_invited, r.bridge_points_present, r.people_at_bridge_points) == (
        2,
        1,
        15,
    )
    assert (r.delegates_invited, r.delegates_present) == (1, 1)
    assert r.quorum.rule == QUORUM_DELEGATES and r.quorum.reached
    assert rec.types() == [
        "rollcall.started",
        "rollcall.answered",
        "rollcall.answered",
        "rollcall.answered",
        "rollcall.confirmed",
        "rollcall.closed",
    ]
    # Stored: the last result is readable later, also by a bridge point.
    again_read = await s.current(bp2, w.meeting_id)
    assert again_read.result == r
    # Answering after the close is a state error; a new roll call can start.
    with pytest.raises(StateError):
        await s.answer(bp1, w.meeting_id, 3)
    second = await s.start(secretary, w.meeting_id)
    assert second.id != closed.id and second.result is None


async def test_rollcall_quorum_not_reached(parts: Parts, opened: World) -> None:
    w = opened
    s = parts.services.rollcall
    chair, bp1 = await who(parts, w, "chair"), await who(parts, w, "bp1")
    await s.start(chair, w.meeting_id)
    await s.answer(bp1, w.meeting_id, 30)
    closed = await s.close(chair, w.meeting_id)
    assert closed.result is not None
    assert closed.result.quorum.reached is False
    assert closed.result.quorum.required == 1 and closed.result.quorum.present == 0


async def test_rollcall_refusals_change_nothing(parts: Parts, world: World) -> None:
    w = world
    s = parts.services.rollcall
    chair, secretary, bp1, bp3, delegate = [
        await who(parts, w, n) for n in ("chair", "secretary", "bp1", "bp3", "delegate")
    ]
    head = await log_types(parts, w.meeting_id)
    with pytest.raises(StateError):  # the meeting is a draft
        await s.start(secretary, w.meeting_id)
    await parts.services.meetings.transition(chair, w.meeting_id, "open")
    with pytest.raises(StateError):  # nothing open yet
        await s.answer(bp1, w.meeting_id, 1)
    with pytest.raises(PermissionDenied):
        await s.start(delegate, w.meeting_id)
    with pytest.raises(NotFound):
        await s.current(chair, w.meeting_id)
    await s.start(secretary, w.meeting_id)
    with pytest.raises(StateError):
        await s.start(chair, w.meeting_id)
    with pytest.raises(NotFound):  # another district's bridge point does not see the meeting
        await s.answer(bp3, w.meeting_id, 1)
    with pytest.raises(PermissionDenied):
        await s.answer(delegate, w.meeting_id, 1)
    with pytest.raises(PermissionDenied):
        await s.confirm(chair, w.meeting_id)
    with pytest.raises(PermissionDenied):
        await s.close(delegate, w.meeting_id)
    with pytest.raises(ValidationError):
        await s.answer(bp1, w.meeting_id, 1001)
    assert await log_types(parts, w.meeting_id, len(head)) == ["meeting.opened", "rollcall.started"]


def test_quorum_rules() -> None:
    from datetime import UTC, datetime

    from meetingd.domain import RollCallAnswer, RollCallConfirmation

    now = datetime(2026, 1, 1, tzinfo=UTC)
    bps = [InvitedBridgePoint(i, f"bp{i}", 10 + i, f"Xã {i}") for i in range(1, 6)]
    dels = [InvitedDelegate(i, f"d{i}") for i in range(1, 5)]

    def rc(counts: dict[int, int], confirmed: list[int]) -> RollCall:
        return RollCall(
            id=1,
            meeting_id=1,
            state=RollCallState.OPEN,
            started_at=now,
            started_by="user:1",
            closed_at=None,
            closed_by=None,
            answers=tuple(RollCallAnswer(b, c, now) for b, c in counts.items()),
            confirmations=tuple(RollCallConfirmation(u, now) for u in confirmed),
        )

    # Four delegates: two is half, not more than half.
    r = compute_result(rc({}, [1, 2]), bps, dels)
    assert (r.quorum.required, r.quorum.present, r.quorum.reached) == (3, 2, False)
    r = compute_result(rc({}, [1, 2, 3]), bps, dels)
    assert r.quorum.reached
    # Without delegates, bridge points that counted someone decide; a zero count is absent.
    r = compute_result(rc({1: 5, 2: 0, 3: 7}, []), bps, [])
    assert r.quorum.rule == QUORUM_BRIDGE_POINTS
    assert (r.quorum.required, r.quorum.present, r.quorum.reached) == (3, 2, False)
    r = compute_result(rc({1: 5, 2: 1, 3: 7}, []), bps, [])
    assert r.quorum.reached and r.people_at_bridge_points == 13
    assert compute_result(rc({}, []), [], []).quorum.reached is False


async def test_presence_counts_a_bridge_point_once(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    w = world
    p = parts.services.presence
    rec = Recorder()
    parts.store.publisher = rec
    bp1 = await who(parts, w, "bp1")
    await p.heartbeat("node-a")
    first = await p.enter(bp1, w.meeting_id, "node-a", "sid-1")
    clock.advance(30)
    second = await p.enter(bp1, w.meeting_id, "node-a", "sid-2")  # its second device
    assert first is not None and second is not None and second.since == first.since
    assert rec.types() == ["presence.joined"]
    assert rec.events[0].data["role"] == "bridge_point"
    assert await p.leave(w.meeting_id, "node-a", ["sid-1"]) == []
    [entry] = await p.present(bp1, w.meeting_id)
    assert entry.since == first.since  # still present since the first device came
    left = await p.leave(w.meeting_id, "node-a", ["sid-2"])
    assert [e.id for e in left] == [bp1.id]
    assert rec.types() == ["presence.joined", "presence.left"]
    assert await p.present(bp1, w.meeting_id) == []


async def test_presence_of_a_dead_node_is_swept(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    w = world
    p = parts.services.presence
    rec = Recorder()
    parts.store.publisher = rec
    chair, delegate = await who(parts, w, "chair"), await who(parts, w, "delegate")
    await p.heartbeat("node-dead")
    await p.heartbeat("node-live")
    await p.enter(delegate, w.meeting_id, "node-dead", "s1")
    await p.enter(chair, w.meeting_id, "node-live", "s2")
    assert await p.sweep("node-live") == []  # everyone beats
    clock.advance(4)
    await p.heartbeat("node-live")
    clock.advance(2)  # node-dead silent for 6 s > offline_after_seconds (5 s)
    assert await p.sweep("node-live") == ["node-dead"]
    assert [(e.kind, e.id, e.role) for e in await p.present(chair, w.meeting_id)] == [
        ("user", chair.id, "chair")
    ]
    assert rec.types()[-1] == "presence.left" and rec.events[-1].data["id"] == delegate.id
