"""A media-plane server process for the benches in this folder that need more than
``_media_server.py`` offers: listen addresses besides loopback (network namespaces),
recording, and layer reports. HTTP signalling as in ``_media_server.py``
(``/join``, ``/offer``, ``/answer``, ``/floor``, ``/quit``) plus ``/record``,
``/stop-record`` and ``/layers``; ``serve()`` prints ``READY <port>`` when listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from aiohttp import web


class Host:
    """One room of a ``media.MediaPlane`` listening on ``ips``."""

    def __init__(self, ips: tuple[str, ...], page_size: int = 16) -> None:
        from media import MediaConfig, MediaPlane

        self.plane = MediaPlane(MediaConfig(listen_ips=ips, ice_servers=()))
        self.room = self.plane.create_room("bench", page_size=page_size)
        self.offers: dict[str, asyncio.Queue[str]] = {}

    async def join(self, eid: str, role: str, sdp: str) -> str:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self.offers[eid] = queue
        ep = self.room.add_endpoint(eid, role, on_offer=queue.put)
        return await ep.handle_offer(sdp)

    def layers(self, source: str) -> dict[str, Any]:
        """Per receiver: the layer (index, bitrate) of the slot that shows ``source``."""
        from media.policy import Kind

        out: dict[str, Any] = {}
        for eid, ep in self.room.endpoints.items():
            if eid != source:
                out[eid] = {"state": ep.connection_state, "layer": None,
                            "link": self.room.link_mode(eid).effective.value,
                            "slots": [s.source.endpoint_id if s.source else None
                                      for s in ep.slots(Kind.VIDEO)]}
            for slot in ep.slots(Kind.VIDEO):
                src = slot.source
                if src is not None and src.endpoint_id == source:
                    ranked = sorted(src.group, key=lambda t: t.bitrate)
                    out[eid] = {"state": ep.connection_state,
                                "link": self.room.link_mode(eid).effective.value,
                                "layer": ranked.index(src) if src in ranked else None,
                                "declared": src.layer_index, "remb": slot.remb,
                                "switches": slot.layer_switches,
                                "retransmitted": slot.retransmitted,
                                "layer_kbps": [round(t.bitrate / 1000) for t in ranked]}
        return out


async def serve(host: Host, port: int, addresses: tuple[str, ...], max_seconds: float,
                directory: str = "") -> None:
    """Serve ``host`` on ``port`` at each address until ``/quit`` or ``max_seconds``."""
    stop = asyncio.Event()
    info: list[Any] = []

    async def join(req: web.Request) -> web.Response:
        body = await req.json()
        return web.json_response({"sdp": await host.join(body["id"], body["role"], body["sdp"])})

    async def offer(req: web.Request) -> web.Response:
        queue = host.offers[req.query["id"]]
        try:
            sdp = await asyncio.wait_for(queue.get(), float(req.query.get("timeout", "10")))
        except TimeoutError:
            sdp = None
        return web.json_response({"sdp": sdp})

    async def answer(req: web.Request) -> web.Response:
        body = await req.json()
        await host.room.endpoint(body["id"]).handle_answer(body["sdp"])
        return web.json_response({"ok": True})

    async def floor(req: web.Request) -> web.Response:
        host.room.set_floor((await req.json())["ids"])
        return web.json_response({"ok": True})

    async def record(req: web.Request) -> web.Response:
        info.append(None)
        host.room.start_recording(os.path.join(directory, f"bench-{len(info)}.webm"))
        return web.json_response({"ok": True})

    async def stop_record(req: web.Request) -> web.Response:
        got = await host.room.stop_recording()
        return web.json_response({"path": got.path, "bytes": got.bytes, "seconds": got.duration,
                                  "video_frames": got.video_frames,
                                  "audio_frames": got.audio_frames})

    async def layers(req: web.Request) -> web.Response:
        return web.json_response(host.layers(req.query["source"]))

    async def quit_(req: web.Request) -> web.Response:
        stop.set()
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes([
        web.post("/join", join), web.get("/offer", offer), web.post("/answer", answer),
        web.post("/floor", floor), web.post("/record", record),
        web.post("/stop-record", stop_record), web.get("/layers", layers),
        web.post("/quit", quit_),
    ])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for address in addresses:
        await web.TCPSite(runner, address, port).start()
    print(f"READY {port}", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max_seconds)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(host.plane.close(), 10)
    await runner.cleanup()
