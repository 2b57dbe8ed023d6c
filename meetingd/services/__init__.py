"""The rules of the system, transport-free: REST and socket.io both call these."""

from __future__ import annotations

from dataclasses import dataclass

from meetingd.services.auth import AuthService
from meetingd.services.directory import DirectoryService
from meetingd.services.documents import DocumentService
from meetingd.services.floor import FloorService
from meetingd.services.health import HealthService
from meetingd.services.meetings import MeetingService
from meetingd.services.minutes import MinutesService
from meetingd.services.presence import PresenceService
from meetingd.services.recording import RecordingService
from meetingd.services.reports import ReportService
from meetingd.services.rollcall import RollCallService
from meetingd.services.stream import StreamService
from meetingd.services.votes import VoteService


@dataclass(frozen=True, slots=True)
class Services:
    auth: AuthService
    directory: DirectoryService
    documents: DocumentService
    meetings: MeetingService
    floor: FloorService
    presence: PresenceService
    rollcall: RollCallService
    stream: StreamService
    health: HealthService
    votes: VoteService
    minutes: MinutesService
    reports: ReportService
    recording: RecordingService
