"""The application factory: the only place where the parts are wired together."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from media import MediaConfig, MediaPlane
from meetingd import __version__
from meetingd.api import documents as documents_api
from meetingd.api import health as health_api
from meetingd.api import minutes as minutes_api
from meetingd.api import reports as reports_api
from meetingd.api.context import MAX_BODY, SERVICES, TRUSTED_PROXIES, proxy_networks
from meetingd.api.middleware import request_context
from meetingd.api.routing import Routes, bearer_token, openapi
from meetingd.api.system import HEALTH_CHECK, METRICS, Metrics, add_system_routes
from meetingd.api.system import routes as system_routes
from meetingd.api.webapp import DEFAULT_DIST, add_web_routes
from meetingd.clock import Clock, SystemClock
from meetingd.commands import COMMANDS
from meetingd.config import Config, ConfigError
from meetingd.domain import Principal
from meetingd.realtime.metrics import RealtimeCollector
from meetingd.realtime.server import RealtimeServer
from meetingd.services import Services
from meetingd.services.auth import AuthService, AuthSettings
from meetingd.services.directory import DirectoryService
from meetingd.services.documents import build_documents
from meetingd.services.floor import FloorService
from meetingd.services.health import HealthService
from meetingd.services.meetings import MeetingService
from meetingd.services.minutes import MinutesService
from meetingd.services.presence import PresenceService
from meetingd.services.recording import RecordingService
from meetingd.services.reports import ReportService
from meetingd.services.rollcall import RollCallService
from meetingd.services.stream import StreamService
from meetingd.services.votes import VoteService
from meetingd.store import Store
from meetingd.store.db import create_engine
from meetingd.store.migrate import prepare

logger = logging.getLogger(__name__)

STORE = web.AppKey("store", Store)
CONFIG = web.AppKey("config", Config)

API_DESCRIPTION = (
    "meetingd control plane. Log in with POST /api/v1/auth/login (or /auth/device for a "
    "bridge point) and send the token as `Authorization: Bearer <token>`. Every error is "
    '`{"error": {"code", "message", "field"?}}`.'
)


def all_routes() -> Routes:
    """The system routes, the document byte routes (upload, file, thumbnail, report), then
    every command of the table that has a REST binding."""
    routes = Routes()
    routes.extend(system_routes)
    routes.extend(documents_api.routes)
    routes.extend(minutes_api.routes)
    routes.extend(reports_api.routes)
    routes.commands(COMMANDS)
    return routes


#: Shortest signing key accepted, configured or read back from the data dir.
MIN_SIGNING_KEY_CHARS = 32


def signing_key(config: Config) -> str:
    """The configured key, or one generated once and kept in ``data_dir/signing-key``.

    The file is written whole or not at all (a temporary file, fsync, link into place, mode
    0600), so a crash while writing never leaves an empty or partial key; one found empty or
    short (written by hand, or truncated) stops the server with a line saying what to do rather
    than signing tokens with a guessable key.
    """
    if config.auth.signing_key:
        return config.auth.signing_key
    path = Path(config.server.data_dir) / "signing-key"
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if len(key) < MIN_SIGNING_KEY_CHARS:
            raise ConfigError(
                "auth.signing_key",
                f"{path} holds {'no key' if not key else f'a {len(key)}-character key'}; it "
                f"needs at least {MIN_SIGNING_KEY_CHARS} characters: delete the file to have a "
                "new key generated (everyone is signed out) or set auth.signing_key",
            )
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_name(f".signing-key.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # like a rename, but never over a key another process wrote
        except FileExistsError:
            return signing_key(config)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the new name itself survives a crash
    finally:
        os.close(dir_fd)
    logger.info("generated a signing key in %s", path)
    return key


@dataclass(frozen=True)
class Parts:
    """Everything the factory built; tests reach the services through it."""

    config: Config
    clock: Clock
    store: Store
    services: Services


def build(config: Config, clock: Clock | None = None) -> Parts:
    clock = clock or SystemClock()
    engine = create_engine(
        config.database.url,
        password=config.database.password,
        pool_size=config.database.pool_size,
        echo=config.database.echo,
    )
    store = Store(engine, clock, event_log_size=config.realtime.event_log_size)
    a = config.auth
    key = signing_key(config)
    auth = AuthService(
        store,
        clock,
        AuthSettings(
            signing_key=key,
            token_ttl_seconds=a.token_ttl_seconds,
            device_token_ttl_seconds=a.device_token_ttl_seconds,
            login_attempts_per_minute_account=a.login_attempts_per_minute_account,
            login_attempts_per_minute_address=a.login_attempts_per_minute_address,
            login_max_delay_seconds=a.login_max_delay_seconds,
            login_tracked_keys=a.login_tracked_keys,
            argon2_time_cost=a.argon2_time_cost,
            argon2_memory_kib=a.argon2_memory_kib,
        ),
    )
    votes = VoteService(store, clock)
    documents = build_documents(config, store, clock, key)
    services = Services(
        auth=auth,
        directory=DirectoryService(store, clock, auth.passwords),
        meetings=MeetingService(store, clock, votes),
        floor=FloorService(store, clock),
        presence=PresenceService(
            store, clock, offline_after_seconds=config.realtime.offline_after_seconds
        ),
        rollcall=RollCallService(store, clock),
        stream=StreamService(store),
        health=HealthService(store, clock),
        votes=votes,
        minutes=MinutesService(store, clock, config),
        reports=ReportService(store),
        recording=RecordingService(
            store, clock, Path(config.server.data_dir) / "recordings", documents
        ),
        documents=documents,
    )
    return Parts(config=config, clock=clock, store=store, services=services)


def media_plane(config: Config) -> MediaPlane:
    """This process's SFU, on the addresses and ICE servers of the ``media`` section."""
    m = config.media
    return MediaPlane(
        MediaConfig(
            listen_ips=m.listen_ips,
            announced_ip=m.announced_ip or None,
            ice_servers=m.ice_servers,
            turn_urls=m.turn_urls,
            turn_secret=m.turn_secret or None,
            turn_ttl=m.turn_ttl_seconds,
            video_page_size=m.video_page_size,
            stats_interval=m.stats_interval_seconds,
        )
    )


