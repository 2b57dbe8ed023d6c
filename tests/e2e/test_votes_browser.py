"""Votes and the record in real headless Chromium against the real server on loopback.

The chair starts the meeting and takes the roll call (a bridge-point kiosk answers, two
delegates confirm); the chair opens an open vote on the current agenda item, where bridge
points vote for their room; the two delegate views and the kiosk each cast a ballot through
the confirmation step; every screen shows the live count, then the result. The vote does not
allow changing a ballot: no "Đổi lựa chọn", and the second delegate's other screen, still
showing the ballot, is refused with the server's reason and then shows the ballot the server
holds (counted once). A secret vote follows, where ballots may be changed: the chair sees only
how many have voted, the delegate gets a receipt code; its screen, reloaded mid-vote, comes
back with the vote (from the join snapshot), already voted, the receipt still shown; the
delegate changes its choice (same confirmation step) and gets a new receipt; once closed it
finds the new receipt under its new option in the published tally, the old one nowhere
(checked here too, against the server's result: three ballots, the changed one counted once).
A third vote has a 40 s time limit: its countdown shows and decreases on the chair's console,
the kiosk's board (large; the kiosk's own clock is 7 minutes behind, and it counts down on
the server's) and the delegate's screen; a delegate changes its ballot, and the vote closes by
its deadline on every screen (closed by the server, not by a page's timer). The chair ends the
meeting; the secretary edits the minutes draft in the chair console and saves it; the chair's
console, still holding the version it loaded, is refused with a conflict, loads the latest and
finalises; the signed PDF downloaded from the browser holds both questions and the
secretary's edit (pdftotext); a delegate's login in the chair console gets no editor.
Screenshots: docs/screenshots/bieu-quyet.png (the chair console with a result),
bieu-quyet-diem-cau.png (the kiosk's board), bieu-quyet-dem-nguoc.png (the kiosk counting
down), bieu-quyet-doi-phieu.png (the delegate's changed secret ballot) and bien-ban.png (the
secretary's minutes editor).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from meetingd.app import PARTS
from meetingd.domain import Role
from meetingd.services.minutes import make_test_certificate
from tests.conftest import PASSWORD, World, seed_world
from tests.e2e import browser as shared
from tests.e2e.browser import SHOTS, Server, check_axe, ensure_built, open_page, state_is, until

pytestmark = pytest.mark.browser

OPEN_Q = "Thông qua Kế hoạch phát triển kinh tế - xã hội năm 2027 của huyện?"
SECRET_Q = "Bầu Trưởng ban Kinh tế - Xã hội (bỏ phiếu kín)"
TIMED_Q = "Thông qua Tờ trình điều chỉnh dự toán ngân sách xã năm 2026?"
CANDIDATES = ["Ông Nguyễn Văn An", "Bà Trần Thị Bích"]
CONCLUSION = "Hội nghị thống nhất giao Ủy ban nhân dân huyện hoàn thiện Kế hoạch trước ngày 15."
#: The timed vote's limit, as the chair types it (minutes) and in seconds.
LIMIT_MINUTES, LIMIT_SECONDS = "0,67", 40
#: How far behind the server's clock the kiosk's own clock is (a room PC without time sync).
KIOSK_BEHIND_MS = 7 * 60 * 1000
#: How long a page waits for an element (a loaded 2-core machine is slow, never this slow).
WAIT_MS = 30_000

#: this screen's votes as it holds them: [id, state, ballots, outcome or null]
VOTES = """() => (window.meetingd.screen.live?.state?.votes ?? [])
  .map(v => [v.id, v.state, v.ballots, v.result ? v.result.outcome : null])"""
#: Date (new Date(), Date.now()) on a clock `behind` ms behind the real one.
SKEWED_CLOCK = """(() => {
  const behind = %d, Real = Date;
  class Skewed extends Real {
    constructor(...a) { if (a.length) super(...a); else super(Real.now() - behind); }
    static now() { return Real.now() - behind; }
  }
  globalThis.Date = Skewed;
})();"""
#: the seconds a vote's countdown shows on this screen, or null
COUNTDOWN = """(id) => {
  const c = document.querySelector(`[data-vote-countdown="${id}"]`);
  return c ? Number(c.dataset.seconds) : null;
}"""
#: [text, kind, seconds] of a vote's countdown on this screen, read at one instant
COUNTDOWN_SHOWN = """(id) => {
  const c = document.querySelector(`[data-vote-countdown="${id}"]`);
  return c ? [c.textContent, c.dataset.kind, Number(c.dataset.seconds)] : null;
}"""
#: a vote's state as this screen holds it
STATE_OF = "(id) => window.meetingd.screen.live?.state?.votes.find(v => v.id === id)?.state"


async def seed(server: Server) -> World:
    """The seeded world plus a second delegate (Lê Thị Bình, commune C2) invited."""
    assert server.app is not None
    parts = server.app[PARTS]
    world = await seed_world(parts)
    second = await parts.services.directory.create_user(
        None, login="delegate2", display_name="Lê Thị Bình", password=PASSWORD,
        grants=[(world.units["C2"], Role.DELEGATE)],
    )  # fmt: skip
    world.users["delegate2"] = second.id
    chair = await parts.services.auth.authenticate(world.tokens["chair"])
    await parts.services.meetings.invite_delegates(chair, world.meeting_id, [second.id])
    return world


async def login(
    browser: Any, url: str, who: str, size: tuple[int, int], devices: bool = True
) -> tuple[Any, Any]:
    return await shared.login(browser, url, who, size, devices=devices, timeout_ms=WAIT_MS)


async def confirm(page: Any, form: Any) -> None:
    """The confirmation step ("Xác nhận biểu quyết"), the focus on it, then confirmed."""
    button = form.locator("button[data-action=confirm-vote]")
    assert (await button.inner_text()).strip() == "Xác nhận biểu quyết"
    await until(
        lambda: page.evaluate("() => document.activeElement?.dataset.action === 'confirm-vote'"),
        "the focus on the confirmation",
        within=20,
    )
    await button.click()


async def cast(page: Any, vote_id: int, option: int) -> None:
    """Choose ``option``, then confirm on the confirmation step."""
    form = page.locator(f"[data-vote-ballot='{vote_id}']")
    await form.locator(f"input[data-option='{option}']").check()
    await form.locator("button[data-action=cast-vote]").click()
    await confirm(page, form)
    await page.locator(f"[data-vote-ballot='{vote_id}'][data-voted=true]").wait_for()


async def change(page: Any, vote_id: int, option: int) -> None:
    """Press "Đổi lựa chọn", choose ``option``, confirm on the same step; the change recorded."""
    ballot = page.locator(f"[data-vote-ballot='{vote_id}']")
    button = ballot.locator("button[data-action=change-vote]")
    assert (await button.inner_text()).strip() == "Đổi lựa chọn"
    await button.click()
    form = page.locator(f"[data-vote-ballot='{vote_id}'][data-changing=true]")
    await form.locator(f"input[data-option='{option}']").check()
    await form.locator("button[data-action=cast-vote]").click()
    await confirm(page, form)
    await page.locator(f"[data-vote-ballot='{vote_id}'][data-changed=true]").wait_for()


async def result_shown(page: Any, vote_id: int, outcome: str) -> bool:
    return bool(
        await page.locator(f"[data-vote-result='{vote_id}'][data-outcome='{outcome}']").count()
    )


async def counting_down(page: Any, vote_id: int, below: int) -> int | None:
    """The seconds left on ``page``'s countdown once they are fewer than ``below``."""
    seconds = await page.evaluate(COUNTDOWN, vote_id)
    return seconds if seconds is not None and 0 < seconds < below else None


