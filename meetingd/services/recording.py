"""Recording a meeting ("ghi hình"): who may start and stop it, and its stream events.

The recording itself runs in the media plane of the realtime server that hosts the
meeting's media (``MediaBridge.start_recording``); this service holds the rules and writes
the events (audited) so that every screen shows that the meeting is being recorded.
Files are kept under ``<server.data_dir>/recordings``. When a recording ends, the bridge
calls its ``on_recording_finished`` hook: that is where the documents feature attaches
the file to the meeting as a document.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from meetingd.clock import Clock
from meetingd.domain import Meeting, Principal
from meetingd.events import RecordingStarted, RecordingStopped
from meetingd.services import authz
from meetingd.services.authz import HELD, Permission
from meetingd.store import Store


class RecordingService:
    def __init__(self, store: Store, clock: Clock, directory: Path) -> None:
        self._store = store
        self._clock = clock
        self.directory = directory

    def path_for(self, meeting_id: int) -> Path:
        """A new file for a recording of the meeting (the directory is made if needed)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = self._clock.now().strftime("%Y%m%dT%H%M%SZ")
        return self.directory / f"meeting-{meeting_id}-{stamp}.webm"

    async def check(self, principal: Principal, meeting_id: int) -> Meeting:
        """Refuse unless the caller may record the meeting now (its chair or secretary,
        while it is held)."""
        async with self._store.transaction() as uow:
            return await authz.meeting_for(
                uow, principal, meeting_id, need=Permission.MANAGE_MEETING, states=HELD,
                doing="record the meeting",
            )

    async def started(self, principal: Principal, meeting_id: int, file: str) -> datetime:
        """Announce (and audit) that the meeting is being recorded."""
        async with self._store.transaction() as uow:
            await authz.meeting_for(
                uow, principal, meeting_id, need=Permission.MANAGE_MEETING, states=HELD,
                doing="record the meeting", lock=True,
            )
            now = self._clock.now()
            await uow.emit(meeting_id, RecordingStarted(file=file))
            return now

    async def stopped(
        self, principal: Principal, meeting_id: int, file: str, seconds: float, size: int
    ) -> None:
        """Announce (and audit) that the recording ended and its file is complete."""
        async with self._store.transaction() as uow:
            await authz.meeting_for(
                uow, principal, meeting_id, need=Permission.MANAGE_MEETING, states=HELD,
                doing="stop the recording", lock=True,
            )
            await uow.emit(
                meeting_id,
                RecordingStopped(file=file, duration_seconds=round(seconds, 1), bytes=size),
            )
