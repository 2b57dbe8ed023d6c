"""Wire shapes (JSON) shared by REST responses, socket.io acks and event payloads.

Requests are validated strictly: unknown fields are refused, types are not coerced.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from meetingd.domain import (
    AgendaItem,
    AgendaItemState,
    BridgePoint,
    FloorEntry,
    FloorState,
    Meeting,
    MeetingState,
    PresenceEntry,
    Quorum,
    Role,
    RoleGrant,
    RollCall,
    RollCallBridgePoint,
    RollCallDelegate,
    RollCallResult,
    RollCallState,
    Unit,
    UnitKind,
    User,
)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Text = Annotated[str, StringConstraints(max_length=20_000)]
Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$"
    ),
]
Login = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$"
    ),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Response(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- requests ---------------------------------------------------------------------


class LoginIn(Request):
    login: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class DeviceLoginIn(Request):
    credential: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class UnitIn(Request):
    code: Code
    name: Name
    kind: UnitKind
    parent_id: Id | None = None


class UnitPatch(Request):
    name: Name


class BridgePointIn(Request):
    unit_id: Id
    name: Name
    room: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class BridgePointPatch(Request):
    name: Name | None = None
    room: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    disabled: bool | None = None


class GrantIn(Request):
    unit_id: Id
    role: Role


class UserIn(Request):
    login: Login
    display_name: Name
    password: Password
    grants: Annotated[list[GrantIn], Field(max_length=100)] = []


class MeetingIn(Request):
    unit_id: Id
    title: Title
    description: Text = ""
    starts_at: datetime
    ends_at: datetime | None = None
    chair_id: Id | None = None
    secretary_id: Id | None = None

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _parse_time(cls, v: object) -> object:
        return _aware(v)


class MeetingPatch(Request):
    title: Title | None = None
    description: Text | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    chair_id: Id | None = None
    secretary_id: Id | None = None

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _parse_time(cls, v: object) -> object:
        return _aware(v)


def _aware(v: object) -> object:
    """Accept ISO 8601 strings with an offset (JSON has no datetime type)."""
    if v is None or isinstance(v, datetime):
        return v
    if not isinstance(v, str):
        raise ValueError("must be an ISO 8601 date-time string with a time zone")
    try:
        parsed = datetime.fromisoformat(v)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time string with a time zone") from None
    if parsed.tzinfo is None:
        raise ValueError("must include a time zone offset, e.g. +07:00")
    try:
        return parsed.astimezone(UTC)  # stored in UTC; year 1 at +01:00 has no UTC time
    except OverflowError:
        raise ValueError("is out of range in UTC") from None


class IdsIn(Request):
    ids: Annotated[list[Id], Field(min_length=1, max_length=1000)]


class AgendaItemIn(Request):
    title: Title
    description: Text = ""
    duration_minutes: Annotated[int, Field(ge=1, le=24 * 60)] | None = None


class AgendaItemPatch(Request):
    title: Title | None = None
    description: Text | None = None
    duration_minutes: Annotated[int, Field(ge=1, le=24 * 60)] | None = None
    state: AgendaItemState | None = None


class MoveAgendaIn(Request):
    item_id: Id


# -- responses ----------------------------------------------------------------------


class UnitOut(Response):
    id: int
    parent_id: int | None
    code: str
    name: str
    kind: UnitKind

    @classmethod
    def of(cls, u: Unit) -> UnitOut:
        return cls(id=u.id, parent_id=u.parent_id, code=u.code, name=u.name, kind=u.kind)


class BridgePointOut(Response):
    id: int
    unit_id: int
    name: str
    room: str
    last_seen_at: datetime | None
    disabled: bool

    @classmethod
    def of(cls, b: BridgePoint) -> BridgePointOut:
        return cls(
            id=b.id,
            unit_id=b.unit_id,
            name=b.name,
            room=b.room,
            last_seen_at=b.last_seen_at,
            disabled=b.disabled,
        )


class NewBridgePointOut(BridgePointOut):
    credential: str = Field(description="The device credential; shown once, never again.")


class GrantOut(Response):
    unit_id: int
    role: Role

    @classmethod
    def of(cls, g: RoleGrant) -> GrantOut:
        return cls(unit_id=g.unit_id, role=g.role)


class UserOut(Response):
    id: int
    login: str
    display_name: str
    is_admin: bool
    disabled: bool
    grants: list[GrantOut]

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(
            id=u.id,
            login=u.login,
            display_name=u.display_name,
            is_admin=u.is_admin,
            disabled=u.disabled,
            grants=[GrantOut.of(g) for g in u.grants],
        )


class PrincipalOut(Response):
    kind: Literal["user", "bridge_point"]
    id: int
    name: str
    is_admin: bool
    grants: list[GrantOut]


class TokenOut(Response):
    token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_at: datetime
    principal: PrincipalOut


class AgendaItemOut(Response):
    id: int
    position: int
    title: str
    description: str
    duration_minutes: int | None
    state: AgendaItemState

    @classmethod
    def of(cls, a: AgendaItem) -> AgendaItemOut:
        return cls(
            id=a.id,
            position=a.position,
            title=a.title,
            description=a.description,
            duration_minutes=a.duration_minutes,
            state=a.state,
        )


class MeetingSummaryOut(Response):
    id: int
    unit_id: int
    title: str
    starts_at: datetime
    ends_at: datetime | None
    state: MeetingState
    chair_id: int | None
    secretary_id: int | None

    @classmethod
    def of(cls, m: Meeting) -> MeetingSummaryOut:
        return cls(
            id=m.id,
            unit_id=m.unit_id,
            title=m.title,
            starts_at=m.starts_at,
            ends_at=m.ends_at,
            state=m.state,
            chair_id=m.chair_id,
            secretary_id=m.secretary_id,
        )


class MeetingOut(Response):
    id: int
    unit_id: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime | None
    state: MeetingState
    chair_id: int | None
    secretary_id: int | None
    current_agenda_item_id: int | None
    seq: int
    bridge_point_ids: list[int]
    delegate_ids: list[int]
    agenda: list[AgendaItemOut]

    @classmethod
    def of(cls, m: Meeting) -> MeetingOut:
        return cls(
            id=m.id,
            unit_id=m.unit_id,
            title=m.title,
            description=m.description,
            starts_at=m.starts_at,
            ends_at=m.ends_at,
            state=m.state,
            chair_id=m.chair_id,
            secretary_id=m.secretary_id,
            current_agenda_item_id=m.current_agenda_item_id,
            seq=m.seq,
            bridge_point_ids=list(m.bridge_point_ids),
            delegate_ids=list(m.delegate_ids),
            agenda=[AgendaItemOut.of(a) for a in m.agenda],
        )


class ErrorBody(Response):
    code: str
    message: str
    field: str | None = None


class ErrorOut(Response):
    error: ErrorBody


class HealthOut(Response):
    status: Literal["ok"]
    database: str
    version: str


def dump(model: BaseModel) -> dict[str, object]:
    """A JSON-ready dict of ``model``."""
    return model.model_dump(mode="json")


# -- the live meeting: presence, roll call, snapshot ------------------------------------------


class RollCallAnswerIn(Request):
    count: Annotated[int, Field(ge=0, le=1000, description="People present in the room")]


class PresenceOut(Response):
    kind: Literal["user", "bridge_point"]
    id: int
    name: str
    role: Literal["bridge_point", "chair", "secretary", "delegate", "observer"]
    since: datetime

    @classmethod
    def of(cls, p: PresenceEntry) -> PresenceOut:
        return cls.model_validate(
            {"kind": p.kind, "id": p.id, "name": p.name, "role": p.role, "since": p.since}
        )


class RollCallAnswerOut(Response):
    bridge_point_id: int
    count: int
    answered_at: datetime


class RollCallConfirmationOut(Response):
    user_id: int
    confirmed_at: datetime


class RollCallBridgePointOut(Response):
    id: int
    name: str
    unit_id: int
    unit_name: str
    present: bool = Field(description="It answered with at least one person in the room")
    count: int | None = Field(description="People it counted; null when it did not answer")

    @classmethod
    def of(cls, b: RollCallBridgePoint) -> RollCallBridgePointOut:
        return cls(
            id=b.id,
            name=b.name,
            unit_id=b.unit_id,
            unit_name=b.unit_name,
            present=b.present,
            count=b.count,
        )


class RollCallDelegateOut(Response):
    id: int
    name: str
    present: bool

    @classmethod
    def of(cls, d: RollCallDelegate) -> RollCallDelegateOut:
        return cls(id=d.id, name=d.name, present=d.present)


class QuorumOut(Response):
    rule: str
    required: int
    present: int
    reached: bool

    @classmethod
    def of(cls, q: Quorum) -> QuorumOut:
        return cls(rule=q.rule, required=q.required, present=q.present, reached=q.reached)


class RollCallResultOut(Response):
    bridge_points: list[RollCallBridgePointOut]
    delegates: list[RollCallDelegateOut]
    bridge_points_invited: int
    bridge_points_present: int
    people_at_bridge_points: int
    delegates_invited: int
    delegates_present: int
    quorum: QuorumOut

    @classmethod
    def of(cls, r: RollCallResult) -> RollCallResultOut:
        return cls(
            bridge_points=[RollCallBridgePointOut.of(b) for b in r.bridge_points],
            delegates=[RollCallDelegateOut.of(d) for d in r.delegates],
            bridge_points_invited=r.bridge_points_invited,
            bridge_points_present=r.bridge_points_present,
            people_at_bridge_points=r.people_at_bridge_points,
            delegates_invited=r.delegates_invited,
            delegates_present=r.delegates_present,
            quorum=QuorumOut.of(r.quorum),
        )


class RollCallOut(Response):
    id: int
    meeting_id: int
    state: RollCallState
    started_at: datetime
    started_by: str
    closed_at: datetime | None
    closed_by: str | None
    answers: list[RollCallAnswerOut]
    confirmations: list[RollCallConfirmationOut]
    result: RollCallResultOut | None = Field(description="Set when the roll call is closed")

    @classmethod
    def of(cls, r: RollCall) -> RollCallOut:
        return cls(
            id=r.id,
            meeting_id=r.meeting_id,
            state=r.state,
            started_at=r.started_at,
            started_by=r.started_by,
            closed_at=r.closed_at,
            closed_by=r.closed_by,
            answers=[
                RollCallAnswerOut(
                    bridge_point_id=a.bridge_point_id, count=a.count, answered_at=a.answered_at
                )
                for a in r.answers
            ],
            confirmations=[
                RollCallConfirmationOut(user_id=c.user_id, confirmed_at=c.confirmed_at)
                for c in r.confirmations
            ],
            result=RollCallResultOut.of(r.result) if r.result is not None else None,
        )


class MeetingSnapshotOut(Response):
    """Everything a screen shows of a live meeting, as of ``seq``."""

    meeting: MeetingOut
    presence: list[PresenceOut]
    rollcall: RollCallOut | None = Field(description="The open roll call, else the last one")
    floor: list[dict[str, object]] = Field(
        description="Requests to speak and speakers, shaped like the floor.* event payloads"
    )


# -- the floor ------------------------------------------------------------------------------

Subject = Annotated[
    str,
    StringConstraints(pattern=r"^(bridge_point|user):[1-9][0-9]{0,9}$"),
    Field(description="'bridge_point:<id>' or 'user:<id>'"),
]


class FloorEntryOut(Response):
    subject: str
    name: str
    state: FloorState
    requested_at: datetime
    granted_at: datetime | None
    muted: bool

    @classmethod
    def of(cls, e: FloorEntry) -> FloorEntryOut:
        return cls(
            subject=e.subject,
            name=e.name,
            state=e.state,
            requested_at=e.requested_at,
            granted_at=e.granted_at,
            muted=e.muted,
        )


class SubjectIn(Request):
    subject: Subject


class MuteIn(Request):
    subject: Subject
    muted: bool
