"""A backing service that cannot be reached (the database, Redis), said once each way.

While PostgreSQL or Redis is away every attempt to use it fails, many times a second (the
commands, the heartbeat, the heal tick). The log says when it went, what that means for the
meeting, and when it is back, how long it was away and how many attempts failed meanwhile,
instead of one warning or traceback per attempt.
"""

from __future__ import annotations

import logging
import time


class Outage:
    """Whether ``service`` answers, as the last attempt found it."""

    def __init__(self, service: str, meanwhile: str, logger: logging.Logger) -> None:
        self.service = service
        self._meanwhile = meanwhile
        self._logger = logger
        #: Monotonic time of the first failure of the current outage; None while it answers.
        self.away_since: float | None = None
        #: Attempts failed in the current (or the last) outage.
        self.failures = 0

    @property
    def up(self) -> bool:
        return self.away_since is None

    def failed(self, exc: BaseException) -> None:
        """An attempt could not reach the service."""
        self.failures += 1
        if self.away_since is not None:
            return
        self.away_since = time.monotonic()
        self.failures = 1
        said = str(exc).strip().splitlines()
        self._logger.warning(
            "%s cannot be reached (%s: %s); %s", self.service, type(exc).__name__,
            said[0] if said else "", self._meanwhile,
        )  # fmt: skip

    def answered(self, began: float) -> None:
        """An attempt begun at ``began`` (monotonic) reached the service. One begun before
        the outage was seen says nothing of now: it may have done its work just before.
        Cheap when the service was not away: one comparison."""
        if self.away_since is None or began < self.away_since:
            return
        away = time.monotonic() - self.away_since
        self.away_since = None
        self._logger.warning(
            "%s is reachable again after %.1f s (%d attempts failed meanwhile)",
            self.service, away, self.failures,
        )  # fmt: skip
