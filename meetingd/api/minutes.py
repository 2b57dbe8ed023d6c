"""The signed minutes PDF over HTTP (bytes, not JSON); the rest are commands."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from meetingd.api.context import services
from meetingd.api.routing import Call, Routes
from meetingd.commands.meetings import MEETING
from meetingd.schemas import MinutesOut

routes = Routes()


@routes.route(
    "GET",
    f"{MEETING}/minutes.pdf",
    summary="The signed minutes (biên bản) PDF, once final",
    tag="minutes",
    response=MinutesOut,
    errors=(404, 409),
    raw_content={"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
)
async def minutes_pdf(call: Call[Any, Any]) -> web.StreamResponse:
    """Who may call: anyone who may read the meeting. `invalid_state` before it is final.
    `meetingd minutes verify FILE` checks the signature of a copy."""
    meeting_id = call.path["meeting_id"]
    body = await services(call.request).minutes.pdf(call.principal, meeting_id)
    return web.Response(
        body=body,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="bien-ban-{meeting_id}.pdf"',
        },
    )
