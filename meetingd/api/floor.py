"""The floor: requests to speak, grants, mutes."""

from __future__ import annotations

from typing import Any

from meetingd.api.context import services
from meetingd.api.routing import Call, Routes
from meetingd.schemas import FloorEntryOut, MuteIn, SubjectIn

routes = Routes()
ERRORS = (403, 404, 409)


@routes.route(
    "GET",
    "/api/v1/meetings/{meeting_id}/floor",
    summary="Floor holders, then requests",
    tag="floor",
    response=list[FloorEntryOut],
    errors=(404,),
)
async def list_floor(call: Call[Any, Any]) -> list[FloorEntryOut]:
    entries = await services(call.request).floor.entries(call.principal, call.path["meeting_id"])
    return [FloorEntryOut.of(e) for e in entries]


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/floor/request",
    summary="Ask for the floor",
    tag="floor",
    response=FloorEntryOut,
    status=201,
    errors=ERRORS,
)
async def request_floor(call: Call[Any, Any]) -> FloorEntryOut:
    """An invited bridge point or delegate asks to speak."""
    return FloorEntryOut.of(
        await services(call.request).floor.request(call.principal, call.path["meeting_id"])
    )


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/floor/withdraw",
    summary="Take back one's own request",
    tag="floor",
    status=204,
    errors=ERRORS,
)
async def withdraw_floor(call: Call[Any, Any]) -> None:
    await services(call.request).floor.withdraw(call.principal, call.path["meeting_id"])


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/floor/grant",
    summary="Give the floor",
    tag="floor",
    body=SubjectIn,
    response=FloorEntryOut,
    errors=ERRORS,
)
async def grant_floor(call: Call[SubjectIn, Any]) -> FloorEntryOut:
    """Chair or secretary; to a request or directly to an invited participant."""
    return FloorEntryOut.of(
        await services(call.request).floor.grant(
            call.principal, call.path["meeting_id"], call.body.subject
        )
    )


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/floor/revoke",
    summary="Take the floor back (or finish speaking)",
    tag="floor",
    body=SubjectIn,
    status=204,
    errors=ERRORS,
)
async def revoke_floor(call: Call[SubjectIn, Any]) -> None:
    await services(call.request).floor.revoke(
        call.principal, call.path["meeting_id"], call.body.subject
    )


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/floor/mute",
    summary="Mute or unmute a floor holder (enforced by the server)",
    tag="floor",
    body=MuteIn,
    response=FloorEntryOut,
    errors=ERRORS,
)
async def mute_floor(call: Call[MuteIn, Any]) -> FloorEntryOut:
    return FloorEntryOut.of(
        await services(call.request).floor.mute(
            call.principal, call.path["meeting_id"], call.body.subject, call.body.muted
        )
    )
