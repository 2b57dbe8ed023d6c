"""The rules of the system, transport-free: REST and socket.io both call these."""

from __future__ import annotations

from dataclasses import dataclass

from meetingd.services.auth import AuthService
from meetingd.services.directory import DirectoryService
from meetingd.services.floor import FloorService
from meetingd.services.meetings import MeetingService


@dataclass(frozen=True, slots=True)
class Services:
    auth: AuthService
    directory: DirectoryService
    meetings: MeetingService
    floor: FloorService
