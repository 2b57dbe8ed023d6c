"""WebRTC signalling over the meeting socket: the ``rtc`` family (socket only).

The client offers its camera and microphone with ``rtc.offer``; the server answers, then
offers its receive slots with the per-connection event ``rtc.offered``, which the client
answers with ``rtc.answer``. ``rtc.layout`` tells a client which ``mid`` shows whom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints

from meetingd.commands.meetings import MeetingRef
from meetingd.commands.stream import socket_of
from meetingd.commands.table import COMMANDS, Context
from meetingd.errors import MeetingdError
from meetingd.events import RecordingStarted, RecordingStopped, RtcLayout
from meetingd.schemas import IceServerOut, IceServersOut, Id, Request, Response, SdpOut
from meetingd.services.authz import Permission

if TYPE_CHECKING:
    from meetingd.realtime.media_bridge import MediaBridge

SIGNALLING = "WebRTC signalling belongs to the socket connection that carries the media"

Sdp = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]


class RtcSdp(Request):
    meeting_id: Id
    sdp: Sdp


class RtcCandidate(Request):
    meeting_id: Id
    candidate: Annotated[str, StringConstraints(max_length=2000)]
    sdp_mid: Annotated[str, StringConstraints(max_length=64)] | None = None
    sdp_mline_index: Annotated[int, Field(ge=0, le=1000)] | None = None


class RtcPage(Request):
    meeting_id: Id
    page: Annotated[int, Field(ge=0, le=1000, description="0-based page of bridge points")]


class RtcLinkMode(Request):
    meeting_id: Id
    subject: Annotated[
        str,
        StringConstraints(min_length=1, max_length=64),
        Field(description="whose link: `bridge_point:<id>` (or `user:<id>`)"),
    ]
    mode: Literal["auto", "normal", "audio_first", "capped", "low", "audio_only"]
    bitrate_cap: Annotated[
        int | None,
        Field(ge=10_000, le=50_000_000, description="bit/s for the whole link; with `capped`"),
    ] = None


class RtcLinkModeOut(Response):
    meeting_id: int
    subject: str
    mode: str = Field(description="as set")
    effective: str = Field(description="in force now (`auto` chooses one)")
    bitrate_cap: int | None


def _media(ctx: Context) -> MediaBridge:
    media = socket_of(ctx).media
    if media is None:
        raise MeetingdError("this server runs without a media plane", code="not_implemented")
    return media


@COMMANDS.command(
    "rtc.config",
    MeetingRef,
    answer=IceServersOut,
    summary="The ICE servers (STUN, TURN with time-limited credentials) to use",
    tag="media",
    permission=Permission.JOINED,
    rest_why_not=SIGNALLING,
)
async def config(ctx: Context, p: MeetingRef) -> IceServersOut:
    """TURN credentials follow the TURN REST API scheme and expire after
    `media.turn_ttl_seconds`."""
    servers = await _media(ctx).ice_servers(ctx.principal, p.meeting_id)
    return IceServersOut(
        ice_servers=[
            IceServerOut(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in servers
        ]
    )


@COMMANDS.command(
    "rtc.offer",
    RtcSdp,
    answer=SdpOut,
    summary="Offer this connection's media (SDP); the first offer joins the media room",
    tag="media",
    permission=Permission.JOINED,
    rest_why_not=SIGNALLING,
)
async def offer(ctx: Context, p: RtcSdp) -> SdpOut:
    """While the meeting is open, live or paused. Then the server offers its receive slots
    (`rtc.offered`). Only Opus, VP8 and H.264 are forwarded; an offer with none of them is
    refused (`unsupported_codecs`). A new offer after a reconnect replaces the old peer
    connection."""
    sdp = await _media(ctx).offer(ctx.principal, socket_of(ctx).conn.sid, p.meeting_id, p.sdp)
    return SdpOut(sdp=sdp)


@COMMANDS.command(
    "rtc.answer",
    RtcSdp,
    answer=None,
    summary="Answer an `rtc.offered` renegotiation",
    tag="media",
    permission=Permission.JOINED,
    rest_why_not=SIGNALLING,
)
async def answer(ctx: Context, p: RtcSdp) -> None:
    """After `rtc.offer` on this connection."""
    await _media(ctx).answer(ctx.principal, socket_of(ctx).conn.sid, p.meeting_id, p.sdp)


@COMMANDS.command(
    "rtc.candidate",
    RtcCandidate,
    answer=None,
    summary="Trickle an ICE candidate",
    tag="media",
    permission=Permission.JOINED,
    rest_why_not=SIGNALLING,
)
async def candidate(ctx: Context, p: RtcCandidate) -> None:
    """After `rtc.offer` on this connection."""
    await _media(ctx).candidate(
        ctx.principal,
        socket_of(ctx).conn.sid,
        p.meeting_id,
        p.candidate,
        p.sdp_mid,
        p.sdp_mline_index,
    )


@COMMANDS.command(
    "rtc.page",
    RtcPage,
    answer=RtcLayout,
    summary="Show another page of bridge-point thumbnails on the chair's console",
    tag="media",
    permission=Permission.CHAIR_CONSOLE,
    rest_why_not=SIGNALLING,
)
async def page(ctx: Context, p: RtcPage) -> RtcLayout:
    """Pages past the last are clamped. Takes effect within one keyframe."""
    return _media(ctx).set_page(ctx.principal, socket_of(ctx).conn.sid, p.meeting_id, p.page)


@COMMANDS.command(
    "rtc.layout",
    MeetingRef,
    answer=RtcLayout,
    summary="What each receive slot of this connection shows now",
    tag="media",
    permission=Permission.JOINED,
    rest_why_not=SIGNALLING,
)
async def layout(ctx: Context, p: MeetingRef) -> RtcLayout:
    """After `rtc.offer` on this connection; the same as the last `rtc.layout` event."""
    return _media(ctx).layout(ctx.principal, socket_of(ctx).conn.sid, p.meeting_id)


@COMMANDS.command(
    "rtc.link_mode",
    RtcLinkMode,
    answer=RtcLinkModeOut,
    summary="Set a bridge point's weak-link mode (audio first, a cap, the low layer, audio only)",
    tag="media",
    permission=Permission.WATCH_HEALTH,
    rest_why_not="the media rooms live in the realtime server that carries the media",
)
async def link_mode(ctx: Context, p: RtcLinkMode) -> RtcLinkModeOut:
    """For the operator or chair watching a weak commune link. Audio is never dropped for
    video: every mode but `normal` keeps room for audio first. `capped` needs `bitrate_cap`
    (bit/s for the link, audio included), `low` sends the lowest simulcast layer only,
    `audio_only` no video; `auto` (the default) picks `normal`, `low` or `audio_only` from
    the link's estimate. Applies to every media session of the subject, at once (layers
    switch at the next keyframe), on whichever media process it is (cascading: the answer
    is then the mode as set, its effect seen in `media.health`); `no_session` when it has
    none."""
    st = await _media(ctx).set_link_mode(
        ctx.principal, p.meeting_id, p.subject, p.mode, p.bitrate_cap
    )
    return RtcLinkModeOut(
        meeting_id=p.meeting_id,
        subject=p.subject,
        mode=st.mode.value,
        effective=st.effective.value,
        bitrate_cap=st.bitrate_cap,
    )


# -- recording (ghi hình): the media rooms record, so the commands are on their socket ----

RECORDING_WHY_NOT = "recordings are made by the media rooms of the realtime server"


class RecordingOut(Response):
    meeting_id: int
    file: str = Field(
        description="the recording's name (its file adds `.webm` or `.mp4`, as the first "
        "picture's codec decides)"
    )


class RecordingStoppedOut(RecordingOut):
    file: str = Field(description="the recording's file name (`.webm` or `.mp4`)")
    duration_seconds: float
    bytes: int
    document_id: int | None = Field(
        description="the meeting's document holding it (a draft for the chair and "
        "secretary), or null if it could not be kept"
    )


@COMMANDS.command(
    "recording.start",
    MeetingRef,
    answer=RecordingOut,
    summary="Start recording the meeting (ghi hình): the speaker's video and the voices",
    tag="media",
    permission=Permission.MANAGE_MEETING,
    events=(RecordingStarted,),
    rest_why_not=RECORDING_WHY_NOT,
)
async def start_recording(ctx: Context, p: MeetingRef) -> RecordingOut:
    """While the meeting is held and has media. One file: the current speaker's video (the
    chair's when nobody speaks) as sent, without re-encoding (VP8 in WebM, H.264 in MP4, as
    the first picture's codec decides), and the chair's and floor holders' audio mixed
    (Opus). `conflict` when already recording."""
    name = await _media(ctx).start_recording(ctx.principal, p.meeting_id)
    return RecordingOut(meeting_id=p.meeting_id, file=name)


@COMMANDS.command(
    "recording.stop",
    MeetingRef,
    answer=RecordingStoppedOut,
    summary="Stop recording the meeting; the file is complete, and kept as a document of "
    "the meeting, when this answers",
    tag="media",
    permission=Permission.MANAGE_MEETING,
    events=(RecordingStopped,),
    rest_why_not=RECORDING_WHY_NOT,
)
async def stop_recording(ctx: Context, p: MeetingRef) -> RecordingStoppedOut:
    """`invalid_state` when not recording. The file becomes a draft document of the meeting
    for the chair and secretary (`document.uploaded`), added by the system. A recording also
    ends with the meeting (or when its media room closes), kept the same way."""
    info, document_id = await _media(ctx).stop_recording(ctx.principal, p.meeting_id)
    return RecordingStoppedOut(
        meeting_id=p.meeting_id,
        file=info.path.rsplit("/", 1)[-1],
        duration_seconds=round(info.duration, 1),
        bytes=info.bytes,
        document_id=document_id,
    )
