"""Meetings: creation, lifecycle, invitations and the agenda."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from meetingd import events as ev
from meetingd.commands.table import COMMANDS, Context, Rest
from meetingd.domain import MeetingState
from meetingd.schemas import (
    AgendaItemIn,
    AgendaItemOut,
    AgendaItemPatch,
    Id,
    IdsIn,
    MeetingIn,
    MeetingOut,
    MeetingPatch,
    MeetingSummaryOut,
    MoveAgendaIn,
    Offset,
    Request,
)
from meetingd.services.authz import Permission
from meetingd.services.meetings import TRANSITIONS, MeetingChanges

MANAGE_ERRORS = (403, 404, 409)
MEETING = "/api/v1/meetings/{meeting_id}"


class MeetingRef(Request):
    meeting_id: Id


class MeetingList(Request):
    state: MeetingState | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 200
    offset: Offset = 0


class MeetingUpdate(MeetingPatch):
    meeting_id: Id


class MoveToItem(MoveAgendaIn):
    meeting_id: Id


class MeetingIds(IdsIn):
    meeting_id: Id


class InvitedBridgePoint(Request):
    meeting_id: Id
    bridge_point_id: Id


class InvitedDelegate(Request):
    meeting_id: Id
    user_id: Id


class AgendaItemAdd(AgendaItemIn):
    meeting_id: Id


class AgendaItemUpdate(AgendaItemPatch):
    meeting_id: Id
    item_id: Id


class AgendaItemRef(Request):
    meeting_id: Id
    item_id: Id


@COMMANDS.command(
    "meeting.create",
    MeetingIn,
    answer=MeetingOut,
    summary="Create a meeting (as a draft)",
    tag="meetings",
    permission=Permission.CREATE_MEETING,
    events=(ev.MeetingCreated,),
    rest=Rest("POST", "/api/v1/meetings", "create_meeting", 201, errors=(403, 404)),
)
async def create(ctx: Context, p: MeetingIn) -> MeetingOut:
    """The chair and secretary named must hold that role for the unit."""
    m = await ctx.services.meetings.create(
        ctx.principal,
        unit_id=p.unit_id,
        title=p.title,
        description=p.description,
        starts_at=p.starts_at,
        ends_at=p.ends_at,
        chair_id=p.chair_id,
        secretary_id=p.secretary_id,
    )
    return MeetingOut.of(m)


@COMMANDS.command(
    "meeting.list",
    MeetingList,
    answer=list[MeetingSummaryOut],
    summary="Meetings the caller takes part in or oversees",
    tag="meetings",
    permission=Permission.AUTHENTICATED,
    rest=Rest("GET", "/api/v1/meetings", "list_meetings", query=True),
)
async def list_meetings(ctx: Context, p: MeetingList) -> list[MeetingSummaryOut]:
    ms = await ctx.services.meetings.list_meetings(
        ctx.principal, state=p.state, limit=p.limit, offset=p.offset
    )
    return [MeetingSummaryOut.of(m) for m in ms]


@COMMANDS.command(
    "meeting.get",
    MeetingRef,
    answer=MeetingOut,
    summary="One meeting, with agenda and invitations",
    tag="meetings",
    permission=Permission.READ_MEETING,
    rest=Rest("GET", MEETING, "get_meeting", errors=(404,)),
    needs_join=False,
)
async def get(ctx: Context, p: MeetingRef) -> MeetingOut:
    return MeetingOut.of(await ctx.services.meetings.get(ctx.principal, p.meeting_id))


@COMMANDS.command(
    "meeting.update",
    MeetingUpdate,
    answer=MeetingOut,
    summary="Change a meeting",
    tag="meetings",
    permission=Permission.MANAGE_MEETING,
    events=(ev.MeetingUpdated,),
    rest=Rest("PATCH", MEETING, "update_meeting", errors=MANAGE_ERRORS),
)
async def update(ctx: Context, p: MeetingUpdate) -> MeetingOut:
    changes = MeetingChanges(
        title=p.title,
        description=p.description,
        starts_at=p.starts_at,
        ends_at=p.ends_at,
        chair_id=p.chair_id,
        secretary_id=p.secretary_id,
    )
    return MeetingOut.of(await ctx.services.meetings.update(ctx.principal, p.meeting_id, changes))


_SUMMARIES = {
    "schedule": "Schedule the draft meeting",
    "unschedule": "Take the scheduled meeting back to draft",
    "open": "Open the meeting (from draft or scheduled): participants may gather",
    "start": "Start the meeting (from scheduled or open): it is live",
    "pause": "Pause the live meeting",
    "resume": "Resume the paused meeting",
    "end": "End the meeting (from open, live or paused)",
}


def _transition(verb: str) -> None:
    t = TRANSITIONS[verb]

    async def handler(ctx: Context, p: MeetingRef) -> MeetingOut:
        meeting = await ctx.services.meetings.transition(ctx.principal, p.meeting_id, verb)
        return MeetingOut.of(meeting)

    sources = ", ".join(sorted(s.value for s in t.sources))
    handler.__doc__ = f"Allowed when the meeting is {sources}; it becomes {t.target.value}."
    COMMANDS.command(
        f"meeting.{verb}",
        MeetingRef,
        answer=MeetingOut,
        summary=_SUMMARIES[verb],
        tag="meetings",
        permission=Permission.MANAGE_MEETING,
        events=(t.event,),
        rest=Rest("POST", f"{MEETING}/{verb}", f"{verb}_meeting", errors=MANAGE_ERRORS),
    )(handler)


for _verb in TRANSITIONS:
    _transition(_verb)


@COMMANDS.command(
    "meeting.move_to_item",
    MoveToItem,
    answer=MeetingOut,
    summary="Make an agenda item the current one; the previous one is done",
    tag="meetings",
    permission=Permission.MANAGE_MEETING,
    events=(ev.AgendaMoved,),
    rest=Rest("POST", f"{MEETING}/agenda/current", "move_to_item", errors=MANAGE_ERRORS),
)
async def move_to_item(ctx: Context, p: MoveToItem) -> MeetingOut:
    """Open, live or paused meetings only."""
    meeting = await ctx.services.meetings.move_to_item(ctx.principal, p.meeting_id, p.item_id)
    return MeetingOut.of(meeting)


@COMMANDS.command(
    "meeting.invite_bridge_points",
    MeetingIds,
    answer=MeetingOut,
    summary="Invite bridge points",
    tag="meetings",
    permission=Permission.MANAGE_MEETING,
    events=(ev.BridgePointsInvited,),
    rest=Rest("POST", f"{MEETING}/bridge-points", "invite_bridge_points", errors=MANAGE_ERRORS),
)
async def invite_bridge_points(ctx: Context, p: MeetingIds) -> MeetingOut:
    """Each must belong to the meeting's unit or a unit below it."""
    return MeetingOut.of(
        await ctx.services.meetings.invite_bridge_points(ctx.principal, p.meeting_id, list(p.ids))
    )


