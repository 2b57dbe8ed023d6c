"""Benchmark: the browser front end (see README.md).

- ``console_ready_ms``: from navigation to a usable chair console (the meeting shown, every one
  of the 40 invited bridge points on the grid), with the chair's token already kept, as when
  the chair opens the console again. Goal < 1000 ms.
- ``join_to_first_frame_ms``: a bridge-point screen opened (token kept) until its browser has
  decoded the first frame of the chair's video (getStats ``framesDecoded``). p50 / p95.
- ``test_call_ms``: the operator presses "Gọi thử" for a bridge point whose screen is open and
  waiting, until the operator's browser has decoded the point's first frame (the server opens
  the test meeting, the kiosk finds it by polling every 3 s, joins and publishes). p50 / max.
- ``js_gzip_kb``: the gzipped JavaScript each view loads (its module and the modules it
  preloads). Goal < 300 KB per view.

The server runs in this process on loopback with the web/dist build; one headless Chromium
(Debian's), a context per screen.

    .venv/bin/python bench/web_load.py [--runs 5]

Prints one JSON document on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp.test_utils import TestServer  # noqa: E402

from meetingd.api.webapp import DEFAULT_DIST  # noqa: E402
from meetingd.app import PARTS, create_app  # noqa: E402
from meetingd.config import (  # noqa: E402
    AuthConfig,
    Config,
    DatabaseConfig,
    RealtimeConfig,
    ServerConfig,
)
from tests.conftest import TEST_KEY, seed_world  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
VIEWS = ("chu-tri", "diem-cau", "dai-bieu", "ky-thuat", "index")
CALL_FRAME = """async () => {
  const m = window.meetingd?.calls?.current?.media;
  if (!m || !m.pc || !m.layout) return 0;
  const slot = m.layout.video.find(s => s.subject === window.meetingd.calls.current.bridgeSubject);
  let n = 0;
  (await m.pc.getStats()).forEach(r => {
    if (r.type === "inbound-rtp" && r.kind === "video" && slot && r.mid === slot.mid)
      n = r.framesDecoded || 0;
  });
  return n;
}"""
FIRST_FRAME = """async () => {
  const m = window.meetingd?.screen?.media;
  if (!m || !m.pc || !m.layout) return 0;
  const mid = m.layout.video[0]?.mid;
  let n = 0;
  (await m.pc.getStats()).forEach(r => {
    if (r.type === "inbound-rtp" && r.kind === "video" && r.mid === mid) n = r.framesDecoded || 0;
  });
  return n;
}"""


def progress(msg: str) -> None:
    print(f"[web_load] {msg}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def js_sizes(dist: Path) -> dict[str, float]:
    """Gzipped JS per view: the page's module script and its modulepreload links."""
    out: dict[str, float] = {}
    for view in VIEWS:
        html = (dist / f"{view}.html").read_text()
        names = set(re.findall(r'(?:src|href)="/assets/([^"]+\.js)"', html))
        total = 0
        for name in names:
            gz = dist / "assets" / f"{name}.gz"
            raw = (dist / "assets" / name).read_bytes()
            total += gz.stat().st_size if gz.exists() else len(gzip.compress(raw, 9))
        out[view] = round(total / 1024, 1)
    return out


async def first_frame(page: Any, frames_js: str, t0: float, into: list[float]) -> None:
    """Append the ms from ``t0`` until ``frames_js`` counts a decoded frame (20 s at most:
    a timeout appends nothing)."""
    deadline = t0 + 20
    while time.perf_counter() < deadline:
        if await page.evaluate(frames_js) > 0:
            into.append((time.perf_counter() - t0) * 1000)
            return
        await asyncio.sleep(0.02)