def create_app(
    config: Config, *, clock: Clock | None = None, migrate: bool = True
) -> web.Application:
    """The aiohttp application for ``config``: REST API, socket.io, docs, health, metrics."""
    parts = build(config, clock)
    app = web.Application(
        middlewares=[request_context], client_max_size=config.server.max_body_bytes
    )
    app[CONFIG] = config
    app[STORE] = parts.store
    app[SERVICES] = parts.services
    app[HEALTH_CHECK] = parts.store
    app[METRICS] = Metrics(token=config.server.metrics_token)
    app[METRICS].registry.register(health_api.MediaHealthCollector(parts.services.health))
    app[METRICS].detail.register(health_api.MediaHealthDetailCollector(parts.services.health))
    app[TRUSTED_PROXIES] = proxy_networks(config.server.trusted_proxies)
    app[MAX_BODY] = config.server.max_body_bytes
    app[PARTS] = parts

    async def authenticate(request: web.Request) -> Principal:
        return await parts.services.auth.authenticate(bearer_token(request))

    routes = all_routes()
    routes.register(app, authenticate, config.server.max_json_depth)
    add_system_routes(
        app, openapi(routes, title="meetingd API", version=__version__, description=API_DESCRIPTION)
    )
    # The built front end at /, /chu-tri, /diem-cau, ...
    add_web_routes(app, Path(config.server.web_dir) if config.server.web_dir else DEFAULT_DIST)

    async def store_lifetime(app: web.Application) -> AsyncIterator[None]:
        # An empty database is created; one at an older revision refused or migrated.
        try:
            await prepare(
                parts.store.engine, create=migrate, auto_migrate=config.database.auto_migrate
            )
        except BaseException:
            await parts.store.close()
            raise
        yield
        parts.services.documents.close()
        await parts.store.close()

    app.cleanup_ctx.append(store_lifetime)
    realtime = RealtimeServer(
        config, parts.services, parts.store, parts.clock, media=media_plane(config)
    )
    realtime.attach(app)  # socket.io at /socket.io; started after the store, stopped before
    app[REALTIME] = realtime
    app[METRICS].registry.register(RealtimeCollector(realtime))
    return app


PARTS = web.AppKey("parts", Parts)
REALTIME = web.AppKey("realtime", RealtimeServer)