@COMMANDS.command(
    "meeting.uninvite_bridge_point",
    InvitedBridgePoint,
    answer=MeetingOut,
    summary="Withdraw a bridge point's invitation",
    tag="meetings",
    permission=Permission.MANAGE_MEETING,
    events=(ev.BridgePointUninvited,),
    rest=Rest(
        "DELETE",
        f"{MEETING}/bridge-points/{{bridge_point_id}}",
        "uninvite_bridge_point",
        errors=MANAGE_ERRORS,
    ),
)
async def uninvite_bridge_point(ctx: Context, p: InvitedBridgePoint) -> MeetingOut:
    """Its open connections leave the meeting at once (events and media)."""
    return MeetingOut.of(
        await ctx.services.meetings.uninvite_bridge_point(
            ctx.principal, p.meeting_id, p.bridge_point_id
        )
    )


@COMMANDS.command(
    "meeting.invite_delegates",
    MeetingIds,
    answer=MeetingOut,
    summary="Invite delegates",
    tag="meetings",
    permission=Permission.MANAGE_MEETING,
    events=(ev.DelegatesInvited,),
    rest=Rest("POST", f"{MEETING}/delegates", "invite_delegates", errors=MANAGE_ERRORS),
)
async def invite_delegates(ctx: Context, p: MeetingIds) -> MeetingOut:
    return MeetingOut.of(
        await ctx.services.meetings.invite_delegates(ctx.principal, p.meeting_id, list(p.ids))
    )


