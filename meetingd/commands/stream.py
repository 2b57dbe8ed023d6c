"""The meeting stream on the socket: joining, catching up, leaving (socket only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from meetingd import events as ev
from meetingd.commands.meetings import MeetingRef
from meetingd.commands.table import COMMANDS, Context
from meetingd.errors import MeetingdError
from meetingd.schemas import Id, JoinOut, ReplayOut, Request
from meetingd.services.authz import Permission

if TYPE_CHECKING:
    from meetingd.realtime.connection import SocketSide

STREAM = "the stream exists only on a socket connection"


class Resync(Request):
    meeting_id: Id
    after_seq: Annotated[int, Field(ge=0, le=2**53, description="The last seq applied")]


def socket_of(ctx: Context) -> SocketSide:
    if ctx.socket is None:
        raise MeetingdError("this command needs a socket connection", code="unknown_command")
    return ctx.socket


@COMMANDS.command(
    "meeting.join",
    MeetingRef,
    answer=JoinOut,
    summary="Join a meeting: its room, its stream and its presence list",
    tag="meetings",
    permission=Permission.READ_MEETING,
    events=(ev.PresenceJoined, ev.PresenceArrived),
    rest_why_not=STREAM,
    needs_join=False,
)
async def join(ctx: Context, p: MeetingRef) -> JoinOut:
    """Every event with a larger `seq` than the answer's reaches this connection after the
    ack, in order; an event with a `seq` not above the one you hold is a repeat: ignore it.
    Joining twice answers a fresh snapshot."""
    s = socket_of(ctx)
    return await s.rooms.join(s.conn, p.meeting_id)


@COMMANDS.command(
    "meeting.resync",
    Resync,
    answer=ReplayOut | JoinOut,
    summary="Catch up after a reconnect: the events after `after_seq`, or a snapshot",
    tag="meetings",
    permission=Permission.READ_MEETING,
    events=(ev.PresenceJoined, ev.PresenceArrived),
    rest_why_not=STREAM,
    needs_join=False,
)
async def resync(ctx: Context, p: Resync) -> ReplayOut | JoinOut:
    """On a new connection it also joins the meeting, as `meeting.join` does. When the log
    no longer holds every missed event, or they are too many, the answer is a snapshot."""
    s = socket_of(ctx)
    return await s.rooms.resync(s.conn, p.meeting_id, p.after_seq)


@COMMANDS.command(
    "meeting.leave",
    MeetingRef,
    answer=None,
    summary="Leave a meeting's room; the participant is shown gone if this was its last device",
    tag="meetings",
    permission=Permission.JOINED,
    events=(ev.PresenceLeft,),
    rest_why_not=STREAM,
)
async def leave(ctx: Context, p: MeetingRef) -> None:
    s = socket_of(ctx)
    await s.rooms.leave(s.conn, p.meeting_id)