async def get_json(server: Server, path: str, token: str) -> Any:
    """A REST read from the test's own loop (the server runs on it too)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            server.url + "/api/v1" + path, headers=headers, timeout=aiohttp.ClientTimeout(total=20)
        ) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def pdf_text(path: Path) -> str:
    pdftotext = await asyncio.create_subprocess_exec(
        "pdftotext", "-enc", "UTF-8", str(path), "-", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(pdftotext.communicate(), 60)
    assert pdftotext.returncode == 0
    return " ".join(out.decode().split())


@pytest.mark.timeout(240)
async def test_votes_and_minutes_in_the_browser(
    server: Server,
    browser: Any,
    tmp_path: Path,
) -> None:
    ensure_built()
    SHOTS.mkdir(parents=True, exist_ok=True)
    world = await seed(server)
    mid = world.meeting_id
    contexts: list[Any] = []
    started = time.monotonic()

    def phase(what: str) -> None:
        print(f"{time.monotonic() - started:6.1f} s  {what}")

    try:
        # -- the chair starts the meeting on its second item; five screens follow ----------
        ctx, chair = await login(browser, server.url + "/chu-tri", "chair", (1600, 1100))
        contexts.append(ctx)
        await chair.wait_for_selector("[data-ready]")
        await chair.click("button[data-verb=open]")
        await chair.click("button[data-verb=start]")
        await until(lambda: chair.evaluate(state_is("live")), "the meeting to go live")
        await chair.click("button[aria-label='Chuyển tới mục này: Báo cáo']")

        async def enter_kiosk() -> tuple[Any, Any]:
            ctx, page = await open_page(
                browser, server.url + "/diem-cau", (1920, 1080),
                init_script=SKEWED_CLOCK % KIOSK_BEHIND_MS,
            )  # fmt: skip
            ctx.set_default_timeout(WAIT_MS)
            await page.fill("input[name=credential]", world.credentials["bp1"])
            await page.click("button[type=submit]")
            return ctx, page

        entered = await asyncio.gather(
            enter_kiosk(),
            # the delegates' tablets without camera (they still receive): less load on a
            # small machine, and nothing of the votes depends on it
            login(browser, server.url + "/dai-bieu", "delegate", (1280, 1000), devices=False),
            login(browser, server.url + "/dai-bieu", "delegate2", (1280, 1000), devices=False),
            # the second delegate's other screen (a laptop beside the tablet)
            login(browser, server.url + "/dai-bieu", "delegate2", (1280, 1000), devices=False),
        )
        contexts += [ctx for ctx, _ in entered]
        (_, kiosk), (_, delegate), (_, second), (other_ctx, other) = entered
        screens = {"chair": chair, "delegate": delegate, "delegate2": second, "bp1": kiosk}
        for name, page in [*screens.items(), ("delegate2's other screen", other)]:
            await until(lambda page=page: page.evaluate(state_is("live")), f"{name} live", 40)
        skew = await kiosk.evaluate("() => Date.now()") - time.time() * 1000
        assert -KIOSK_BEHIND_MS - 5_000 < skew < -KIOSK_BEHIND_MS + 5_000, skew

        phase("screens live")
        # -- the roll call: the kiosk counts its room, the delegates confirm ----------------
        await chair.get_by_role("button", name="Bắt đầu điểm danh").click()
        await kiosk.get_by_label("Số người có mặt trong phòng").fill("25")
        await kiosk.get_by_role("button", name="Báo số người").click()
        for page in (delegate, second):
            await page.click("button[data-action=confirm]")
        await chair.get_by_text("2/2 đại biểu đã xác nhận").wait_for()
        await chair.get_by_text("1/2 điểm cầu đã báo, 25 người").wait_for()
        await chair.get_by_role("button", name="Kết thúc điểm danh").click()
        await chair.locator("[data-rollcall=closed]").wait_for()

        phase("roll call closed")
        # -- an open vote on the current item, bridge points voting for their room ---------
        form = chair.locator("form.vote-form")
        await form.locator("textarea[name=question]").fill(OPEN_Q)
        await form.locator("input[name=bridge_points_vote]").check()
        await form.locator("button[data-action=open-vote]").click()
        opened = chair.locator("[data-vote][data-vote-state=open]")
        await opened.wait_for()
        open_id = int(await opened.get_attribute("data-vote") or 0)
        assert "Mục: Báo cáo" in await opened.inner_text()
        for page in (delegate, second, kiosk, other):
            await page.locator(f"[data-vote-ballot='{open_id}']").wait_for()
        assert await chair.locator(f"[data-vote-countdown='{open_id}']").count() == 0
        await check_axe(delegate, "delegate ballot")
        await cast(delegate, open_id, 0)  # Tán thành
        live = chair.locator(f"[data-vote-live='{open_id}']")
        await live.locator(".vote-voted[data-ballots='1']").wait_for()
        assert await live.get_attribute("role") == "status"
        # this vote does not allow a change: no "Đổi lựa chọn" once voted
        assert await delegate.locator("button[data-action=change-vote]").count() == 0
        await cast(second, open_id, 0)
        await cast(kiosk, open_id, 1)  # the room: Không tán thành
        for page in screens.values():
            await page.locator(f"[data-vote-live='{open_id}'] [data-ballots='3']").wait_for()
        # the second delegate's other screen still offers the ballot: the server refuses
        # a second one, the screen says why, then shows the ballot the server holds
        ballot = other.locator(f"[data-vote-ballot='{open_id}']")
        await ballot.locator("input[data-option='1']").check()
        await ballot.locator("button[data-action=cast-vote]").click()
        await confirm(other, ballot)
        held = other.locator(f"[data-vote-ballot='{open_id}'][data-voted=true]")
        await held.wait_for()
        refusal = await held.locator("[role=alert]").inner_text()
        assert refusal == (
            "Phiếu không được ghi nhận: Bạn đã bỏ phiếu trong lần biểu quyết này; "
            "phiếu đã ghi không thay đổi."
        ), refusal
        assert await held.locator("[data-your-choice]").get_attribute("data-your-choice") == "0"
        assert await held.locator("button[data-action=change-vote]").count() == 0
        await other_ctx.close()
        contexts.remove(other_ctx)
        counts = chair.locator(f"[data-vote-live='{open_id}'] li[data-option]")
        assert [await c.get_attribute("data-count") for c in await counts.all()] == ["2", "1", "0"]
        await chair.locator(f"[data-vote='{open_id}'] button[data-action=close-vote]").click()
        for name, page in screens.items():
            await until(
                lambda page=page: result_shown(page, open_id, "passed"), f"{name}: the result", 40
            )
        board = kiosk.locator(f"section.vote-board [data-vote-result='{open_id}']")
        assert "Thông qua" in await board.inner_text()
        assert "2/3" in await board.inner_text()
        assert (await get_json(server, f"/meetings/{mid}/votes/{open_id}", world.tokens["chair"]))[
            "result"
        ]["counts"] == [2, 1, 0]
        await chair.locator(f"[data-vote='{open_id}']").scroll_into_view_if_needed()
        await chair.screenshot(path=str(SHOTS / "bieu-quyet.png"))
        await kiosk.screenshot(path=str(SHOTS / "bieu-quyet-diem-cau.png"))
        await check_axe(chair, "chair votes")
        await check_axe(kiosk, "kiosk vote board")

        phase("open vote: results shown, a second ballot refused")
        # -- a secret vote where ballots may change: counts hidden; the receipts check -------
        await form.locator("textarea[name=question]").fill(SECRET_Q)
        await form.locator("input[name=options-mode][value=list]").check()
        await form.locator("textarea[name=options]").fill("\n".join(CANDIDATES))
        await form.locator("select[name=kind]").select_option("secret")
        await form.locator("input[name=allow_change]").check()
        await form.locator("button[data-action=open-vote]").click()
        await chair.locator("[data-vote][data-vote-state=open]").wait_for()
        secret_id = int(
            await chair.locator("[data-vote][data-vote-state=open]").get_attribute("data-vote") or 0
        )
        assert secret_id > open_id
        await cast(delegate, secret_id, 1)
        await cast(second, secret_id, 0)
        await cast(kiosk, secret_id, 1)
        first = await delegate.locator("code[data-receipt]").inner_text()
        # a reload mid-vote: the join snapshot brings the open vote back, already voted,
        # and the receipt is still on this tab's screen
        await delegate.reload(wait_until="domcontentloaded")
        await delegate.locator(f"[data-vote-ballot='{secret_id}'][data-voted=true]").wait_for()
        assert await delegate.locator("code[data-receipt]").inner_text() == first
        assert len(first) == 19, first
        # the delegate changes its choice: the kept receipt goes with it, a new one comes back
        await change(delegate, secret_id, 0)
        receipt = await delegate.locator("code[data-receipt]").inner_text()
        assert len(receipt) == 19 and receipt != first, (first, receipt)
        assert await delegate.locator("[data-receipt-replaced]").count() == 1
        chosen = delegate.locator(f"[data-vote-ballot='{secret_id}'] [data-your-choice]")
        assert CANDIDATES[0] in await chosen.inner_text()
        await delegate.locator(f"[data-vote-ballot='{secret_id}']").scroll_into_view_if_needed()
        await delegate.screenshot(path=str(SHOTS / "bieu-quyet-doi-phieu.png"))
        await check_axe(delegate, "delegate's changed ballot")
        live = chair.locator(f"[data-vote-live='{secret_id}']")
        await live.locator("[data-ballots='3']").wait_for()  # still three ballots
        assert await live.locator("li[data-option]").count() == 0  # no counts while secret
        seen = await chair.evaluate(VOTES)
        assert [secret_id, "open", 3, None] in seen
        await chair.locator(f"[data-vote='{secret_id}'] button[data-action=close-vote]").click()
        for name, page in screens.items():
            await until(
                lambda page=page: result_shown(page, secret_id, "elected"), f"{name}: elected", 40
            )
        check = delegate.locator("[data-receipt-check=counted]")
        await check.wait_for()
        assert CANDIDATES[0] in await check.inner_text()
        assert receipt not in await chair.content()  # the chair never sees it
        published = await get_json(
            server, f"/meetings/{mid}/votes/{secret_id}", world.tokens["chair"]
        )
        mine = hashlib.sha256(f"{secret_id}:{receipt}".encode()).hexdigest()
        old = hashlib.sha256(f"{secret_id}:{first}".encode()).hexdigest()
        hashes = published["result"]["receipts"]
        assert [mine in h for h in hashes] == [True, False]
        assert not any(old in h for h in hashes)  # the replaced ballot counts nowhere
        assert published["result"]["ballots"] == 3
        assert published["result"]["counts"] == [2, 1]
        assert published["result"]["elected"] == [0]

        phase("secret vote: a changed ballot counted once, the new receipt checked")
        # -- a timed vote: the countdown on every screen, a change, closed by its deadline ----
        await form.locator("textarea[name=question]").fill(TIMED_Q)
        await form.locator("input[name=options-mode][value=yesno]").check()
        await form.locator("select[name=kind]").select_option("open")
        await form.locator("input[name=bridge_points_vote]").uncheck()
        assert await form.locator("input[name=allow_change]").is_checked()
        await form.locator("input[name=deadline]").fill(LIMIT_MINUTES)
        await form.locator("button[data-action=open-vote]").click()
        await chair.locator("[data-vote][data-vote-state=open]").wait_for()
        timed_id = int(
            await chair.locator("[data-vote][data-vote-state=open]").get_attribute("data-vote") or 0
        )
        assert timed_id > secret_id
        shown: dict[str, int] = {}
        for name, page in screens.items():
            await page.locator(f"[data-vote-countdown='{timed_id}']").wait_for()
            shown[name] = await until(
                lambda page=page: counting_down(page, timed_id, LIMIT_SECONDS + 1),
                f"{name}: the countdown",
            )
        # each screen's figure decreases; the kiosk's, on a clock 7 min behind, agrees
        for name, page in screens.items():
            await until(
                lambda page=page, name=name: counting_down(page, timed_id, shown[name]),
                f"{name}: the countdown going down",
                within=10,
            )
        chair_left = await chair.evaluate(COUNTDOWN, timed_id)
        kiosk_left = await kiosk.evaluate(COUNTDOWN, timed_id)
        assert abs(kiosk_left - chair_left) <= 2, (kiosk_left, chair_left)
        text, kind, left = await kiosk.evaluate(COUNTDOWN_SHOWN, timed_id)
        want = "Còn 0:%02d để biểu quyết" if kind == "remaining" else "Sắp hết giờ: còn 0:%02d"
        assert text == want % left, (text, kind, left)
        size = await kiosk.locator(f"[data-vote-countdown='{timed_id}']").evaluate(
            "e => parseFloat(getComputedStyle(e).fontSize)"
        )
        assert size >= 40, size  # read from the back of the room
        await kiosk.screenshot(path=str(SHOTS / "bieu-quyet-dem-nguoc.png"))
        await cast(delegate, timed_id, 0)
        await change(delegate, timed_id, 1)
        await cast(second, timed_id, 0)
        live = chair.locator(f"[data-vote-live='{timed_id}']")
        await live.locator(".vote-voted[data-ballots='2']").wait_for()
        counts = live.locator("li[data-option]")
        await until(
            lambda: _counts_are(counts, ["1", "1", "0"]), "the change in the live counts", 10
        )
        assert await chair.evaluate(STATE_OF, timed_id) == "open"
        # nobody closes it: the server does at the deadline, and every screen follows
        for name, page in screens.items():
            await until(
                lambda page=page: result_shown(page, timed_id, "rejected"),
                f"{name}: closed by its deadline",
                LIMIT_SECONDS + 30,
            )
            assert await page.locator(f"[data-vote-countdown='{timed_id}']").count() == 0
        closed = await get_json(server, f"/meetings/{mid}/votes/{timed_id}", world.tokens["chair"])
        assert closed["closed_by"] == "system", closed
        assert closed["result"]["counts"] == [1, 1, 0] and closed["result"]["ballots"] == 2

        phase("timed vote: counted down everywhere, closed by the server at its deadline")
        # -- the meeting ends; the secretary edits the minutes; the chair's save conflicts ---
        assert server.app is not None
        make_test_certificate(Path(server.config.server.data_dir), "UBND huyện Hoằng Hóa")
        await chair.click("button[data-verb=end]")
        try:
            await until(lambda: chair.evaluate(state_is("ended")), "the meeting ended", 45)
        except AssertionError as exc:
            alerts = await chair.locator("[role=alert]").all_inner_texts()
            raise AssertionError(f"{exc}; the chair's console says {alerts}") from exc
        await chair.locator("section.minutes[data-minutes=draft]").wait_for()
        ctx, secretary = await login(
            browser, server.url + f"/chu-tri?meeting={mid}", "secretary", (1600, 1300),
            devices=False,
        )  # fmt: skip
        contexts.append(ctx)
        editor = secretary.locator("section.minutes[data-minutes=draft] form.minutes-editor")
        await editor.wait_for()
        conclusion = editor.get_by_label("VII. Kết luận", exact=True)
        assert await conclusion.input_value() == ""
        assert OPEN_Q in await editor.locator("textarea[data-section='5']").input_value()
        await editor.get_by_label("Số biên bản").fill("12/BB-UBND")
        await conclusion.fill(CONCLUSION)
        await editor.locator("[data-minutes-status=dirty]").wait_for()
        await editor.locator("button[data-action=finalise-minutes][disabled]").wait_for()
        await editor.locator("button[data-action=save-minutes]").click()
        saved = editor.locator("[data-minutes-status=saved]")
        await saved.wait_for()
        assert (await saved.inner_text()).startswith("Đã lưu lúc")
        await editor.scroll_into_view_if_needed()
        await secretary.screenshot(path=str(SHOTS / "bien-ban.png"))
        await check_axe(secretary, "the secretary's minutes editor")
        # the chair's console still holds the draft it loaded before the secretary saved
        chair_editor = chair.locator("form.minutes-editor")
        await chair_editor.get_by_label("VII. Kết luận").fill("Bản của chủ trì")
        await chair_editor.locator("button[data-action=save-minutes]").click()
        conflict = chair_editor.locator("[role=alert][data-minutes-status=conflict]")
        await conflict.wait_for()
        said = await conflict.inner_text()
        assert said.startswith("Chưa lưu: thư ký đã lưu biên bản lúc "), said
        assert await chair_editor.get_by_label("VII. Kết luận").input_value() == "Bản của chủ trì"
        await chair_editor.locator("button[data-action=reload-minutes]").click()  # confirmed
        await until(
            lambda: _value_is(chair_editor.get_by_label("VII. Kết luận"), CONCLUSION),
            "the secretary's version in the chair's editor",
        )
        assert await chair_editor.get_by_label("Số biên bản").input_value() == "12/BB-UBND"

        phase("minutes: saved by the secretary, the chair's stale save refused")
        # -- finalised from the chair's console; the signed PDF holds the edit ---------------
        await chair_editor.locator("button[data-action=finalise-minutes]").click()
        link = chair.locator("a[data-action=download-minutes]")
        await link.wait_for(timeout=60_000)
        async with chair.expect_download() as info:
            await link.click()
        download = await info.value
        assert download.suggested_filename == f"bien-ban-{mid}.pdf"
        pdf = tmp_path / "bien-ban.pdf"
        await download.save_as(str(pdf))
        assert pdf.read_bytes().startswith(b"%PDF-")
        flat = await pdf_text(pdf)
        for needle in (OPEN_Q, SECRET_Q, TIMED_Q, CONCLUSION, "Số: 12/BB-UBND"):
            assert needle in flat, (needle, flat[:3000])
        assert "Bản của chủ trì" not in flat

        # a delegate in the chair console: the server refuses it the minutes, no editor
        await delegate.goto(server.url + f"/chu-tri?meeting={mid}", wait_until="domcontentloaded")
        await delegate.fill("input[name=login]", "delegate")
        await delegate.fill("input[name=password]", PASSWORD)
        await delegate.click("button[type=submit]")
        await delegate.wait_for_selector("[data-ready]")
        await until(
            lambda: _none(delegate.locator("section.minutes")), "the delegate's console: no minutes"
        )
        assert await delegate.locator("textarea[data-section]").count() == 0
        phase("minutes finalised, downloaded and read")
    finally:
        for ctx in contexts:
            await ctx.close()


async def _counts_are(counts: Any, want: list[str]) -> bool:
    return [await c.get_attribute("data-count") for c in await counts.all()] == want


async def _value_is(field: Any, want: str) -> bool:
    return bool(await field.input_value() == want)


async def _none(locator: Any) -> bool:
    return bool(await locator.count() == 0)
