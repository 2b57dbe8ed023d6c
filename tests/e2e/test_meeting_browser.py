"""A whole meeting in real headless Chromium against the real server on loopback.

The chair logs in and starts the meeting; three bridge-point screens enter with their device
credentials and publish video (the chair's grid decodes them); the secretary's console, whose
browser refuses the camera, says so and still receives; a delegate asks for the floor and gets
it with a 60 s limit (every screen counts down), the others hear it, the chair mutes it (they
stop hearing it); the chair reorders the queue with the keyboard; a bridge point gets 10 s
(every screen warns, the server takes the floor back) while another one's network is off for
10 s (it recovers with every event); the server process is restarted mid-meeting on the same
port and database and every screen recovers without a reload; the chair ends the meeting.

A second test: the operator's wrong password, then a test call with a bridge point (each side
decodes and hears the other, both see the link figures), a second tab of the same kiosk on
standby, and a credential reset whose QR-code URL logs the kiosk in again.

Each view is checked with axe-core and photographed into docs/screenshots/. One browser per
test, one context per participant (fake camera and microphone; camera and microphone allowed
per context, so one context can be refused them).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from meetingd.app import PARTS
from tests.conftest import PASSWORD, World, seed_world
from tests.e2e.browser import (
    SHOTS,
    Server,
    check_axe,
    ensure_built,
    login,
    open_page,
    state_is,
    until,
)

pytestmark = pytest.mark.browser

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


SEQ = "() => window.meetingd.screen.live?.seq ?? -1"
#: the floor as this screen holds it: "subject=state", holders first, then the queue in order
FLOOR = (
    "() => (window.meetingd.screen.live?.state?.floor ?? []).map(e => e.subject + '=' + e.state)"
)
#: [data-timer, text] of every speaking timer shown for `subject`
TIMERS = """(subject) => [...document.querySelectorAll(`[role=timer][data-subject="${subject}"]`)]
  .map(e => [e.dataset.timer, e.textContent])"""
CONN = "() => window.meetingd.screen.socket?.state ?? null"
COUNTDOWN = re.compile(r"^Còn (\d+):(\d\d)$")


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


@pytest.mark.timeout(150)
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
        kiosk_ctx: dict[str, Any] = {}
        for name in bps:
            ctx, page = await open_page(browser, server.url + "/diem-cau", (1920, 1080))
            contexts.append(ctx)
            kiosk_ctx[name] = ctx
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

        # -- the secretary's browser refuses the camera: said in Vietnamese, still receiving ---
        ctx, secretary = await login(
            browser, server.url + "/chu-tri", "secretary", (1280, 800), devices=False
        )
        contexts.append(ctx)
        notice = secretary.locator("[data-device=denied]")
        await notice.wait_for()
        assert "không cho phép dùng camera và micrô" in await notice.inner_text()
        await until(
            lambda: _any_positive(secretary.evaluate(VIDEO_FRAMES)), "the secretary receiving"
        )
        await secretary.screenshot(path=str(SHOTS / "chu-tri-khong-camera.png"))
        await ctx.close()
        # a kept token: a reload of the kiosk enters by itself, no credential asked
        await screens["bp1"].reload(wait_until="domcontentloaded")
        await until(lambda: screens["bp1"].evaluate(state_is("live")), "bp1 back by itself")

        # -- a delegate asks for the floor and gets it --------------------------------------
        ctx, delegate = await login(browser, server.url + "/dai-bieu", "delegate", (1280, 800))
        contexts.append(ctx)
        await delegate.click("button[data-action=request]")
        grant = (
            f"[data-list=requests] li[data-subject='{delegate_subject}'] button[data-action=grant]"
        )
        await chair.fill("input[name=limit]", "1")  # minutes
        await chair.click(grant)
        everyone = {"chair": chair, "delegate": delegate, **screens}
        for name, page in everyone.items():
            await until(
                lambda page=page: _countdown(page, delegate_subject), f"{name}: the 60 s countdown"
            )

        async def heard(page: Any) -> bool:
            level = await page.evaluate(AUDIO_OF, delegate_subject)
            return bool(level and level[0] > 0)

        listeners = [screens["bp2"], screens["bp4"], chair]
        for n, page in enumerate(listeners):
            await until(lambda page=page: heard(page), f"listener {n} hearing the delegate")

        for page in (chair, screens["bp2"]):  # the speaker's picture, for the screenshots
            await until(
                lambda page=page: _all_positive(page.evaluate(VIDEO_FRAMES), [delegate_subject]),
                "the delegate's video decoded",
            )
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

        # -- the chair reorders the queue, by keyboard, and every screen follows -------------
        bp1s, bp2s, bp4s = bp_subjects
        for name in ("bp1", "bp4"):
            await screens[name].click("button[data-action=request]")
            subject = f"bridge_point:{world.bridge_points[name]}"
            await chair.wait_for_selector(f"[data-list=requests] li[data-subject='{subject}']")
        queue = [f"{delegate_subject}=granted", f"{bp1s}=requested", f"{bp4s}=requested"]
        await until(lambda: _floor_is(chair, queue), "the queue in request order")
        await chair.focus(f"[data-list=requests] li[data-subject='{bp4s}'] button[data-action=up]")
        await chair.keyboard.press("Enter")
        reordered = [queue[0], queue[2], queue[1]]
        for name, page in everyone.items():
            await until(lambda page=page: _floor_is(page, reordered), f"{name}: the new order")

        async def focused_on_moved() -> Any:
            # The list re-renders after the new order arrives; focus follows on that render.
            got = await chair.evaluate(
                "() => [document.activeElement?.closest('li')?.dataset.subject,"
                " document.activeElement?.dataset.action]"
            )
            return got == [bp4s, "down"] or None

        await until(focused_on_moved, "the focus to stay on the moved request", within=5.0)

        # -- 10 s for bp2 (a warning everywhere, then the server takes the floor back) while
        # bp4's network is off for 10 s; bp4 comes back with every event -----------------------
        await chair.click(
            f"[data-list=speaking] li[data-subject='{delegate_subject}'] button[data-action=revoke]"
        )
        await chair.fill("input[name=limit]", "0,17")  # 10 s, the server's shortest
        bp4_ctx = kiosk_ctx["bp4"]
        await bp4_ctx.set_offline(True)
        offline_at = time.monotonic()
        await chair.click(f"li.tile[data-subject='{bp2s}'] button")
        for name in ("chair", "delegate", "bp1", "bp2"):
            await until(
                lambda page=everyone[name]: _warned(page, bp2s), f"{name}: the last-10-s warning"
            )
        await screens["bp2"].screenshot(path=str(SHOTS / "diem-cau-sap-het-gio.png"))
        await screens["bp4"].wait_for_selector("[data-big=reconnecting]", timeout=10_000)
        await chair.click(
            f"[data-list=requests] li[data-subject='{bp4s}'] button[data-action=down]"
        )
        after = [f"{bp1s}=requested", f"{bp4s}=requested"]  # bp2's time ran out
        await until(lambda: _floor_is(chair, after), "time up and the queue reordered", 15)
        await asyncio.sleep(max(0.0, 10.0 - (time.monotonic() - offline_at)))
        assert await screens["bp4"].evaluate(CONN) != "online", "bp4 stayed online while off"
        await bp4_ctx.set_offline(False)
        await until(lambda: screens["bp4"].evaluate(CONN + " === 'online'"), "bp4 back online", 20)
        chair_seq = await chair.evaluate(SEQ)
        await until(
            lambda: _same_seq(screens["bp4"], chair_seq), "bp4 caught up with every event", 10
        )
        assert await screens["bp4"].evaluate(FLOOR) == await chair.evaluate(FLOOR)
        # the speech log says how each turn ended: bp2's time ran out, the delegate's was revoked
        await chair.click("details.speechlog summary")
        log = chair.locator("details.speechlog tbody")
        await log.get_by_text("Hết giờ").wait_for()
        await log.get_by_text("Chủ trì thu hồi").wait_for()

        # -- the operator's view ------------------------------------------------------------
        ctx, operator = await login(browser, server.url + "/ky-thuat", "operator", (1440, 900))
        contexts.append(ctx)
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
        for n, page in enumerate(pages):
            await until(
                lambda page=page: page.evaluate(state_is("paused")),
                f"page {n}: pause seen after restart",
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


#: framesDecoded and the audio level of `subject` on the operator's test call
CALL_MEDIA = """async (subject) => {
  const c = window.meetingd.calls.current;
  const m = c && c.media;
  if (!m || !m.pc || !m.layout) return [0, 0];
  const v = m.layout.video.find(s => s.subject === subject && s.mid !== null);
  const a = m.layout.audio.find(s => s.subject === subject && s.mid !== null);
  let frames = 0, level = 0;
  (await m.pc.getStats()).forEach(r => {
    if (r.type !== "inbound-rtp") return;
    if (v && r.kind === "video" && r.mid === v.mid) frames = r.framesDecoded || 0;
    if (a && r.kind === "audio" && r.mid === a.mid) level = r.audioLevel || 0;
  });
  return [frames, level];
}"""
#: the same on a bridge-point screen: framesDecoded and audio level of `subject`
SCREEN_MEDIA = CALL_MEDIA.replace(
    "const c = window.meetingd.calls.current;\n  const m = c && c.media;",
    "const m = window.meetingd.screen.media;",
)
PHASE = "() => window.meetingd.screen.phase"


@pytest.mark.timeout(80)
async def test_operator_test_call_qr_and_second_tab(server: Server, browser: Any) -> None:
    ensure_built()
    SHOTS.mkdir(parents=True, exist_ok=True)
    world, _bp4 = await seed(server)
    bp1 = world.bridge_points["bp1"]
    bp1s = f"bridge_point:{bp1}"
    operator_subject = f"user:{world.users['operator']}"
    contexts: list[Any] = []
    try:
        # -- the kiosk enters; the meeting it is invited to is a draft: it waits ------------
        kctx, kiosk = await open_page(browser, server.url + "/diem-cau", (1920, 1080))
        contexts.append(kctx)
        await kiosk.fill("input[name=credential]", world.credentials["bp1"])
        await kiosk.click("button[type=submit]")
        await until(lambda: _phase_is(kiosk, "waiting"), "the kiosk waiting")

        # -- a second tab of the same kiosk waits on standby, takes over, hands back -------
        second = await kctx.new_page()
        await second.goto(server.url + "/diem-cau", wait_until="domcontentloaded")
        await second.wait_for_selector("[data-big=standby]")
        assert "đang mở ở một thẻ khác" in await second.inner_text("[data-big=standby]")
        assert await kiosk.evaluate(PHASE) != "standby"
        await second.click("button[data-action=take-over]")
        await kiosk.wait_for_selector("[data-big=standby]")
        await until(lambda: _phase_is(second, "waiting"), "the second tab running")
        await second.close()
        await until(lambda: _phase_is(kiosk, "waiting"), "the first tab back by itself")

        # -- the operator: a wrong password first ------------------------------------------
        ctx, op = await open_page(browser, server.url + "/ky-thuat", (1440, 1000))
        contexts.append(ctx)
        await op.fill("input[name=login]", "operator")
        await op.fill("input[name=password]", "not-the-password")
        await op.click("button[type=submit]")
        refused = op.locator("form [role=alert]")
        await refused.wait_for()
        assert (await refused.inner_text()).startswith("Đăng nhập không thành công")
        await op.fill("input[name=password]", PASSWORD)
        await op.click("button[type=submit]")
        await op.wait_for_selector(f"tr[data-subject='{bp1s}'] button[data-action=test-call]")

        # -- the test call: each side decodes and hears the other ---------------------------
        await op.click(f"tr[data-subject='{bp1s}'] button[data-action=test-call]")
        await op.wait_for_selector("[data-test-call][data-joined=true]", timeout=20_000)
        await until(lambda: kiosk.evaluate(state_is("open")), "the kiosk in the test call")

        async def flowing(page: Any, js: str, subject: str) -> bool:
            first = await page.evaluate(js, subject)
            await asyncio.sleep(0.5)
            again = await page.evaluate(js, subject)
            return bool(first[0] > 0 and again[0] > first[0] and max(first[1], again[1]) > 0)

        await until(lambda: flowing(op, CALL_MEDIA, bp1s), "the operator seeing and hearing bp1")
        await until(
            lambda: flowing(kiosk, SCREEN_MEDIA, operator_subject),
            "bp1 seeing and hearing the operator",
        )
        for who in ("bridge", "self"):
            fps = op.locator(f"[data-figures={who}] [data-fig=fps]")
            await until(lambda fps=fps: _not_dash(fps), f"the operator's figures for {who}", 15)
        await op.screenshot(path=str(SHOTS / "ky-thuat-goi-thu.png"), full_page=True)
        await check_axe(op, "operator test call")
        await op.click("button[data-action=end-call]")
        await until(lambda: kiosk.evaluate(state_is("ended")), "the test call ended")
        await op.get_by_text("Đã kết thúc gọi thử.").wait_for()
        assert await kiosk.evaluate(PHASE) == "meeting", "the kiosk stays logged in"
        await kiosk.wait_for_selector("[data-big=ended]")

        # -- a new credential: the old screen is sent to the credential form, the QR's URL
        # logs it in again and leaves no credential in the address bar ----------------------
        await op.click(f"tr[data-subject='{bp1s}'] button[data-action=reset]")
        dialog = op.locator("dialog[open]")
        await dialog.wait_for()
        url = await dialog.locator("[data-kiosk-url]").inner_text()
        credential = await dialog.locator("[data-credential]").inner_text()
        assert url == f"{server.url}/diem-cau#credential={credential}"
        assert await dialog.locator("svg[data-qr]").get_attribute("data-qr") == url
        await op.screenshot(path=str(SHOTS / "ky-thuat-ma-qr.png"))
        await check_axe(op, "operator credential dialog")
        await kiosk.wait_for_selector("input[name=credential]")
        assert await kiosk.locator("[role=alert]").count() > 0, "the kiosk says why"
        await kiosk.goto(url, wait_until="domcontentloaded")
        await until(lambda: _phase_is(kiosk, "waiting"), "the QR login")
        assert await kiosk.evaluate("() => location.href") == f"{server.url}/diem-cau"
        assert "credential" not in await kiosk.evaluate("() => location.hash + document.title")
    finally:
        for ctx in contexts:
            await ctx.close()


async def _phase_is(page: Any, phase: str) -> bool:
    got: str = await page.evaluate(PHASE)
    return got == phase


async def _not_dash(locator: Any) -> bool:
    text: str = await locator.inner_text()
    return text.strip() not in ("", "—")


async def _countdown(page: Any, subject: str) -> bool:
    """Does every timer shown for ``subject`` count down from a 60 s limit ("Còn 0:57")?"""
    timers: list[list[str]] = await page.evaluate(TIMERS, subject)
    for kind, text in timers:
        m = COUNTDOWN.match(text.strip())
        if kind != "remaining" or m is None or not 30 < int(m[1]) * 60 + int(m[2]) <= 60:
            return False
    return bool(timers)


async def _warned(page: Any, subject: str) -> bool:
    """Is ``subject``'s timer in its last-10-s warning ("Sắp hết giờ: còn 0:08")?"""
    timers: list[list[str]] = await page.evaluate(TIMERS, subject)
    return bool(timers) and all(k == "warning" and "Sắp hết giờ" in x for k, x in timers)


async def _floor_is(page: Any, want: list[str]) -> bool:
    got: list[str] = await page.evaluate(FLOOR)
    return got == want


async def _same_seq(page: Any, seq: int) -> bool:
    got: int = await page.evaluate(SEQ)
    return got >= seq


async def _any_positive(frames: Awaitable[dict[str, int]]) -> bool:
    return any(n > 0 for n in (await frames).values())


async def _all_positive(frames: Awaitable[dict[str, int]], subjects: list[str]) -> dict[str, int]:
    got = await frames
    return got if all(got.get(s, 0) > 0 for s in subjects) else {}


async def _all_above(frames: Awaitable[dict[str, int]], first: dict[str, int]) -> bool:
    got = await frames
    return all(got.get(s, 0) > n for s, n in first.items() if s.startswith("bridge_point:"))
