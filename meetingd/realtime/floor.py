"""Socket commands of the floor: requests to speak, grants, mutes (twins of api/floor.py)."""

from __future__ import annotations

from meetingd.realtime.commands import COMMANDS, MANAGERS, MeetingRef
from meetingd.realtime.connection import CommandContext
from meetingd.schemas import FloorEntryOut, Id, MuteIn, SubjectIn, dump

SPEAKERS = "an invited bridge point or delegate"


class SubjectCommand(SubjectIn):
    meeting_id: Id


class MuteCommand(MuteIn):
    meeting_id: Id


@COMMANDS.command(
    "floor.request",
    MeetingRef,
    summary="Ask for the floor (đăng ký phát biểu)",
    who=SPEAKERS,
    answer="the floor entry",
    events=("floor.requested",),
)
async def request(ctx: CommandContext, p: MeetingRef) -> dict[str, object]:
    """REST twin: `POST /api/v1/meetings/{id}/floor/request`. Open, live or paused only."""
    return dump(FloorEntryOut.of(await ctx.services.floor.request(ctx.principal, p.meeting_id)))


@COMMANDS.command(
    "floor.withdraw",
    MeetingRef,
    summary="Take back one's own request for the floor",
    who=SPEAKERS,
    answer="`{}`",
    events=("floor.withdrawn",),
)
async def withdraw(ctx: CommandContext, p: MeetingRef) -> dict[str, object]:
    """REST twin: `POST /api/v1/meetings/{id}/floor/withdraw`."""
    await ctx.services.floor.withdraw(ctx.principal, p.meeting_id)
    return {}


@COMMANDS.command(
    "floor.grant",
    SubjectCommand,
    summary="Give the floor to a participant: it becomes audible and is shown as speaker",
    who=MANAGERS,
    answer="the floor entry",
    events=("floor.granted",),
)
async def grant(ctx: CommandContext, p: SubjectCommand) -> dict[str, object]:
    """REST twin: `POST /api/v1/meetings/{id}/floor/grant`. `subject` is `bridge_point:<id>`
    or `user:<id>`; a request is not needed."""
    entry = await ctx.services.floor.grant(ctx.principal, p.meeting_id, p.subject)
    return dump(FloorEntryOut.of(entry))


@COMMANDS.command(
    "floor.revoke",
    SubjectCommand,
    summary="Take the floor back (a holder may revoke itself when done)",
    who=MANAGERS + ", or the holder itself",
    answer="`{}`",
    events=("floor.revoked",),
)
async def revoke(ctx: CommandContext, p: SubjectCommand) -> dict[str, object]:
    """REST twin: `POST /api/v1/meetings/{id}/floor/revoke`."""
    await ctx.services.floor.revoke(ctx.principal, p.meeting_id, p.subject)
    return {}


@COMMANDS.command(
    "floor.mute",
    MuteCommand,
    summary="Mute or unmute a floor holder; the server drops its audio whatever it sends",
    who=MANAGERS,
    answer="the floor entry",
    events=("floor.muted",),
)
async def mute(ctx: CommandContext, p: MuteCommand) -> dict[str, object]:
    """REST twin: `POST /api/v1/meetings/{id}/floor/mute`."""
    entry = await ctx.services.floor.mute(ctx.principal, p.meeting_id, p.subject, p.muted)
    return dump(FloorEntryOut.of(entry))
