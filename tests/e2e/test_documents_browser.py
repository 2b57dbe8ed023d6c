"""Documents in real headless Chromium against the real server on loopback.

The chair uploads a large generated PDF through the console (a refused file first: its
Vietnamese reason is shown), publishes it, and a delegate on a throttled link opens it: page 1
is drawn while pdf.js has fetched only a part of the file (byte ranges, counted from Chromium's
own network events). The chair presents it and turns to page 5: the delegate's reader and the
bridge point's kiosk follow; the delegate pages back alone, the chair turns on, one click
("Về trang người trình bày") returns to the presenter's page. The delegate searches inside the
document, writes a private note that is still there after a reload, and opens a confidential
document whose served copy carries the delegate's own name in its text layer. A recording of
the meeting, kept as a document, appears in the chair's list (a draft, no "present") and plays
in a <video> there; given to everyone, it plays in the delegate's reader where the PDF page
would be, with a download link. The chair records a few seconds with the console's "Ghi hình":
the chair (with its running time), the kiosk and the delegate show "● Đang ghi hình"; stopped
("Dừng ghi hình", confirmed), every notice goes and the file is a new draft in the chair's list.
Screenshots: docs/screenshots/tai-lieu.png (the reader) and
tai-lieu-trinh-bay.png (the kiosk).
"""

from __future__ import annotations

import io
import os
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pikepdf
import pytest
from fpdf import FPDF

from meetingd.api.reading import READING
from meetingd.app import PARTS
from tests.conftest import seed_world
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
from tests.services.videos import webm

pytestmark = pytest.mark.browser

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PAGES = 12
NOISE = 560  # each page carries a 560x560 RGB image of noise (~0.9 MB, incompressible)


def big_pdf() -> bytes:
    """A 12-page PDF of about 11 MB, linearised: page N says "Trang N"; only page 7 speaks
    of the budget ("ngân sách"); every page carries an incompressible image."""
    doc = FPDF(unit="pt", format="A4")
    doc.add_font("DejaVu", fname=FONT)
    doc.set_font("DejaVu", size=28)
    for n in range(1, PAGES + 1):
        doc.add_page()
        doc.text(60, 80, f"Trang {n}")
        if n == 7:
            doc.text(60, 130, "Dự toán ngân sách năm 2027")
    pdf = pikepdf.open(io.BytesIO(bytes(doc.output())))
    del pdf.Root.OpenAction  # fpdf2's zoom: reported as active content, the copy sanitised
    for page in pdf.pages:
        image = pikepdf.Stream(pdf, os.urandom(NOISE * NOISE * 3))
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = NOISE, NOISE, 8
        image.ColorSpace = pikepdf.Name.DeviceRGB
        page.add_resource(image, pikepdf.Name.XObject, pikepdf.Name.Noise)
        page.contents_add(pikepdf.Stream(pdf, b"q 420 0 0 420 80 200 cm /Noise Do Q"))
    out = io.BytesIO()
    pdf.save(out, linearize=True, compress_streams=False)
    return out.getvalue()


def small_pdf(title: str) -> bytes:
    doc = FPDF(unit="pt", format="A4")
    doc.add_font("DejaVu", fname=FONT)
    doc.set_font("DejaVu", size=20)
    for n in (1, 2):
        doc.add_page()
        doc.text(60, 80, f"{title}, trang {n}")
    return bytes(doc.output())


#: the reader's page, as `data-doc:data-rendered` ("" while it is drawing)
READER = """() => {
  const p = document.querySelector('.documents .pdfpage');
  return p ? p.dataset.doc + ':' + (p.dataset.rendered || '') : null;
}"""
KIOSK = """() => {
  const p = document.querySelector('.presented .pdfpage');
  return p ? p.dataset.doc + ':' + (p.dataset.rendered || '') : null;
}"""
FOLLOWING = "() => document.querySelector('.documents')?.dataset.following ?? null"
#: the recording's <video> once it plays: its duration, when 0.5 s of it has played
PLAYS = """async () => {
  const v = document.querySelector('.docvideo video');
  if (!v || v.readyState < 2) return null;
  if (v.paused) { v.muted = true; await v.play().catch(() => undefined); }
  return v.currentTime > 0.5 && !v.error ? v.duration : null;
}"""


#: the documents' ids in a list's items
IDS = "items => items.map(li => li.dataset.doc)"


