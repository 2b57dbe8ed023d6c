"""The documents' domain objects (what the repository returns and the service reasons on)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class DocumentState(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class AudienceRole(enum.StrEnum):
    """Meeting roles an audience may name (``role:<value>``)."""

    CHAIR = "chair"
    SECRETARY = "secretary"
    DELEGATE = "delegate"
    BRIDGE_POINT = "bridge_point"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Signature:
    """One digital signature of an uploaded PDF, as pyHanko judged it."""

    field: str
    intact: bool
    valid: bool
    trusted: bool
    signer: str = ""
    signed_at: str | None = None
    coverage: str = ""
    modification: str = ""
    error: str = ""

    @classmethod
    def of(cls, d: dict[str, Any]) -> Signature:
        return cls(
            field=str(d.get("field", "")),
            intact=bool(d.get("intact", False)),
            valid=bool(d.get("valid", False)),
            trusted=bool(d.get("trusted", False)),
            signer=str(d.get("signer", "")),
            signed_at=d.get("signed_at"),
            coverage=str(d.get("coverage", "")),
            modification=str(d.get("modification", "")),
            error=str(d.get("error", "")),
        )


@dataclass(frozen=True, slots=True)
class Document:
    id: int
    meeting_id: int
    agenda_item_id: int | None
    position: int
    title: str
    filename: str
    kind: str
    sha256: str
    pdf_sha256: str
    size_bytes: int
    pages: int
    page_sizes: tuple[tuple[float, float], ...]
    findings: tuple[str, ...]
    sanitised: bool
    signatures: tuple[Signature, ...]
    audience: tuple[str, ...]
    presenters: tuple[str, ...]
    confidential: bool
    view_only: bool
    state: DocumentState
    uploaded_by: str
    uploaded_at: datetime
    published_at: datetime | None

    @property
    def restricted(self) -> bool:
        """Not for everyone in the meeting: its metadata stays off the shared stream."""
        return bool(self.audience) or self.confidential


@dataclass(frozen=True, slots=True)
class Note:
    document_id: int
    page: int
    text: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Access:
    document_id: int
    subject: str
    name: str
    variant: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Presentation:
    meeting_id: int
    document_id: int
    page: int
    presenter: str
    presenter_name: str
    since: datetime


@dataclass(frozen=True, slots=True)
class Receipt:
    """Who opened a document: first and last time, and how often."""

    document_id: int
    subject: str
    name: str
    first_at: datetime
    last_at: datetime
    count: int


@dataclass(frozen=True, slots=True)
class NewDocument:
    """What an accepted upload stores (the repository adds id, position and state)."""

    meeting_id: int
    agenda_item_id: int | None
    title: str
    filename: str
    kind: str
    sha256: str
    pdf_sha256: str
    size_bytes: int
    pages: int
    page_sizes: list[tuple[float, float]]
    findings: list[str]
    sanitised: bool
    signatures: list[dict[str, Any]]
    uploaded_by: str
    uploaded_at: datetime
    audience: list[str] = field(default_factory=list)
    confidential: bool = False
    view_only: bool = False
