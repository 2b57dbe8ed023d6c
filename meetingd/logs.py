"""Logging with context: every line of a request carries its request id."""

from __future__ import annotations

import contextvars
import logging

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # At DEBUG these print SQL parameters, which would pair a secret ballot's voter with its
    # receipt hash in the log: never below WARNING, whatever the level asked for.
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg"):
        logging.getLogger(name).setLevel(logging.WARNING)
