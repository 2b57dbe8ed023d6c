"""The real-time node's background loops: a failure is logged, a cancel always stops them."""

from __future__ import annotations

import asyncio
import logging

import pytest

from meetingd.realtime.server import every


async def test_a_failing_round_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds = 0
    third = asyncio.Event()

    async def work() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 3:
            third.set()
        if rounds == 1:
            raise RuntimeError("the database went away")

    task = asyncio.create_task(every(0.001, work))
    with caplog.at_level(logging.ERROR, "meetingd.realtime.server"):
        await asyncio.wait_for(third.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "background work work failed" in caplog.text


async def test_a_cancel_the_work_turns_into_an_error_still_stops_the_loop() -> None:
    """asyncpg cut mid-query answers the cancel with its own error on rollback: the loop
    must not log it and sleep on (the shutdown that waits for it would hang)."""
    inside = asyncio.Event()

    async def query() -> None:
        inside.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError as cut:
            raise ConnectionError("cannot call Transaction.rollback(): connection closed") from cut

    task = asyncio.create_task(every(0, query))
    await inside.wait()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2)
    assert task in done, "the loop swallowed its cancel"
    assert task.cancelled()
