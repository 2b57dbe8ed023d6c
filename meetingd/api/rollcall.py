"""Roll call ("điểm danh") and presence: the REST twins of the socket commands."""

from __future__ import annotations

from typing import Any

from meetingd.api.context import services
from meetingd.api.routing import Call, Routes
from meetingd.schemas import PresenceOut, RollCallAnswerIn, RollCallOut

routes = Routes()
TAG = "roll call"


@routes.route(
    "GET",
    "/api/v1/meetings/{meeting_id}/rollcall",
    summary="The open roll call, else the last one, with its result",
    tag=TAG,
    response=RollCallOut,
    errors=(404,),
)
async def get_rollcall(call: Call[Any, Any]) -> RollCallOut:
    """Anyone who may read the meeting. 404 when the meeting has had no roll call."""
    rollcall = await services(call.request).rollcall.current(
        call.principal, call.path["meeting_id"]
    )
    return RollCallOut.of(rollcall)


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/rollcall",
    summary="Start a roll call",
    tag=TAG,
    response=RollCallOut,
    status=201,
    errors=(403, 404, 409),
)
async def start_rollcall(call: Call[Any, Any]) -> RollCallOut:
    """Chair or secretary; the meeting must be open, live or paused, with no roll call open.
    Socket twin: `rollcall.start`."""
    rollcall = await services(call.request).rollcall.start(call.principal, call.path["meeting_id"])
    return RollCallOut.of(rollcall)


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/rollcall/answer",
    summary="Answer the roll call with the number of people in the room",
    tag=TAG,
    body=RollCallAnswerIn,
    response=RollCallOut,
    errors=(403, 404, 409),
)
async def answer_rollcall(call: Call[RollCallAnswerIn, Any]) -> RollCallOut:
    """An invited bridge point; a second answer replaces the first. Socket twin:
    `rollcall.answer`."""
    rollcall = await services(call.request).rollcall.answer(
        call.principal, call.path["meeting_id"], call.body.count
    )
    return RollCallOut.of(rollcall)


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/rollcall/confirm",
    summary="Confirm one's own presence in the roll call",
    tag=TAG,
    response=RollCallOut,
    errors=(403, 404, 409),
)
async def confirm_rollcall(call: Call[Any, Any]) -> RollCallOut:
    """An invited delegate; confirming again changes nothing. Socket twin:
    `rollcall.confirm`."""
    rollcall = await services(call.request).rollcall.confirm(
        call.principal, call.path["meeting_id"]
    )
    return RollCallOut.of(rollcall)


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/rollcall/close",
    summary="Close the roll call: its result and quorum are stored",
    tag=TAG,
    response=RollCallOut,
    errors=(403, 404, 409),
)
async def close_rollcall(call: Call[Any, Any]) -> RollCallOut:
    """Chair or secretary. Socket twin: `rollcall.close`."""
    rollcall = await services(call.request).rollcall.close(call.principal, call.path["meeting_id"])
    return RollCallOut.of(rollcall)


@routes.route(
    "GET",
    "/api/v1/meetings/{meeting_id}/presence",
    summary="Who is connected to the meeting now, and since when",
    tag=TAG,
    response=list[PresenceOut],
    errors=(404,),
)
async def get_presence(call: Call[Any, Any]) -> list[PresenceOut]:
    """Each participant once, however many devices it uses. The same list is in the
    `meeting.join` snapshot and follows `presence.joined` / `presence.left`."""
    entries = await services(call.request).presence.present(call.principal, call.path["meeting_id"])
    return [PresenceOut.of(p) for p in entries]
