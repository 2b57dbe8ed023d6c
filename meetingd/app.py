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
from meetingd.api import health as health_api
from meetingd.api.context import MAX_BODY, SERVICES
from meetingd.api.middleware import request_context
from meetingd.api.routing import Routes, bearer_token, openapi
from meetingd.api.system import HEALTH_CHECK, METRICS, Metrics, add_system_routes
from meetingd.api.system import routes as system_routes
from meetingd.api.webapp import add_web_routes
from meetingd.clock import Clock, SystemClock
from meetingd.commands import COMMANDS
from meetingd.config import Config
from meetingd.domain import Principal
from meetingd.realtime.metrics import RealtimeCollector
from meetingd.realtime.server import RealtimeServer
from meetingd.services import Services
from meetingd.services.auth import AuthService, AuthSettings
from meetingd.services.directory import DirectoryService
from meetingd.services.floor import FloorService
from meetingd.services.health import HealthService
from meetingd.services.meetings import MeetingService
from meetingd.services.presence import PresenceService
from meetingd.services.rollcall import RollCallService
from meetingd.services.stream import StreamService
from meetingd.store import Store
from meetingd.store.db import create_engine
from meetingd.store.migrate import is_empty, upgrade

logger = logging.getLogger(__name__)

STORE = web.AppKey("store", Store)
CONFIG = web.AppKey("config", Config)

API_DESCRIPTION = (
    "meetingd control plane. Log in with POST /api/v1/auth/login (or /auth/device for a "
    "bridge point) and send the token as `Authorization: Bearer <token>`. Every error is "
    '`{"error": {"code", "message", "field"?}}`.'
)


def all_routes() -> Routes:
    """The system routes, then every command of the table that has a REST binding."""
    routes = Routes()
    routes.extend(system_routes)
    routes.commands(COMMANDS)
    return routes


def signing_key(config: Config) -> str:
    """The configured key, or one generated once and kept in the data dir."""
    if config.auth.signing_key:
        return config.auth.signing_key
    path = Path(config.server.data_dir) / "signing-key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
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
    auth = AuthService(
        store,
        clock,
        AuthSettings(
            signing_key=signing_key(config),
            token_ttl_seconds=a.token_ttl_seconds,
            device_token_ttl_seconds=a.device_token_ttl_seconds,
            login_attempts_per_minute_account=a.login_attempts_per_minute_account,
            login_attempts_per_minute_address=a.login_attempts_per_minute_address,
            argon2_time_cost=a.argon2_time_cost,
            argon2_memory_kib=a.argon2_memory_kib,
        ),
    )
    services = Services(
        auth=auth,
        directory=DirectoryService(store, clock, auth.passwords),
        meetings=MeetingService(store, clock),
        floor=FloorService(store, clock),
        presence=PresenceService(
            store, clock, offline_after_seconds=config.realtime.offline_after_seconds
        ),
        rollcall=RollCallService(store, clock),
        stream=StreamService(store),
        health=HealthService(store, clock),
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
    app[METRICS] = Metrics()
    app[METRICS].registry.register(health_api.MediaHealthCollector(parts.services.health))
    app[MAX_BODY] = config.server.max_body_bytes
    app[PARTS] = parts

    async def authenticate(request: web.Request) -> Principal:
        return await parts.services.auth.authenticate(bearer_token(request))

    routes = all_routes()
    routes.register(app, authenticate, config.server.max_json_depth)
    add_system_routes(
        app, openapi(routes, title="meetingd API", version=__version__, description=API_DESCRIPTION)
    )
    add_web_routes(app)  # the built front end (web/dist) at /, /chu-tri, /diem-cau, ...

    async def store_lifetime(app: web.Application) -> AsyncIterator[None]:
        if migrate and await is_empty(parts.store.engine):
            logger.info("empty database: creating the schema")
            await upgrade(parts.store.engine)
        yield
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
