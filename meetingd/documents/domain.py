"""The documents' domain objects (what the repository returns and the service reasons on)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: What a PDF document is served as (every upload is one, or is converted to one).
PDF_TYPE = "application/pdf"
#: Documents that are not PDFs, by their ``kind`` (the file's format): the meeting's
#: recordings (ghi hình), played in a <video> element, never paged, presented or stamped.
MEDIA_TYPES = {"webm": "video/webm", "mp4": "video/mp4"}


def sniff_media_type(head: bytes) -> str:
    """The served type of a stored file from its first bytes: a recording (WebM/Matroska's
    EBML header, an MP4's ``ftyp`` box), else a PDF (all else a document is served as)."""
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MEDIA_TYPES["webm"]
    if head[4:8] == b"ftyp":
        return MEDIA_TYPES["mp4"]
    return PDF_TYPE


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
    def media_type(self) -> str:
        """What the served file is: ``application/pdf``, or a recording's video type."""
        return MEDIA_TYPES.get(self.kind, PDF_TYPE)

    @property
    def is_media(self) -> bool:
        """A recording (video), not a PDF: no pages, no watermark, not presented."""
        return self.kind in MEDIA_TYPES

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
