"""Wire shapes (JSON) shared by REST responses, socket.io acks and event payloads.

Requests are validated strictly: unknown fields are refused, types are not coerced.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from meetingd.domain import (
    AgendaItemState,
    FloorState,
    MeetingState,
    Role,
    RollCallState,
    UnitKind,
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
MAX_ID = 2**31 - 1
#: Ids and offsets reach SQL: bounded, so no database sees an integer it cannot hold.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Offset = Annotated[int, Field(ge=0, le=MAX_ID)]


#: The rule every string the server stores keeps (PostgreSQL refuses NUL), as a pattern.
NO_NUL = r"^[^\u0000]*$"
#: The same, for a string stripped of white space that must keep a character after.
NOT_BLANK = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


class WireJsonSchema(GenerateJsonSchema):
    """JSON Schema of the wire models that states the rules kept for every request string.

    The body reader refuses a NUL in any string (meetingd.api.routing ``_unstorable``) and a
    stripped string must keep ``min_length`` characters: the document says so, so that a
    client (or a fuzzer) generating from it sends nothing the server refuses.
    """

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        out = super().str_schema(schema)
        if self.mode == "validation" and "pattern" not in out and "format" not in out:
            blank_refused = schema.get("strip_whitespace") and schema.get("min_length", 0) > 0
            out["pattern"] = NOT_BLANK if blank_refused else NO_NUL
        return out

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        out = super().model_schema(schema)
        cls = schema["cls"]
        if self.mode == "validation" and issubclass(cls, ChangeRequest):
            # Some field given and not null (null is the same as not given): not all null.
            optional = [n for n, f in cls.model_fields.items() if not f.is_required()]
            out["minProperties"] = 1
            out["not"] = {"properties": {n: {"type": "null"} for n in optional}}
        return out


def integral_numbers(value: Any) -> Any:
    """``value`` with every integral float read as an int (1.0 as 1), recursively.

    JSON has one number type and JSON Schema's ``integer`` admits 1.0, while pydantic's strict
    mode refuses a float where an int is due: both transports read numbers through this first.
    """
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: integral_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral_numbers(v) for v in value]
    return value


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ChangeRequest(Request):
    """A PATCH body the service refuses with "nothing to change" when no field has a value."""

    # The rule is stated in the OpenAPI document (WireJsonSchema), not in the socket contract
    # (its TypeScript types stay plain objects).


class Response(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    @classmethod
    def of(cls, obj: object) -> Self:
        """The wire shape of a domain object: fields are read by name, nested ones too."""
        return cls.model_validate(obj)


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


class MeetingPatch(ChangeRequest):
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


class AgendaItemPatch(ChangeRequest):
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


class BridgePointOut(Response):
    id: int
    unit_id: int
    name: str
    room: str
    last_seen_at: datetime | None
    disabled: bool


class NewBridgePointOut(BridgePointOut):
    credential: str = Field(description="The device credential; shown once, never again.")


class GrantOut(Response):
    unit_id: int
    role: Role


class UserOut(Response):
    id: int
    login: str
    display_name: str
    is_admin: bool
    disabled: bool
    grants: list[GrantOut]


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


class MeetingSummaryOut(Response):
    id: int
    unit_id: int
    title: str
    starts_at: datetime
    ends_at: datetime | None
    state: MeetingState
    chair_id: int | None
    secretary_id: int | None


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


_ANSWERS: dict[object, TypeAdapter[Any]] = {}


def answer_adapter(answer: Any) -> TypeAdapter[Any]:
    """The (cached) adapter that puts an answer of type ``answer`` on the wire."""
    adapter = _ANSWERS.get(answer)
    if adapter is None:
        adapter = _ANSWERS[answer] = TypeAdapter(answer)
    return adapter


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


class RollCallDelegateOut(Response):
    id: int
    name: str
    present: bool


class QuorumOut(Response):
    rule: str
    required: int
    present: int
    reached: bool


class RollCallResultOut(Response):
    bridge_points: list[RollCallBridgePointOut]
    delegates: list[RollCallDelegateOut]
    bridge_points_invited: int
    bridge_points_present: int
    people_at_bridge_points: int
    delegates_invited: int
    delegates_present: int
    quorum: QuorumOut


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
    deadline: datetime | None = Field(
        default=None, description="When its speaking time runs out; null: no limit"
    )


class SpeechOut(Response):
    """One entry of the speech log."""

    subject: str
    name: str
    granted_at: datetime
    granted_by: str
    limit_seconds: int | None
    ended_at: datetime | None = Field(description="null while it lasts")
    ended_by: str | None
    end_reason: Literal["finished", "revoked", "time_up", "meeting_ended"] | None


class SubjectIn(Request):
    subject: Subject


class FloorOrderIn(Request):
    subjects: Annotated[list[Subject], Field(max_length=1000)]


class GrantFloorIn(SubjectIn):
    limit_seconds: (
        Annotated[
            int,
            Field(ge=10, le=4 * 3600, description="Speaking time; the floor is taken back after"),
        ]
        | None
    ) = None


class MuteIn(Request):
    subject: Subject
    muted: bool


class RecordingNowOut(Response):
    """A recording in progress, as `recording.started` announced it."""

    file: str = Field(description="The recording's name, as `recording.started` gave it")
    since: datetime = Field(description="When it started (the server's clock)")


class MeetingSnapshotOut(Response):
    """Everything a screen shows of a live meeting, as of ``seq``."""

    meeting: MeetingOut
    presence: list[PresenceOut]
    rollcall: RollCallOut | None = Field(description="The open roll call, else the last one")
    floor: list[FloorEntryOut] = Field(
        description="Floor holders, then requests to speak (as `floor.granted` carries them)"
    )
    documents: list[DocumentOut] = Field(
        default_factory=list,
        description="The documents the caller may see, in order (drafts too for the chair "
        "and secretary)",
    )
    presenting: PresentationOut | None = Field(
        default=None, description="The document and page on every screen, if one is presented"
    )
    votes: list[VoteOut] = Field(
        default_factory=list,
        description="The meeting's votes, open and closed, in order (a secret vote's counts "
        "only in its result), so a screen that joins mid-vote shows it",
    )
    recording: RecordingNowOut | None = Field(
        default=None,
        description="The recording running now, if the meeting is being recorded (every "
        "screen says so: the people in the rooms must know)",
    )


# -- media health ---------------------------------------------------------------------------


class MediaHealthOut(Response):
    subject: str
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


# -- socket answers ------------------------------------------------------------------------


class JoinOut(Response):
    """A snapshot of the meeting as of ``seq``; apply the events with a larger ``seq`` on top."""

    snapshot: MeetingSnapshotOut
    seq: int


class ReplayOut(Response):
    """The events missed after ``after_seq``, in order; ``seq`` is the last one's."""

    events: list[dict[str, Any]] = Field(
        description="Each a stream event payload (envelope included) plus its `type`"
    )
    seq: int


