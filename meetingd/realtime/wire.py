"""What travels on the socket: acks, error bodies and stream events.

An ack is ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": {"code", "message",
"field"?}}``. A stream event is sent under its type as the socket.io event name, with the
payload ``{"meeting_id", "seq", "at", ...data}``; in a ``meeting.resync`` answer each event
also carries its ``type``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from meetingd.domain import MeetingEvent
from meetingd.errors import MeetingdError
from meetingd.events import ENVELOPE

__all__ = [
    "ENVELOPE",
    "Ack",
    "event_payload",
    "failed",
    "internal_error",
    "ok",
    "replayed_event",
    "room_name",
]

Ack = dict[str, Any]


def room_name(meeting_id: int) -> str:
    """The socket.io room of a meeting's stream."""
    return f"meeting:{meeting_id}"


def timestamp(at: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, the way every other time on the wire is written."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_payload(ev: MeetingEvent) -> dict[str, object]:
    """The payload of a stream event as it is emitted to a meeting's room."""
    payload = dict(ev.data)
    payload["meeting_id"] = ev.meeting_id
    payload["seq"] = ev.seq
    payload["at"] = timestamp(ev.created_at)
    return payload


def replayed_event(ev: MeetingEvent) -> dict[str, object]:
    """A stream event inside a ``meeting.resync`` answer: the payload plus its ``type``."""
    payload = event_payload(ev)
    payload["type"] = ev.type
    return payload


def ok(data: Any) -> Ack:
    return {"ok": True, "data": data}


def failed(exc: MeetingdError) -> Ack:
    return {"ok": False, "error": exc.to_dict()}


def internal_error() -> Ack:
    return {
        "ok": False,
        "error": {"code": "internal", "message": "an internal error occurred; it has been logged"},
    }
