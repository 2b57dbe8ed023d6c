"""Roll call ("điểm danh"), presence and media health of a meeting."""

from __future__ import annotations

from meetingd import events as ev
from meetingd.commands.meetings import MEETING, MeetingRef
from meetingd.commands.table import COMMANDS, Context, Rest
from meetingd.schemas import (
    Id,
    MediaHealthOut,
    PresenceOut,
    RollCallAnswerIn,
    RollCallOut,
)
from meetingd.services.authz import Permission

TAG = "roll call"
ROLLCALL = f"{MEETING}/rollcall"
ERRORS = (403, 404, 409)


class RollCallAnswer(RollCallAnswerIn):
    meeting_id: Id


@COMMANDS.command(
    "rollcall.get",
    MeetingRef,
    answer=RollCallOut,
    summary="The open roll call, else the last one, with its result",
    tag=TAG,
    permission=Permission.READ_MEETING,
    rest=Rest("GET", ROLLCALL, "get_rollcall", errors=(404,)),
)
async def get(ctx: Context, p: MeetingRef) -> RollCallOut:
    """`not_found` when the meeting has had no roll call."""
    return RollCallOut.of(await ctx.services.rollcall.current(ctx.principal, p.meeting_id))


@COMMANDS.command(
    "rollcall.start",
    MeetingRef,
    answer=RollCallOut,
    summary="Start a roll call (điểm danh) in an open, live or paused meeting",
    tag=TAG,
    permission=Permission.MANAGE_MEETING,
    events=(ev.RollCallStarted,),
    rest=Rest("POST", ROLLCALL, "start_rollcall", 201, errors=ERRORS),
)
async def start(ctx: Context, p: MeetingRef) -> RollCallOut:
    """One roll call is open at a time."""
    return RollCallOut.of(await ctx.services.rollcall.start(ctx.principal, p.meeting_id))


@COMMANDS.command(
    "rollcall.answer",
    RollCallAnswer,
    answer=RollCallOut,
    summary="Answer the open roll call with the number of people in the room",
    tag=TAG,
    permission=Permission.ANSWER_ROLLCALL,
    events=(ev.RollCallAnswered,),
    rest=Rest("POST", f"{ROLLCALL}/answer", "answer_rollcall", errors=ERRORS),
)
async def answer(ctx: Context, p: RollCallAnswer) -> RollCallOut:
    """A second answer replaces the first; after the roll call closed, `invalid_state`."""
    return RollCallOut.of(await ctx.services.rollcall.answer(ctx.principal, p.meeting_id, p.count))


@COMMANDS.command(
    "rollcall.confirm",
    MeetingRef,
    answer=RollCallOut,
    summary="Confirm one's own presence in the open roll call",
    tag=TAG,
    permission=Permission.CONFIRM_ROLLCALL,
    events=(ev.RollCallConfirmed,),
    rest=Rest("POST", f"{ROLLCALL}/confirm", "confirm_rollcall", errors=ERRORS),
)
async def confirm(ctx: Context, p: MeetingRef) -> RollCallOut:
    """Confirming again changes nothing and emits nothing."""
    return RollCallOut.of(await ctx.services.rollcall.confirm(ctx.principal, p.meeting_id))


@COMMANDS.command(
    "rollcall.close",
    MeetingRef,
    answer=RollCallOut,
    summary="Close the open roll call; its result and quorum are stored and announced",
    tag=TAG,
    permission=Permission.MANAGE_MEETING,
    events=(ev.RollCallClosed,),
    rest=Rest("POST", f"{ROLLCALL}/close", "close_rollcall", errors=ERRORS),
)
async def close(ctx: Context, p: MeetingRef) -> RollCallOut:
    return RollCallOut.of(await ctx.services.rollcall.close(ctx.principal, p.meeting_id))


@COMMANDS.command(
    "presence.list",
    MeetingRef,
    answer=list[PresenceOut],
    summary="Who is connected to the meeting now, and since when",
    tag=TAG,
    permission=Permission.READ_MEETING,
    rest=Rest("GET", f"{MEETING}/presence", "get_presence", errors=(404,)),
)
async def presence(ctx: Context, p: MeetingRef) -> list[PresenceOut]:
    """Each participant once, however many devices it uses. The same list is in the
    `meeting.join` snapshot and follows `presence.joined` / `presence.left`."""
    entries = await ctx.services.presence.present(ctx.principal, p.meeting_id)
    return [PresenceOut.of(e) for e in entries]


@COMMANDS.command(
    "media.health",
    MeetingRef,
    answer=list[MediaHealthOut],
    summary="Link health of every media connection of the meeting",
    tag="health",
    permission=Permission.WATCH_HEALTH,
    rest=Rest("GET", f"{MEETING}/media-health", "media_health", errors=(403, 404)),
)
async def media_health(ctx: Context, p: MeetingRef) -> list[MediaHealthOut]:
    """Figures are refreshed every `media.stats_interval_seconds` while the connection lasts;
    `*_in` is what the server receives from the participant, `*_out` what it sends to it."""
    rows = await ctx.services.health.for_meeting(ctx.principal, p.meeting_id)
    return [MediaHealthOut.of(h) for h in rows]
