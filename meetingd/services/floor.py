"""The floor: who asked to speak ("đăng ký phát biểu"), who may speak, who is muted.

The media plane follows it: only the chair and the floor holders are audible, and a mute
set here is enforced by the server whatever the client sends.
"""

from __future__ import annotations

import logging
from typing import Any

from meetingd.clock import Clock
from meetingd.domain import FloorEntry, FloorState, Meeting, MeetingState, Principal
from meetingd.errors import ConflictError, NotFound, PermissionDenied, StateError, ValidationError
from meetingd.events import (
    FloorGranted,
    FloorMuted,
    FloorRequested,
    FloorRevoked,
    FloorWithdrawn,
)
from meetingd.schemas import FloorEntryOut, dump
from meetingd.services import authz
from meetingd.store import Store, UnitOfWork

logger = logging.getLogger(__name__)

ACTIVE = frozenset({MeetingState.OPEN, MeetingState.LIVE, MeetingState.PAUSED})


def floor_view(e: FloorEntry) -> dict[str, object]:
    """An entry as the snapshot lists it: the fields of ``floor.requested``/``floor.granted``."""
    return dump(FloorEntryOut.of(e))


def _entry_fields(e: FloorEntry) -> dict[str, Any]:
    return {
        "subject": e.subject,
        "name": e.name,
        "state": e.state.value,
        "requested_at": e.requested_at,
        "granted_at": e.granted_at,
        "muted": e.muted,
    }


class FloorService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def _meeting(self, uow: UnitOfWork, principal: Principal, meeting_id: int) -> Meeting:
        await uow.meetings.lock(meeting_id)
        meeting = await uow.meetings.get(meeting_id)
        if meeting is None:
            raise NotFound(f"meeting {meeting_id} does not exist", field="meeting_id")
        authz.require_read_meeting(principal, meeting)
        if meeting.state not in ACTIVE:
            raise StateError(f"the floor is closed while the meeting is {meeting.state.value}")
        return meeting

    async def entries(self, principal: Principal, meeting_id: int) -> list[FloorEntry]:
        async with self._store.transaction() as uow:
            meeting = await uow.meetings.get(meeting_id)
            if meeting is None:
                raise NotFound(f"meeting {meeting_id} does not exist", field="meeting_id")
            authz.require_read_meeting(principal, meeting)
            return await uow.floor.entries(meeting_id)

    async def request(self, principal: Principal, meeting_id: int) -> FloorEntry:
        """A bridge point or an invited delegate asks for the floor."""
        async with self._store.transaction() as uow:
            meeting = await self._meeting(uow, principal, meeting_id)
            if not _speaker(principal, meeting):
                raise PermissionDenied("only invited bridge points and delegates ask for the floor")
            if await uow.floor.get(meeting_id, principal.subject) is not None:
                raise ConflictError("you have already asked for the floor, or hold it")
            await uow.floor.add(
                meeting_id,
                principal.subject,
                principal.name,
                FloorState.REQUESTED,
                self._clock.now(),
            )
            entry = await uow.floor.get(meeting_id, principal.subject)
            assert entry is not None
            await uow.emit(meeting_id, FloorRequested(**_entry_fields(entry)))
            return entry

    async def withdraw(self, principal: Principal, meeting_id: int) -> None:
        """Take back one's own request (not yet granted)."""
        async with self._store.transaction() as uow:
            await self._meeting(uow, principal, meeting_id)
            entry = await uow.floor.get(meeting_id, principal.subject)
            if entry is None or entry.state is not FloorState.REQUESTED:
                raise StateError("you have no pending request for the floor")
            await uow.floor.remove(meeting_id, principal.subject)
            await uow.emit(meeting_id, FloorWithdrawn(subject=principal.subject))

    async def grant(self, principal: Principal, meeting_id: int, subject: str) -> FloorEntry:
        """The chair gives the floor, to a request or directly to an invited participant."""
        async with self._store.transaction() as uow:
            meeting = await self._meeting(uow, principal, meeting_id)
            authz.require_manage_meeting(principal, meeting)
            entry = await uow.floor.get(meeting_id, subject)
            now = self._clock.now()
            if entry is None:
                name = await _participant_name(uow, meeting, subject)
                await uow.floor.add(meeting_id, subject, name, FloorState.GRANTED, now)
            elif entry.state is FloorState.GRANTED:
                raise ConflictError(f"{subject} already holds the floor", field="subject")
            else:
                await uow.floor.grant(meeting_id, subject, now)
            got = await uow.floor.get(meeting_id, subject)
            assert got is not None
            await uow.emit(meeting_id, FloorGranted(**_entry_fields(got)))
            return got

    async def revoke(self, principal: Principal, meeting_id: int, subject: str) -> None:
        """The chair takes the floor back, or a holder finishes speaking (``subject`` = self)."""
        async with self._store.transaction() as uow:
            meeting = await self._meeting(uow, principal, meeting_id)
            if subject != principal.subject:
                authz.require_manage_meeting(principal, meeting)
            entry = await uow.floor.get(meeting_id, subject)
            if entry is None:
                raise NotFound(f"{subject} neither holds nor asked for the floor", field="subject")
            await uow.floor.remove(meeting_id, subject)
            await uow.emit(
                meeting_id,
                FloorRevoked(subject=subject, was=entry.state.value, by=principal.subject),
            )

    async def mute(
        self, principal: Principal, meeting_id: int, subject: str, muted: bool
    ) -> FloorEntry:
        """The chair mutes or unmutes a floor holder; the media plane drops its audio."""
        async with self._store.transaction() as uow:
            meeting = await self._meeting(uow, principal, meeting_id)
            authz.require_manage_meeting(principal, meeting)
            entry = await uow.floor.get(meeting_id, subject)
            if entry is None or entry.state is not FloorState.GRANTED:
                raise StateError(f"{subject} does not hold the floor", field="subject")
            if entry.muted == muted:
                raise StateError(f"{subject} is already {'muted' if muted else 'unmuted'}")
            await uow.floor.set_muted(meeting_id, subject, muted)
            got = await uow.floor.get(meeting_id, subject)
            assert got is not None
            await uow.emit(meeting_id, FloorMuted(subject=subject, muted=muted))
            return got


def _speaker(principal: Principal, meeting: Meeting) -> bool:
    if principal.kind == "bridge_point":
        return principal.id in meeting.bridge_point_ids
    return principal.id in meeting.delegate_ids


async def _participant_name(uow: UnitOfWork, meeting: Meeting, subject: str) -> str:
    kind, _, raw = subject.partition(":")
    if not raw.isdigit():
        raise ValidationError(
            "subject must look like 'bridge_point:3' or 'user:5'", field="subject"
        )
    if kind == "bridge_point" and int(raw) in meeting.bridge_point_ids:
        bp = await uow.bridge_points.get(int(raw))
        if bp is not None:
            return bp.name
    if kind == "user" and int(raw) in meeting.delegate_ids:
        user = await uow.users.get(int(raw))
        if user is not None:
            return user.display_name
    raise ValidationError(f"{subject} is not an invited bridge point or delegate", field="subject")
