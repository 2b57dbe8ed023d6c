"""SQLAlchemy models. Only ``store/`` sees them; repositories turn rows into domain dataclasses."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UnitRow(Base):
    __tablename__ = "units"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_fold: Mapped[str] = mapped_column(String(200), index=True)
    sort_key: Mapped[str] = mapped_column(String(800))
    kind: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(400), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (CheckConstraint("kind in ('province','district','commune')", name="kind"),)


class BridgePointRow(Base):
    __tablename__ = "bridge_points"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_fold: Mapped[str] = mapped_column(String(200), index=True)
    sort_key: Mapped[str] = mapped_column(String(800))
    room: Mapped[str] = mapped_column(String(200), default="")
    credential_key: Mapped[str] = mapped_column(String(32), unique=True)
    credential_hash: Mapped[str] = mapped_column(String(128))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    name_fold: Mapped[str] = mapped_column(String(200), index=True)
    sort_key: Mapped[str] = mapped_column(String(800))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RoleGrantRow(Base):
    __tablename__ = "role_grants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    __table_args__ = (
        UniqueConstraint("user_id", "unit_id", "role", name="uq_role_grants_user_unit_role"),
        CheckConstraint("role in ('operator','chair','secretary','delegate')", name="role"),
    )


class RevokedTokenRow(Base):
    __tablename__ = "revoked_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class MeetingRow(Base):
    __tablename__ = "meetings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    secretary_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    current_agenda_item_id: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (
        CheckConstraint(
            "state in ('draft','scheduled','open','live','paused','ended')", name="state"
        ),
    )


class MeetingBridgePointRow(Base):
    __tablename__ = "meeting_bridge_points"
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    bridge_point_id: Mapped[int] = mapped_column(
        ForeignKey("bridge_points.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class MeetingDelegateRow(Base):
    __tablename__ = "meeting_delegates"
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AgendaItemRow(Base):
    __tablename__ = "agenda_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    __table_args__ = (
        CheckConstraint("state in ('pending','active','done','skipped')", name="state"),
    )


class MeetingEventRow(Base):
    """The meeting's event stream, bounded per meeting (oldest pruned)."""

    __tablename__ = "meeting_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (UniqueConstraint("meeting_id", "seq", name="uq_meeting_events_meeting_seq"),)