class IceServerOut(Response):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServersOut(Response):
    ice_servers: list[IceServerOut]


class SdpOut(Response):
    sdp: str


# -- documents -----------------------------------------------------------------------------

#: Who a document is for: ``role:<chair|secretary|delegate|bridge_point|operator>``,
#: ``user:<id>`` or ``bridge_point:<id>``.
AudienceEntry = Annotated[
    str,
    StringConstraints(
        pattern=r"^(role:(chair|secretary|delegate|bridge_point|operator)|user:[1-9][0-9]{0,9}"
        r"|bridge_point:[1-9][0-9]{0,9})$"
    ),
]
AudienceSubject = Annotated[
    str, StringConstraints(pattern=r"^(user|bridge_point):[1-9][0-9]{0,9}$", max_length=64)
]
Page = Annotated[int, Field(ge=1, le=100_000)]


class DocumentSignatureOut(Response):
    """A digital signature ("chữ ký số") of the uploaded PDF, as validated on upload."""

    field: str
    intact: bool = Field(description="The signed bytes are unchanged")
    valid: bool = Field(description="Intact and the cryptography holds")
    trusted: bool = Field(description="Its certificate chains to a configured trust root")
    signer: str
    signed_at: str | None = Field(description="The time the signer claims (not a timestamp)")
    coverage: str = Field(description="ENTIRE_FILE, or ENTIRE_REVISION when changed after")
    modification: str = Field(description="What the changes after signing amount to")
    error: str


