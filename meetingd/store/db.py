"""Engine creation: SQLite (embedded default) or PostgreSQL, with the settings each needs."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

logger = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


#: Execution option of the engine :meth:`Store.reading` opens its sessions on.
READ_ONLY = "meetingd_read_only"


def create_engine(
    url: str, *, password: str = "", pool_size: int = 10, echo: bool = False
) -> AsyncEngine:
    """Create the async engine for ``url``.

    SQLite gets WAL, foreign keys, a busy timeout and ``BEGIN IMMEDIATE`` transactions
    (a writer takes its lock at the start, so two writers never deadlock on upgrade).
    """
    sa_url = make_url(url)
    if password and sa_url.get_backend_name() == "postgresql":
        sa_url = sa_url.set(password=password)
    kwargs: dict[str, Any] = {"echo": echo}
    if sa_url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_size"] = pool_size
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(sa_url, **kwargs)
    if sa_url.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A reader takes no lock before it reads: in WAL mode it reads the last commit
        # beside the one writer instead of queueing behind it.
        reader = conn.get_execution_options().get(READ_ONLY)
        conn.exec_driver_sql("BEGIN DEFERRED" if reader else "BEGIN IMMEDIATE")
