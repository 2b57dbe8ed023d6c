"""The server process of the media benchmarks: hosts one room, signalling over local HTTP.

``--mode sfu``: ``media.MediaPlane`` (the public API only), RTP forwarding.
``--mode relay``: the baseline, plain aiortc with ``MediaRelay``: the publisher's video is
decoded once and every subscriber's sender re-encodes it.

HTTP on 127.0.0.1 (JSON):

* ``POST /join {id, role, sdp}`` -> ``{sdp}`` (the answer to the client's offer)
* ``GET /offer?id=&timeout=`` -> ``{sdp}`` (next server offer, long poll; ``null`` if none)
* ``POST /answer {id, sdp}``; ``POST /floor {ids}``; ``GET /layouts``; ``GET /stats``
* ``POST /quit`` (the process also exits by itself after ``--max-seconds``)

Prints ``READY <port>`` on stdout when listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from typing import Any

from aiohttp import web

# bench/ for the helpers; the repository root first, so `media` is the package itself even
# where a stale editable install maps it as a namespace package
sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                os.path.dirname(os.path.abspath(__file__))]
from _media_common import restrict_ice_to_loopback  # noqa: E402


class SfuHost:
    def __init__(self, page_size: int) -> None:
        from media import MediaConfig, MediaPlane

        self.plane = MediaPlane(MediaConfig(listen_ips=("127.0.0.1",), ice_servers=()))
        self.room = self.plane.create_room("bench", page_size=page_size)
        self.offers: dict[str, asyncio.Queue[str]] = {}

    async def join(self, eid: str, role: str, sdp: str) -> str:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self.offers[eid] = queue

        async def on_offer(offer: str) -> None:
            await queue.put(offer)

        ep = self.room.add_endpoint(eid, role, on_offer=on_offer)
        return await ep.handle_offer(sdp)

    async def next_offer(self, eid: str, wait_s: float) -> str | None:
        queue = self.offers[eid]
        try:
            return await asyncio.wait_for(queue.get(), wait_s)
        except TimeoutError:
            return None

    async def answer(self, eid: str, sdp: str) -> None:
        await self.room.endpoint(eid).handle_answer(sdp)

    def floor(self, ids: list[str]) -> None:
        self.room.set_floor(ids)

    def layouts(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for eid in self.room.endpoints:
            lay = self.room.layout(eid)
            out[eid] = {
                "video": [[s.mid, s.source] for s in lay.video],
                "audio": [[s.mid, s.source] for s in lay.audio],
            }
        return out

    def stats(self) -> dict[str, Any]:
        st = self.room.stats()
        return {
            "endpoints": len(st),
            "connected": sum(1 for s in st.values() if s.state == "connected"),
            "packets_in": sum(s.packets_in for s in st.values()),
            "packets_out": sum(s.packets_out for s in st.values()),
            "packets_dropped": sum(s.packets_dropped for s in st.values()),
            "keyframe_requests": sum(s.keyframe_requests for s in st.values()),
            "states": {k: s.state for k, s in st.items()},
        }

    async def close(self) -> None:
        await self.plane.close()


class RelayHost:
    """aiortc's MediaRelay over decoded frames: one decode, one encode per subscriber."""

    def __init__(self) -> None:
        from aiortc.contrib.media import MediaRelay

        self.relay = MediaRelay()
        self.pcs: dict[str, Any] = {}
        self.source: Any = None
        self.source_ready = asyncio.Event()

    async def join(self, eid: str, role: str, sdp: str) -> str:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs[eid] = pc
        if role == "chair":  # the publisher

            @pc.on("track")
            def on_track(track: Any) -> None:
                if track.kind == "video" and self.source is None:
                    self.source = track
                    self.source_ready.set()

            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        else:
            await asyncio.wait_for(self.source_ready.wait(), 20)
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            pc.addTrack(self.relay.subscribe(self.source, buffered=False))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def next_offer(self, eid: str, wait_s: float) -> str | None:
        return None  # no server-initiated offers in the baseline

    async def answer(self, eid: str, sdp: str) -> None:
        raise web.HTTPBadRequest(text="relay mode makes no offers")

    def floor(self, ids: list[str]) -> None:
        pass

    def layouts(self) -> dict[str, Any]:
        return {}

    def stats(self) -> dict[str, Any]:
        return {
            "endpoints": len(self.pcs),
            "connected": sum(1 for p in self.pcs.values() if p.connectionState == "connected"),
        }

    async def close(self) -> None:
        for pc in self.pcs.values():
            with contextlib.suppress(Exception):
                await pc.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("sfu", "relay"), default="sfu")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--page-size", type=int, default=16)
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--log-level", default="WARNING")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="server %(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("media").setLevel(args.log_level)
    host: SfuHost | RelayHost
    if args.mode == "sfu":
        host = SfuHost(args.page_size)  # MediaConfig.listen_ips keeps ICE on 127.0.0.1
    else:
        restrict_ice_to_loopback()
        host = RelayHost()
    stop = asyncio.Event()

    async def join(req: web.Request) -> web.Response:
        body = await req.json()
        try:
            sdp = await host.join(body["id"], body["role"], body["sdp"])
        except Exception as exc:
            logging.exception("join %s failed", body.get("id"))
            return web.json_response({"error": repr(exc)}, status=500)
        return web.json_response({"sdp": sdp})

    async def offer(req: web.Request) -> web.Response:
        sdp = await host.next_offer(req.query["id"], float(req.query.get("timeout", "10")))
        return web.json_response({"sdp": sdp})

    async def answer(req: web.Request) -> web.Response:
        body = await req.json()
        await host.answer(body["id"], body["sdp"])
        return web.json_response({"ok": True})

    async def floor(req: web.Request) -> web.Response:
        host.floor((await req.json())["ids"])
        return web.json_response({"ok": True})

    async def layouts(req: web.Request) -> web.Response:
        return web.json_response(host.layouts())

    async def stats(req: web.Request) -> web.Response:
        return web.json_response(host.stats())

    async def quit_(req: web.Request) -> web.Response:
        stop.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes([
        web.post("/join", join), web.get("/offer", offer), web.post("/answer", answer),
        web.post("/floor", floor), web.get("/layouts", layouts), web.get("/stats", stats),
        web.post("/quit", quit_),
    ])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    print(f"READY {args.port}", flush=True)
    t0 = time.monotonic()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    if not stop.is_set():
        print(f"server: max {args.max_seconds}s reached after {time.monotonic() - t0:.0f}s",
              file=sys.stderr)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(host.close(), 10)
    await runner.cleanup()


if __name__ == "__main__":
    code = 0
    try:
        if os.environ.get("BENCH_PROFILE_DIR"):  # developer aid: cProfile the server
            import cProfile

            prof = cProfile.Profile()
            try:
                prof.runcall(asyncio.run, main())
            finally:
                prof.dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"],
                                             f"server-{os.getpid()}.prof"))
        else:
            asyncio.run(main())
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)  # no leftover thread (aiortc decoders in relay mode) keeps it alive
