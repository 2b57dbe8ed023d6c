"""Give back to the system the memory a burst of work freed but the allocator kept.

A join storm (every joiner's snapshot answer encoded, its frames written, the batch's rows
read) allocates far more than the connections then hold, and frees it. glibc's ``malloc``
keeps those freed chunks in its heap for reuse instead of returning the pages: after 2,000
joins one process measured 337 MB resident of which ``malloc_trim`` gave back 94 MB
(bench/README.md, "Memory per connection"). Nothing else ever gives those pages back while
the process lives.

:class:`FreedMemory` looks at the resident size once a tick and trims when it grew and then
settled (a burst just ended), or when it grew a lot (a burst still going on; then again once
it settles, for what the burst's end freed). A steady server never trims. Where
``malloc_trim`` does not exist (not glibc) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: How often the resident size is looked at (s).
TICK = 1.0
#: Growth since the last trim after which a trim is made once the size settles.
SETTLED_GROWTH = 4 << 20
#: Growth in one tick below which the size counts as settled.
SETTLE_SLACK = 1 << 20
#: Growth since the last trim after which a trim is made even while the size still grows.
BURST_GROWTH = 64 << 20

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """This process's resident set size (0 where ``/proc`` is not there)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def glibc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)`` (returns freed pages anywhere in the heap), or None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class FreedMemory:
    """Trims the allocator after bursts of work (see the module's text)."""

    def __init__(
        self,
        trim: Callable[[], object] | None,
        resident: Callable[[], int] = resident_bytes,
    ) -> None:
        """``trim`` gives freed memory back (:func:`glibc_trim`); None: never trims."""
        self._trim = trim
        self._resident = resident
        now = resident()
        #: Resident size right after the last trim (or the lowest seen since).
        self._floor = now
        #: Resident size at the previous tick.
        self._last = now
        #: The last trim was made while the size still grew: trim again once it settles.
        self._trimmed_in_burst = False
        #: Trims made and bytes they gave back (``/metrics``).
        self.trims = 0
        self.released = 0

    def tick(self) -> None:
        if self._trim is None:
            return
        now = self._resident()
        if now <= 0:
            return
        self._floor = min(self._floor, now)
        grown = now - self._floor
        settled = now - self._last < SETTLE_SLACK
        self._last = now
        if settled:  # what a trim during the burst could not give back is free now
            due = grown >= SETTLED_GROWTH or self._trimmed_in_burst
        else:
            due = grown >= BURST_GROWTH
        if not due:
            return
        started = time.perf_counter()
        self._trim()
        after = self._resident()
        self.trims += 1
        self.released += max(0, now - after)
        self._floor = self._last = after
        self._trimmed_in_burst = not settled
        logger.info(
            "memory: resident %.1f MB -> %.1f MB after trimming the allocator (%.1f ms)",
            now / 2**20, after / 2**20, (time.perf_counter() - started) * 1000,
        )  # fmt: skip
