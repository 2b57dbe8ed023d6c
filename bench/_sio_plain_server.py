"""A plain python-socketio server speaking the slice of meetingd's protocol the fan-out bench uses.

It is the baseline ("the figure to beat") and the way to check the bench's light client
without meetingd: any ``auth.token`` is accepted; ``meeting.join {meeting_id}`` enters the
meeting's room and answers ``{ok, data: {snapshot, seq}}``; ``meeting.move_to_item
{meeting_id, item_id}`` bumps the meeting's ``seq`` and emits ``agenda.moved {meeting_id,
seq, at, item_id, previous_item_id}`` to the room, stamped just before the emit (there is no
transaction). No database, no presence, no authorisation.

    python bench/_sio_plain_server.py --port 8765 [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

import socketio
from aiohttp import web


def build(redis_url: str | None, channel: str) -> web.Application:
    mgr = socketio.AsyncRedisManager(redis_url, channel=channel) if redis_url else None
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=mgr,
        cors_allowed_origins="*",
        ping_interval=2.0,
        ping_timeout=3.0,
    )
    app = web.Application()
    sio.attach(app)
    seqs: dict[int, int] = {}
    current: dict[int, int | None] = {}

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        return isinstance(auth, dict) and bool(auth.get("token"))

    @sio.on("meeting.join")
    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        mid = int(data["meeting_id"])
        await sio.enter_room(sid, f"meeting:{mid}")
        seq = seqs.get(mid, 0)
        return {"ok": True, "data": {"snapshot": {"current_item_id": current.get(mid)}, "seq": seq}}

    @sio.on("meeting.move_to_item")
    async def move(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        mid = int(data["meeting_id"])
        seq = seqs[mid] = seqs.get(mid, 0) + 1
        prev = current.get(mid)
        current[mid] = int(data["item_id"])
        at = datetime.fromtimestamp(time.time(), UTC).isoformat().replace("+00:00", "Z")
        payload = {
            "item_id": current[mid],
            "previous_item_id": prev,
            "meeting_id": mid,
            "seq": seq,
            "at": at,
        }
        await sio.emit("agenda.moved", payload, room=f"meeting:{mid}")
        return {"ok": True, "data": {"seq": seq}}

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", health)
    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--redis")
    p.add_argument("--channel", default="bench-plain")
    a = p.parse_args()
    web.run_app(build(a.redis, a.channel), host="127.0.0.1", port=a.port, print=None)


if __name__ == "__main__":
    main()