@COMMANDS.command(
    "meeting.uninvite_delegate",
    InvitedDelegate,
    answer=MeetingOut,
    summary="Withdraw a delegate's invitation",
    tag="meetings",
    permission=Permission.MANAGE_MEETING,
    events=(ev.DelegateUninvited,),
    rest=Rest(
        "DELETE", f"{MEETING}/delegates/{{user_id}}", "uninvite_delegate", errors=MANAGE_ERRORS
    ),
)
async def uninvite_delegate(ctx: Context, p: InvitedDelegate) -> MeetingOut:
    """Their open connections leave the meeting at once (events and media)."""
    return MeetingOut.of(
        await ctx.services.meetings.uninvite_delegate(ctx.principal, p.meeting_id, p.user_id)
    )


# -- agenda ------------------------------------------------------------------------------------


@COMMANDS.command(
    "agenda.list",
    MeetingRef,
    answer=list[AgendaItemOut],
    summary="The agenda, in order",
    tag="meetings",
    permission=Permission.READ_MEETING,
    rest=Rest("GET", f"{MEETING}/agenda", "list_agenda", errors=(404,)),
)
async def list_agenda(ctx: Context, p: MeetingRef) -> list[AgendaItemOut]:
    m = await ctx.services.meetings.get(ctx.principal, p.meeting_id)
    return [AgendaItemOut.of(a) for a in m.agenda]


@COMMANDS.command(
    "agenda.add_item",
    AgendaItemAdd,
    answer=AgendaItemOut,
    summary="Add an agenda item at the end",
    tag="meetings",
    permission=Permission.MANAGE_MEETING,
    events=(ev.AgendaItemAdded,),
    rest=Rest("POST", f"{MEETING}/agenda", "add_agenda_item", 201, errors=MANAGE_ERRORS),
)
async def add_item(ctx: Context, p: AgendaItemAdd) -> AgendaItemOut:
    return AgendaItemOut.of(
        await ctx.services.meetings.add_agenda_item(
            ctx.principal,
            p.meeting_id,
            title=p.title,
            description=p.description,
            duration_minutes=p.duration_minutes,
        )
    )


@COMMANDS.command(
    "agenda.update_item",
    AgendaItemUpdate,
    answer=AgendaItemOut,
    summary="Change an agenda item",
    tag="meetings",
    permission=Permission.MANAGE_MEETING,
    events=(ev.AgendaItemUpdated,),
    rest=Rest("PATCH", f"{MEETING}/agenda/{{item_id}}", "update_agenda_item", errors=MANAGE_ERRORS),
)
async def update_item(ctx: Context, p: AgendaItemUpdate) -> AgendaItemOut:
    return AgendaItemOut.of(
        await ctx.services.meetings.update_agenda_item(
            ctx.principal,
            p.meeting_id,
            p.item_id,
            title=p.title,
            description=p.description,
            duration_minutes=p.duration_minutes,
            state=p.state,
        )
    )


@COMMANDS.command(
    "agenda.remove_item",
    AgendaItemRef,
    answer=None,
    summary="Remove an agenda item",
    tag="meetings",
    permission=Permission.MANAGE_MEETING,
    events=(ev.AgendaItemRemoved,),
    rest=Rest(
        "DELETE", f"{MEETING}/agenda/{{item_id}}", "remove_agenda_item", 204, errors=MANAGE_ERRORS
    ),
)
async def remove_item(ctx: Context, p: AgendaItemRef) -> None:
    await ctx.services.meetings.remove_agenda_item(ctx.principal, p.meeting_id, p.item_id)


@COMMANDS.command(
    "agenda.reorder",
    MeetingIds,
    answer=MeetingOut,
    summary="Reorder the agenda",
    tag="meetings",
    permission=Permission.MANAGE_MEETING,
    events=(ev.AgendaReordered,),
    rest=Rest("PUT", f"{MEETING}/agenda/order", "reorder_agenda", errors=MANAGE_ERRORS),
)
async def reorder(ctx: Context, p: MeetingIds) -> MeetingOut:
    """`ids` lists every item of the agenda exactly once, in the new order."""
    return MeetingOut.of(
        await ctx.services.meetings.reorder_agenda(ctx.principal, p.meeting_id, list(p.ids))
    )