class AuditRow(Base):
    """Append-only record of every change: who, what, when, hash-chained.

    ``n`` is the row's place in the chain (1, 2, 3, ...); ``hash`` is the SHA-256 of the
    previous row's hash and this row's canonical content (see ``store/audit.py``), so a
    changed, deleted or reordered row breaks the chain.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


Index("ix_meetings_unit_starts", MeetingRow.unit_id, MeetingRow.starts_at)


# -- the live meeting: connected participants and roll calls ---------------------------------


class RealtimeNodeRow(Base):
    """A running server process that holds socket.io connections.

    Its heartbeat proves its presence rows are alive; a node whose heartbeat is older than
    ``realtime.offline_after_seconds`` is gone and any process sweeps its rows away.
    """

    __tablename__ = "realtime_nodes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PresenceRow(Base):
    """One connection of a participant joined to a meeting (a device; two devices, two rows).

    ``since`` is when the participant became present; every row of the same participant in
    the same meeting carries the same value, so it survives the first device leaving.
    """

    __tablename__ = "presence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(32), index=True)
    connection_id: Mapped[str] = mapped_column(String(64))
    principal_kind: Mapped[str] = mapped_column(String(16))
    principal_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (
        UniqueConstraint(
            "node_id", "connection_id", "meeting_id", name="uq_presence_node_connection_meeting"
        ),
        Index("ix_presence_meeting_principal", "meeting_id", "principal_kind", "principal_id"),
    )


class RollCallRow(Base):
    """A roll call ("điểm danh"); ``result`` is frozen when it closes."""

    __tablename__ = "rollcalls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, object] | None] = mapped_column(JSON)
    __table_args__ = (
        CheckConstraint("state in ('open','closed')", name="state"),
        # At most one open roll call per meeting.
        Index(
            "uq_rollcalls_open_meeting",
            "meeting_id",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )


class RollCallAnswerRow(Base):
    """A bridge point's answer: how many people are in its room (a second answer replaces it)."""

    __tablename__ = "rollcall_answers"
    rollcall_id: Mapped[int] = mapped_column(
        ForeignKey("rollcalls.id", ondelete="CASCADE"), primary_key=True
    )
    bridge_point_id: Mapped[int] = mapped_column(
        ForeignKey("bridge_points.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (CheckConstraint("count >= 0 AND count <= 1000", name="count"),)


class RollCallConfirmationRow(Base):
    """A delegate's confirmation of their own presence."""

    __tablename__ = "rollcall_confirmations"
    rollcall_id: Mapped[int] = mapped_column(
        ForeignKey("rollcalls.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FloorRow(Base):
    """A request for the floor, or the floor held (one row per participant per meeting)."""

    __tablename__ = "floor_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: When the speaking time given with the floor runs out (None: no limit).
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    #: The place of a request in the speaking queue (the chair may reorder it).
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    __table_args__ = (
        UniqueConstraint("meeting_id", "subject", name="uq_floor_entries_meeting_subject"),
        CheckConstraint("state in ('requested','granted')", name="state"),
    )


class SpeechRow(Base):
    """The speech log: who had the floor from when to when, who gave it and who ended it.

    Floor rows come and go; these stay, for the minutes.
    """

    __tablename__ = "floor_speeches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_by: Mapped[str] = mapped_column(String(64))
    limit_seconds: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(64))
    end_reason: Mapped[str | None] = mapped_column(String(16))


# -- documents: uploads, their audiences, notes, accesses and the presented page ------------


class DocumentRow(Base):
    """A document of a meeting; its bytes are in the blob store under ``sha256``.

    ``pdf_sha256`` is the PDF that is shown: the original itself, or the PDF LibreOffice
    made of an office document. ``audience`` is empty for everyone in the meeting, else
    ``role:<chair|secretary|delegate|bridge_point|operator>``, ``user:<id>`` and
    ``bridge_point:<id>`` entries.
    """

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    agenda_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="SET NULL")
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int] = mapped_column(Integer)
    page_sizes: Mapped[list[list[float]]] = mapped_column(JSON)
    findings: Mapped[list[str]] = mapped_column(JSON)
    sanitised: Mapped[bool] = mapped_column(Boolean)
    signatures: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    audience: Mapped[list[str]] = mapped_column(JSON)
    presenters: Mapped[list[str]] = mapped_column(JSON)
    confidential: Mapped[bool] = mapped_column(Boolean)
    view_only: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    __table_args__ = (CheckConstraint("state in ('draft','published')", name="state"),)


class DocumentNoteRow(Base):
    """A private note on one page, readable by its author only (no API reads another's)."""

    __tablename__ = "document_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(64))
    page: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    __table_args__ = (
        UniqueConstraint("document_id", "author", "page", name="uq_document_notes_doc_author_page"),
    )


class DocumentAccessRow(Base):
    """Every time someone was served a document's bytes (the read receipts come from it)."""

    __tablename__ = "document_accesses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    variant: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class DocumentPresentationRow(Base):
    """The document and page on every screen of a meeting (at most one per meeting)."""

    __tablename__ = "document_presentations"
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    page: Mapped[int] = mapped_column(Integer)
    presenter: Mapped[str] = mapped_column(String(64))
    presenter_name: Mapped[str] = mapped_column(String(200))
    since: Mapped[datetime] = mapped_column(UTCDateTime())


# -- votes and the record --------------------------------------------------------------------


class AuditHeadRow(Base):
    """The tail of the audit chain (one row, id 1): locked FOR UPDATE by every transaction
    that appends, so concurrent processes append one after the other."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class VoteRow(Base):
    """A vote ("biểu quyết") on an agenda item; ``result`` is frozen when it closes."""

    __tablename__ = "votes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    agenda_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="SET NULL")
    )
    question: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(8))
    options: Mapped[list[str]] = mapped_column(JSON)
    max_choices: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(16))
    allow_change: Mapped[bool] = mapped_column(Boolean)
    #: Members the majority is counted on ("of all members": the invited delegates).
    members: Mapped[int] = mapped_column(Integer)
    quorum: Mapped[dict[str, object] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(8))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_by: Mapped[str] = mapped_column(String(64))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, object] | None] = mapped_column(JSON)
    __table_args__ = (
        CheckConstraint("kind in ('open','named','secret')", name="kind"),
        CheckConstraint("rule in ('present','members','two_thirds')", name="rule"),
        CheckConstraint("state in ('open','closed')", name="state"),
    )


class VoteElectorRow(Base):
    """Who may vote, fixed when the vote opens (a delegate, or a bridge point for its room)."""

    __tablename__ = "vote_electors"
    vote_id: Mapped[int] = mapped_column(
        ForeignKey("votes.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class BallotRow(Base):
    """A ballot of an open or named vote: one per voter by the primary key."""

    __tablename__ = "vote_ballots"
    vote_id: Mapped[int] = mapped_column(
        ForeignKey("votes.id", ondelete="CASCADE"), primary_key=True
    )
    voter: Mapped[str] = mapped_column(String(64), primary_key=True)
    choice: Mapped[list[int]] = mapped_column(JSON)
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SecretVoterRow(Base):
    """Who has voted in a secret vote, and nothing else: no time, no id, no order (SQLite
    keeps it WITHOUT ROWID, in key order; one per voter by the primary key)."""

    __tablename__ = "vote_voters"
    vote_id: Mapped[int] = mapped_column(
        ForeignKey("votes.id", ondelete="CASCADE"), primary_key=True
    )
    voter: Mapped[str] = mapped_column(String(64), primary_key=True)
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 (SQLAlchemy reads it)


class SecretChoiceRow(Base):
    """What was chosen in a secret vote, keyed by the hash of a random receipt code that only
    the voter holds: no voter, no time, no id; stored in key (random) order."""

    __tablename__ = "vote_choices"
    vote_id: Mapped[int] = mapped_column(
        ForeignKey("votes.id", ondelete="CASCADE"), primary_key=True
    )
    receipt_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    choice: Mapped[list[int]] = mapped_column(JSON)
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 (SQLAlchemy reads it)


class MinutesRow(Base):
    """The minutes ("biên bản") of a meeting: a draft the secretary edits, then final."""

    __tablename__ = "minutes"
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[str] = mapped_column(String(64))
    place: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, object]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))
    finalised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    #: The signed PDF, once final (tens of kilobytes: the font is subset).
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    __table_args__ = (CheckConstraint("state in ('draft','final')", name="state"),)
