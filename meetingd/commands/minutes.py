"""The minutes ("biên bản"): the draft made from the record, edited, then signed and final.

The signed PDF itself is a plain route (:mod:`meetingd.api.minutes`): it is bytes, not JSON.
"""

from __future__ import annotations

from meetingd.commands.meetings import MEETING, MeetingRef
from meetingd.commands.table import COMMANDS, Context, Rest
from meetingd.domain import MinutesSection
from meetingd.schemas import Id, MinutesOut, MinutesPatch
from meetingd.services.authz import Permission

TAG = "minutes"
MINUTES = f"{MEETING}/minutes"
ERRORS = (403, 404, 409)


class MinutesEdit(MinutesPatch):
    meeting_id: Id


@COMMANDS.command(
    "minutes.get",
    MeetingRef,
    answer=MinutesOut,
    summary="The minutes: the draft (made from the record until first edited) or the final one",
    tag=TAG,
    permission=Permission.MANAGE_MEETING,
    rest=Rest("GET", MINUTES, "get_minutes", errors=(403, 404)),
)
async def get(ctx: Context, p: MeetingRef) -> MinutesOut:
    return MinutesOut.of(await ctx.services.minutes.get(ctx.principal, p.meeting_id))


@COMMANDS.command(
    "minutes.update",
    MinutesEdit,
    answer=MinutesOut,
    summary="Edit the draft minutes: number, place, sections; or make them again from the record",
    tag=TAG,
    permission=Permission.MANAGE_MEETING,
    rest=Rest("PATCH", MINUTES, "update_minutes", errors=ERRORS),
)
async def update(ctx: Context, p: MinutesEdit) -> MinutesOut:
    """Final minutes are not edited (`invalid_state`); an edit made on minutes saved since
    is refused (`conflict`) when it says what it was made on (`if_updated_at`)."""
    sections = (
        [MinutesSection(s.heading, s.text) for s in p.sections] if p.sections is not None else None
    )
    minutes = await ctx.services.minutes.update(
        ctx.principal, p.meeting_id, number=p.number, place=p.place, sections=sections,
        regenerate=p.regenerate, if_updated_at=p.if_updated_at,
    )  # fmt: skip
    return MinutesOut.of(minutes)


@COMMANDS.command(
    "minutes.finalise",
    MeetingRef,
    answer=MinutesOut,
    summary="Finalise the minutes of an ended meeting: laid out (Decree 30/2020), signed (PAdES)",
    tag=TAG,
    permission=Permission.MANAGE_MEETING,
    rest=Rest("POST", f"{MINUTES}/finalise", "finalise_minutes", errors=ERRORS),
)
async def finalise(ctx: Context, p: MeetingRef) -> MinutesOut:
    """The PDF is then at `GET /api/v1/meetings/{meeting_id}/minutes.pdf`; `invalid_state`
    while the meeting has not ended, or without a configured signing key."""
    return MinutesOut.of(await ctx.services.minutes.finalise(ctx.principal, p.meeting_id))
