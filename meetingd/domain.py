"""Domain dataclasses shared by services, transports and the store.

Repositories return these, never ORM rows; services take and return them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class UnitKind(enum.StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


#: Which kind of unit may sit under which parent kind (None = top level).
PARENT_KIND: dict[UnitKind, UnitKind | None] = {
    UnitKind.PROVINCE: None,
    UnitKind.DISTRICT: UnitKind.PROVINCE,
    UnitKind.COMMUNE: UnitKind.DISTRICT,
}


class Role(enum.StrEnum):
    OPERATOR = "operator"
    CHAIR = "chair"
    SECRETARY = "secretary"
    DELEGATE = "delegate"


class MeetingState(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    OPEN = "open"
    LIVE = "live"
    PAUSED = "paused"
    ENDED = "ended"


class AgendaItemState(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    DONE = "done"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Unit:
    id: int
    parent_id: int | None
    code: str
    name: str
    kind: UnitKind
    path: str  # materialised path "/1/4/17/": the unit and its ancestors

    def contains(self, other_path: str) -> bool:
        """True when the unit with ``other_path`` is this unit or below it."""
        return other_path.startswith(self.path)


@dataclass(frozen=True, slots=True)
class BridgePoint:
    id: int
    unit_id: int
    name: str
    room: str
    last_seen_at: datetime | None
    disabled: bool
    unit_path: str
    #: Changes when the device credential is reset: tokens carry it, so old ones stop working.
    token_stamp: str = ""


@dataclass(frozen=True, slots=True)
class RoleGrant:
    unit_id: int
    unit_path: str
    role: Role


@dataclass(frozen=True, slots=True)
class User:
    id: int
    login: str
    display_name: str
    is_admin: bool
    disabled: bool
    grants: tuple[RoleGrant, ...] = ()
    #: Changes with the password: tokens carry it, so a reset ends every session.
    token_stamp: str = ""


@dataclass(frozen=True, slots=True)
class AgendaItem:
    id: int
    meeting_id: int
    position: int
    title: str
    description: str
    duration_minutes: int | None
    state: AgendaItemState


@dataclass(frozen=True, slots=True)
class Meeting:
    id: int
    unit_id: int
    unit_path: str
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime | None
    state: MeetingState
    chair_id: int | None
    secretary_id: int | None
    current_agenda_item_id: int | None
    seq: int
    created_at: datetime
    updated_at: datetime
    bridge_point_ids: tuple[int, ...] = ()
    delegate_ids: tuple[int, ...] = ()
    agenda: tuple[AgendaItem, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (with role grants) or a bridge point device."""

    kind: str  # "user" | "bridge_point"
    id: int
    name: str
    token_id: str
    is_admin: bool = False
    grants: tuple[RoleGrant, ...] = ()
    unit_path: str = ""  # bridge point's unit
    #: When the token expires (None: not from a token, e.g. the CLI).
    expires_at: datetime | None = None

    @property
    def subject(self) -> str:
        return f"{self.kind}:{self.id}"

    def has_role(self, unit_path: str, *roles: Role) -> bool:
        """True when a grant of one of ``roles`` covers the unit at ``unit_path``."""
        if self.is_admin:
            return True
        return any(g.role in roles and unit_path.startswith(g.unit_path) for g in self.grants)


@dataclass(frozen=True, slots=True)
class MeetingEvent:
    """One entry of a meeting's event stream (``seq`` only goes up)."""

    meeting_id: int
    seq: int
    type: str
    data: dict[str, object]
    created_at: datetime


class FloorState(enum.StrEnum):
    REQUESTED = "requested"
    GRANTED = "granted"


@dataclass(frozen=True, slots=True)
class FloorEntry:
    """A bridge point or delegate that asked for the floor ("đăng ký phát biểu") or holds it."""

    meeting_id: int
    subject: str  # "bridge_point:3" | "user:5"
    name: str
    state: FloorState
    requested_at: datetime
    granted_at: datetime | None
    muted: bool
    #: When its speaking time runs out (the floor is then taken back); None: no limit.
    deadline: datetime | None = None


class SpeechEnd(enum.StrEnum):
    """Why a speech ended."""

    FINISHED = "finished"  # the speaker gave the floor back
    REVOKED = "revoked"  # the chair took it back
    TIME_UP = "time_up"  # its speaking time ran out
    MEETING_ENDED = "meeting_ended"


@dataclass(frozen=True, slots=True)
class Speech:
    """One entry of the speech log: who spoke from when to when, granted and ended by whom."""

    id: int
    meeting_id: int
    subject: str
    name: str
    granted_at: datetime
    granted_by: str
    limit_seconds: int | None
    ended_at: datetime | None
    ended_by: str | None
    end_reason: SpeechEnd | None


# -- the live meeting: presence and roll call ------------------------------------------------


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """A participant connected to a meeting, however many devices it uses.

    ``kind`` is the principal kind (``user`` or ``bridge_point``); ``role`` says what it is
    in this meeting: ``bridge_point``, ``chair``, ``secretary``, ``delegate`` or ``observer``.
    """

    kind: str
    id: int
    name: str
    role: str
    since: datetime


