"""Typed access to what the app factory put on the application."""

from __future__ import annotations

from aiohttp import web

from meetingd.services import Services

SERVICES = web.AppKey("services", Services)
TRUST_FORWARDED = web.AppKey("trust_forwarded", bool)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def client_address(request: web.Request) -> str:
    if request.app.get(TRUST_FORWARDED, False):
        fwd = request.headers.get("X-Forwarded-For", "")
        if fwd:
            return fwd.split(",")[0].strip()
    return request.remote or "unknown"


MAX_BODY = web.AppKey("max_body_bytes", int)
