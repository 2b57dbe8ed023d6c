"""Meetings, their invitations, agenda and lifecycle."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from meetingd.api.context import services
from meetingd.api.routing import Call, Offset, Routes
from meetingd.domain import MeetingState
from meetingd.schemas import (
    AgendaItemIn,
    AgendaItemOut,
    AgendaItemPatch,
    IdsIn,
    MeetingIn,
    MeetingOut,
    MeetingPatch,
    MeetingSummaryOut,
    MoveAgendaIn,
)
from meetingd.services.meetings import TRANSITIONS, MeetingChanges

routes = Routes()
MANAGE_ERRORS = (403, 404, 409)


class MeetingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    state: MeetingState | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 200
    offset: Offset = 0


@routes.route(
    "POST",
    "/api/v1/meetings",
    summary="Create a meeting (as a draft)",
    tag="meetings",
    body=MeetingIn,
    response=MeetingOut,
    status=201,
    errors=(403, 404),
)
async def create_meeting(call: Call[MeetingIn, Any]) -> MeetingOut:
    """Needs the chair or secretary role for the unit. The chair and secretary named must
    hold that role for the unit."""
    b = call.body
    m = await services(call.request).meetings.create(
        call.principal,
        unit_id=b.unit_id,
        title=b.title,
        description=b.description,
        starts_at=b.starts_at,
        ends_at=b.ends_at,
        chair_id=b.chair_id,
        secretary_id=b.secretary_id,
    )
    return MeetingOut.of(m)


@routes.route(
    "GET",
    "/api/v1/meetings",
    summary="Meetings the caller takes part in or oversees",
    tag="meetings",
    query=MeetingQuery,
    response=list[MeetingSummaryOut],
)
async def list_meetings(call: Call[Any, MeetingQuery]) -> list[MeetingSummaryOut]:
    q = call.query
    ms = await services(call.request).meetings.list_meetings(
        call.principal, state=q.state, limit=q.limit, offset=q.offset
    )
    return [MeetingSummaryOut.of(m) for m in ms]


@routes.route(
    "GET",
    "/api/v1/meetings/{meeting_id}",
    summary="One meeting, with agenda and invitations",
    tag="meetings",
    response=MeetingOut,
    errors=(404,),
)
async def get_meeting(call: Call[Any, Any]) -> MeetingOut:
    return MeetingOut.of(
        await services(call.request).meetings.get(call.principal, call.path["meeting_id"])
    )


@routes.route(
    "PATCH",
    "/api/v1/meetings/{meeting_id}",
    summary="Change a meeting",
    tag="meetings",
    body=MeetingPatch,
    response=MeetingOut,
    errors=MANAGE_ERRORS,
)
async def update_meeting(call: Call[MeetingPatch, Any]) -> MeetingOut:
    b = call.body
    changes = MeetingChanges(
        title=b.title,
        description=b.description,
        starts_at=b.starts_at,
        ends_at=b.ends_at,
        chair_id=b.chair_id,
        secretary_id=b.secretary_id,
    )
    return MeetingOut.of(
        await services(call.request).meetings.update(
            call.principal, call.path["meeting_id"], changes
        )
    )


def _transition_route(name: str, target: str, sources: str) -> None:
    async def handler(call: Call[Any, Any]) -> MeetingOut:
        return MeetingOut.of(
            await services(call.request).meetings.transition(
                call.principal, call.path["meeting_id"], name
            )
        )

    handler.__name__ = f"{name}_meeting"
    handler.__doc__ = (
        f"Chair or secretary only. Allowed when the meeting is {sources}; it becomes {target}."
    )
    routes.route(
        "POST",
        f"/api/v1/meetings/{{meeting_id}}/{name}",
        summary=f"{name.capitalize()} the meeting",
        tag="meetings",
        response=MeetingOut,
        errors=MANAGE_ERRORS,
    )(handler)


for _t in TRANSITIONS.values():
    _transition_route(_t.name, _t.target.value, ", ".join(sorted(s.value for s in _t.sources)))


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/agenda/current",
    summary="Move to an agenda item",
    tag="meetings",
    body=MoveAgendaIn,
    response=MeetingOut,
    errors=MANAGE_ERRORS,
)
async def move_to_item(call: Call[MoveAgendaIn, Any]) -> MeetingOut:
    return MeetingOut.of(
        await services(call.request).meetings.move_to_item(
            call.principal, call.path["meeting_id"], call.body.item_id
        )
    )


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/bridge-points",
    summary="Invite bridge points",
    tag="meetings",
    body=IdsIn,
    response=MeetingOut,
    errors=MANAGE_ERRORS,
)
async def invite_bridge_points(call: Call[IdsIn, Any]) -> MeetingOut:
    """Each must belong to the meeting's unit or a unit below it."""
    return MeetingOut.of(
        await services(call.request).meetings.invite_bridge_points(
            call.principal, call.path["meeting_id"], list(call.body.ids)
        )
    )


