"""The sequencer alone: order, repeats, gaps healed from the log (no server, no database)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from meetingd.domain import MeetingEvent
from meetingd.realtime.sequencer import Sequencer

AT = datetime(2026, 1, 5, tzinfo=UTC)


def ev(seq: int, meeting_id: int = 1) -> MeetingEvent:
    return MeetingEvent(meeting_id=meeting_id, seq=seq, type="x.happened", data={}, created_at=AT)


class Fake:
    """The event log and the fan-out around a sequencer."""

    def __init__(self) -> None:
        self.log: dict[int, list[MeetingEvent]] = {}
        self.sent: list[tuple[int, int]] = []
        self.fetches = 0
        self.seq = Sequencer(self.fanout, self.fetch, self.heads)

    async def fanout(self, e: MeetingEvent) -> None:
        self.sent.append((e.meeting_id, e.seq))
        await asyncio.sleep(0)

    async def fetch(self, meeting_id: int, after: int, limit: int) -> list[MeetingEvent]:
        self.fetches += 1
        return [e for e in self.log.get(meeting_id, []) if e.seq > after][:limit]

    async def heads(self, ids: list[int]) -> dict[int, int]:
        return {i: self.log[i][-1].seq for i in ids if self.log.get(i)}

    def commit(self, *seqs: int, meeting_id: int = 1) -> list[MeetingEvent]:
        events = [ev(s, meeting_id) for s in seqs]
        self.log.setdefault(meeting_id, []).extend(events)
        return events

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)


@pytest.fixture
def fake() -> Fake:
    return Fake()


async def test_out_of_order_and_repeated_events_go_out_once_in_order(fake: Fake) -> None:
    fake.seq.retain(1)
    fake.seq.position(1, 0)
    e = fake.commit(1, 2, 3, 4)
    fake.seq.offer([e[2]])
    fake.seq.offer([e[0], e[0]])
    await fake.settle()
    assert fake.sent == [(1, 1)]
    fake.seq.offer([e[3], e[1], e[2], e[0]])
    await fake.settle()
    assert fake.sent == [(1, 1), (1, 2), (1, 3), (1, 4)]
    assert fake.seq.emitted(1) == 4


async def test_only_followed_meetings_and_held_until_positioned(fake: Fake) -> None:
    fake.seq.offer(fake.commit(1, 2, meeting_id=2))  # nobody here follows meeting 2
    fake.seq.retain(1)
    events = fake.commit(1, 2, 3, 4, 5, 6)
    fake.seq.offer(events[4:])  # 5, 6 arrive while a connection is still reading
    await fake.settle()
    assert fake.sent == [] and fake.seq.emitted(1) is None
    fake.seq.position(1, 5)  # its snapshot is as of 5: continue with 6
    await fake.settle()
    assert fake.sent == [(1, 6)]
    fake.seq.position(1, 2)  # a later reader does not move what is placed
    fake.seq.offer(events)
    await fake.settle()
    assert fake.sent == [(1, 6)]
    fake.seq.release(1)
    fake.seq.offer(fake.commit(7))
    await fake.settle()
    assert fake.sent == [(1, 6)] and fake.seq.meetings == []


async def test_emitted_moves_before_the_fanout_runs(fake: Fake) -> None:
    seen: list[int | None] = []

    async def fanout(e: MeetingEvent) -> None:
        seen.append(fake.seq.emitted(1))

    fake.seq = Sequencer(fanout, fake.fetch, fake.heads)
    fake.seq.retain(1)
    fake.seq.position(1, 0)
    fake.seq.offer(fake.commit(1, 2))
    await fake.settle()
    assert seen == [1, 2]


async def test_a_lost_event_is_read_from_the_log_after_a_tick(fake: Fake) -> None:
    fake.seq.retain(1)
    fake.seq.position(1, 0)
    e = fake.commit(1, 2, 3, 4, 5)
    fake.seq.offer([e[0], e[1], e[3], e[4]])  # 3 never comes (its publisher died)
    await fake.settle()
    assert fake.sent == [(1, 1), (1, 2)]
    await fake.seq.heal()  # first tick: it may still be on its way
    await fake.settle()
    assert fake.sent == [(1, 1), (1, 2)] and fake.fetches == 0
    await fake.seq.heal()  # still missing: read it
    await fake.settle()
    assert fake.sent == [(1, i) for i in range(1, 6)] and fake.fetches == 1
    await fake.seq.heal()  # up to date: nothing to read
    assert fake.fetches == 1
    # The last events of a burst are healed too (no later event reveals the gap).
    fake.commit(6, 7)
    await fake.seq.heal()
    await fake.seq.heal()
    await fake.settle()
    assert fake.sent[-2:] == [(1, 6), (1, 7)]


async def test_a_gap_the_log_no_longer_holds_is_skipped(fake: Fake) -> None:
    fake.seq.retain(1)
    fake.seq.position(1, 3)
    fake.commit(*range(4, 13))
    del fake.log[1][:6]  # pruned: the log starts at 10
    await fake.seq.heal()
    await fake.seq.heal()
    await fake.settle()
    assert fake.sent == [(1, 10), (1, 11), (1, 12)]  # clients see 3 -> 10 and resync
