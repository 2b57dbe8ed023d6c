"""A whole meeting in real headless Chromium against the real server on loopback.

The chair logs in and starts the meeting; three bridge-point screens enter with their device
credentials and publish video (the chair's grid decodes them); a delegate asks for the floor
and gets it (the others hear it), the chair mutes it (they stop hearing it); the server process
is restarted mid-meeting on the same port and database and every screen recovers without a
reload; the chair ends the meeting. Each view is checked with axe-core and photographed into
docs/screenshots/.

One browser for the test, one context per participant (fake camera and microphone).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from meetingd.api.webapp import DEFAULT_DIST
from meetingd.app import PARTS, create_app
from meetingd.config import AuthConfig, Config, DatabaseConfig, RealtimeConfig, ServerConfig
from tests.conftest import PASSWORD, TEST_KEY, World, seed_world, skip_or_fail

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SHOTS = ROOT / "docs" / "screenshots"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]

# -- what the pages are asked (window.meetingd.screen is the view's Screen) -----------------

#: framesDecoded per subject shown on a video slot of this page's peer connection.
VIDEO_FRAMES = """async () => {
  const m = window.meetingd.screen.media;
  if (!m || !m.pc || !m.layout) return {};
  const byMid = {};
  (await m.pc.getStats()).forEach(r => {
    if (r.type === "inbound-rtp" && r.kind === "video") byMid[r.mid] = r.framesDecoded || 0;
  });
  const out = {};
  for (const s of m.layout.video)
    if (s.subject && s.mid !== null) out[s.subject] = byMid[s.mid] || 0;
  return out;
}"""

#: [audioLevel, packetsReceived] of the audio slot that carries `subject`, or null.
AUDIO_OF = """async (subject) => {
  const m = window.meetingd.screen.media;
  if (!m || !m.pc || !m.layout) return null;
  const slot = m.layout.audio.find(s => s.subject === subject && s.mid !== null);
  if (!slot) return null;
  let out = null;
  (await m.pc.getStats()).forEach(r => {
    if (r.type === "inbound-rtp" && r.kind === "audio" && r.mid === slot.mid)
      out = [r.audioLevel || 0, r.packetsReceived || 0];
  });
  return out;
}"""

STATE = "() => window.meetingd.screen.live?.state?.meeting.state ?? null"


def state_is(state: str) -> str:
    """A page function: does the screen show the meeting in ``state``?"""
    return f"() => (window.meetingd.screen.live?.state?.meeting.state ?? null) === {state!r}"


SEQ = "() => window.meetingd.screen.live?.seq ?? -1"
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => v.id + ": " + v.help + " (" + v.nodes.length + ")");
}"""


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


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    config = Config(
        server=ServerConfig(data_dir=tmp_path / "data", public_url="http://127.0.0.1"),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'meetingd.sqlite3'}"),
        auth=AuthConfig(signing_key=TEST_KEY, argon2_time_cost=1, argon2_memory_kib=8),
        realtime=RealtimeConfig(
            ping_interval=1.0, ping_timeout=2.0, commands_per_second=10_000, command_burst=100_000
        ),
    )
    assert config.media.listen_ips == ("127.0.0.1",)
    s = Server(config)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (a stat, once)
        skip_or_fail("Debian's chromium is not installed (apt-get install -y chromium)")
    import playwright.async_api as playwright_api

    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def seed(server: Server) -> tuple[World, int]:
    """The seeded world plus a third bridge point (bp4, commune C2) invited to its meeting."""
    assert server.app is not None
    parts = server.app[PARTS]
    world = await seed_world(parts)
    new = await parts.services.directory.create_bridge_point(
        None, unit_id=world.units["C2"], name="Điểm cầu xã Hoằng Châu 2"
    )
    world.bridge_points["bp4"] = new.bridge_point.id
    world.credentials["bp4"] = new.credential
    chair = await parts.services.auth.authenticate(world.tokens["chair"])
    await parts.services.meetings.invite_bridge_points(
        chair, world.meeting_id, [new.bridge_point.id]
    )
    return world, new.bridge_point.id


