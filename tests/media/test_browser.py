"""Interop with a real browser: headless Chromium publishes to and receives from the SFU."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from media_peers import ConnectFn, wait_for

from media import MediaPlane
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"

PAGE = """<!doctype html><html><body><script>
window.start = async (publish) => {
  const pc = new RTCPeerConnection({iceServers: [], bundlePolicy: "max-bundle"});
  window.pc = pc;
  if (publish) {
    const s = await navigator.mediaDevices.getUserMedia(
      {video: {width: 320, height: 240}, audio: true});
    s.getTracks().forEach(t => pc.addTrack(t, s));
  }
  await pc.setLocalDescription(await pc.createOffer());
  while (pc.iceGatheringState !== "complete") await new Promise(r => setTimeout(r, 20));
  const answer = await window.sfuOffer(pc.localDescription.sdp);
  await pc.setRemoteDescription({type: "answer", sdp: answer});
  (async () => {
    for (;;) {
      const offer = await window.sfuNextOffer();
      if (!offer) return;
      await pc.setRemoteDescription({type: "offer", sdp: offer});
      await pc.setLocalDescription(await pc.createAnswer());
      await window.sfuAnswer(pc.localDescription.sdp);
    }
  })();
};
window.inbound = async () => {
  const out = {};
  (await window.pc.getStats()).forEach(r => {
    if (r.type === "inbound-rtp" && r.kind === "video")
      out[r.mid] = [r.framesDecoded || 0, r.frameWidth || 0, r.frameHeight || 0];
  });
  return JSON.stringify(out);
};
</script></body></html>"""


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not shutil.which(CHROMIUM):
        skip_or_fail("Debian's chromium is not installed (apt-get install -y chromium)")
    import playwright.async_api as playwright_api

    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--allow-loopback-in-peer-connection",
            ],
        )
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def page_url() -> AsyncIterator[str]:
    app = web.Application()

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app.router.add_get("/", index)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/"
    await runner.cleanup()


async def test_chromium_bridge_point_both_ways(
    plane: MediaPlane, join: ConnectFn, browser: Any, page_url: str
) -> None:
    room = plane.create_room("r-browser")
    chair = await join(room, "chair", "chair", size=(176, 144))

    offers: asyncio.Queue[str | None] = asyncio.Queue()
    ep = room.add_endpoint("bp-chromium", "bridge_point", on_offer=offers.put)
    context = await browser.new_context()
    page = await context.new_page()
    await page.expose_function("sfuOffer", ep.handle_offer)
    await page.expose_function("sfuAnswer", ep.handle_answer)
    await page.expose_function("sfuNextOffer", offers.get)
    try:
        await page.goto(page_url, wait_until="domcontentloaded")
        await page.evaluate("publish => window.start(publish)", True)

        # Chromium -> SFU -> aiortc: the chair decodes the browser's camera thumbnail
        await wait_for(
            lambda: room.layout("chair").video[1].source == "bp-chromium", what="browser thumbnail"
        )
        thumb = room.layout("chair").video[1].mid
        await wait_for(lambda: chair.frames(thumb) >= 10, within=15, what="browser video")
        assert chair.size(thumb) == (320, 240)

        # aiortc -> SFU -> Chromium: the browser decodes the chair on its first video slot
        mid = room.layout("bp-chromium").video[0].mid
        stats: dict[str, list[int]] = {}

        async def poll() -> None:
            while True:
                stats.update(json.loads(await page.evaluate("window.inbound()")))
                if stats.get(str(mid), [0])[0] >= 10:
                    return
                await asyncio.sleep(0.2)

        await asyncio.wait_for(poll(), 15)
        assert stats[str(mid)][1:] == [176, 144]
    finally:
        await offers.put(None)
        await context.close()