class DocumentOut(Response):
    id: int
    meeting_id: int
    agenda_item_id: int | None
    position: int
    title: str
    filename: str = Field(description="The uploaded file's name, made safe (diacritics kept)")
    kind: str = Field(
        description="pdf, or the office format it was converted from; webm or mp4 for a "
        "recording of the meeting"
    )
    media_type: str = Field(
        description="What the file is: `application/pdf`, or a recording's `video/webm` or "
        "`video/mp4` (no pages: played in a video element, not presented or stamped)"
    )
    size_bytes: int
    pages: int
    page_sizes: list[tuple[float, float]] = Field(description="Of the first 20 pages, in points")
    findings: list[str] = Field(
        description="Active content found and left out of the served copy (javascript, "
        "launch_action, embedded_files, submit_form, open_action, additional_actions, ...)"
    )
    sanitised: bool = Field(description="The served copy is the sanitised one, not the original")
    signatures: list[DocumentSignatureOut]
    audience: list[str] = Field(description="Empty: everyone in the meeting")
    presenters: list[str]
    confidential: bool = Field(description="Served with the viewer's watermark on every page")
    view_only: bool = Field(description="Served inline only: no download")
    state: str
    uploaded_at: datetime
    published_at: datetime | None


class DocumentPatch(Request):
    """Only the fields given change; ``agenda_item_id: null`` detaches it from its item."""

    title: Title | None = None
    agenda_item_id: Id | None = None
    position: Annotated[int, Field(ge=1, le=10_000)] | None = None
    audience: Annotated[list[AudienceEntry], Field(max_length=500)] | None = None
    presenters: Annotated[list[AudienceSubject], Field(max_length=50)] | None = None
    confidential: bool | None = None
    view_only: bool | None = None


class PresentIn(Request):
    document_id: Id
    page: Page = 1


class TurnPageIn(Request):
    page: Page


class NoteIn(Request):
    page: Page
    text: Annotated[str, StringConstraints(max_length=20_000)] = Field(
        description="Empty removes the note"
    )


class NoteOut(Response):
    document_id: int
    page: int
    text: str
    updated_at: datetime


class ReadingOut(Response):
    """An opened document: where its range requests go, with their grant, until when."""

    url: str = Field(
        description="The served file's address with the reading grant: `GET` it with "
        "`Range` headers and no token; past `expires_at`, or answered 403 `grant_refused` "
        "(the viewer's right was removed, or might have been), open the document again"
    )
    expires_at: datetime
    size: int = Field(description="The served file's length in bytes")
    variant: Literal["original", "sanitised", "watermarked"]
    etag: str


class PresentationOut(Response):
    document_id: int
    page: int
    presenter: str
    presenter_name: str
    since: datetime


class ReceiptOut(Response):
    """Who opened a document: first and last time, and how often."""

    document_id: int
    subject: str
    name: str
    first_at: datetime
    last_at: datetime
    count: int


# -- votes ("biểu quyết") ---------------------------------------------------------------------

OptionText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class VoteIn(Request):
    """A vote to open. Without ``options``: agree / disagree / abstain (Tán thành / Không tán
    thành / Không biểu quyết), one choice."""

    question: Question
    agenda_item_id: Id | None = None
    kind: Literal["open", "named", "secret"] = "open"
    options: Annotated[list[OptionText], Field(min_length=2, max_length=50)] | None = None
    max_choices: Annotated[int, Field(ge=1, le=50)] = 1
    rule: Literal["present", "members", "two_thirds"] = Field(
        default="present",
        description="More than half of those present (the electorate), more than half of all "
        "members, or two thirds of all members",
    )
    electorate: Literal["present", "named"] = Field(
        default="present",
        description="`present`: the delegates present at the last closed roll call; `named`: "
        "the `voters` given",
    )
    voters: Annotated[list[Subject], Field(max_length=2000)] = Field(
        default_factory=list, description="With `electorate` `named`: who may vote"
    )
    bridge_points_vote: bool = Field(
        default=False,
        description="Bridge points vote for their room (present ones, or those named)",
    )
    allow_change: bool = Field(default=False, description="A voter may change until closing")
    deadline_seconds: Annotated[int, Field(ge=10, le=24 * 3600)] | None = Field(
        default=None, description="The vote closes by itself this long after opening"
    )


