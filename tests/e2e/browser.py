"""What the browser tests share: the server on loopback, a page per participant, logins,
waiting, axe-core and the built front end (Chromium and its flags: tests/chromium.py).

The fixtures built on these (``server``, ``browser``) are in ``tests/e2e/conftest.py``. One
browser per test, one context per participant (fake camera and microphone; camera and
microphone allowed per context, so one context can be refused them).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from meetingd.api.reading import serve_reading
from meetingd.api.webapp import DEFAULT_DIST
from meetingd.app import create_app
from meetingd.config import Config
from tests.conftest import PASSWORD, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SHOTS = ROOT / "docs" / "screenshots"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => v.id + ": " + v.help + " (" + v.nodes.length + ")");
}"""


def state_is(state: str) -> str:
    """A page function: does the screen show the meeting in ``state``?"""
    return f"() => (window.meetingd.screen.live?.state?.meeting.state ?? null) === {state!r}"


async def until(
    check: Callable[[], Awaitable[Any]], what: str, within: float = 20.0, every: float = 0.25
) -> Any:
    """Poll ``check`` until it answers something truthy; fail naming ``what``."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def ensure_built() -> Path:
    """web/dist, built now when it is missing or older than a source file."""
    index = DEFAULT_DIST / "index.html"
    sources = [p for p in (WEB / "src").rglob("*") if p.is_file()] + list(WEB.glob("*.html"))
    newest = max(p.stat().st_mtime for p in sources)
    if index.exists() and index.stat().st_mtime >= newest:
        return DEFAULT_DIST
    vite = WEB / "node_modules" / ".bin" / "vite"
    if not vite.exists() or shutil.which("node") is None:
        skip_or_fail("web/dist is not built and Node.js or web/node_modules is missing")
    subprocess.run([str(vite), "build", "--logLevel", "warn"], cwd=WEB, check=True, timeout=120)
    return DEFAULT_DIST


@dataclass
class Server:
    """The meetingd app on a fixed loopback port; ``restart`` replaces the process's app."""

    config: Config
    port: int = 0
    server: TestServer | None = None
    app: web.Application | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.app = create_app(self.config, migrate=True)
        serve_reading(self.app, self.config)  # as `meetingd serve` does (documents.read_listen)
        self.server = TestServer(self.app, host="127.0.0.1", port=self.port)
        await self.server.start_server()
        self.port = self.server.port or 0

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


async def check_axe(page: Any, view: str) -> None:
    await page.add_script_tag(path=str(AXE))
    serious = await page.evaluate(AXE_RUN)
    assert serious == [], f"{view}: axe-core found serious violations: {serious}"


async def open_page(
    browser: Any, url: str, size: tuple[int, int], devices: bool = True, init_script: str = ""
) -> tuple[Any, Any]:
    """A context of its own (its own storage) at ``url``; ``devices=False``: the camera and
    microphone are refused, as when the user said no; ``init_script`` runs in every page of
    the context before the page's own scripts."""
    context = await browser.new_context(
        viewport={"width": size[0], "height": size[1]},
        locale="vi-VN",
        permissions=["camera", "microphone"] if devices else [],
    )
    context.set_default_timeout(15_000)
    if init_script:
        await context.add_init_script(init_script)
    page = await context.new_page()
    page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
    page.on("pageerror", lambda exc: print(f"{url}: page error: {exc}"))
    page.on(
        "console",
        lambda m: (
            print(f"{url}: console {m.type}: {m.text}") if m.type in ("error", "warning") else None
        ),
    )
    await page.goto(url, wait_until="domcontentloaded")
    return context, page


async def login(
    browser: Any,
    url: str,
    who: str,
    size: tuple[int, int],
    devices: bool = True,
    timeout_ms: float | None = None,
) -> tuple[Any, Any]:
    """:func:`open_page` at ``url``, then log in as ``who`` (the seeded password);
    ``timeout_ms``: the context's element waits from then on."""
    ctx, page = await open_page(browser, url, size, devices=devices)
    if timeout_ms is not None:
        ctx.set_default_timeout(timeout_ms)
    await page.fill("input[name=login]", who)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    return ctx, page
