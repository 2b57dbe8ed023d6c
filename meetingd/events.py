"""Typed domain events: one frozen dataclass per thing that happened, named in the past tense.

Services emit instances (``await uow.emit(meeting_id, FloorGranted(...))``); one serialiser,
:func:`to_data`, turns an event into the JSON object stored in the meeting's log and sent on
the wire; :func:`parse` turns a logged or relayed one back into its class, so consumers (the
media bridge, later the minutes) read typed fields and never pick at dicts.

Each class carries its wire name (``noun.past_tense``), a one-line summary (its docstring),
who causes it, and whether it belongs to a meeting's stream (with ``meeting_id``, ``seq`` and
``at`` around it) or is sent to one connection only. The reference (``docs/realtime.md``)
and the TypeScript types are generated from these classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import Field, TypeAdapter

from meetingd import schemas as wire
from meetingd.schemas import AgendaItemOut, MeetingOut, RollCallOut, VoteOut

_MANAGERS = "the meeting's chair or secretary"
_SPEAKERS = "an invited bridge point or delegate"

Subject = Annotated[str, Field(description="`bridge_point:<id>` or `user:<id>`")]
When = Annotated[datetime, Field(description="ISO 8601 date-time in UTC")]


class Event:
    """Base of every event class; see :func:`event` for what a class declares."""

    type: ClassVar[str]
    caused_by: ClassVar[str]
    stream: ClassVar[bool]
    #: A decision: the unit of work writes an audit row when it is emitted.
    audited: ClassVar[bool]


E = TypeVar("E", bound=type[Event])

#: Every event class by its wire name, in declaration order.
EVENT_TYPES: dict[str, type[Event]] = {}


def event(
    name: str, *, caused_by: str, stream: bool = True, audited: bool = True
) -> Callable[[E], E]:
    """Declare an event class under its wire name ``noun.past_tense``.

    A stream event is a decision, audited with its actor, unless ``audited`` is False
    (presence comes and goes with connections, it decides nothing)."""
    noun, dot, verb = name.partition(".")
    if not (noun and dot and verb):
        raise ValueError(f"event {name!r} is not noun.past_tense")

    def deco(cls: E) -> E:
        if name in EVENT_TYPES:
            raise ValueError(f"event {name} is declared twice")
        if not (cls.__doc__ or "").strip():
            raise ValueError(f"event {name} needs a docstring (its summary)")
        cls.type = name
        cls.caused_by = caused_by
        cls.stream = stream
        cls.audited = stream and audited
        EVENT_TYPES[name] = cls
        return cls

    return deco


def summary(cls: type[Event]) -> str:
    return " ".join((cls.__doc__ or "").split())


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(cls: type[Event]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(cls.type)
    if adapter is None:
        adapter = _ADAPTERS[cls.type] = TypeAdapter(cls)
    return adapter


def to_data(ev: Event) -> dict[str, object]:
    """The event's fields as the JSON object that is logged and sent (no envelope)."""
    data: dict[str, object] = _adapter(type(ev)).dump_python(ev, mode="json")
    return data


def parse(type_: str, data: dict[str, object]) -> Event | None:
    """The typed event behind a logged or relayed ``(type, data)``; None for an unknown type
    (a newer process may emit what this one does not know)."""
    cls = EVENT_TYPES.get(type_)
    if cls is None:
        return None
    fields = {k: v for k, v in data.items() if k not in ENVELOPE}
    parsed: Event = _adapter(cls).validate_python(fields)
    return parsed


def json_schema(cls: type[Event]) -> dict[str, Any]:
    """The JSON Schema of the event's payload as a client receives it (envelope included)."""
    schema: dict[str, Any] = _adapter(cls).json_schema(ref_template="#/$defs/{model}")
    schema["description"] = summary(cls)
    if cls.stream:
        props = dict(schema.get("properties", {}))
        envelope = {
            "meeting_id": {"type": "integer", "description": "the meeting"},
            "seq": {"type": "integer", "description": "the meeting's sequence number"},
            "at": {"type": "string", "format": "date-time", "description": "when (UTC)"},
        }
        schema["properties"] = {**envelope, **props}
        schema["required"] = [*envelope, *schema.get("required", [])]
    return schema