async def check_axe(page: Any, view: str) -> None:
    await page.add_script_tag(path=str(AXE))
    serious = await page.evaluate(AXE_RUN)
    assert serious == [], f"{view}: axe-core found serious violations: {serious}"


async def open_page(browser: Any, url: str, size: tuple[int, int]) -> tuple[Any, Any]:
    context = await browser.new_context(
        viewport={"width": size[0], "height": size[1]}, locale="vi-VN"
    )
    context.set_default_timeout(15_000)
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


@pytest.mark.timeout(170)
async def test_a_meeting_in_the_browser(server: Server, browser: Any) -> None:
    ensure_built()
    SHOTS.mkdir(parents=True, exist_ok=True)
    world, _bp4 = await seed(server)
    delegate_subject = f"user:{world.users['delegate']}"
    bps = ["bp1", "bp2", "bp4"]
    bp_subjects = [f"bridge_point:{world.bridge_points[b]}" for b in bps]
    contexts: list[Any] = []
    try:
        # -- the home page and the chair's login -----------------------------------------------
        ctx, home = await open_page(browser, server.url + "/", (1280, 800))
        contexts.append(ctx)
        await home.wait_for_selector("a[href='/chu-tri']")
        await check_axe(home, "home")

        ctx, chair = await open_page(browser, server.url + "/chu-tri", (1600, 1000))
        contexts.append(ctx)
        await chair.fill("input[name=login]", "chair")
        await check_axe(chair, "chair login")
        await chair.fill("input[name=password]", PASSWORD)
        await chair.click("button[type=submit]")
        await chair.wait_for_selector("[data-ready]")
        await chair.click("button[data-verb=open]")
        await chair.click("button[data-verb=start]")
        await until(lambda: chair.evaluate(state_is("live")), "the meeting to go live")
        assert await chair.evaluate(STATE) == "live"

        # -- three bridge points enter with their device credentials -------------------------
        screens: dict[str, Any] = {}
        for name in bps:
            ctx, page = await open_page(browser, server.url + "/diem-cau", (1920, 1080))
            contexts.append(ctx)
            await page.fill("input[name=credential]", world.credentials[name])
            if name == "bp1":
                await check_axe(page, "bridge point login")
            await page.click("button[type=submit]")
            screens[name] = page
        for name, page in screens.items():
            await until(
                lambda page=page: page.evaluate(state_is("live")),
                f"{name} to follow the meeting",
            )

        async def grid_frames() -> dict[str, int]:
            frames: dict[str, int] = await chair.evaluate(VIDEO_FRAMES)
            return frames

        async def thumbnails_live(what: str) -> None:
            first = await until(
                lambda: _all_positive(grid_frames(), bp_subjects), f"{what}: thumbnails decoding"
            )
            await until(
                lambda: _all_above(grid_frames(), first), f"{what}: thumbnail frames increasing"
            )
            for subject in bp_subjects:
                await chair.wait_for_selector(f"li.tile[data-subject='{subject}'] video")

        await thumbnails_live("first join")
        # a kept token: a reload of the kiosk enters by itself, no credential asked
        await screens["bp1"].reload(wait_until="domcontentloaded")
        await until(lambda: screens["bp1"].evaluate(state_is("live")), "bp1 back by itself")

        # -- a delegate asks for the floor and gets it --------------------------------------
        ctx, delegate = await open_page(browser, server.url + "/dai-bieu", (1280, 800))
        contexts.append(ctx)
        await delegate.fill("input[name=login]", "delegate")
        await delegate.fill("input[name=password]", PASSWORD)
        await delegate.click("button[type=submit]")
        await delegate.click("button[data-action=request]")
        grant = (
            f"[data-list=requests] li[data-subject='{delegate_subject}'] button[data-action=grant]"
        )
        await chair.click(grant)
        await delegate.wait_for_selector("[role=timer]")

        async def heard(page: Any) -> bool:
            level = await page.evaluate(AUDIO_OF, delegate_subject)
            return bool(level and level[0] > 0)

        listeners = [screens["bp2"], screens["bp4"], chair]
        for n, page in enumerate(listeners):
            await until(lambda page=page: heard(page), f"listener {n} hearing the delegate")

        await chair.screenshot(path=str(SHOTS / "chu-tri.png"))
        await screens["bp2"].screenshot(path=str(SHOTS / "diem-cau.png"))
        await delegate.screenshot(path=str(SHOTS / "dai-bieu.png"))
        await check_axe(chair, "chair console")
        await check_axe(screens["bp2"], "bridge point screen")
        await check_axe(delegate, "delegate view")

        # -- the chair mutes the delegate: the audio stops reaching the others ----------------
        await chair.click(
            f"[data-list=speaking] li[data-subject='{delegate_subject}'] button[data-action=mute]"
        )

        async def silent(page: Any) -> bool:
            before = await page.evaluate(AUDIO_OF, delegate_subject)
            await asyncio.sleep(1.0)
            after = await page.evaluate(AUDIO_OF, delegate_subject)
            return after is None or (before is not None and after[1] == before[1] and after[0] == 0)

        for n, page in enumerate(listeners[:2]):
            await until(lambda page=page: silent(page), f"listener {n}: the delegate muted")

        # -- the operator's view ------------------------------------------------------------
        ctx, operator = await open_page(browser, server.url + "/ky-thuat", (1440, 900))
        contexts.append(ctx)
        await operator.fill("input[name=login]", "operator")
        await operator.fill("input[name=password]", PASSWORD)
        await operator.click("button[type=submit]")
        await operator.wait_for_selector(f"tr[data-subject='{bp_subjects[0]}'] svg")
        await operator.screenshot(path=str(SHOTS / "ky-thuat.png"))
        await check_axe(operator, "operator view")

        # -- the server restarts mid-meeting; every screen recovers without a reload ---------
        pages = [chair, delegate, *screens.values()]
        for page in pages:
            await page.evaluate("() => { window.__sameDocument = true; }")
        seqs = [await page.evaluate(SEQ) for page in pages]
        await server.restart()
        await chair.wait_for_selector("[data-conn=reconnecting]", timeout=10_000)
        await chair.screenshot(path=str(SHOTS / "chu-tri-reconnecting.png"))
        await until(
            lambda: chair.evaluate("() => window.meetingd.screen.socket?.state === 'online'"),
            "the chair back online",
        )
        await chair.click("button[data-verb=pause]")
        for page in pages:
            await until(
                lambda page=page: page.evaluate(state_is("paused")), "pause seen after restart"
            )
        await chair.click("button[data-verb=resume]")
        for n, page in enumerate(pages):
            await until(lambda page=page: page.evaluate(state_is("live")), "resume seen")
            assert await page.evaluate("() => window.__sameDocument === true"), f"page {n} reloaded"
            assert await page.evaluate(SEQ) >= seqs[n] + 2
        await thumbnails_live("after the restart")

        # -- the chair ends the meeting -----------------------------------------------------
        await chair.click("button[data-verb=end]")
        for page in pages:
            await until(lambda page=page: page.evaluate(state_is("ended")), "the meeting ended")
        await screens["bp1"].wait_for_selector("[data-big=ended]")
        await screens["bp1"].screenshot(path=str(SHOTS / "diem-cau-ended.png"))
    finally:
        for ctx in contexts:
            await ctx.close()


async def _all_positive(frames: Awaitable[dict[str, int]], subjects: list[str]) -> dict[str, int]:
    got = await frames
    return got if all(got.get(s, 0) > 0 for s in subjects) else {}


async def _all_above(frames: Awaitable[dict[str, int]], first: dict[str, int]) -> bool:
    got = await frames
    return all(got.get(s, 0) > n for s, n in first.items() if s.startswith("bridge_point:"))
