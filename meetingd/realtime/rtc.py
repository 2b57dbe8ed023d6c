"""WebRTC signalling over the meeting socket: the commands of the ``rtc`` family.

The client offers its camera and microphone with ``rtc.offer``; the server answers, then
offers its receive slots with the per-connection event ``rtc.offered``, which the client
answers with ``rtc.answer``. ``rtc.layout`` tells a client which ``mid`` shows whom.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from meetingd.errors import MeetingdError
from meetingd.realtime.commands import (
    COMMANDS,
    JOINED,
    MeetingRef,
    RtcCandidateIn,
    RtcSdpIn,
)
from meetingd.realtime.connection import CommandContext
from meetingd.realtime.media_bridge import MediaBridge, layout_view
from meetingd.schemas import Id, Request

CHAIR = "the meeting's chair (its console)"


class PageIn(Request):
    meeting_id: Id
    page: Annotated[int, Field(ge=0, le=1000, description="0-based page of bridge points")]


def _media(ctx: CommandContext) -> MediaBridge:
    if ctx.media is None:
        raise MeetingdError("this server runs without a media plane", code="not_implemented")
    return ctx.media


@COMMANDS.command(
    "rtc.config",
    MeetingRef,
    summary="The ICE servers (STUN, TURN with time-limited credentials) to use",
    who=JOINED,
    answer="`{ice_servers: [{urls, username?, credential?}]}`",
)
async def config(ctx: CommandContext, p: MeetingRef) -> dict[str, object]:
    """TURN credentials follow the TURN REST API scheme and expire after
    `media.turn_ttl_seconds`."""
    return {"ice_servers": await _media(ctx).ice_servers(ctx.principal, p.meeting_id)}


@COMMANDS.command(
    "rtc.offer",
    RtcSdpIn,
    summary="Offer this connection's media (SDP); the first offer joins the media room",
    who=JOINED + ", while the meeting is open, live or paused",
    answer="`{sdp}`: the answer, with all the server's candidates (no trickle)",
)
async def offer(ctx: CommandContext, p: RtcSdpIn) -> dict[str, object]:
    """Then the server offers its receive slots (`rtc.offered`). Only Opus, VP8 and H.264
    are forwarded; an offer with none of them is refused (`unsupported_codecs`). A new
    offer after a reconnect replaces the old peer connection."""
    sdp = await _media(ctx).offer(ctx.principal, ctx.conn.sid, p.meeting_id, p.sdp)
    return {"sdp": sdp}


@COMMANDS.command(
    "rtc.answer",
    RtcSdpIn,
    summary="Answer an `rtc.offered` renegotiation",
    who=JOINED + " that sent `rtc.offer`",
    answer="`{}`",
)
async def answer(ctx: CommandContext, p: RtcSdpIn) -> dict[str, object]:
    await _media(ctx).answer(ctx.principal, ctx.conn.sid, p.meeting_id, p.sdp)
    return {}


@COMMANDS.command(
    "rtc.candidate",
    RtcCandidateIn,
    summary="Trickle an ICE candidate",
    who=JOINED + " that sent `rtc.offer`",
    answer="`{}`",
)
async def candidate(ctx: CommandContext, p: RtcCandidateIn) -> dict[str, object]:
    await _media(ctx).candidate(
        ctx.principal, ctx.conn.sid, p.meeting_id, p.candidate, p.sdp_mid, p.sdp_mline_index
    )
    return {}


@COMMANDS.command(
    "rtc.page",
    PageIn,
    summary="Show another page of bridge-point thumbnails on the chair's console",
    who=CHAIR,
    answer="the layout, as in `rtc.layout`",
)
async def page(ctx: CommandContext, p: PageIn) -> dict[str, object]:
    """Pages past the last are clamped. Takes effect within one keyframe."""
    layout = _media(ctx).set_page(ctx.principal, ctx.conn.sid, p.meeting_id, p.page)
    return layout_view(p.meeting_id, layout)


@COMMANDS.command(
    "rtc.layout",
    MeetingRef,
    summary="What each receive slot of this connection shows now",
    who=JOINED + " that sent `rtc.offer`",
    answer="`{meeting_id, page, page_count, audio: [{mid, kind, subject}], video: [...]}`",
)
async def layout(ctx: CommandContext, p: MeetingRef) -> dict[str, object]:
    return layout_view(p.meeting_id, _media(ctx).layout(ctx.principal, ctx.conn.sid, p.meeting_id))