class RollCallState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class RollCallAnswer:
    """A bridge point's head count of the people in its room."""

    bridge_point_id: int
    count: int
    answered_at: datetime


@dataclass(frozen=True, slots=True)
class RollCallConfirmation:
    """A delegate's confirmation of their own presence."""

    user_id: int
    confirmed_at: datetime


@dataclass(frozen=True, slots=True)
class RollCallBridgePoint:
    """One bridge point in a roll call result: present when it counted at least one person."""

    id: int
    name: str
    unit_id: int
    unit_name: str
    present: bool
    count: int | None  # None: it did not answer


@dataclass(frozen=True, slots=True)
class RollCallDelegate:
    id: int
    name: str
    present: bool


@dataclass(frozen=True, slots=True)
class Quorum:
    """Whether enough participants are present; ``rule`` says which rule applied."""

    rule: str
    required: int
    present: int
    reached: bool


@dataclass(frozen=True, slots=True)
class RollCallResult:
    bridge_points: tuple[RollCallBridgePoint, ...]
    delegates: tuple[RollCallDelegate, ...]
    bridge_points_invited: int
    bridge_points_present: int
    people_at_bridge_points: int
    delegates_invited: int
    delegates_present: int
    quorum: Quorum


@dataclass(frozen=True, slots=True)
class RollCall:
    """A roll call ("điểm danh"); ``result`` is set, and frozen, when it closes."""

    id: int
    meeting_id: int
    state: RollCallState
    started_at: datetime
    started_by: str
    closed_at: datetime | None
    closed_by: str | None
    answers: tuple[RollCallAnswer, ...] = ()
    confirmations: tuple[RollCallConfirmation, ...] = ()
    result: RollCallResult | None = None


@dataclass(frozen=True, slots=True)
class MediaHealth:
    """One media connection's link health, as the media plane last measured it (every ~2 s).

    ``*_in`` is what the server receives from the participant, ``*_out`` what it sends to it.
    """

    meeting_id: int
    subject: str  # "bridge_point:3" | "user:5"
    connection: str
    role: str
    state: str
    bitrate_in: int
    bitrate_out: int
    loss_in: float
    loss_out: float
    jitter_in_ms: float
    jitter_out_ms: float
    rtt_ms: float | None
    fps_in: float
    fps_out: float
    last_keyframe_at: datetime | None
    measured_at: datetime


# -- votes and the record ---------------------------------------------------------------------


class VoteKind(enum.StrEnum):
    """Open: counts shown live; named: who chose what is published; secret: nobody knows."""

    OPEN = "open"
    NAMED = "named"
    SECRET = "secret"


class MajorityRule(enum.StrEnum):
    """More than half of those present (the electorate), of all members, or two thirds of
    all members."""

    PRESENT = "present"
    MEMBERS = "members"
    TWO_THIRDS = "two_thirds"


class VoteState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Elector:
    """Someone who may vote: a delegate (``user:5``) or a bridge point for its room."""

    subject: str
    name: str


@dataclass(frozen=True, slots=True)
class NamedChoice:
    """In a named vote's result: who chose what (or did not vote: ``choice`` empty)."""

    subject: str
    name: str
    choice: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class VoteResult:
    """The result, with the rule applied, frozen when the vote closes."""

    counts: tuple[int, ...]
    ballots: int
    electors: int
    base: int
    required: int
    #: "passed", "rejected" (a yes/no question), "elected", "none_elected" (a list), or
    #: "no_quorum" (the roll call did not reach the quorum).
    outcome: str
    tie: bool
    elected: tuple[int, ...]
    statement: str
    named: tuple[NamedChoice, ...] = ()
    #: Secret votes: per option, the sorted SHA-256 hashes of the receipts counted for it.
    receipts: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Vote:
    id: int
    meeting_id: int
    agenda_item_id: int | None
    question: str
    kind: VoteKind
    options: tuple[str, ...]
    max_choices: int
    rule: MajorityRule
    allow_change: bool
    members: int
    quorum: Quorum | None
    state: VoteState
    opened_at: datetime
    opened_by: str
    deadline: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    electors: tuple[Elector, ...]
    ballots: int
    #: Live counts per option (open and named votes; None for a secret one while open).
    counts: tuple[int, ...] | None
    result: VoteResult | None


@dataclass(frozen=True, slots=True)
class Ballot:
    """An accepted ballot as its voter is told: the receipt only for a secret vote."""

    vote_id: int
    choice: tuple[int, ...]
    changed: bool
    receipt: str | None


class MinutesState(enum.StrEnum):
    DRAFT = "draft"
    FINAL = "final"


@dataclass(frozen=True, slots=True)
class MinutesSection:
    """One part of the minutes: a heading ("I. Thành phần tham dự") and its text."""

    heading: str
    text: str


@dataclass(frozen=True, slots=True)
class Minutes:
    """The minutes ("biên bản") of a meeting: generated from the record, edited by the
    secretary as a draft, then final (a signed PDF whose SHA-256 is kept)."""

    meeting_id: int
    number: str
    place: str
    state: MinutesState
    sections: tuple[MinutesSection, ...]
    updated_at: datetime | None
    updated_by: str | None
    finalised_at: datetime | None
    pdf_sha256: str | None
