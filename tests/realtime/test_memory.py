"""The allocator is trimmed after a burst of work, not while a server is steady."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import pytest

from meetingd.realtime.memory import (
    BURST_GROWTH,
    SETTLED_GROWTH,
    FreedMemory,
    glibc_trim,
    resident_bytes,
)
from tests.conftest import skip_or_fail
from tests.realtime.conftest import Live

MB = 1 << 20


class Process:
    """A resident size that grows when told and shrinks when trimmed."""

    def __init__(self, size: int = 100 * MB) -> None:
        self.size = size
        self.kept = 0  # freed but kept by the allocator
        self.trims = 0

    def trim(self) -> None:
        self.trims += 1
        self.size -= self.kept
        self.kept = 0


def test_a_steady_process_is_not_trimmed() -> None:
    p = Process()
    memory = FreedMemory(trim=p.trim, resident=lambda: p.size)
    for _ in range(10):
        p.size += 100_000  # the usual small ups and downs
        memory.tick()
        p.size -= 100_000
        memory.tick()
    assert p.trims == 0


def test_trimmed_once_a_burst_settles() -> None:
    p = Process()
    memory = FreedMemory(trim=p.trim, resident=lambda: p.size)
    for _ in range(4):  # a storm: 10 MB a tick, half of it freed and kept
        p.size += 10 * MB
        p.kept += 5 * MB
        memory.tick()
    assert p.trims == 0  # still growing, not by BURST_GROWTH yet
    memory.tick()  # settled
    assert p.trims == 1
    assert p.size == 120 * MB
    assert memory.released == 20 * MB
    memory.tick()
    assert p.trims == 1  # nothing grew since


def test_trimmed_during_a_long_burst_and_again_once_it_settles() -> None:
    p = Process()
    memory = FreedMemory(trim=p.trim, resident=lambda: p.size)
    for _ in range(BURST_GROWTH // (8 * MB) + 1):
        p.size += 8 * MB
        p.kept += 4 * MB
        memory.tick()
    assert p.trims == 1
    p.size += 2 * MB  # the burst's last work, most of it freed as it ends
    p.kept += 2 * MB
    memory.tick()
    assert p.trims == 1  # not settled yet
    memory.tick()
    assert p.trims == 2  # settled: what the end of the burst freed is given back
    assert p.kept == 0
    memory.tick()
    assert p.trims == 2


def test_growth_is_counted_from_the_lowest_size() -> None:
    p = Process()
    memory = FreedMemory(trim=p.trim, resident=lambda: p.size)
    p.size -= 50 * MB  # connections left, the interpreter gave arenas back
    memory.tick()
    p.size += SETTLED_GROWTH
    memory.tick()
    memory.tick()
    assert p.trims == 1


def test_without_malloc_trim_nothing_happens() -> None:
    sizes = iter(range(0, 10**12, 100 * MB))
    memory = FreedMemory(trim=None, resident=lambda: next(sizes))  # not glibc
    memory.tick()
    memory.tick()
    assert memory.trims == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_glibc_trim_gives_back_freed_memory() -> None:
    trim = glibc_trim()
    if trim is None:
        skip_or_fail("no malloc_trim: not glibc (Debian has it; a CI run fails here)")
    before = resident_bytes()
    assert before > 0
    # many mid-sized blocks (below the mmap threshold) with a few kept between them, so the
    # freed ones cannot be given back from the top of the heap
    blocks = [bytearray(64 * 1024) for _ in range(400)]
    kept = blocks[::50]
    del blocks
    held = resident_bytes()
    trim()
    assert resident_bytes() <= held
    del kept


async def test_the_server_trims_and_shows_it_in_its_metrics(live: Live) -> None:
    """The running server ticks its trimmer; /metrics counts trims and what they gave back."""
    memory = live.realtime.memory
    grown = [100 * MB]
    memory._resident = lambda: grown[0]  # as if a join storm had just ended
    memory._floor = memory._last = 100 * MB
    memory._trim = lambda: grown.__setitem__(0, 101 * MB)
    grown[0] = 110 * MB
    for _ in range(50):  # the tick runs once a second
        if memory.trims:
            break
        await asyncio.sleep(0.1)
    assert memory.trims == 1
    assert memory.released == 9 * MB
    async with aiohttp.ClientSession() as http, http.get(f"{live.url}/metrics") as r:
        text = await r.text()
    assert "meetingd_realtime_allocator_trims_total 1.0" in text
    assert "meetingd_realtime_allocator_trimmed_bytes_total 9.437184e+06" in text