async def _added(ids: Any, before: set[str]) -> str | None:
    new = set(await ids) - before
    return new.pop() if len(new) == 1 else None


async def _at_least(clock: Any, want: str) -> bool:
    """A running time (`00:00:02`, fixed width) that has reached ``want``."""
    return str(await clock or "") >= want


async def rendered(page: Any, query: str, want: str, what: str, within: float = 20.0) -> None:
    await until(lambda: _is(page.evaluate(query), want), what, within=within)


async def _is(value: Any, want: str) -> bool:
    return bool(await value == want)


async def upload_rest(
    http: aiohttp.ClientSession, base: str, token: str, meeting: int, name: str, body: bytes
) -> int:
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{base}/api/v1/meetings/{meeting}/documents"
    async with http.post(url, params={"filename": name}, data=body, headers=auth) as r:
        assert r.status == 201, await r.text()
        doc_id = int((await r.json())["id"])
    async with http.patch(f"{url}/{doc_id}", json={"confidential": True}, headers=auth) as r:
        assert r.status == 200, await r.text()
    async with http.post(f"{url}/{doc_id}/publish", json={}, headers=auth) as r:
        assert r.status == 200, await r.text()
    return doc_id


@pytest.mark.timeout(150)
async def test_documents_in_the_browser(server: Server, browser: Any, tmp_path: Path) -> None:
    ensure_built()
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert server.app is not None
    world = await seed_world(server.app[PARTS])
    data = big_pdf()
    size = len(data)
    big = tmp_path / "Báo cáo ngân sách.pdf"
    big.write_bytes(data)
    fake = tmp_path / "trang-web.pdf"
    fake.write_bytes(b"<!doctype html><html><body>not a pdf</body></html>")
    contexts: list[Any] = []
    try:
        # -- the chair: a refused file with its reason, then the large PDF, published --------
        ctx, chair = await login(browser, server.url + "/chu-tri", "chair", (1600, 1000))
        contexts.append(ctx)
        await chair.wait_for_selector("[data-ready]")
        await chair.click("button[data-verb=open]")
        await chair.click("button[data-verb=start]")
        await until(lambda: chair.evaluate(state_is("live")), "the meeting to go live")
        await chair.set_input_files(".docupload input[type=file]", str(fake))
        await chair.click(".docupload button[type=submit]")
        refused = chair.locator("[data-upload=refused]")
        await refused.wait_for()
        assert "không phải PDF" in await refused.inner_text()
        await chair.set_input_files(".docupload input[type=file]", str(big))
        await chair.select_option(".docupload select", str(world.agenda_ids[0]))
        await chair.click(".docupload button[type=submit]")
        await chair.locator("[data-upload=done]").wait_for(timeout=60_000)
        row = chair.locator(".doclist li", has_text="Báo cáo ngân sách")
        doc_id = int(await row.get_attribute("data-doc") or 0)
        await row.locator("button[data-action=publish]").click()
        await row.locator("button[data-action=present]").wait_for()
        await check_axe(chair, "chair with documents")

        # -- the delegate on a 4 MB/s link: page 1 before the file has arrived ---------------
        ctx, delegate = await login(browser, server.url + "/dai-bieu", "delegate", (1280, 1400))
        contexts.append(ctx)
        entry = delegate.locator(f".docindex button[data-doc='{doc_id}']")
        await entry.wait_for()
        cdp = await ctx.new_cdp_session(delegate)
        await cdp.send("Network.enable")
        await cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 5,
                "downloadThroughput": 4_000_000,
                "uploadThroughput": -1,
            },
        )
        file_requests: set[str] = set()
        got: dict[str, int] = {}
        statuses: list[int] = []

        with_token: list[str] = []
        origins: set[str] = set()

        def sent(ev: dict[str, Any]) -> None:
            # pdf.js's ranges go to the reading grant's address, with no token
            if f"/documents/{doc_id}/read?grant=" in ev["request"]["url"]:
                file_requests.add(ev["requestId"])
                origins.add(ev["request"]["url"].split("/api/")[0])
                if "authorization" in {k.lower() for k in ev["request"]["headers"]}:
                    with_token.append(ev["request"]["url"])

        def received(ev: dict[str, Any]) -> None:
            if ev["requestId"] in file_requests:
                got[ev["requestId"]] = got.get(ev["requestId"], 0) + ev["dataLength"]

        def answered(ev: dict[str, Any]) -> None:
            if ev["requestId"] in file_requests:
                statuses.append(int(ev["response"]["status"]))

        cdp.on("Network.requestWillBeSent", sent)
        cdp.on("Network.dataReceived", received)
        cdp.on("Network.responseReceived", answered)
        await entry.click()
        await rendered(delegate, READER, f"{doc_id}:1", "page 1 in the delegate's reader")
        fetched = sum(got.values())
        print(f"page 1 drawn after {fetched} of {size} bytes, answers {statuses}")
        assert 206 in statuses and not with_token
        assert server.app is not None  # the ranges came from the reading port (CORS)
        assert origins == {f"http://127.0.0.1:{server.app[READING].port}"}, origins
        assert await entry.locator("xpath=..").locator(".badge").count() == 0  # the original
        assert fetched < size / 3, (fetched, size)
        await cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )

        # -- a bridge point's kiosk, then the chair presents and turns to page 5 -------------
        ctx, kiosk = await open_page(browser, server.url + "/diem-cau", (1920, 1080))
        contexts.append(ctx)
        await kiosk.fill("input[name=credential]", world.credentials["bp1"])
        await kiosk.click("button[type=submit]")
        await until(lambda: kiosk.evaluate(state_is("live")), "the kiosk to follow the meeting")
        await row.locator("button[data-action=present]").click()
        await rendered(kiosk, KIOSK, f"{doc_id}:1", "the presented page 1 on the kiosk")
        for _ in range(4):
            n = int(
                await chair.locator("[data-presenting] [data-pageno]").get_attribute("data-pageno")
                or 0
            )
            await chair.click("button[data-action=next-page]")
            await chair.locator(f"[data-presenting] [data-pageno='{n + 1}']").wait_for()
        start = time.monotonic()
        await rendered(delegate, READER, f"{doc_id}:5", "the delegate following to page 5")
        print(f"page 5 drawn at the delegate {1000 * (time.monotonic() - start):.0f} ms after")
        await rendered(kiosk, KIOSK, f"{doc_id}:5", "the kiosk following to page 5")
        assert await delegate.evaluate(FOLLOWING) == "yes"
        await kiosk.screenshot(path=str(SHOTS / "tai-lieu-trinh-bay.png"))

        # -- the delegate pages back alone; the chair turns on; one click returns ------------
        await delegate.click(".documents button[data-action=prev]")
        await rendered(delegate, READER, f"{doc_id}:4", "the delegate browsing page 4")
        assert await delegate.evaluate(FOLLOWING) == "no"
        await chair.click("button[data-action=next-page]")
        await rendered(kiosk, KIOSK, f"{doc_id}:6", "the kiosk following to page 6")
        back = delegate.locator("button[data-action=rejoin]")
        await back.wait_for()
        assert await back.inner_text() == "Về trang người trình bày"
        assert await delegate.evaluate(READER) == f"{doc_id}:4"
        await back.click()
        await rendered(delegate, READER, f"{doc_id}:6", "the delegate back at the presenter's page")
        assert await delegate.evaluate(FOLLOWING) == "yes"

        # -- search inside the document ------------------------------------------------------
        await delegate.fill(".docsearch input[name=q]", "ngân sách")
        await delegate.click(".docsearch button[type=submit]")
        hits = delegate.locator(".docsearch [data-hits]")
        await hits.wait_for()
        assert await hits.get_attribute("data-hits") == "7"
        await delegate.click(".docsearch button[data-hit='7']")
        await rendered(delegate, READER, f"{doc_id}:7", "the search hit on page 7")
        assert "ngân sách" in await delegate.locator(".documents .textLayer").inner_text()
        await delegate.click("button[data-action=rejoin]")
        await rendered(delegate, READER, f"{doc_id}:6", "back with the presenter")

        # -- a private note on page 6 survives a reload ---------------------------------------
        note = "Hỏi lại về khoản chi trang 6"
        await delegate.fill("#doc-note", note)
        await delegate.click("button[data-action=save-note]")
        await delegate.locator(".docnotes [role=status]").wait_for()
        await check_axe(delegate, "delegate reader")
        await delegate.screenshot(path=str(SHOTS / "tai-lieu.png"), full_page=True)
        await delegate.reload(wait_until="domcontentloaded")
        await rendered(delegate, READER, f"{doc_id}:6", "the presenter's page after the reload")
        await until(
            lambda: _is(delegate.locator("#doc-note").input_value(), note), "the note reloaded"
        )
        assert await delegate.locator(".docnotes [data-note-page='6']").count() == 1

        # -- a confidential document: the viewer's own name in the served copy's text ---------
        async with aiohttp.ClientSession() as http:
            secret = await upload_rest(
                http,
                server.url,
                world.tokens["chair"],
                world.meeting_id,
                "Văn bản mật.pdf",
                small_pdf("Văn bản mật"),
            )
        name = await delegate.evaluate("() => window.meetingd.screen.principal.name")
        assert name == "Phạm Thị Ánh"
        await delegate.locator(f".docindex button[data-doc='{secret}']").click()
        try:  # its watermarked copy is made on the first opening, in a checking worker
            await rendered(delegate, READER, f"{secret}:1", "the confidential document", 60.0)
        except AssertionError:
            print("the reader said:", await delegate.locator(".docview").inner_text())
            raise
        text = await delegate.locator(".documents .textLayer").inner_text()
        assert name in text, text
        assert "Văn bản mật" in text

        # -- a recording kept as a document: the chair's list, then the delegate's reader ---
        parts = server.app[PARTS]
        now = parts.clock.now()
        kept = await parts.services.recording.keep(
            world.meeting_id, webm(tmp_path / "ghi-hinh.webm", frames=45), "video/webm",
            now - timedelta(minutes=30), now,
        )  # fmt: skip
        rec = chair.locator(f".doclist li[data-doc='{kept.id}']")
        await rec.wait_for()  # told by document.uploaded
        assert await rec.get_attribute("data-state") == "draft"
        assert "Ghi hình" in await rec.inner_text()
        assert await rec.locator("button[data-action=present]").count() == 0
        await rec.locator("button[data-action=play]").click()
        seconds = await until(lambda: chair.evaluate(PLAYS), "the recording playing at the chair")
        assert 2.5 < seconds < 3.5, seconds
        assert await delegate.locator(f".docindex button[data-doc='{kept.id}']").count() == 0
        async with aiohttp.ClientSession() as http:
            url = f"{server.url}/api/v1/meetings/{world.meeting_id}/documents/{kept.id}"
            auth = {"Authorization": f"Bearer {world.tokens['chair']}"}
            async with http.patch(url, json={"audience": []}, headers=auth) as r:
                assert r.status == 200, await r.text()
        await rec.locator("button[data-action=publish]").click()
        video = delegate.locator(f".docindex button[data-doc='{kept.id}']")
        await video.wait_for()
        await video.click()
        seconds = await until(lambda: delegate.evaluate(PLAYS), "the recording in the reader")
        assert 2.5 < seconds < 3.5, seconds
        assert await delegate.locator(".docview .pdfpage").count() == 0
        assert await delegate.locator(".docvideo a[data-action=download]").count() == 1
        await check_axe(delegate, "delegate playing a recording")

        # -- the chair records a few seconds: every screen says so; stopped, it is a draft ----
        on = "[data-recording=on]"
        before = set(await chair.locator(".doclist li").evaluate_all(IDS))
        await chair.click("button[data-action=record-start]")
        stop = chair.locator("button[data-action=record-stop]")
        await stop.wait_for()  # told by recording.started
        await kiosk.locator(on).wait_for()
        await delegate.locator(on).wait_for()
        assert await kiosk.locator(on).inner_text() == "● Đang ghi hình"
        assert await delegate.locator(on).inner_text() == "● Đang ghi hình"
        elapsed = chair.locator(f".recctl {on}")
        await until(lambda: _at_least(elapsed.get_attribute("data-elapsed"), "00:00:02"), "2 s")
        text = await elapsed.inner_text()
        assert re.fullmatch(r"● Đang ghi hình 00:00:\d\d", text), text
        await check_axe(chair, "chair recording")
        await stop.click()  # the confirmation is accepted (open_page)
        await chair.locator("button[data-action=record-start]:enabled").wait_for(timeout=30_000)
        for page in (chair, kiosk, delegate):
            await page.locator(on).wait_for(state="detached")
        added = await until(
            lambda: _added(chair.locator(".doclist li").evaluate_all(IDS), before),
            "the recording in the chair's documents",
        )
        new = chair.locator(f".doclist li[data-doc='{added}']")
        assert await new.get_attribute("data-state") == "draft"
        assert "Ghi hình cuộc họp" in await new.inner_text()
    finally:
        for c in contexts:
            await c.close()
