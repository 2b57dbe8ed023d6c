"""Health, metrics, and the API's own documentation."""

from __future__ import annotations

import hmac
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text

from meetingd import __version__
from meetingd.api.routing import Call, Routes, bearer_token, json_response
from meetingd.errors import AuthenticationError
from meetingd.schemas import HealthOut
from meetingd.store import Store

routes = Routes()
STATIC = Path(__file__).resolve().parent.parent / "static"


class Metrics:
    """The app's Prometheus registries (one pair per app, so tests can build many apps).

    ``registry`` holds aggregates only and is served to anyone; ``detail`` holds the series
    that name meetings, participants and connections, served only to a scrape that carries
    ``token`` (``server.metrics_token``) as its bearer token. With no token, no one gets them.
    """

    def __init__(self, token: str = "") -> None:
        self.token = token
        self.registry = CollectorRegistry()
        self.detail = CollectorRegistry()
        self.requests = Counter(
            "meetingd_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "meetingd_http_request_seconds",
            "HTTP request handling time",
            ["route"],
            registry=self.registry,
        )


METRICS = web.AppKey("metrics", Metrics)
OPENAPI = web.AppKey("openapi", bytes)
HEALTH_CHECK = web.AppKey("health_check", Store)


@routes.route(
    "GET",
    "/healthz",
    summary="Liveness and database reachability",
    tag="system",
    response=HealthOut,
    auth=False,
)
async def healthz(call: Call[Any, Any]) -> HealthOut:
    """Answers 200 when the process serves and its database answers a query, 503
    (``unavailable``) while the database cannot be reached."""
    store = call.request.app[HEALTH_CHECK]
    async with store.reading() as uow:
        await uow.session.execute(text("SELECT 1"))
    return HealthOut(status="ok", database=store.dialect, version=__version__)


async def metrics(request: web.Request) -> web.Response:
    """Aggregates for anyone; with the metrics token as bearer, the per-connection series too."""
    m = request.app[METRICS]
    body = generate_latest(m.registry)
    if "Authorization" in request.headers:
        given = bearer_token(request)
        if not m.token:
            raise AuthenticationError(
                "detailed metrics are off on this server (server.metrics_token is not set)"
            )
        if not hmac.compare_digest(given.encode(), m.token.encode()):
            raise AuthenticationError("wrong metrics token")
        body += generate_latest(m.detail)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json", charset="utf-8")


async def docs(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "api-docs.html")


def add_system_routes(app: web.Application, openapi: dict[str, Any]) -> None:
    app[OPENAPI] = json.dumps(openapi, ensure_ascii=False, indent=1).encode()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs)


__all__ = ["HEALTH_CHECK", "METRICS", "Metrics", "add_system_routes", "json_response", "routes"]
