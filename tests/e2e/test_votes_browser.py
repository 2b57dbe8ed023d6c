"""Votes and the record in real headless Chromium against the real server on loopback.

The chair starts the meeting and takes the roll call (a bridge-point kiosk answers, two
delegates confirm); the chair opens an open vote on the current agenda item, where bridge
points vote for their room; the two delegate views and the kiosk each cast a ballot through
the confirmation step; every screen shows the live count, then the result. A secret vote
follows: the chair sees only how many have voted, the delegate gets a receipt code; its
screen, reloaded mid-vote, comes back with the vote (from the join snapshot), already voted,
the receipt still shown; once closed it finds the receipt under its option in the published
tally (checked here too, against the server's result). The chair ends the meeting,
finalises the minutes and downloads the signed PDF from the browser; it is a PDF holding
both questions. Screenshots: docs/screenshots/bieu-quyet.png (the chair console with a
result) and bieu-quyet-diem-cau.png (the kiosk's board).
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
CANDIDATES = ["Ông Nguyễn Văn An", "Bà Trần Thị Bích"]
#: How long a page waits for an element (a loaded 2-core machine is slow, never this slow).
WAIT_MS = 30_000

#: this screen's votes as it holds them: [id, state, ballots, outcome or null]
VOTES = """() => (window.meetingd.screen.live?.state?.votes ?? [])
  .map(v => [v.id, v.state, v.ballots, v.result ? v.result.outcome : null])"""


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


async def cast(page: Any, vote_id: int, option: int) -> None:
    """Choose ``option``, then confirm on the confirmation step ("Xác nhận biểu quyết")."""
    form = page.locator(f"[data-vote-ballot='{vote_id}']")
    await form.locator(f"input[data-option='{option}']").check()
    await form.locator("button[data-action=cast-vote]").click()
    confirm = form.locator("button[data-action=confirm-vote]")
    assert (await confirm.inner_text()).strip() == "Xác nhận biểu quyết"
    await until(
        lambda: page.evaluate("() => document.activeElement?.dataset.action === 'confirm-vote'"),
        "the focus on the confirmation",
        within=20,
    )
    await confirm.click()
    await page.locator(f"[data-vote-ballot='{vote_id}'][data-voted=true]").wait_for()


async def result_shown(page: Any, vote_id: int, outcome: str) -> bool:
    return bool(
        await page.locator(f"[data-vote-result='{vote_id}'][data-outcome='{outcome}']").count()
    )


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


@pytest.mark.timeout(120)
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
        # -- the chair starts the meeting on its second item; four screens follow ----------
        ctx, chair = await login(browser, server.url + "/chu-tri", "chair", (1600, 1100))
        contexts.append(ctx)
        await chair.wait_for_selector("[data-ready]")
        await chair.click("button[data-verb=open]")
        await chair.click("button[data-verb=start]")
        await until(lambda: chair.evaluate(state_is("live")), "the meeting to go live")
        await chair.click("button[aria-label='Chuyển tới mục này: Báo cáo']")

        async def enter_kiosk() -> tuple[Any, Any]:
            ctx, page = await open_page(browser, server.url + "/diem-cau", (1920, 1080))
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
        )
        contexts += [ctx for ctx, _ in entered]
        (_, kiosk), (_, delegate), (_, second) = entered
        screens = {"chair": chair, "delegate": delegate, "delegate2": second, "bp1": kiosk}
        for name, page in screens.items():
            await until(lambda page=page: page.evaluate(state_is("live")), f"{name} live", 40)

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
        for name in ("delegate", "delegate2", "bp1"):
            await screens[name].locator(f"[data-vote-ballot='{open_id}']").wait_for()
        await check_axe(delegate, "delegate ballot")
        await cast(delegate, open_id, 0)  # Tán thành
        live = chair.locator(f"[data-vote-live='{open_id}']")
        await live.locator(".vote-voted[data-ballots='1']").wait_for()
        assert await live.get_attribute("role") == "status"
        await cast(second, open_id, 0)
        await cast(kiosk, open_id, 1)  # the room: Không tán thành
        for page in screens.values():
            await page.locator(f"[data-vote-live='{open_id}'] [data-ballots='3']").wait_for()
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
        await chair.locator(f"[data-vote='{open_id}']").scroll_into_view_if_needed()
        await chair.screenshot(path=str(SHOTS / "bieu-quyet.png"))
        await kiosk.screenshot(path=str(SHOTS / "bieu-quyet-diem-cau.png"))
        await check_axe(chair, "chair votes")
        await check_axe(kiosk, "kiosk vote board")

        phase("open vote: results shown")
        # -- a secret vote: counts hidden until it closes; the receipt checks ----------------
        await form.locator("textarea[name=question]").fill(SECRET_Q)
        await form.locator("input[name=options-mode][value=list]").check()
        await form.locator("textarea[name=options]").fill("\n".join(CANDIDATES))
        await form.locator("select[name=kind]").select_option("secret")
        await form.locator("button[data-action=open-vote]").click()
        await chair.locator("[data-vote][data-vote-state=open]").wait_for()
        secret_id = int(
            await chair.locator("[data-vote][data-vote-state=open]").get_attribute("data-vote") or 0
        )
        assert secret_id > open_id
        await cast(delegate, secret_id, 1)
        await cast(second, secret_id, 0)
        await cast(kiosk, secret_id, 1)
        receipt = await delegate.locator("code[data-receipt]").inner_text()
        # a reload mid-vote: the join snapshot brings the open vote back, already voted,
        # and the receipt is still on this tab's screen
        await delegate.reload(wait_until="domcontentloaded")
        await delegate.locator(f"[data-vote-ballot='{secret_id}'][data-voted=true]").wait_for()
        assert await delegate.locator("code[data-receipt]").inner_text() == receipt
        assert len(receipt) == 19, receipt
        live = chair.locator(f"[data-vote-live='{secret_id}']")
        await live.locator("[data-ballots='3']").wait_for()
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
        assert CANDIDATES[1] in await check.inner_text()
        assert receipt not in await chair.content()  # the chair never sees it
        published = await get_json(
            server, f"/meetings/{mid}/votes/{secret_id}", world.tokens["chair"]
        )
        mine = hashlib.sha256(f"{secret_id}:{receipt}".encode()).hexdigest()
        assert [mine in hashes for hashes in published["result"]["receipts"]] == [False, True]
        assert published["result"]["counts"] == [1, 2]
        assert published["result"]["elected"] == [1]

        phase("secret vote: receipt checked")
        # -- the meeting ends; the minutes are finalised and downloaded as a PDF ------------
        assert server.app is not None
        make_test_certificate(Path(server.config.server.data_dir), "UBND huyện Hoằng Hóa")
        await chair.click("button[data-verb=end]")
        try:
            await until(lambda: chair.evaluate(state_is("ended")), "the meeting ended", 45)
        except AssertionError as exc:
            alerts = await chair.locator("[role=alert]").all_inner_texts()
            raise AssertionError(f"{exc}; the chair's console says {alerts}") from exc
        await chair.locator("button[data-action=finalise-minutes]").click()
        link = chair.locator("a[data-action=download-minutes]")
        await link.wait_for(timeout=60_000)
        async with chair.expect_download() as info:
            await link.click()
        download = await info.value
        assert download.suggested_filename == f"bien-ban-{mid}.pdf"
        pdf = tmp_path / "bien-ban.pdf"
        await download.save_as(str(pdf))
        body = pdf.read_bytes()
        assert body.startswith(b"%PDF-")
        pdftotext = await asyncio.create_subprocess_exec(
            "pdftotext", "-enc", "UTF-8", str(pdf), "-", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(pdftotext.communicate(), 60)
        assert pdftotext.returncode == 0
        flat = " ".join(out.decode().split())
        assert OPEN_Q in flat and SECRET_Q in flat, flat[:2000]
        phase("minutes PDF downloaded and read")
    finally:
        for ctx in contexts:
            await ctx.close()