async def main(runs: int) -> dict[str, Any]:
    if not (DEFAULT_DIST / "index.html").exists():
        raise SystemExit("web/dist is not built: run make web-build")
    tmp = Path(tempfile.mkdtemp(prefix="web-load-"))
    config = Config(
        server=ServerConfig(data_dir=tmp / "data", public_url="http://127.0.0.1"),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp / 'meetingd.sqlite3'}"),
        auth=AuthConfig(signing_key=TEST_KEY, argon2_time_cost=1, argon2_memory_kib=8),
        realtime=RealtimeConfig(commands_per_second=10_000, command_burst=100_000),
    )
    app = create_app(config, migrate=True)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    parts = app[PARTS]
    world = await seed_world(parts)
    chair = await parts.services.auth.authenticate(world.tokens["chair"])
    d = parts.services.directory
    ids = []
    for n in range(38):  # 2 invited by the seed + 38 = 40
        unit = world.units["C1" if n % 2 else "C2"]
        new = await d.create_bridge_point(None, unit_id=unit, name=f"Điểm cầu thôn {n + 1:02d}")
        ids.append(new.bridge_point.id)
    m = parts.services.meetings
    await m.invite_bridge_points(chair, world.meeting_id, ids)
    await m.transition(chair, world.meeting_id, "open")
    await m.transition(chair, world.meeting_id, "start")
    progress(f"server at {url}, 40 bridge points invited")

    import playwright.async_api as pw

    result: dict[str, Any] = {"bench": "web_load", "runs": runs}
    async with pw.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)

        async def context(view: str, token: str) -> Any:
            ctx = await browser.new_context(viewport={"width": 1600, "height": 1000})
            await ctx.add_init_script(
                f"localStorage.setItem('meetingd.token.{view}', {json.dumps(token)})"
            )
            return ctx

        # warm the HTTP cache once (a returning chair has the hashed assets cached)
        ready: list[float] = []
        chair_ctx = await context("chair", world.tokens["chair"])
        chair_page = await chair_ctx.new_page()
        for n in range(runs + 1):
            t0 = time.perf_counter()
            await chair_page.goto(url + "/chu-tri", wait_until="domcontentloaded")
            await chair_page.wait_for_function(
                "() => document.querySelectorAll('[data-ready] li.tile').length === 40",
                timeout=15_000,
            )
            if n:
                ready.append((time.perf_counter() - t0) * 1000)
        progress(f"console ready: {[round(x) for x in ready]} ms")
        result["console_ready_ms"] = {
            "p50": round(statistics.median(ready)),
            "max": round(max(ready)),
            "goal": 1000,
        }

        # the chair console stays open, publishing: bridge points join and wait for its frame
        first: list[float] = []
        for n in range(runs):
            bp = "bp1" if n % 2 == 0 else "bp2"
            ctx = await context("bridge", world.tokens[bp])
            page = await ctx.new_page()
            t0 = time.perf_counter()
            await page.goto(url + "/diem-cau", wait_until="domcontentloaded")
            await first_frame(page, FIRST_FRAME, t0, first)
            await ctx.close()
        progress(f"first frame: {[round(x) for x in first]} ms")
        result["join_to_first_frame_ms"] = {
            "p50": round(statistics.median(first)) if first else None,
            "p95": round(percentile(first, 0.95)) if first else None,
            "timeouts": runs - len(first),
        }
        await chair_ctx.close()

        # the operator's test call with bp3 (not in the meeting), its kiosk open and waiting
        calls: list[float] = []
        op_ctx = await context("operator", world.tokens["operator_d2"])
        op = await op_ctx.new_page()
        await op.goto(url + "/ky-thuat", wait_until="domcontentloaded")
        kiosk_ctx = await context("bridge", world.tokens["bp3"])
        kiosk = await kiosk_ctx.new_page()
        await kiosk.goto(url + "/diem-cau", wait_until="domcontentloaded")
        await kiosk.wait_for_function("() => window.meetingd.screen.phase === 'waiting'")
        row = f"tr[data-subject='bridge_point:{world.bridge_points['bp3']}']"
        button = row + " button[data-action=test-call]"
        for _ in range(runs):
            await op.wait_for_selector(button + ":not([disabled])", timeout=15_000)
            t0 = time.perf_counter()
            await op.click(button)
            await first_frame(op, CALL_FRAME, t0, calls)
            await op.click("button[data-action=end-call]")
            await op.click("[data-test-call] button.secondary")  # close the ended call's panel
        progress(f"test call first frame: {[round(x) for x in calls]} ms")
        result["test_call_ms"] = {
            "p50": round(statistics.median(calls)) if calls else None,
            "max": round(max(calls)) if calls else None,
            "timeouts": runs - len(calls),
        }
        await kiosk_ctx.close()
        await op_ctx.close()
        await browser.close()
    await server.close()
    result["js_gzip_kb"] = {**js_sizes(DEFAULT_DIST), "goal": 300}
    result["machine"] = {"cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]}
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions of each measurement")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(asyncio.wait_for(main(args.runs), 240)), indent=2))
