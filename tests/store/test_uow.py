"""Units of work: events published only after commit, conflicts from integrity errors."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest

from meetingd.app import Parts
from meetingd.domain import MeetingEvent, Role, UnitKind
from meetingd.errors import ConflictError
from meetingd.events import AgendaReordered
from meetingd.store import Store
from tests.conftest import PASSWORD, World


class Recorder:
    """A publisher that, when called, reads the events back in a transaction of its own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batches: list[list[MeetingEvent]] = []
        self.visible: list[bool] = []

    async def publish(self, events: Sequence[MeetingEvent]) -> None:
        self.batches.append(list(events))
        async with self.store.transaction() as uow:
            stored = await uow.events.after(events[0].meeting_id, events[0].seq - 1, len(events))
        self.visible.append([e.seq for e in stored] == [e.seq for e in events])


async def test_events_are_published_after_the_commit(parts: Parts, world: World) -> None:
    rec = Recorder(parts.store)
    parts.store.publisher = rec
    chair = await parts.services.auth.authenticate(world.tokens["chair"])
    await parts.services.meetings.transition(chair, world.meeting_id, "schedule")
    await parts.services.meetings.transition(chair, world.meeting_id, "start")
    types = [[e.type for e in b] for b in rec.batches]
    assert types == [["meeting.scheduled"], ["meeting.started"]]
    assert rec.visible == [True, True]  # already committed when the publisher ran
    assert rec.batches[1][0].seq == rec.batches[0][0].seq + 1


async def test_a_rollback_publishes_nothing_and_keeps_the_seq(parts: Parts, world: World) -> None:
    rec = Recorder(parts.store)
    parts.store.publisher = rec
    async with parts.store.transaction() as uow:
        seq = (await uow.meetings.get(world.meeting_id)).seq  # type: ignore[union-attr]

    with pytest.raises(RuntimeError):
        async with parts.store.transaction() as uow:
            await uow.emit(world.meeting_id, AgendaReordered(item_ids=[1]))
            await uow.emit(world.meeting_id, AgendaReordered(item_ids=[2]))
            raise RuntimeError("boom")
    assert rec.batches == []
    async with parts.store.transaction() as uow:
        assert (await uow.meetings.get(world.meeting_id)).seq == seq  # type: ignore[union-attr]
        assert await uow.events.after(world.meeting_id, seq, 10) == []
    # The next event takes the next number: none was used up.
    async with parts.store.transaction() as uow:
        ev = await uow.emit(world.meeting_id, AgendaReordered(item_ids=[3]))
    assert ev.seq == seq + 1
    assert [[e.seq for e in b] for b in rec.batches] == [[seq + 1]]


async def test_one_transaction_publishes_its_events_together_in_order(
    parts: Parts, world: World
) -> None:
    rec = Recorder(parts.store)
    parts.store.publisher = rec
    async with parts.store.transaction() as uow:
        for n in range(3):
            await uow.emit(world.meeting_id, AgendaReordered(item_ids=[n]))
        assert rec.batches == []  # not before the commit
    (batch,) = rec.batches
    assert [e.data["item_ids"] for e in batch] == [[0], [1], [2]]
    assert [e.seq for e in batch] == [batch[0].seq, batch[0].seq + 1, batch[0].seq + 2]


async def test_the_event_log_is_bounded(parts: Parts, world: World) -> None:
    store = Store(parts.store.engine, parts.clock, event_log_size=10)
    async with store.transaction() as uow:
        start = (await uow.meetings.get(world.meeting_id)).seq  # type: ignore[union-attr]
        for n in range(130):
            last = await uow.emit(world.meeting_id, AgendaReordered(item_ids=[n]))
    async with store.transaction() as uow:
        oldest = await uow.events.oldest_seq(world.meeting_id)
        kept = await uow.events.after(world.meeting_id, 0, 1000)
    assert oldest is not None and oldest > start
    assert [e.seq for e in kept] == list(range(oldest, last.seq + 1))
    assert len(kept) < 10 + 64  # pruned every 64 events down to the last 10


# -- conflicts ----------------------------------------------------------------------------------


async def test_integrity_errors_become_conflicts(parts: Parts, world: World) -> None:
    now = parts.clock.now()
    with pytest.raises(ConflictError, match="already exists"):
        async with parts.store.transaction() as uow:
            province = UnitKind.PROVINCE
            await uow.units.add(parent=None, code="P", name="Trùng", kind=province, now=now)
    with pytest.raises(ConflictError, match="already exists"):
        async with parts.store.transaction() as uow:
            await uow.users.grant(world.users["chair"], world.units["D1"], Role.CHAIR)
    with pytest.raises(ConflictError, match="does not exist"):
        async with parts.store.transaction() as uow:
            await uow.bridge_points.add(unit_id=999_999, name="Ma", room="", credential_key="k",
                                        credential_hash="h", now=now)  # fmt: skip
    with pytest.raises(ConflictError):
        async with parts.store.transaction() as uow:
            await uow.meetings.add(unit_id=world.units["D1"], title="t", description="",
                                   starts_at=now, ends_at=None, chair_id=999_999,
                                   secretary_id=None, created_by=None, now=now)  # fmt: skip
    async with parts.store.transaction() as uow:  # nothing of the above was kept
        assert len(await uow.units.find(within_paths=None)) == len(world.units)
        assert await uow.bridge_points.get_credential("k") is None


async def test_racing_creations_end_in_one_row_and_one_conflict(
    parts: Parts, world: World
) -> None:
    d = parts.services.directory

    async def add_user() -> object:
        return await d.create_user(
            None, login="trung", display_name="Trùng Tên", password=PASSWORD,
            grants=[(world.units["C1"], Role.DELEGATE)],
        )  # fmt: skip

    async def add_unit() -> object:
        return await d.create_unit(
            None, code="C9", name="Xã", kind=UnitKind.COMMUNE, parent_id=world.units["D1"]
        )

    for make in (add_user, add_unit):
        results = await asyncio.gather(*(make() for _ in range(4)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 3 and all(isinstance(e, ConflictError) for e in errors), results
    async with parts.store.transaction() as uow:
        assert [u.login for u in await uow.users.find(within_paths=None, query="trung ten")] == [
            "trung"
        ]


async def test_times_come_back_aware_and_in_utc(parts: Parts, world: World) -> None:
    chair = await parts.services.auth.authenticate(world.tokens["chair"])
    m = await parts.services.meetings.get(chair, world.meeting_id)
    assert m.starts_at == parts.clock.now() + timedelta(hours=1)
    assert m.starts_at.utcoffset() == timedelta(0) and m.created_at.utcoffset() == timedelta(0)


async def test_a_reader_does_not_wait_for_a_writer(parts: Parts, world: World) -> None:
    """A token check (Store.reading) goes on while a long transaction holds the writers'
    turn (SQLite: one writer at a time), and sees the last commit, not the open one."""
    holding, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with parts.store.transaction() as uow:
            await uow.users.get(world.users["chair"])  # the turn (and on SQLite, its lock) held
            holding.set()
            await release.wait()

    task = asyncio.create_task(writer())
    try:
        await asyncio.wait_for(holding.wait(), 10)
        chair = await asyncio.wait_for(parts.services.auth.authenticate(world.tokens["chair"]), 10)
        assert chair.id == world.users["chair"]
    finally:
        release.set()
        await task


async def test_a_reader_that_writes_is_refused(parts: Parts, world: World) -> None:
    with pytest.raises(RuntimeError, match="changed something"):
        async with parts.store.reading() as uow:
            await uow.record("test.write", "user:1", {})
