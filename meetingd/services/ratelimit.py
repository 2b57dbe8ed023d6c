"""Rate limiting keyed by a string (account, address, connection), in bounded memory.

Two shapes:

* :class:`RateLimiter`, a token bucket: ``rate`` attempts per second, bursts up to ``burst``.
  Used per client address for logins and per connection for socket commands.
* :class:`FailureThrottle`, for wrong passwords on one account: a few are free, then each
  further attempt waits a delay that doubles up to a ceiling. It slows guessing down without
  locking the real owner out: the longest they ever wait is the ceiling, and a right password
  clears the account's record.

Both keep at most ``max_keys`` keys. When full, the least recently used key that holds nothing
worth keeping (an address with a token left; an account not being slowed down) is forgotten,
looking at a bounded number of the oldest keys; only when all of those matter is the oldest
forgotten. There is no global reset, so a flood of junk keys cannot wipe a real account's
record.

State is per process: with several processes each applies its own limit, which bounds an
attacker to N times the rate (acceptable for login; noted in the README).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from meetingd.clock import Clock

#: Oldest keys looked at for one that may be forgotten before forgetting the very oldest.
EVICTION_SCAN = 64

V = TypeVar("V")


class _Lru(Generic[V]):
    """A dict in least-recently-used order with a cap and a preference for what to forget."""

    def __init__(self, max_keys: int, idle: Callable[[V], bool]) -> None:
        self._items: OrderedDict[str, V] = OrderedDict()
        self._max_keys = max_keys
        self._idle = idle

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: str, item: V) -> None:
        if key not in self._items and len(self._items) >= self._max_keys:
            self._evict()
        self._items[key] = item
        self._items.move_to_end(key)

    def pop(self, key: str) -> None:
        self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def _evict(self) -> None:
        for n, (key, item) in enumerate(self._items.items()):
            if n >= EVICTION_SCAN:
                break
            if self._idle(item):
                del self._items[key]
                return
        self._items.popitem(last=False)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """``rate`` tokens per second refilled up to ``burst``; each attempt takes one."""

    def __init__(self, clock: Clock, *, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._buckets: _Lru[_Bucket] = _Lru(max_keys, self._idle)

    def _idle(self, b: _Bucket) -> bool:
        # A key that would be refused now is worth keeping; one with a token left is not.
        return b.tokens + (self._clock.monotonic() - b.stamp) * self._rate >= 1.0

    def take(self, key: str) -> float:
        """Take a token; return 0.0 when allowed, else the seconds to wait."""
        now = self._clock.monotonic()
        b = self._buckets.get(key)
        if b is None:
            b = _Bucket(self._burst, now)
            self._buckets.put(key, b)
        else:
            b.tokens = min(self._burst, b.tokens + (now - b.stamp) * self._rate)
            b.stamp = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self._rate

    def reset(self, key: str) -> None:
        self._buckets.pop(key)

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: str) -> bool:
        return key in self._buckets


@dataclass(slots=True)
class _Strikes:
    level: float  # recent failures, leaking away at ``free_per_minute`` per minute
    stamp: float  # when ``level`` was last brought up to date
    next_at: float  # no attempt before this (monotonic seconds)


class FailureThrottle:
    """Wrong passwords per account: ``free_per_minute`` free, then a doubling wait.

    The exact behaviour, per key:

    * Each failure adds one to a level that leaks away at ``free_per_minute`` per minute (so
      ``free_per_minute`` wrong passwords a minute, however spread, never slow anyone down).
    * While the level is above ``free_per_minute``, an attempt must come at least
      ``2 ** (level - free_per_minute - 1)`` seconds (capped at ``max_delay``) after the last
      failure; one sooner is refused with the seconds left (429 with ``Retry-After``) and is
      not counted, so waiting callers do not make the wait longer.
    * A success forgets the key. Nobody is ever refused for longer than ``max_delay`` after the
      last wrong password.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        free_per_minute: float,
        max_delay: float,
        max_keys: int = 100_000,
    ) -> None:
        self._clock = clock
        self._free = free_per_minute
        self._leak = free_per_minute / 60.0
        self._max_delay = max_delay
        self._keys: _Lru[_Strikes] = _Lru(max_keys, self._idle)

    def _level(self, s: _Strikes, now: float) -> float:
        return max(0.0, s.level - (now - s.stamp) * self._leak)

    def _idle(self, s: _Strikes) -> bool:
        return self._level(s, self._clock.monotonic()) <= self._free

    def _delay(self, level: float) -> float:
        over = level - self._free
        return min(self._max_delay, 2.0 ** (over - 1.0)) if over > 0 else 0.0

    def attempt(self, key: str) -> float:
        """Seconds before ``key`` may try again, or 0.0 to go ahead now.

        Going ahead on a slowed-down key books the wait at once, so attempts sent in parallel
        cannot all slip through before the first of them fails.
        """
        s = self._keys.get(key)
        if s is None:
            return 0.0
        now = self._clock.monotonic()
        if s.next_at > now:
            return s.next_at - now
        s.next_at = now + self._delay(self._level(s, now))
        return 0.0

    def failed(self, key: str) -> None:
        """A wrong password for ``key``: count it and set the wait before the next attempt."""
        now = self._clock.monotonic()
        s = self._keys.get(key)
        if s is None:
            s = _Strikes(0.0, now, now)
            self._keys.put(key, s)
        s.level = self._level(s, now) + 1.0
        s.stamp = now
        s.next_at = now + self._delay(s.level)

    def succeeded(self, key: str) -> None:
        self._keys.pop(key)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._keys
