"""Objects added to the seeded world: the other district's meeting, and fresh meetings.

Side "own" is district D1 (the world's meeting, chaired by ``chair``); side "other" is
district D2 (chaired by ``chair_d2``, inviting ``bp3`` and ``delegate_other``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from meetingd.app import Parts
from meetingd.domain import Principal
from tests.conftest import World

Side = Literal["own", "other"]

#: The lifecycle commands that take a new draft meeting to each state.
PATH_TO: dict[str, tuple[str, ...]] = {
    "draft": (),
    "scheduled": ("schedule",),
    "open": ("open",),
    "live": ("schedule", "start"),
    "paused": ("schedule", "start", "pause"),
    "ended": ("schedule", "start", "end"),
}


@dataclass(frozen=True)
class MeetingRef:
    id: int
    items: tuple[int, ...]


async def chair_of(parts: Parts, w: World, side: Side) -> Principal:
    return await parts.services.auth.authenticate(
        w.tokens["chair" if side == "own" else "chair_d2"]
    )


async def fresh_meeting(
    parts: Parts, w: World, side: Side, state: str = "draft", *, items: int = 0
) -> MeetingRef:
    """A new meeting of the side's district in ``state``, its people and devices invited."""
    m = parts.services.meetings
    chair = await chair_of(parts, w, side)
    own = side == "own"
    meeting = await m.create(
        chair,
        unit_id=w.units["D1" if own else "D2"],
        title="Họp thử" if own else "Họp huyện khác",
        description="",
        starts_at=parts.clock.now() + timedelta(days=1),
        ends_at=None,
        chair_id=chair.id,
        secretary_id=w.users["secretary"] if own else None,
    )
    ids = []
    for i in range(items):
        item = await m.add_agenda_item(
            chair, meeting.id, title=f"Mục {i + 1}", description="", duration_minutes=None
        )
        ids.append(item.id)
    bps = [w.bridge_points["bp1"], w.bridge_points["bp2"]] if own else [w.bridge_points["bp3"]]
    await m.invite_bridge_points(chair, meeting.id, bps)
    await m.invite_delegates(chair, meeting.id, [w.users["delegate" if own else "delegate_other"]])
    for command in PATH_TO[state]:
        await m.transition(chair, meeting.id, command)
    return MeetingRef(meeting.id, tuple(ids))
