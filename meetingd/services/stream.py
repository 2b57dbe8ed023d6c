"""The meeting stream: a consistent snapshot with its ``seq``, and the events after a ``seq``.

Every change to a meeting appends an event with the next ``seq`` of that meeting. A screen
that joins takes a snapshot and its ``seq``; one that reconnects asks for the events after
the last ``seq`` it applied, and gets them or, when the log no longer holds them all (or
they are too many to be worth replaying), a fresh snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from meetingd.documents.domain import Document, Presentation
from meetingd.domain import (
    FloorEntry,
    Meeting,
    MeetingEvent,
    PresenceEntry,
    Principal,
    RollCall,
    Vote,
)
from meetingd.errors import NotFound
from meetingd.services import authz
from meetingd.services.documents import DocumentService
from meetingd.store import Store, UnitOfWork

#: Above this many missed events a snapshot is smaller and faster than the replay.
MAX_REPLAY = 500


@dataclass(frozen=True, slots=True)
class MeetingSnapshot:
    """The state of a meeting as of ``seq``: applying the events after ``seq`` brings it up."""

    seq: int
    meeting: Meeting
    presence: tuple[PresenceEntry, ...]
    rollcall: RollCall | None
    floor: tuple[FloorEntry, ...]
    documents: tuple[Document, ...] = ()
    presenting: Presentation | None = None
    #: Open and closed; a secret vote carries only how many have voted until it closes.
    votes: tuple[Vote, ...] = ()


async def read_snapshot(uow: UnitOfWork, principal: Principal, meeting: Meeting) -> MeetingSnapshot:
    """The snapshot of ``meeting`` (read in ``uow``, which holds its stream still: its row
    locked, and ``meeting`` as of that ``seq``) as ``principal`` may see it."""
    meeting_id = meeting.id
    presence = await uow.presence.entries(meeting_id)
    rollcall = await uow.rollcalls.latest(meeting_id)
    floor = await uow.floor.entries(meeting_id)
    docs = await uow.documents.of_meeting(meeting_id)
    seen = tuple(d for d in docs if DocumentService.may_see(principal, meeting, d))
    presenting = await uow.documents.presentation(meeting_id)
    votes = await uow.votes.of_meeting(meeting_id)
    return MeetingSnapshot(
        seq=meeting.seq,
        meeting=meeting,
        presence=tuple(presence),
        rollcall=rollcall,
        floor=tuple(floor),
        documents=seen,
        presenting=presenting,
        votes=tuple(votes),
    )


class StreamService:
    def __init__(self, store: Store, *, max_replay: int = MAX_REPLAY) -> None:
        self._store = store
        self._max_replay = max_replay

    async def snapshot(self, principal: Principal, meeting_id: int) -> MeetingSnapshot:
        """The meeting, who is present, the roll call, the floor, the documents and the votes,
        all as of one ``seq``."""
        async with self._store.transaction() as uow:
            seq = await uow.stream.hold(meeting_id)
            meeting = await uow.meetings.get(meeting_id) if seq is not None else None
            if meeting is None:
                raise NotFound(f"meeting {meeting_id} does not exist", field="meeting_id")
            authz.require_read_meeting(principal, meeting)
            return await read_snapshot(uow, principal, meeting)

    async def events_after(
        self, principal: Principal, meeting_id: int, after_seq: int
    ) -> list[MeetingEvent] | None:
        """The events after ``after_seq`` in order, or None when a snapshot is needed instead.

        A snapshot is needed when the log no longer holds the event right after ``after_seq``,
        when more than the replay limit are missing, or when ``after_seq`` is ahead of the
        meeting (the client's state does not come from this meeting's stream).
        """
        async with self._store.reading() as uow:
            meeting = await authz.meeting_for(uow, principal, meeting_id)
            if after_seq > meeting.seq:
                return None
            if after_seq == meeting.seq:
                return []
            oldest = await uow.events.oldest_seq(meeting_id)
            if oldest is None or oldest > after_seq + 1:
                return None
            events = await uow.events.after(meeting_id, after_seq, self._max_replay + 1)
            return None if len(events) > self._max_replay else events

    async def committed_after(
        self, meeting_id: int, after_seq: int, limit: int
    ) -> list[MeetingEvent]:
        """Events after ``after_seq`` as the log holds them (for the server's own catch-up)."""
        async with self._store.reading() as uow:
            return await uow.events.after(meeting_id, after_seq, limit)

    async def heads(self, meeting_ids: list[int]) -> dict[int, int]:
        """The current ``seq`` of each meeting."""
        async with self._store.reading() as uow:
            return await uow.stream.heads(meeting_ids)
