"""What travels on the socket: acks, error bodies and stream events.

An ack is ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": {"code", "message",
"field"?}}``. A stream event is sent under its type as the socket.io event name, with the
payload ``{"meeting_id", "seq", "at", ...data}``; in a ``meeting.resync`` answer each event
also carries its ``type``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from meetingd.domain import MeetingEvent
from meetingd.errors import MeetingdError, ValidationError

#: Keys every stream event payload carries; event data never uses them.
ENVELOPE = ("meeting_id", "seq", "at")

Ack = dict[str, Any]


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


def payload_error(exc: PydanticValidationError) -> ValidationError:
    """The first problem of a command payload, naming the field."""
    errors = exc.errors(include_url=False)
    err = errors[0]
    loc = ".".join(str(p) for p in err["loc"]) or "payload"
    if err["type"] == "extra_forbidden":
        msg = f"unknown field '{loc}'"
    elif err["type"] == "missing":
        msg = f"missing field '{loc}'"
    else:
        msg = f"field '{loc}': {err['msg']}"
    if len(errors) > 1:
        more = len(errors) - 1
        msg += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ValidationError(msg, field=loc)
