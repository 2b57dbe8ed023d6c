"""API fixtures: the seeded world plus the other district's meeting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from meetingd.app import PARTS, Parts
from tests.api.worlds import MeetingRef, fresh_meeting
from tests.conftest import World


@dataclass
class Both:
    """The world (district D1's meeting ``w.meeting_id``) and district D2's meeting ``m2``."""

    w: World
    parts: Parts
    m2: MeetingRef

    @property
    def m1(self) -> MeetingRef:
        return MeetingRef(self.w.meeting_id, tuple(self.w.agenda_ids))


@pytest.fixture
async def both(app: web.Application, api_world: World, client: Any) -> Both:
    parts = app[PARTS]
    return Both(api_world, parts, await fresh_meeting(parts, api_world, "other", items=2))
