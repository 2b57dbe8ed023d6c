"""The floor: requests to speak ("đăng ký phát biểu"), grants, mutes."""

from __future__ import annotations

from meetingd import events as ev
from meetingd.commands.meetings import MEETING, MeetingRef
from meetingd.commands.table import COMMANDS, Context, Rest
from meetingd.schemas import (
    FloorEntryOut,
    FloorOrderIn,
    GrantFloorIn,
    Id,
    MuteIn,
    SpeechOut,
    SubjectIn,
)
from meetingd.services.authz import Permission

ERRORS = (403, 404, 409)
FLOOR = f"{MEETING}/floor"


class FloorSubject(SubjectIn):
    meeting_id: Id


class FloorMute(MuteIn):
    meeting_id: Id


class FloorGrant(GrantFloorIn):
    meeting_id: Id


class FloorOrder(FloorOrderIn):
    meeting_id: Id


@COMMANDS.command(
    "floor.list",
    MeetingRef,
    answer=list[FloorEntryOut],
    summary="Floor holders, then requests",
    tag="floor",
    permission=Permission.READ_MEETING,
    rest=Rest("GET", FLOOR, "list_floor", errors=(404,)),
)
async def list_floor(ctx: Context, p: MeetingRef) -> list[FloorEntryOut]:
    entries = await ctx.services.floor.entries(ctx.principal, p.meeting_id)
    return [FloorEntryOut.of(e) for e in entries]


@COMMANDS.command(
    "floor.request",
    MeetingRef,
    answer=FloorEntryOut,
    summary="Ask for the floor (đăng ký phát biểu)",
    tag="floor",
    permission=Permission.SPEAK,
    events=(ev.FloorRequested,),
    rest=Rest("POST", f"{FLOOR}/request", "request_floor", 201, errors=ERRORS),
)
async def request(ctx: Context, p: MeetingRef) -> FloorEntryOut:
    """Open, live or paused meetings only."""
    return FloorEntryOut.of(await ctx.services.floor.request(ctx.principal, p.meeting_id))


@COMMANDS.command(
    "floor.withdraw",
    MeetingRef,
    answer=None,
    summary="Take back one's own request for the floor",
    tag="floor",
    permission=Permission.READ_MEETING,
    events=(ev.FloorWithdrawn,),
    rest=Rest("POST", f"{FLOOR}/withdraw", "withdraw_floor", 204, errors=ERRORS),
)
async def withdraw(ctx: Context, p: MeetingRef) -> None:
    await ctx.services.floor.withdraw(ctx.principal, p.meeting_id)


@COMMANDS.command(
    "floor.grant",
    FloorGrant,
    answer=FloorEntryOut,
    summary="Give the floor to a participant: it becomes audible and is shown as speaker",
    tag="floor",
    permission=Permission.MANAGE_MEETING,
    events=(ev.FloorGranted,),
    rest=Rest("POST", f"{FLOOR}/grant", "grant_floor", errors=ERRORS),
)
async def grant(ctx: Context, p: FloorGrant) -> FloorEntryOut:
    """`subject` is `bridge_point:<id>` or `user:<id>`, an invited participant; a request is
    not needed. With `limit_seconds`, the entry carries a `deadline` every screen shows, and
    the server takes the floor back when it passes (`floor.revoked` with reason `time_up`)."""
    entry = await ctx.services.floor.grant(ctx.principal, p.meeting_id, p.subject, p.limit_seconds)
    return FloorEntryOut.of(entry)


@COMMANDS.command(
    "floor.revoke",
    FloorSubject,
    answer=None,
    summary="Take the floor back (a holder may revoke itself when done)",
    tag="floor",
    permission=Permission.RELEASE_FLOOR,
    events=(ev.FloorRevoked,),
    rest=Rest("POST", f"{FLOOR}/revoke", "revoke_floor", 204, errors=ERRORS),
)
async def revoke(ctx: Context, p: FloorSubject) -> None:
    await ctx.services.floor.revoke(ctx.principal, p.meeting_id, p.subject)


@COMMANDS.command(
    "floor.reorder",
    FloorOrder,
    answer=list[FloorEntryOut],
    summary="Put the requests to speak in a new order",
    tag="floor",
    permission=Permission.MANAGE_MEETING,
    events=(ev.FloorReordered,),
    rest=Rest("PUT", f"{FLOOR}/order", "reorder_floor", errors=ERRORS),
)
async def reorder(ctx: Context, p: FloorOrder) -> list[FloorEntryOut]:
    """`subjects` lists every request exactly once; the answer is the floor in its new order."""
    await ctx.services.floor.reorder(ctx.principal, p.meeting_id, list(p.subjects))
    entries = await ctx.services.floor.entries(ctx.principal, p.meeting_id)
    return [FloorEntryOut.of(e) for e in entries]


@COMMANDS.command(
    "floor.mute",
    FloorMute,
    answer=FloorEntryOut,
    summary="Mute or unmute a floor holder; the server drops its audio whatever it sends",
    tag="floor",
    permission=Permission.MANAGE_MEETING,
    events=(ev.FloorMuted,),
    rest=Rest("POST", f"{FLOOR}/mute", "mute_floor", errors=ERRORS),
)
async def mute(ctx: Context, p: FloorMute) -> FloorEntryOut:
    entry = await ctx.services.floor.mute(ctx.principal, p.meeting_id, p.subject, p.muted)
    return FloorEntryOut.of(entry)


@COMMANDS.command(
    "floor.speeches",
    MeetingRef,
    answer=list[SpeechOut],
    summary="The speech log: who had the floor from when to when, granted and ended by whom",
    tag="floor",
    permission=Permission.READ_MEETING,
    rest=Rest("GET", f"{FLOOR}/speeches", "list_speeches", errors=(404,)),
)
async def speeches(ctx: Context, p: MeetingRef) -> list[SpeechOut]:
    """Kept after the floor is given back and after the meeting ends (for the minutes)."""
    return [SpeechOut.of(s) for s in await ctx.services.floor.speeches(ctx.principal, p.meeting_id)]
