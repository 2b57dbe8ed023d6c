"""What travels on the socket: acks, error bodies and stream events.

An ack is ``{"ok": true, "data": ...}`` or ``{"ok": false, "error": {"code", "message",
"field"?}}``. A stream event is sent under its type as the socket.io event name, with the
payload ``{"meeting_id", "seq", "at", ...data}``; in a ``meeting.resync`` answer each event
also carries its ``type``.

A ``meeting.join`` answer is large (the presence list alone is a few hundred bytes per
participant) and, in a join storm, the same for every joiner of a batch but the documents
each may see. :class:`WiredJoin` carries such an answer with its parts already dumped and
encoded once (:class:`RawJSON`); :data:`SPLICING_JSON`, the json module the socket.io server
encodes packets with, writes those parts as they are instead of walking and encoding them
again for every ack.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import PrivateAttr

from meetingd.domain import MeetingEvent
from meetingd.errors import MeetingdError
from meetingd.events import ENVELOPE
from meetingd.schemas import JoinOut

__all__ = [
    "ENVELOPE",
    "SPLICING_JSON",
    "Ack",
    "RawJSON",
    "WiredJoin",
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


class RawJSON:
    """A JSON text encoded once, written as it is wherever it sits in a packet."""

    __slots__ = ("text",)

    def __init__(self, value: object) -> None:
        self.text = json.dumps(value, separators=(",", ":"))


class WiredJoin(JoinOut):
    """A ``meeting.join`` answer together with its wire form (:meth:`wire`), assembled from
    parts dumped once for a whole batch of joins; the namespace acks the wire form as is."""

    _wire: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def assemble(cls, typed: JoinOut, wire: dict[str, Any]) -> WiredJoin:
        out = cls.model_construct(snapshot=typed.snapshot, seq=typed.seq)
        out._wire = wire
        return out

    def wire(self) -> dict[str, Any]:
        return self._wire


class _SplicingJSON:
    """The standard library's json with :class:`RawJSON` parts spliced in unchanged.

    python-socketio takes a json module (``AsyncServer(json=...)``) with ``dumps`` and
    ``loads``; this one stands each fragment in as a marker string that no real data can
    hold (a random token behind a NUL), then puts the fragments' text in place of the
    markers. Its packets without fragments are the standard library's output exactly."""

    _MARK = f"\x00rawjson-{secrets.token_hex(8)}"
    _QUOTED = json.dumps(_MARK)

    loads = staticmethod(json.loads)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        parts: list[str] = []

        def fragment(o: object) -> str:
            if isinstance(o, RawJSON):
                parts.append(o.text)
                return self._MARK
            raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")

        text = json.dumps(obj, default=fragment, **kwargs)
        if not parts:
            return text
        pieces = text.split(self._QUOTED)
        if len(pieces) != len(parts) + 1:  # cannot happen: the marker is unguessable
            raise ValueError("a JSON fragment marker appeared in the data")
        out = [pieces[0]]
        for part, piece in zip(parts, pieces[1:], strict=True):
            out.append(part)
            out.append(piece)
        return "".join(out)


SPLICING_JSON = _SplicingJSON()
