"""Token-bucket rate limiting keyed by a string (account, address, connection)."""

from __future__ import annotations

from dataclasses import dataclass

from meetingd.clock import Clock


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """``rate`` tokens per second refilled up to ``burst``; each attempt takes one.

    State is per process: with several processes each applies its own limit, which
    bounds an attacker to N times the rate (acceptable for login; noted in the README).
    """

    def __init__(self, clock: Clock, *, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Take a token; return 0.0 when allowed, else the seconds to wait."""
        now = self._clock.monotonic()
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self._max_keys:
                self._evict(now)
            b = self._buckets[key] = _Bucket(self._burst, now)
        else:
            b.tokens = min(self._burst, b.tokens + (now - b.stamp) * self._rate)
            b.stamp = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self._rate

    def reset(self, key: str) -> None:
        self._buckets.pop(key, None)

    def _evict(self, now: float) -> None:
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.stamp) * self._rate >= self._burst
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()
