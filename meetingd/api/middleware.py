"""Request ids, the one mapping of errors to responses, metrics, and security headers."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from meetingd.api.context import MAX_BODY
from meetingd.api.routing import json_response
from meetingd.api.system import METRICS
from meetingd.errors import MeetingdError, RateLimited
from meetingd.logs import request_id

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

_HTTP_CODES = {
    400: ("invalid_request", "the request is malformed"),
    404: ("not_found", "there is nothing at this address"),
    405: ("method_not_allowed", "this method is not allowed here"),
    413: ("payload_too_large", "the body is larger than the limit"),
}


def error_response(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    body: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return json_response({"error": body}, status=status)


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    rid = given if _SAFE_ID.match(given) else secrets.token_hex(8)
    token = request_id.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await _answer(request, handler)
        status = response.status
        response.headers["X-Request-Id"] = rid
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
    finally:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        metrics = request.app[METRICS]
        metrics.requests.labels(request.method, name, str(status)).inc()
        metrics.latency.labels(name).observe(time.perf_counter() - started)
        request_id.reset(token)


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except MeetingdError as exc:
        logger.info(
            "%s %s -> %s %s: %s", request.method, request.path, exc.status, exc.code, exc.message
        )
        resp = error_response(exc.status, exc.code, exc.message, exc.field)
        if isinstance(exc, RateLimited):
            resp.headers["Retry-After"] = str(int(exc.retry_after) + 1)
        return resp
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_CODES.get(exc.status, ("http_error", exc.reason))
        if exc.status == 413:
            message = f"the body is larger than {request.app[MAX_BODY]} bytes"
        resp = error_response(exc.status, code, message)
        if "Allow" in exc.headers:  # a 405 names the methods the resource has (RFC 9110)
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal", "an internal error occurred; it has been logged")