class BallotIn(Request):
    choice: Annotated[list[Annotated[int, Field(ge=0, le=49)]], Field(min_length=1, max_length=50)]
    receipt: Annotated[str, StringConstraints(min_length=8, max_length=64)] | None = Field(
        default=None,
        description="Changing a secret ballot: the receipt of the ballot it replaces",
    )


class ElectorOut(Response):
    subject: str
    name: str


class NamedChoiceOut(Response):
    subject: str
    name: str
    choice: list[int] = Field(description="Option indexes chosen; empty: did not vote")


class VoteQuorumOut(Response):
    rule: str
    required: int
    present: int
    reached: bool


class VoteResultOut(Response):
    counts: list[int] = Field(description="Ballots per option, in option order")
    ballots: int = Field(description="How many voted")
    electors: int = Field(description="How many could vote")
    base: int = Field(description="The number the majority is counted on")
    required: int = Field(description="Votes an option needs to pass or be elected")
    outcome: Literal["passed", "rejected", "elected", "none_elected", "no_quorum"]
    tie: bool = Field(description="The leading options have the same count")
    elected: list[int] = Field(description="Option indexes elected (a list vote)")
    statement: str = Field(description="The result in one Vietnamese sentence")
    named: list[NamedChoiceOut] = Field(description="A named vote: who chose what")
    receipts: list[list[str]] = Field(
        description="A secret vote: per option, the SHA-256 (hex) of `<vote_id>:<receipt>` of "
        "every receipt counted for it; a voter finds their own"
    )


class VoteOut(Response):
    id: int
    meeting_id: int
    agenda_item_id: int | None
    question: str
    kind: Literal["open", "named", "secret"]
    options: list[str]
    max_choices: int
    rule: Literal["present", "members", "two_thirds"]
    allow_change: bool
    members: int = Field(description="All members (for the `members` and `two_thirds` rules)")
    quorum: VoteQuorumOut | None = Field(description="From the last closed roll call")
    state: Literal["open", "closed"]
    opened_at: datetime
    opened_by: str
    deadline: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    electors: list[ElectorOut]
    ballots: int = Field(description="How many have voted")
    counts: list[int] | None = Field(description="Live counts (open and named votes only)")
    result: VoteResultOut | None = Field(description="Set when the vote is closed")


class BallotOut(Response):
    vote_id: int
    choice: list[int]
    changed: bool = Field(description="It replaced the caller's earlier ballot")
    receipt: str | None = Field(
        description="A secret vote: keep it to check your choice in the published result "
        "(and to change your ballot where allowed); shown to nobody else"
    )


class VoterStatusOut(Response):
    vote_id: int
    elector: bool = Field(description="The caller may vote in it")
    voted: bool
    choice: list[int] | None = Field(description="Open and named votes: the caller's ballot")


MeetingSnapshotOut.model_rebuild()  # its votes are declared after it
JoinOut.model_rebuild()


# -- minutes ("biên bản") and reports ---------------------------------------------------------


class MinutesSectionIO(Request):
    heading: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    text: Annotated[str, StringConstraints(max_length=100_000)]


class MinutesPatch(Request):
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=64)] | None = Field(
        default=None, description="The minutes' number, e.g. `12/BB-UBND`")  # fmt: skip
    place: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=200)] | None = None  # fmt: skip
    sections: Annotated[list[MinutesSectionIO], Field(max_length=50)] | None = Field(
        default=None, description="Every section, in order (replaces them all)"
    )
    regenerate: bool = Field(
        default=False, description="Make the sections again from the record (before the rest)"
    )
    if_updated_at: datetime | Literal["unsaved"] | None = Field(
        default=None,
        description="The `updated_at` of the minutes this edit was made on, or `unsaved` for "
        "the draft made from the record: the edit is refused with `conflict` if the minutes "
        "were saved since (by another editor or in another tab). Null: nothing is checked",
    )


class MinutesSectionOut(Response):
    heading: str
    text: str


class MinutesOut(Response):
    meeting_id: int
    number: str
    place: str
    state: Literal["draft", "final"]
    sections: list[MinutesSectionOut]
    updated_at: datetime | None = Field(description="null: not edited yet (made from the record)")
    updated_by: str | None
    finalised_at: datetime | None
    pdf_sha256: str | None = Field(description="SHA-256 (hex) of the signed PDF, once final")