@routes.route(
    "DELETE",
    "/api/v1/meetings/{meeting_id}/bridge-points/{bridge_point_id}",
    summary="Withdraw a bridge point's invitation",
    tag="meetings",
    response=MeetingOut,
    errors=MANAGE_ERRORS,
)
async def uninvite_bridge_point(call: Call[Any, Any]) -> MeetingOut:
    return MeetingOut.of(
        await services(call.request).meetings.uninvite_bridge_point(
            call.principal, call.path["meeting_id"], call.path["bridge_point_id"]
        )
    )


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/delegates",
    summary="Invite delegates",
    tag="meetings",
    body=IdsIn,
    response=MeetingOut,
    errors=MANAGE_ERRORS,
)
async def invite_delegates(call: Call[IdsIn, Any]) -> MeetingOut:
    return MeetingOut.of(
        await services(call.request).meetings.invite_delegates(
            call.principal, call.path["meeting_id"], list(call.body.ids)
        )
    )


@routes.route(
    "DELETE",
    "/api/v1/meetings/{meeting_id}/delegates/{user_id}",
    summary="Withdraw a delegate's invitation",
    tag="meetings",
    response=MeetingOut,
    errors=MANAGE_ERRORS,
)
async def uninvite_delegate(call: Call[Any, Any]) -> MeetingOut:
    return MeetingOut.of(
        await services(call.request).meetings.uninvite_delegate(
            call.principal, call.path["meeting_id"], call.path["user_id"]
        )
    )


@routes.route(
    "GET",
    "/api/v1/meetings/{meeting_id}/agenda",
    summary="The agenda, in order",
    tag="meetings",
    response=list[AgendaItemOut],
    errors=(404,),
)
async def list_agenda(call: Call[Any, Any]) -> list[AgendaItemOut]:
    m = await services(call.request).meetings.get(call.principal, call.path["meeting_id"])
    return [AgendaItemOut.of(a) for a in m.agenda]


@routes.route(
    "POST",
    "/api/v1/meetings/{meeting_id}/agenda",
    summary="Add an agenda item at the end",
    tag="meetings",
    body=AgendaItemIn,
    response=AgendaItemOut,
    status=201,
    errors=MANAGE_ERRORS,
)
async def add_agenda_item(call: Call[AgendaItemIn, Any]) -> AgendaItemOut:
    b = call.body
    return AgendaItemOut.of(
        await services(call.request).meetings.add_agenda_item(
            call.principal,
            call.path["meeting_id"],
            title=b.title,
            description=b.description,
            duration_minutes=b.duration_minutes,
        )
    )


@routes.route(
    "PATCH",
    "/api/v1/meetings/{meeting_id}/agenda/{item_id}",
    summary="Change an agenda item",
    tag="meetings",
    body=AgendaItemPatch,
    response=AgendaItemOut,
    errors=MANAGE_ERRORS,
)
async def update_agenda_item(call: Call[AgendaItemPatch, Any]) -> AgendaItemOut:
    b = call.body
    return AgendaItemOut.of(
        await services(call.request).meetings.update_agenda_item(
            call.principal,
            call.path["meeting_id"],
            call.path["item_id"],
            title=b.title,
            description=b.description,
            duration_minutes=b.duration_minutes,
            state=b.state,
        )
    )


@routes.route(
    "DELETE",
    "/api/v1/meetings/{meeting_id}/agenda/{item_id}",
    summary="Remove an agenda item",
    tag="meetings",
    status=204,
    errors=MANAGE_ERRORS,
)
async def remove_agenda_item(call: Call[Any, Any]) -> None:
    await services(call.request).meetings.remove_agenda_item(
        call.principal, call.path["meeting_id"], call.path["item_id"]
    )


@routes.route(
    "PUT",
    "/api/v1/meetings/{meeting_id}/agenda/order",
    summary="Reorder the agenda",
    tag="meetings",
    body=IdsIn,
    response=MeetingOut,
    errors=MANAGE_ERRORS,
)
async def reorder_agenda(call: Call[IdsIn, Any]) -> MeetingOut:
    """`ids` lists every item of the agenda exactly once, in the new order."""
    return MeetingOut.of(
        await services(call.request).meetings.reorder_agenda(
            call.principal, call.path["meeting_id"], list(call.body.ids)
        )
    )
