"""The socket commands. Each calls the same service method as its REST twin.

A family of commands is a handful of ``@COMMANDS.command`` entries: name, payload model,
who may call, what the ack holds and which events follow. The namespace dispatches by name,
validates the payload, checks that the connection joined the meeting, and maps errors.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from meetingd.realtime.connection import CommandContext
from meetingd.realtime.registry import CommandRegistry
from meetingd.schemas import Id, MeetingOut, Request, RollCallOut, dump
from meetingd.services.meetings import TRANSITIONS

COMMANDS = CommandRegistry()

READERS = "readers"
MANAGERS = "managers"
JOINED = "joined connections"

#: The words used in "who may call", spelled out once in the reference.
WHO = {
    READERS: "anyone who may read the meeting: its chair and secretary, its invited delegates "
    "and bridge points, and the chairs, secretaries and operators of its unit",
    MANAGERS: "the meeting's chair or secretary, or a chair or secretary of its unit",
    JOINED: "any connection that has joined the meeting (`meeting.join`)",
}

SNAPSHOT = (
    "`{snapshot, seq}`: `snapshot` = `{meeting, presence, rollcall, floor}` as of `seq`; "
    "apply the events with a larger `seq` on top"
)


class MeetingRef(Request):
    meeting_id: Id


class ResyncIn(Request):
    meeting_id: Id
    after_seq: Annotated[int, Field(ge=0, le=2**53, description="The last seq applied")]


class MoveToItemIn(Request):
    meeting_id: Id
    item_id: Id


class RollCallAnswerCommand(Request):
    meeting_id: Id
    count: Annotated[int, Field(ge=0, le=1000, description="People present in the room")]


Sdp = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]


class RtcSdpIn(Request):
    meeting_id: Id
    sdp: Sdp


class RtcCandidateIn(Request):
    meeting_id: Id
    candidate: Annotated[str, StringConstraints(max_length=2000)]
    sdp_mid: Annotated[str, StringConstraints(max_length=64)] | None = None
    sdp_mline_index: Annotated[int, Field(ge=0, le=1000)] | None = None


# -- the stream ----------------------------------------------------------------------------


@COMMANDS.command(
    "meeting.join",
    MeetingRef,
    summary="Join a meeting: its room, its stream and its presence list",
    who=READERS,
    answer=SNAPSHOT,
    events=("presence.joined",),
    needs_join=False,
)
async def join(ctx: CommandContext, p: MeetingRef) -> dict[str, object]:
    """Every event with a larger `seq` than the answer's reaches this connection after the
    ack, in order; an event with a `seq` not above the one you hold is a repeat: ignore it.
    Joining twice answers a fresh snapshot."""
    return await ctx.rooms.join(ctx.conn, p.meeting_id)


@COMMANDS.command(
    "meeting.resync",
    ResyncIn,
    summary="Catch up after a reconnect: the events after `after_seq`, or a snapshot",
    who=READERS,
    answer=(
        "`{events, seq}`: the missed events in order (each with its `type`), `seq` the last "
        "one's; or, when the log no longer holds them all or they are too many, " + SNAPSHOT
    ),
    events=("presence.joined",),
    needs_join=False,
)
async def resync(ctx: CommandContext, p: ResyncIn) -> dict[str, object]:
    """On a new connection it also joins the meeting, as `meeting.join` does."""
    return await ctx.rooms.resync(ctx.conn, p.meeting_id, p.after_seq)


@COMMANDS.command(
    "meeting.leave",
    MeetingRef,
    summary="Leave a meeting's room; the participant is shown gone if this was its last device",
    who=JOINED,
    answer="`{}`",
    events=("presence.left",),
)
async def leave(ctx: CommandContext, p: MeetingRef) -> dict[str, object]:
    await ctx.rooms.leave(ctx.conn, p.meeting_id)
    return {}


# -- the lifecycle ---------------------------------------------------------------------------


def _transition(verb: str, summary: str) -> None:
    async def handler(ctx: CommandContext, p: MeetingRef) -> dict[str, object]:
        meeting = await ctx.services.meetings.transition(ctx.principal, p.meeting_id, verb)
        return dump(MeetingOut.of(meeting))

    handler.__doc__ = f"REST twin: `POST /api/v1/meetings/{{id}}/{verb}`."
    COMMANDS.command(
        f"meeting.{verb}",
        MeetingRef,
        summary=summary,
        who=MANAGERS,
        answer="the meeting",
        events=(TRANSITIONS[verb].event,),
    )(handler)


_transition("open", "Open the meeting (from draft or scheduled): participants may gather")
_transition("start", "Start the meeting (from scheduled or open): it is live")
_transition("pause", "Pause the live meeting")
_transition("resume", "Resume the paused meeting")
_transition("end", "End the meeting (from open, live or paused)")


@COMMANDS.command(
    "meeting.move_to_item",
    MoveToItemIn,
    summary="Make an agenda item the current one; the previous one is done",
    who=MANAGERS,
    answer="the meeting",
    events=("agenda.moved",),
)
async def move_to_item(ctx: CommandContext, p: MoveToItemIn) -> dict[str, object]:
    """REST twin: `POST /api/v1/meetings/{id}/agenda/current`. Open, live or paused only."""
    meeting = await ctx.services.meetings.move_to_item(ctx.principal, p.meeting_id, p.item_id)
    return dump(MeetingOut.of(meeting))


# -- roll call -----------------------------------------------------------------------------


@COMMANDS.command(
    "rollcall.start",
    MeetingRef,
    summary="Start a roll call (điểm danh) in an open, live or paused meeting",
    who=MANAGERS,
    answer="the roll call",
    events=("rollcall.started",),
)
async def rollcall_start(ctx: CommandContext, p: MeetingRef) -> dict[str, object]:
    """REST twin: `POST /api/v1/meetings/{id}/rollcall`. One roll call is open at a time."""
    return dump(RollCallOut.of(await ctx.services.rollcall.start(ctx.principal, p.meeting_id)))


@COMMANDS.command(
    "rollcall.answer",
    RollCallAnswerCommand,
    summary="Answer the open roll call with the number of people in the room",
    who="an invited bridge point",
    answer="the roll call",
    events=("rollcall.answered",),
)
async def rollcall_answer(ctx: CommandContext, p: RollCallAnswerCommand) -> dict[str, object]:
    """REST twin: `POST /api/v1/meetings/{id}/rollcall/answer`. A second answer replaces
    the first; after the roll call closed, `invalid_state`."""
    rollcall = await ctx.services.rollcall.answer(ctx.principal, p.meeting_id, p.count)
    return dump(RollCallOut.of(rollcall))


@COMMANDS.command(
    "rollcall.confirm",
    MeetingRef,
    summary="Confirm one's own presence in the open roll call",
    who="an invited delegate",
    answer="the roll call",
    events=("rollcall.confirmed",),
)
async def rollcall_confirm(ctx: CommandContext, p: MeetingRef) -> dict[str, object]:
    """REST twin: `POST /api/v1/meetings/{id}/rollcall/confirm`. Confirming again changes
    nothing and emits nothing."""
    return dump(RollCallOut.of(await ctx.services.rollcall.confirm(ctx.principal, p.meeting_id)))


@COMMANDS.command(
    "rollcall.close",
    MeetingRef,
    summary="Close the open roll call; its result and quorum are stored and announced",
    who=MANAGERS,
    answer="the roll call with its `result`",
    events=("rollcall.closed",),
)
async def rollcall_close(ctx: CommandContext, p: MeetingRef) -> dict[str, object]:
    """REST twin: `POST /api/v1/meetings/{id}/rollcall/close`."""
    return dump(RollCallOut.of(await ctx.services.rollcall.close(ctx.principal, p.meeting_id)))


# -- the other families register themselves ------------------------------------------------

from meetingd.realtime import floor as _floor  # noqa: E402
from meetingd.realtime import rtc as _rtc  # noqa: E402

__all__ = ["COMMANDS", "_floor", "_rtc"]
