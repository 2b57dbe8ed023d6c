"""The floor: who asked to speak ("đăng ký phát biểu"), who may speak, who is muted.

The media plane follows it: only the chair and the floor holders are audible, and a mute
set here is enforced by the server whatever the client sends. A grant may carry a speaking
time: the server keeps the deadline (every screen shows it) and takes the floor back when
it runs out. Every speech is kept in the speech log (who, from when to when, granted and
ended by whom, and why it ended) for the minutes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from meetingd.clock import Clock
from meetingd.domain import FloorEntry, FloorState, Meeting, Principal, Speech, SpeechEnd
from meetingd.errors import ConflictError, NotFound, StateError, ValidationError
from meetingd.events import (
    FloorGranted,
    FloorMuted,
    FloorReordered,
    FloorRequested,
    FloorRevoked,
    FloorWithdrawn,
)
from meetingd.services import authz
from meetingd.services.authz import HELD, Permission
from meetingd.store import Store, UnitOfWork

logger = logging.getLogger(__name__)

#: Who ends a speech whose time ran out.
SYSTEM = "system"
#: Bounds of a speaking-time limit, in seconds.
MIN_LIMIT, MAX_LIMIT = 10, 4 * 3600


def _entry_fields(e: FloorEntry) -> dict[str, Any]:
    return {
        "subject": e.subject,
        "name": e.name,
        "state": e.state.value,
        "requested_at": e.requested_at,
        "granted_at": e.granted_at,
        "muted": e.muted,
        "deadline": e.deadline,
    }


class FloorService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def _held(
        self, uow: UnitOfWork, principal: Principal, meeting_id: int, need: Permission
    ) -> Meeting:
        return await authz.meeting_for(
            uow, principal, meeting_id, need=need, states=HELD, doing="the floor", lock=True
        )

    async def entries(self, principal: Principal, meeting_id: int) -> list[FloorEntry]:
        async with self._store.transaction() as uow:
            await authz.meeting_for(uow, principal, meeting_id)
            return await uow.floor.entries(meeting_id)

    async def speeches(self, principal: Principal, meeting_id: int) -> list[Speech]:
        """The speech log of the meeting, in order."""
        async with self._store.transaction() as uow:
            await authz.meeting_for(uow, principal, meeting_id)
            return await uow.speeches.of_meeting(meeting_id)

    async def request(self, principal: Principal, meeting_id: int) -> FloorEntry:
        """A bridge point or an invited delegate asks for the floor."""
        async with self._store.transaction() as uow:
            await self._held(uow, principal, meeting_id, Permission.SPEAK)
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
            await self._held(uow, principal, meeting_id, Permission.READ_MEETING)
            entry = await uow.floor.get(meeting_id, principal.subject)
            if entry is None or entry.state is not FloorState.REQUESTED:
                raise StateError("you have no pending request for the floor")
            await uow.floor.remove(meeting_id, principal.subject)
            await uow.emit(meeting_id, FloorWithdrawn(subject=principal.subject))

    async def grant(
        self,
        principal: Principal,
        meeting_id: int,
        subject: str,
        limit_seconds: int | None = None,
    ) -> FloorEntry:
        """The chair gives the floor, to a request or directly to an invited participant,
        for ``limit_seconds`` at most when given."""
        if limit_seconds is not None and not MIN_LIMIT <= limit_seconds <= MAX_LIMIT:
            raise ValidationError(
                f"limit_seconds must be between {MIN_LIMIT} and {MAX_LIMIT}",
                field="limit_seconds",
            )
        async with self._store.transaction() as uow:
            meeting = await self._held(uow, principal, meeting_id, Permission.MANAGE_MEETING)
            entry = await uow.floor.get(meeting_id, subject)
            now = self._clock.now()
            deadline = now + timedelta(seconds=limit_seconds) if limit_seconds else None
            if entry is None:
                name = await _participant_name(uow, meeting, subject)
                await uow.floor.add(meeting_id, subject, name, FloorState.GRANTED, now, deadline)
            elif entry.state is FloorState.GRANTED:
                raise ConflictError(f"{subject} already holds the floor", field="subject")
            else:
                await uow.floor.grant(meeting_id, subject, now, deadline)
            got = await uow.floor.get(meeting_id, subject)
            assert got is not None
            await uow.speeches.start(
                meeting_id,
                subject,
                got.name,
                at=now,
                by=principal.subject,
                limit_seconds=limit_seconds,
            )
            await uow.emit(meeting_id, FloorGranted(**_entry_fields(got)))
            return got

    async def revoke(self, principal: Principal, meeting_id: int, subject: str) -> None:
        """The chair takes the floor back, or a holder finishes speaking (``subject`` = self)."""
        own = subject == principal.subject
        # Permission.RELEASE_FLOOR: one's own floor, or anyone's for a manager.
        need = Permission.READ_MEETING if own else Permission.MANAGE_MEETING
        async with self._store.transaction() as uow:
            await self._held(uow, principal, meeting_id, need)
            entry = await uow.floor.get(meeting_id, subject)
            if entry is None:
                raise NotFound(f"{subject} neither holds nor asked for the floor", field="subject")
            reason = SpeechEnd.FINISHED if own else SpeechEnd.REVOKED
            await self._end(uow, meeting_id, entry, by=principal.subject, reason=reason)

    async def _end(
        self, uow: UnitOfWork, meeting_id: int, entry: FloorEntry, *, by: str, reason: SpeechEnd
    ) -> None:
        await uow.floor.remove(meeting_id, entry.subject)
        if entry.state is FloorState.GRANTED:
            now = self._clock.now()
            await uow.speeches.end(meeting_id, entry.subject, at=now, by=by, reason=reason)
        await uow.emit(
            meeting_id,
            FloorRevoked(subject=entry.subject, was=entry.state.value, by=by, reason=reason.value),
        )

    async def reorder(self, principal: Principal, meeting_id: int, subjects: list[str]) -> None:
        """The chair puts the requests to speak in a new order (every request, once)."""
        async with self._store.transaction() as uow:
            await self._held(uow, principal, meeting_id, Permission.MANAGE_MEETING)
            waiting = [
                e.subject for e in await uow.floor.entries(meeting_id)
                if e.state is FloorState.REQUESTED
            ]  # fmt: skip
            if sorted(subjects) != sorted(waiting) or len(set(subjects)) != len(subjects):
                raise ValidationError(
                    "subjects must list every request for the floor exactly once "
                    f"(now: {', '.join(waiting) or 'none'})",
                    field="subjects",
                )
            await uow.floor.reorder(meeting_id, subjects)
            await uow.emit(meeting_id, FloorReordered(subjects=subjects))

    async def mute(
        self, principal: Principal, meeting_id: int, subject: str, muted: bool
    ) -> FloorEntry:
        """The chair mutes or unmutes a floor holder; the media plane drops its audio."""
        async with self._store.transaction() as uow:
            await self._held(uow, principal, meeting_id, Permission.MANAGE_MEETING)
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

    async def expire(self) -> int:
        """Take the floor back from every holder whose speaking time has run out.

        Safe to run from several processes at once: each entry is re-read under its
        meeting's lock, so exactly one of them ends it. Answers how many it ended.
        """
        async with self._store.reading() as uow:  # every half second: no writer's turn
            overdue = await uow.floor.overdue(self._clock.now())
        ended = 0
        for candidate in overdue:
            async with self._store.transaction() as uow:
                await uow.meetings.lock(candidate.meeting_id)
                entry = await uow.floor.get(candidate.meeting_id, candidate.subject)
                now = self._clock.now()
                if entry is None or entry.deadline is None or entry.deadline > now:
                    continue  # ended or given again meanwhile
                await self._end(
                    uow, candidate.meeting_id, entry, by=SYSTEM, reason=SpeechEnd.TIME_UP
                )
                ended += 1
                logger.info(
                    "meeting %s: %s's speaking time ran out", candidate.meeting_id, entry.subject
                )
        return ended


async def end_all_speeches(uow: UnitOfWork, meeting_id: int, at: datetime, by: str) -> None:
    """The meeting ends: nobody holds the floor any more, every open speech ends."""
    await uow.speeches.end(meeting_id, None, at=at, by=by, reason=SpeechEnd.MEETING_ENDED)
    await uow.floor.clear(meeting_id)


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
