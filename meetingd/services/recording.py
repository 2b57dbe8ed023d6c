"""Recording a meeting ("ghi hình"): who may start and stop it, its stream events, and the
finished file kept as one of the meeting's documents.

The recording itself runs in the media plane of the realtime server that hosts the
meeting's media (``MediaBridge.start_recording``); this service holds the rules and writes
the events (audited) so that every screen shows that the meeting is being recorded. The
file is written under ``<server.data_dir>/recordings`` while it records. When it ends
(the chair stops it, the meeting ends, or its media room closes), the bridge hands it
here: :meth:`RecordingService.keep` stores it in the documents store as a document of
the meeting, added by the system, and removes it from the recordings directory.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from meetingd.clock import Clock
from meetingd.documents.domain import Document
from meetingd.domain import Meeting, Principal
from meetingd.errors import NotFound
from meetingd.events import RecordingStarted, RecordingStopped
from meetingd.services import authz
from meetingd.services.authz import HELD, Permission
from meetingd.services.documents import SYSTEM, DocumentService
from meetingd.services.minutes import VN
from meetingd.store import Store

#: A recording's title as the documents list shows it (Vietnamese, times in Vietnam's).
TITLE = "Ghi hình cuộc họp “{meeting}” ({start:%H:%M}–{end:%H:%M}, ngày {start:%d/%m/%Y})"


def recording_title(meeting_title: str, started: datetime, ended: datetime) -> str:
    """``Ghi hình cuộc họp “Giao ban tháng 1” (08:00–09:30, ngày 05/01/2026)``: at most
    300 characters, the meeting's title shortened if need be."""
    start, end = started.astimezone(VN), ended.astimezone(VN)
    fixed = len(TITLE.format(meeting="", start=start, end=end))
    name = " ".join(meeting_title.split())
    if fixed + len(name) > 300:
        name = name[: 300 - fixed - 1].rstrip() + "…"
    return TITLE.format(meeting=name, start=start, end=end)


class RecordingService:
    def __init__(
        self, store: Store, clock: Clock, directory: Path, documents: DocumentService
    ) -> None:
        self._store = store
        self._clock = clock
        self.directory = directory
        self._documents = documents

    def path_for(self, meeting_id: int) -> Path:
        """Where a new recording of the meeting is written (the directory is made if
        needed), without a suffix: the media plane adds the container's (``.webm`` for
        VP8, ``.mp4`` for H.264) once the first picture shows which it is."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = self._clock.now().strftime("%Y%m%dT%H%M%SZ")
        return self.directory / f"meeting-{meeting_id}-{stamp}"

    async def check(self, principal: Principal, meeting_id: int) -> Meeting:
        """Refuse unless the caller may record the meeting now (its chair or secretary,
        while it is held)."""
        async with self._store.transaction() as uow:
            return await authz.meeting_for(
                uow, principal, meeting_id, need=Permission.MANAGE_MEETING, states=HELD,
                doing="record the meeting",
            )  # fmt: skip

    async def started(self, principal: Principal, meeting_id: int, name: str) -> datetime:
        """Announce (and audit) that the meeting is being recorded; answers since when."""
        async with self._store.transaction() as uow:
            await authz.meeting_for(
                uow, principal, meeting_id, need=Permission.MANAGE_MEETING, states=HELD,
                doing="record the meeting", lock=True,
            )  # fmt: skip
            now = self._clock.now()
            await uow.emit(meeting_id, RecordingStarted(file=name))
            return now

    async def stopped(
        self,
        principal: Principal,
        meeting_id: int,
        file: str,
        seconds: float,
        size: int,
        document_id: int | None,
    ) -> None:
        """Announce (and audit, in the caller's name) that the caller stopped the recording:
        its file is complete, and kept as ``document_id`` (None if it could not be)."""
        async with self._store.transaction() as uow:
            await authz.meeting_for(
                uow, principal, meeting_id, need=Permission.MANAGE_MEETING, states=HELD,
                doing="stop the recording", lock=True,
            )  # fmt: skip
            await uow.emit(meeting_id, _stopped(file, seconds, size, document_id))

    async def ended(
        self, meeting_id: int, file: str, seconds: float, size: int, document_id: int | None
    ) -> None:
        """Announce (and audit, in the system's name) a recording nobody stopped: the meeting
        ended, or its media room closed (everyone left it, or the server stopped)."""
        async with self._store.transaction() as uow:
            await uow.meetings.lock(meeting_id)
            uow.actor = SYSTEM
            await uow.emit(meeting_id, _stopped(file, seconds, size, document_id))

    async def keep(
        self, meeting_id: int, path: Path, media_type: str, started: datetime, ended: datetime
    ) -> Document:
        """The finished file as a document of the meeting, added by the system: a draft for
        the chair and secretary (see :meth:`DocumentService.add_recording`), titled with the
        meeting and the time it covers. The file then leaves the recordings directory (the
        documents store holds it, by its hash); if keeping fails it stays there."""
        async with self._store.reading() as uow:
            meeting = await uow.meetings.get(meeting_id, full=False)
        if meeting is None:
            raise NotFound(f"meeting {meeting_id} does not exist", field="meeting_id")
        start = started.astimezone(VN)
        doc = await self._documents.add_recording(
            meeting_id,
            path,
            media_type,
            recording_title(meeting.title, started, ended),
            f"ghi-hinh-cuoc-hop-{meeting_id}-{start:%Y%m%d-%H%M}{path.suffix}",
        )
        await asyncio.to_thread(path.unlink, missing_ok=True)
        return doc


def _stopped(file: str, seconds: float, size: int, document_id: int | None) -> RecordingStopped:
    return RecordingStopped(
        file=file, duration_seconds=round(seconds, 1), bytes=size, document_id=document_id
    )