#: Keys every stream event payload carries around its fields.
ENVELOPE = ("meeting_id", "seq", "at")


# -- meetings ----------------------------------------------------------------------------------


@event("meeting.created", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class MeetingCreated(Event):
    """A meeting was created (as a draft)."""

    meeting: Annotated[MeetingOut, Field(description="the whole meeting")]


@event("meeting.updated", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class MeetingUpdated(Event):
    """Title, description, times, chair or secretary changed."""

    meeting: Annotated[MeetingOut, Field(description="the whole meeting")]


State = Literal["draft", "scheduled", "open", "live", "paused", "ended"]


@dataclass(frozen=True, slots=True)
class MeetingStateChanged(Event):
    """Base of the lifecycle events: each says the new state, the one before, and who."""

    state: Annotated[State, Field(description="the new state")]
    previous_state: Annotated[State, Field(description="the state before")]
    by: Annotated[str, Field(description="subject of who did it (`user:5`)")]


@event("meeting.scheduled", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class MeetingScheduled(MeetingStateChanged):
    """The draft was scheduled."""


@event("meeting.unscheduled", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class MeetingUnscheduled(MeetingStateChanged):
    """The meeting went back to draft."""


@event("meeting.opened", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class MeetingOpened(MeetingStateChanged):
    """The meeting was opened: participants may gather."""


@event("meeting.started", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class MeetingStarted(MeetingStateChanged):
    """The meeting went live."""


@event("meeting.paused", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class MeetingPaused(MeetingStateChanged):
    """The meeting was paused."""


@event("meeting.resumed", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class MeetingResumed(MeetingStateChanged):
    """The meeting went live again after a pause."""


@event("meeting.ended", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class MeetingEnded(MeetingStateChanged):
    """The meeting ended; the current agenda item is done and nobody holds the floor."""


@event("meeting.bridge_points_invited", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class BridgePointsInvited(Event):
    """Bridge points were invited."""

    bridge_point_ids: Annotated[list[int], Field(description="the newly invited ids")]


@event("meeting.bridge_point_uninvited", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class BridgePointUninvited(Event):
    """A bridge point was uninvited; its connections leave the meeting."""

    bridge_point_id: Annotated[int, Field(description="its id")]


@event("meeting.delegates_invited", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class DelegatesInvited(Event):
    """Delegates were invited."""

    user_ids: Annotated[list[int], Field(description="the newly invited user ids")]


@event("meeting.delegate_uninvited", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class DelegateUninvited(Event):
    """A delegate was uninvited; their connections leave the meeting."""

    user_id: Annotated[int, Field(description="their id")]


# -- agenda ------------------------------------------------------------------------------------


@event("agenda.moved", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class AgendaMoved(Event):
    """Another agenda item became the current one (the previous one is done)."""

    item_id: Annotated[int, Field(description="the current item")]
    previous_item_id: Annotated[int | None, Field(description="the item before, or null")]


@event("agenda.item_added", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class AgendaItemAdded(Event):
    """An agenda item was added at the end."""

    item: Annotated[AgendaItemOut, Field(description="the item")]


@event("agenda.item_updated", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class AgendaItemUpdated(Event):
    """An agenda item changed."""

    item: Annotated[AgendaItemOut, Field(description="the item")]


@event("agenda.item_removed", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class AgendaItemRemoved(Event):
    """An agenda item was removed."""

    item_id: Annotated[int, Field(description="its id")]


@event("agenda.reordered", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class AgendaReordered(Event):
    """The agenda was reordered."""

    item_ids: Annotated[list[int], Field(description="every item id, in the new order")]


# -- presence and roll call --------------------------------------------------------------------

PresenceRole = Literal["bridge_point", "chair", "secretary", "delegate", "observer"]


@dataclass(frozen=True, slots=True)
class PresenceChanged(Event):
    """Base of the presence events: the participant as the presence list shows it."""

    kind: Annotated[Literal["user", "bridge_point"], Field(description="user or bridge point")]
    id: Annotated[int, Field(description="user or bridge point id")]
    name: Annotated[str, Field(description="display name")]
    role: Annotated[PresenceRole, Field(description="its role in the meeting")]
    since: Annotated[When, Field(description="when its first device joined")]


@event(
    "presence.joined",
    caused_by="a connection joining (`meeting.join` or `meeting.resync`)",
    audited=False,
)
@dataclass(frozen=True, slots=True)
class PresenceJoined(PresenceChanged):
    """A participant connected to the meeting (its first device)."""


@event(
    "presence.left",
    caused_by="`meeting.leave`, a disconnect, a missed ping, a right removed, or its server "
    "process dying",
    audited=False,
)
@dataclass(frozen=True, slots=True)
class PresenceLeft(PresenceChanged):
    """A participant is no longer connected (its last device left or vanished)."""


@event(
    "presence.arrived",
    caused_by="connections joining together (the arrivals of a few milliseconds are written "
    "in one transaction: a join storm)",
    audited=False,
)
@dataclass(frozen=True, slots=True)
class PresenceArrived(Event):
    """Several participants connected to the meeting at once, each with its first device
    (one participant alone is `presence.joined`): one event instead of one per arrival, so
    that a storm of joins does not send every connection one event per newcomer."""

    entries: Annotated[
        list[wire.PresenceOut],
        Field(description="the participants as the presence list shows them, in order"),
    ]


@event("rollcall.started", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class RollCallStarted(Event):
    """A roll call (điểm danh) started."""

    rollcall: Annotated[RollCallOut, Field(description="the roll call")]


@event("rollcall.answered", caused_by="an invited bridge point")
@dataclass(frozen=True, slots=True)
class RollCallAnswered(Event):
    """A bridge point counted the people in its room (again: the count replaces the last)."""

    rollcall_id: Annotated[int, Field(description="the roll call")]
    bridge_point_id: Annotated[int, Field(description="who answered")]
    count: Annotated[int, Field(description="people present in the room, 0 to 1000")]
    answered_at: When


@event("rollcall.confirmed", caused_by="an invited delegate")
@dataclass(frozen=True, slots=True)
class RollCallConfirmed(Event):
    """A delegate confirmed their presence."""

    rollcall_id: Annotated[int, Field(description="the roll call")]
    user_id: Annotated[int, Field(description="the delegate")]
    confirmed_at: When


@event("rollcall.closed", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class RollCallClosed(Event):
    """The roll call closed; `rollcall.result` holds the result and the quorum."""

    rollcall: Annotated[RollCallOut, Field(description="the roll call with its result")]


# -- floor -------------------------------------------------------------------------------------

FloorStateName = Literal["requested", "granted"]


@dataclass(frozen=True, slots=True)
class FloorEntryChanged(Event):
    """Base of the floor events that carry the whole entry."""

    subject: Subject
    name: Annotated[str, Field(description="display name")]
    state: Annotated[FloorStateName, Field(description="requested or granted")]
    requested_at: Annotated[When, Field(description="when it asked (or was given the floor)")]
    granted_at: Annotated[When | None, Field(description="when it got the floor, or null")]
    muted: Annotated[bool, Field(description="whether the chair muted it")]
    deadline: Annotated[
        When | None,
        Field(description="when its speaking time runs out (the floor is then taken back)"),
    ] = None


@event("floor.requested", caused_by=_SPEAKERS)
@dataclass(frozen=True, slots=True)
class FloorRequested(FloorEntryChanged):
    """A participant asked for the floor."""


@event("floor.granted", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class FloorGranted(FloorEntryChanged):
    """A participant got the floor: it is audible and shown as a speaker."""


@event("floor.reordered", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class FloorReordered(Event):
    """The chair reordered the speaking queue."""

    subjects: Annotated[list[str], Field(description="every request, in the new order")]


@event("floor.withdrawn", caused_by="the participant")
@dataclass(frozen=True, slots=True)
class FloorWithdrawn(Event):
    """A participant took back its request."""

    subject: Subject


@event("floor.revoked", caused_by="the chair, the speaker itself, or its time running out")
@dataclass(frozen=True, slots=True)
class FloorRevoked(Event):
    """The floor was taken back, or a speaker finished."""

    subject: Subject
    was: Annotated[FloorStateName, Field(description="requested or granted")]
    by: Annotated[str, Field(description="subject of who did it, or `system`")]
    reason: Annotated[
        Literal["finished", "revoked", "time_up", "meeting_ended"],
        Field(description="why: the speaker finished, the chair took it, its time ran out"),
    ] = "revoked"


@event("floor.muted", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class FloorMuted(Event):
    """The chair muted or unmuted a speaker; the server enforces it on the media."""

    subject: Subject
    muted: Annotated[bool, Field(description="true: muted, false: unmuted")]


# -- votes -------------------------------------------------------------------------------------


@event("vote.opened", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class VoteOpened(Event):
    """A vote (biểu quyết) opened: its question, options, rule and electorate."""

    vote: Annotated[VoteOut, Field(description="the vote")]


@event(
    "vote.counted",
    caused_by="ballots being cast (coalesced: a few per second per vote)",
    audited=False,
)
@dataclass(frozen=True, slots=True)
class VoteCounted(Event):
    """How many have voted; for an open or named vote also the count per option."""

    vote_id: Annotated[int, Field(description="the vote")]
    ballots: Annotated[int, Field(description="how many have voted")]
    counts: Annotated[
        list[int] | None, Field(description="per option (null for a secret vote)")
    ] = None


@event("vote.closed", caused_by="the meeting's chair or secretary, or its deadline passing")
@dataclass(frozen=True, slots=True)
class VoteClosed(Event):
    """A vote closed; `vote.result` holds the counts, the rule applied and the outcome."""

    vote: Annotated[VoteOut, Field(description="the vote with its result")]


# -- recording ----------------------------------------------------------------------------


@event("recording.started", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class RecordingStarted(Event):
    """The meeting is being recorded (ghi hình) from now on: screens show it."""

    file: Annotated[
        str,
        Field(
            description="the recording's name: its file is this with `.webm` (VP8) or `.mp4` "
            "(H.264), as `recording.stopped` says"
        ),
    ]


@event(
    "recording.stopped",
    caused_by=f"{_MANAGERS}; the server when the meeting ends, or its media room closes, "
    "while it records",
)
@dataclass(frozen=True, slots=True)
class RecordingStopped(Event):
    """The recording ended; its file is complete and kept as a document of the meeting."""

    file: Annotated[str, Field(description="the recording's file name (`.webm` or `.mp4`)")]
    duration_seconds: Annotated[float, Field(description="how long it runs")]
    bytes: Annotated[int, Field(description="the file's size")]
    document_id: Annotated[
        int | None,
        Field(
            description="the meeting's document holding it (a draft for the chair and "
            "secretary), or null if it could not be kept (the file stays on the server)"
        ),
    ] = None


# -- per connection (no meeting_id envelope, no seq) -------------------------------------------


@event("connection.closed", caused_by="the server (flooding, or a right removed)", stream=False)
@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The server is about to close this connection, and says why."""

    code: Annotated[str, Field(description="an error code, e.g. `rate_limited`, `revoked`")]
    message: Annotated[str, Field(description="a sentence for the user (Vietnamese)")]


@event(
    "meeting.left",
    caused_by="the server, when the caller may no longer attend (uninvited, role removed)",
    stream=False,
)
@dataclass(frozen=True, slots=True)
class MeetingLeft(Event):
    """This connection was taken out of a meeting: no more of its events, its media stopped."""

    meeting_id: Annotated[int, Field(description="the meeting")]
    code: Annotated[str, Field(description="an error code, e.g. `not_found`")]
    message: Annotated[str, Field(description="a sentence for the user (Vietnamese)")]


@event("rtc.offered", caused_by="the media plane (renegotiation)", stream=False)
@dataclass(frozen=True, slots=True)
class RtcOffered(Event):
    """The media server offers a new SDP to this connection (its receive slots)."""

    meeting_id: Annotated[int, Field(description="the meeting")]
    sdp: Annotated[str, Field(description="the offer; answer it with `rtc.answer`")]


@dataclass(frozen=True, slots=True)
class Slot:
    """One receive slot of a connection and whom it shows or plays."""

    mid: Annotated[str | None, Field(description="the transceiver's mid, once negotiated")]
    kind: Annotated[str, Field(description="audio or video")]
    subject: Annotated[str | None, Field(description="who is on it, or null")]


@event(
    "rtc.layout",
    caused_by="the media plane, following the floor and the chair's paging",
    stream=False,
)
@dataclass(frozen=True, slots=True)
class RtcLayout(Event):
    """What each receive slot of this connection shows now (after a floor or page change)."""

    meeting_id: Annotated[int, Field(description="the meeting")]
    page: Annotated[int, Field(description="the chair's thumbnail page (0-based)")]
    page_count: Annotated[int, Field(description="how many pages there are")]
    audio: Annotated[list[Slot], Field(description="the subject heard on each audio mid")]
    video: Annotated[list[Slot], Field(description="the subject shown on each video mid")]


# -- documents -----------------------------------------------------------------------------
# A document meant for only some of the meeting (an audience, or confidential) is announced
# on the shared stream without its metadata (``document`` is null, ``restricted`` true): a
# client fetches it with ``document.get``, which answers only those allowed.

_DocId = Annotated[int, Field(description="the document")]
_Restricted = Annotated[
    bool, Field(description="meant for some only: fetch it with `document.get`")
]
_Doc = Annotated[
    wire.DocumentOut | None, Field(description="the document, or null when restricted")
]


@event("document.uploaded", caused_by=f"{_MANAGERS}; the server for a finished recording")
@dataclass(frozen=True, slots=True)
class DocumentUploaded(Event):
    """A document was uploaded and checked, or a recording kept (a draft: only the chair and
    secretary see it)."""

    document_id: _DocId


@event("document.published", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class DocumentPublished(Event):
    """A document reached its audience."""

    document_id: _DocId
    restricted: _Restricted
    document: _Doc


@event("document.updated", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class DocumentUpdated(Event):
    """A document's title, item, order, audience, presenters or protection changed."""

    document_id: _DocId
    restricted: _Restricted
    document: _Doc


@event("document.unpublished", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class DocumentUnpublished(Event):
    """A document was taken back from its audience (screens drop it)."""

    document_id: _DocId


@event("document.removed", caused_by=_MANAGERS)
@dataclass(frozen=True, slots=True)
class DocumentRemoved(Event):
    """A document was deleted from the meeting."""

    document_id: _DocId


@event("document.presented", caused_by="the chair, the secretary or a named presenter")
@dataclass(frozen=True, slots=True)
class DocumentPresented(Event):
    """A document is on every screen now, at ``page``; followers open it there."""

    document_id: _DocId
    page: Annotated[int, Field(description="1-based")]
    presenter: Subject
    presenter_name: str


@event("document.page_turned", caused_by="the presenter", audited=False)
@dataclass(frozen=True, slots=True)
class DocumentPageTurned(Event):
    """The presenter turned to ``page``; followers go there too (not audited: many)."""

    document_id: _DocId
    page: Annotated[int, Field(description="1-based")]


@event("document.presentation_stopped", caused_by="the presenter, chair or secretary")
@dataclass(frozen=True, slots=True)
class DocumentPresentationStopped(Event):
    """Nothing is presented any more."""

    document_id: _DocId


def stream_types() -> list[type[Event]]:
    return [cls for cls in EVENT_TYPES.values() if cls.stream]
