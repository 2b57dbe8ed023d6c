"""Interop with a real browser: headless Chromium publishes to and receives from the SFU."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from media_peers import ConnectFn, wait_for

from media import Endpoint, Kind, MediaPlane, Room
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, FAKE_UI
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><body><script>
window.start = async (publish) => {
  const pc = new RTCPeerConnection({iceServers: [], bundlePolicy: "max-bundle"});
  window.pc = pc;
  if (publish) {
    const s = await navigator.mediaDevices.getUserMedia(
      {video: {width: 320, height: 240}, audio: true});
    s.getTracks().forEach(t => pc.addTrack(t, s));
  }
  await negotiate(pc);
};
const negotiate = async (pc) => {
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
window.startSimulcast = async (codec) => {
  const pc = new RTCPeerConnection({iceServers: [], bundlePolicy: "max-bundle"});
  window.pc = pc;
  const s = await navigator.mediaDevices.getUserMedia(
    {video: {width: 640, height: 480}, audio: true});
  pc.addTrack(s.getAudioTracks()[0], s);
  const t = pc.addTransceiver(s.getVideoTracks()[0], {direction: "sendonly", streams: [s],
    sendEncodings: [{rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150000},
                    {rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500000},
                    {rid: "f", maxBitrate: 1500000}]});
  const caps = RTCRtpSender.getCapabilities("video").codecs;
  const mine = caps.filter(c => c.mimeType === "video/" + codec);
  if (!mine.length) return false;
  t.setCodecPreferences(mine.concat(caps.filter(c => c.mimeType !== "video/" + codec)));
  await negotiate(pc);
  return true;
};
window.outbound = async () => {
  const out = [];
  (await window.pc.getStats()).forEach(r => {
    if (r.type === "outbound-rtp" && r.kind === "video")
      out.push([r.rid || "", r.frameWidth || 0, r.framesEncoded || 0]);
  });
  return JSON.stringify(out);
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
            args=[*CHROMIUM_ARGS, FAKE_UI],
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


@contextlib.asynccontextmanager
async def browser_endpoint(
    room: Room, browser: Any, page_url: str
) -> AsyncIterator[tuple[Endpoint, Any]]:
    """A Chromium page signalling straight to a new bridge-point endpoint of ``room``."""
    offers: asyncio.Queue[str | None] = asyncio.Queue()
    ep = room.add_endpoint("bp-chromium", "bridge_point", on_offer=offers.put)
    context = await browser.new_context()
    page = await context.new_page()
    await page.expose_function("sfuOffer", ep.handle_offer)
    await page.expose_function("sfuAnswer", ep.handle_answer)
    await page.expose_function("sfuNextOffer", offers.get)
    try:
        await page.goto(page_url, wait_until="domcontentloaded")
        yield ep, page
    finally:
        await offers.put(None)
        await context.close()


async def test_chromium_bridge_point_both_ways(
    plane: MediaPlane, join: ConnectFn, browser: Any, page_url: str
) -> None:
    room = plane.create_room("r-browser")
    chair = await join(room, "chair", "chair", size=(176, 144))

    async with browser_endpoint(room, browser, page_url) as (_ep, page):
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


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_chromium_sends_simulcast_and_each_tile_gets_its_layer(
    plane: MediaPlane, join: ConnectFn, browser: Any, page_url: str, codec: str
) -> None:
    room = plane.create_room(f"r-browser-simulcast-{codec}")
    chair = await join(room, "chair", "chair", size=(176, 144))
    async with browser_endpoint(room, browser, page_url) as (ep, page):
        if not await page.evaluate("codec => window.startSimulcast(codec)", codec):
            pytest.skip(f"this Chromium cannot encode {codec}")
        room.set_floor(["bp-chromium"])
        # Chromium sends two or three layers (by its own rules for 640x480) with RIDs
        await wait_for(
            lambda: len([t for t in ep.primary_layers(Kind.VIDEO) if t.packets_in > 30]) >= 2,
            within=20,
            what="two simulcast layers arriving",
        )
        layers = ep.primary_layers(Kind.VIDEO)
        assert {t.rid for t in layers} <= {"q", "h", "f"} and len({t.ssrc for t in layers}) >= 2
        speaker = room.layout("chair").video[0].mid
        thumb = next(s.mid for s in room.layout("chair").video[1:] if s.source == "bp-chromium")

        def width(mid: str | None) -> int:
            size = chair.size(mid)
            return size[0] if size else 0

        await wait_for(lambda: width(thumb) == 160, within=20, what="thumbnail on the q layer")
        await wait_for(lambda: width(speaker) >= 320, within=20, what="speaker on a higher layer")
        sent = json.loads(await page.evaluate("window.outbound()"))
        assert width(speaker) == max(w for _, w, _ in sent)
        frames = chair.frames(speaker), chair.frames(thumb)
        await wait_for(
            lambda: chair.frames(speaker) > frames[0] + 10 and chair.frames(thumb) > frames[1] + 10,
            within=10,
            what="both tiles decoding",
        )
