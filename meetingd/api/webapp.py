"""The built front end (``web/dist``): the four views and their hashed assets.

Vite writes one HTML page per view and content-hashed JS/CSS under ``assets/``; a hashed file
never changes, so it is cached for a year (``immutable``), while the pages are ``no-cache`` so
a new release is picked up at the next load. A ``.gz`` written beside each file by the build is
sent to clients that accept gzip (aiohttp's :class:`~aiohttp.web.FileResponse` does that).

The directory is looked at on every request, so building after the server started is enough;
without a build the pages answer a short explanation instead of a 404.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

logger = logging.getLogger(__name__)

#: ``web/dist`` beside the package: where ``make web-build`` puts the front end.
DEFAULT_DIST = Path(__file__).resolve().parent.parent.parent / "web" / "dist"

#: The views' addresses and their pages; ``/`` lists the views.
VIEWS: dict[str, str] = {
    "/": "index.html",
    "/chu-tri": "chu-tri.html",
    "/diem-cau": "diem-cau.html",
    "/dai-bieu": "dai-bieu.html",
    "/ky-thuat": "ky-thuat.html",
}

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"

WEB_DIST = web.AppKey("web_dist", Path)

NOT_BUILT = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>meetingd</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>Giao diện chưa được build: chạy <code>make run</code></h1>
<p>The front end has not been built: run <code>make run</code> (or <code>make web-build</code>),
or copy a release's <code>web/dist</code> to <code>{dist}</code>.</p>
</body></html>
"""


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def page(request: web.Request) -> web.StreamResponse:
        path = request.app[WEB_DIST] / name
        if not path.is_file():
            return web.Response(
                text=NOT_BUILT.format(dist=request.app[WEB_DIST]),
                content_type="text/html",
                status=503,
                headers={"Cache-Control": NO_CACHE},
            )
        return web.FileResponse(path, headers={"Cache-Control": NO_CACHE})

    return page


#: pdf.js's data files the build copies from pdfjs-dist (the reader's fonts and CMaps).
PDFJS_KINDS = frozenset({"cmaps", "standard_fonts"})


async def _pdfjs_data(request: web.Request) -> web.StreamResponse:
    """``/pdfjs/<version>/cmaps/<name>`` and ``.../standard_fonts/<name>``: the version in
    the path names the bytes, so they are cached like the hashed assets."""
    kind, version = request.match_info["kind"], request.match_info["version"]
    root = (request.app[WEB_DIST] / "pdfjs").resolve()
    path = (root / version / kind / request.match_info["name"]).resolve()
    if kind not in PDFJS_KINDS or path.parent.parent.parent != root or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": IMMUTABLE})


async def _asset(request: web.Request) -> web.StreamResponse:
    root = (request.app[WEB_DIST] / "assets").resolve()
    name = request.match_info["name"]
    path = (root / name).resolve()
    if path.parent != root or not path.is_file() or name.endswith(".gz"):
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": IMMUTABLE})


def add_web_routes(app: web.Application, dist: Path = DEFAULT_DIST) -> None:
    """Serve the built views at ``/``, ``/chu-tri``, ``/diem-cau``, ``/dai-bieu``, ``/ky-thuat``."""
    app[WEB_DIST] = dist
    for route, name in VIEWS.items():
        app.router.add_get(route, _page(name), name=f"web:{name}")
        if route != "/":
            app.router.add_get(route + "/", _page(name))
    app.router.add_get("/assets/{name}", _asset, name="web:asset")
    app.router.add_get("/pdfjs/{version}/{kind}/{name}", _pdfjs_data, name="web:pdfjs")
    if not (dist / "index.html").is_file():
        logger.warning("the front end is not built (%s is missing): run make run", dist)
