"""The process pool that checks, renders and watermarks documents.

Each slot is a one-process :class:`~concurrent.futures.ProcessPoolExecutor` whose worker
caps its own address space (``RLIMIT_AS``) and CPU time when it starts. A job gets a free
slot and a deadline: when it overruns, or its worker dies (out of memory, a crash in a
native library), that worker is killed and the slot gets a fresh one, so a hostile file
costs one job and never stalls the event loop or the other slots. Jobs beyond the slots
wait for one in order.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import resource
import signal
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

logger = logging.getLogger(__name__)


class JobFailed(Exception):
    """The job overran its time or memory, or its worker died; ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _limit_worker(memory_bytes: int) -> None:
    """Runs first in every worker: its own memory ceiling, default warnings, no signals
    from the terminal (the server shuts workers down itself)."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.resetwarnings()
    warnings.simplefilter("ignore")


class WorkerPool:
    """``size`` isolated workers, each job under ``memory_bytes`` and ``seconds``."""

    def __init__(self, size: int, memory_bytes: int, seconds: float) -> None:
        self.size = size
        self.memory_bytes = memory_bytes
        self.seconds = seconds
        self._ctx = multiprocessing.get_context("forkserver")
        self._free: asyncio.Queue[int] | None = None
        self._slots: list[ProcessPoolExecutor | None] = [None] * size
        #: Workers killed for overrunning (for the tests and the metrics).
        self.killed = 0

    def _executor(self, slot: int) -> ProcessPoolExecutor:
        ex = self._slots[slot]
        if ex is None:
            ex = ProcessPoolExecutor(
                1, mp_context=self._ctx, initializer=_limit_worker, initargs=(self.memory_bytes,)
            )
            self._slots[slot] = ex
        return ex

    def _queue(self) -> asyncio.Queue[int]:
        if self._free is None:
            self._free = asyncio.Queue()
            for i in range(self.size):
                self._free.put_nowait(i)
        return self._free

    async def run(self, fn: Callable[..., Any], *args: Any, seconds: float | None = None) -> Any:
        """``fn(*args)`` in a worker; :class:`JobFailed` when it overruns or dies."""
        free = self._queue()
        slot = await free.get()
        try:
            ex = self._executor(slot)
            fut = asyncio.get_running_loop().run_in_executor(ex, fn, *args)
            try:
                return await asyncio.wait_for(fut, seconds or self.seconds)
            except TimeoutError:
                self._replace(slot)
                raise JobFailed(
                    "document_too_complex",
                    f"checking the file took longer than {seconds or self.seconds:g} s",
                ) from None
            except BrokenProcessPool:
                self._replace(slot)
                raise JobFailed(
                    "document_too_complex",
                    "the worker checking the file ran out of memory or crashed",
                ) from None
            except MemoryError:
                raise JobFailed(
                    "document_too_complex", "the file needed more memory than allowed"
                ) from None
        finally:
            free.put_nowait(slot)

    def _replace(self, slot: int) -> None:
        ex = self._slots[slot]
        self._slots[slot] = None
        if ex is None:
            return
        self.killed += 1
        for proc in list(getattr(ex, "_processes", {}).values()):
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        ex.shutdown(wait=False, cancel_futures=True)
        logger.warning("document worker in slot %s killed and replaced", slot)

    def close(self) -> None:
        for i, ex in enumerate(self._slots):
            if ex is not None:
                ex.shutdown(wait=True, cancel_futures=True)
                self._slots[i] = None
