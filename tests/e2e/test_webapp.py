"""meetingd serves the built front end: the views' pages, hashed assets, caching headers."""

from __future__ import annotations

import gzip
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meetingd.api.webapp import IMMUTABLE, NO_CACHE, add_web_routes


def dist(tmp_path: Path) -> Path:
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    for page in ("index", "chu-tri", "diem-cau", "dai-bieu", "ky-thuat"):
        (d / f"{page}.html").write_text(f"<!doctype html><title>{page}</title>")
    (d / "assets" / "chu-tri-AbC123.js").write_text("console.log('chair')")
    (d / "assets" / "chu-tri-AbC123.js.gz").write_bytes(gzip.compress(b"console.log('chair')"))
    return d


async def serve(path: Path) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    add_web_routes(app, path)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def test_views_are_served_no_cache(tmp_path: Path) -> None:
    client = await serve(dist(tmp_path))
    try:
        for route, page in (
            ("/", "index"),
            ("/chu-tri", "chu-tri"),
            ("/diem-cau", "diem-cau"),
            ("/dai-bieu/", "dai-bieu"),
            ("/ky-thuat", "ky-thuat"),
        ):
            r = await client.get(route)
            assert r.status == 200, route
            assert r.headers["Cache-Control"] == NO_CACHE
            assert f"<title>{page}</title>" in await r.text()
    finally:
        await client.close()


async def test_hashed_assets_are_immutable_and_gzipped(tmp_path: Path) -> None:
    client = await serve(dist(tmp_path))
    try:
        r = await client.get("/assets/chu-tri-AbC123.js", headers={"Accept-Encoding": "gzip"})
        assert r.status == 200
        assert r.headers["Cache-Control"] == IMMUTABLE
        assert r.headers.get("Content-Encoding") == "gzip"
        assert await r.text() == "console.log('chair')"
        for bad in (
            "/assets/missing.js",
            "/assets/..%2Fchu-tri.html",
            "/assets/chu-tri-AbC123.js.gz",
        ):
            assert (await client.get(bad)).status == 404, bad
    finally:
        await client.close()


async def test_a_missing_build_says_what_to_do(tmp_path: Path) -> None:
    client = await serve(tmp_path / "nothing")
    try:
        r = await client.get("/chu-tri")
        assert r.status == 503
        assert "Giao diện chưa được build: chạy <code>make run</code>" in await r.text()
    finally:
        await client.close()
