"""Token checks that come together are made together.

Every connection is authenticated when it opens and every command re-checks its caller
(at most ``RECHECK_SECONDS`` after the last check). One check is a transaction of a few
reads; in a join storm thousands arrive within seconds and, one transaction each, they
queued behind each other for seconds (SQLite runs one transaction at a time) until
connections timed out. :class:`TokenChecks` gathers the checks of a few milliseconds (and
those that arrive while a batch is being read) into one
:meth:`AuthService.authenticate_many`: each token is still checked in full (signature,
expiry, revocation, account or device, its stamp) and refused on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from meetingd.domain import Principal
from meetingd.errors import AuthenticationError, MeetingdError

logger = logging.getLogger(__name__)

#: How long the first check of a batch waits for others.
WINDOW = 0.002
#: Tokens checked in one transaction at most.
MAX_BATCH = 250

CheckMany = Callable[[Sequence[str]], Awaitable[list[Principal | AuthenticationError]]]


class TokenChecks:
    """Group commit of token checks (see the module's docstring)."""

    def __init__(
        self, check_many: CheckMany, *, window: float = WINDOW, max_batch: int = MAX_BATCH
    ) -> None:
        self._check_many = check_many
        self.window = window
        self._max_batch = max_batch
        self._queue: list[tuple[str, asyncio.Future[Principal]]] = []
        self._reader: asyncio.Task[None] | None = None
        #: Batches read and tokens in them (for tests and metrics).
        self.batches = 0
        self.checks = 0

    async def check(self, token: str) -> Principal:
        """The caller behind ``token`` as of now; raises its :class:`AuthenticationError`."""
        fut: asyncio.Future[Principal] = asyncio.get_running_loop().create_future()
        self._queue.append((token, fut))
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="token-checks")
        return await fut

    async def _read(self) -> None:
        batch: list[tuple[str, asyncio.Future[Principal]]] = []
        try:
            while self._queue:
                await asyncio.sleep(self.window)
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._answer(batch)
        finally:
            # No suspension since the last look at the queue: a check queued from now on
            # starts a new reader. Checks left waiting (a shutdown) are refused.
            self._reader = None
            for _, fut in [*batch, *self._queue]:
                if not fut.done():
                    fut.set_exception(MeetingdError("the server is stopping", code="gone"))
            self._queue.clear()

    async def _answer(self, batch: list[tuple[str, asyncio.Future[Principal]]]) -> None:
        live = [(t, f) for t, f in batch if not f.done()]
        if not live:
            return
        try:
            outcomes = await self._check_many([t for t, _ in live])
        except Exception as exc:
            for _, f in live:
                if not f.done():
                    f.set_exception(exc)
            return
        self.batches += 1
        self.checks += len(live)
        for (_, f), outcome in zip(live, outcomes, strict=True):
            if f.done():
                continue
            if isinstance(outcome, AuthenticationError):
                f.set_exception(outcome)
            else:
                f.set_result(outcome)

    async def close(self) -> None:
        """Stop the reader (at shutdown); checks still waiting are refused."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
