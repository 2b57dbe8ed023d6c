"""Documents of a paperless meeting: uploaded, checked, published to an audience, presented,
read, annotated privately, and reported on.

An upload streams to a temporary file under a size limit, is converted to PDF when it is an
office document, and is checked in the worker pool (parses, sane pages, no user password,
active content stripped from the served copy, signatures validated). Its bytes are stored by
sha256 and never altered. Who sees a document: the meeting's chair and secretary always;
others once it is published and its audience (everyone, roles, or named delegates and bridge
points) includes them. A confidential document is served to each viewer with their name,
unit and the time drawn on every page; every serving is recorded (read receipts) and
audited. Private notes are read by their author only: no query here reads another's.
The meeting's recordings (ghi hình) are documents too, added by the system when a recording
ends: video files served as they were recorded, never paged, presented or stamped.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import unicodedata
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from meetingd.clock import Clock
from meetingd.config import Config
from meetingd.documents import check, grants, watermark
from meetingd.documents.convert import OFFICE, ConversionError, Converter
from meetingd.documents.domain import (
    MEDIA_TYPES,
    AudienceRole,
    Document,
    DocumentState,
    NewDocument,
    Note,
    Presentation,
    Receipt,
)
from meetingd.documents.pool import JobFailed, WorkerPool
from meetingd.documents.reader import GRANT_TTL_SECONDS, GrantReader, Readable
from meetingd.domain import Meeting, MeetingEvent, Principal, Role
from meetingd.errors import MeetingdError, NotFound, PermissionDenied, StateError, ValidationError
from meetingd.events import (
    BridgePointUninvited,
    DelegateUninvited,
    DocumentPageTurned,
    DocumentPresentationStopped,
    DocumentPresented,
    DocumentPublished,
    DocumentRemoved,
    DocumentUnpublished,
    DocumentUpdated,
    DocumentUploaded,
    MeetingUpdated,
)
from meetingd.schemas import DocumentOut
from meetingd.services import authz
from meetingd.services.authz import HELD
from meetingd.store import Store, UnitOfWork
from meetingd.store.blobs import BlobStore, LocalBlobStore, Staged, remove_tree

logger = logging.getLogger(__name__)

MAX_FILENAME = 200
#: Who adds a document the server made itself (a recording), in its row and the audit log.
SYSTEM = "system"
#: Characters that change how text reads or hide it (bidi overrides, zero-width).
_INVISIBLE = {"Cf", "Cc", "Cs", "Co", "Cn"}


class Refused(MeetingdError):
    """An upload that is not accepted; the code says why (``not_a_pdf``, ...)."""

    status = 400


class TooLarge(MeetingdError):
    status = 413
    code = "document_too_large"


class Unavailable(MeetingdError):
    status = 501
    code = "converter_missing"


def safe_filename(raw: str) -> str:
    """The upload's name as a title and a download name: Vietnamese letters kept (NFC),
    directories, control and direction-override characters removed, at most 200 characters
    (the extension kept)."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").split("/")[-1])
    name = "".join(c for c in name if unicodedata.category(c) not in _INVISIBLE)
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 8:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name or "tai-lieu.pdf"


def _title_of(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    return (stem if dot and len(ext) <= 5 and stem else filename)[:300]


@dataclass(frozen=True)
class Served:
    """A file to answer with: where it is, under which name, and how. ``blob`` is its place
    in the blob store (``<sha256>`` or ``<sha256>/<derived name>``), as a grant names it."""

    path: Path
    filename: str
    etag: str
    inline_only: bool
    variant: str
    blob: str = ""
    media_type: str = "application/pdf"


@dataclass(frozen=True)
class Reading:
    """An opened document: the grant its range requests carry, until when it holds, and
    the served file's size and variant (the reader asks for ranges of ``size`` bytes)."""

    grant: str
    expires_at: datetime
    size: int
    variant: str
    etag: str


@dataclass(frozen=True)
class ReadingPort:
    """Where the range requests of a grant go. ``port``: the reading port this process
    listens on (0: none, they go to the main port's route); ``public_url``: its address as
    browsers reach it (a proxy's); ``derive``: with no ``public_url``, whether the address is
    made from the host the caller reached this server by (not behind a TLS proxy)."""

    public_url: str = ""
    port: int = 0
    derive: bool = True


#: How long a reading grant holds; the reader asks for a new one when it runs out.
GRANT_TTL = timedelta(seconds=GRANT_TTL_SECONDS)
#: Openings (``document.open``) authorised at once, on SQLite and on PostgreSQL.
OPENINGS_AT_ONCE_SQLITE = 4
OPENINGS_AT_ONCE = 16


@dataclass(frozen=True)
class Settings:
    max_upload_bytes: int
    limits: check.Limits
    font: str
    #: The server's signing key; reading grants are signed with a key derived from it.
    grant_signing_key: str = ""


#: A reader's range requests within this long of its first are one opening (one receipt).
RECORD_EVERY = timedelta(minutes=10)
#: Openings remembered per process (the oldest is forgotten first).
MAX_OPENED = 20_000


class DocumentService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        blobs: BlobStore,
        pool: WorkerPool,
        converter: Converter,
        settings: Settings,
    ) -> None:
        self._store = store
        self._clock = clock
        self.blobs = blobs
        self.pool = pool
        self.converter = converter
        self._settings = settings
        #: (viewer, document, variant) -> when this process last recorded that viewer opening
        #: it: a reader's many range requests make one read receipt and one audit row per
        #: ``RECORD_EVERY``, and keep one watermark stamp (so every range of a reading comes
        #: from the same copy).
        self._opened: OrderedDict[tuple[str, int, str], datetime] = OrderedDict()
        #: Checks the range requests of the grants issued here (and a reading process's
        #: copy of it is told every revocation, see :attr:`on_revoke`).
        self.reader = GrantReader(
            grants.grant_key(settings.grant_signing_key), blobs, self._clock_ms
        )
        #: Told of every removal of rights (keys, when) as it is heard, before it returns.
        self.on_revoke: list[Callable[[list[str], int], None]] = []
        #: Where grants' range requests go (set while a reading port listens).
        self.reading_port = ReadingPort()
        #: Openings authorised at once. On SQLite every transaction waits its turn in one
        #: queue: a storm of readers opening a just-published document would otherwise queue
        #: hundreds of transactions ahead of the presenter's next page turn.
        self._openings = asyncio.Semaphore(
            OPENINGS_AT_ONCE_SQLITE if store.dialect == "sqlite" else OPENINGS_AT_ONCE
        )

    # -- who sees what --------------------------------------------------------------------

    @staticmethod
    def may_see(principal: Principal, meeting: Meeting, doc: Document) -> bool:
        if authz.can_manage_meeting(principal, meeting):
            return True
        if doc.state is not DocumentState.PUBLISHED or not authz.can_read_meeting(
            principal, meeting
        ):
            return False
        if not doc.audience:
            return True
        return bool(set(doc.audience) & _audience_keys(principal, meeting))

    async def _doc(
        self,
        uow: UnitOfWork,
        principal: Principal,
        meeting_id: int,
        document_id: int,
        *,
        lock: bool = False,
    ) -> tuple[Meeting, Document]:
        meeting = await authz.meeting_for(uow, principal, meeting_id, lock=lock)
        doc = await uow.documents.get(meeting_id, document_id)
        if doc is None or not self.may_see(principal, meeting, doc):
            raise NotFound(f"document {document_id} does not exist", field="document_id")
        return meeting, doc

    async def _managed(
        self, uow: UnitOfWork, principal: Principal, meeting_id: int, document_id: int
    ) -> tuple[Meeting, Document]:
        meeting, doc = await self._doc(uow, principal, meeting_id, document_id, lock=True)
        authz.require_manage_meeting(principal, meeting)
        return meeting, doc

    async def visible(
        self, uow: UnitOfWork, principal: Principal, meeting: Meeting
    ) -> list[Document]:
        """The meeting's documents ``principal`` may see, in order (for lists and snapshots)."""
        docs = await uow.documents.of_meeting(meeting.id)
        return [d for d in docs if self.may_see(principal, meeting, d)]

    # -- upload -----------------------------------------------------------------------------

    async def upload(
        self,
        principal: Principal,
        meeting_id: int,
        filename: str,
        chunks: AsyncIterator[bytes],
        agenda_item_id: int | None = None,
    ) -> Document:
        """Stream, convert, check and store an upload as a draft of the meeting."""
        async with self._store.transaction() as uow:
            meeting = await authz.meeting_for(uow, principal, meeting_id)
            authz.require_manage_meeting(principal, meeting)
            if agenda_item_id is not None and agenda_item_id not in {a.id for a in meeting.agenda}:
                raise ValidationError("no such agenda item in the meeting", field="agenda_item_id")
        name = safe_filename(filename)
        staged = await self.blobs.stage(chunks, self._settings.max_upload_bytes)
        work = self.blobs.scratch()
        try:
            return await self._accept(principal, meeting_id, agenda_item_id, name, staged, work)
        finally:
            staged.path.unlink(missing_ok=True)
            remove_tree(work)

    async def _accept(
        self,
        principal: Principal,
        meeting_id: int,
        agenda_item_id: int | None,
        name: str,
        staged: Staged,
        work: Path,
    ) -> Document:
        ext = Path(name).suffix.lower()
        head = await asyncio.to_thread(_head, staged.path)
        kind = "pdf"
        pdf_path = staged.path
        if staged.size == 0:
            raise Refused("the file is empty", code="document_empty")
        if not head.startswith(b"%PDF-") and ext in OFFICE:
            if not (
                head.startswith(b"PK\x03\x04")
                or head.startswith(b"\xd0\xcf\x11\xe0")
                or (ext == ".rtf" and head.startswith(b"{\\rtf"))
            ):
                raise Refused(
                    f"the file is named {ext} but is {check.describe(head)}", code="not_a_pdf"
                )
            kind = ext.lstrip(".")
            src = work / f"upload{ext}"
            src.hardlink_to(staged.path)
            try:
                pdf_path = await self.converter.to_pdf(src, work)
            except ConversionError as exc:
                if exc.code == "converter_missing":
                    raise Unavailable(exc.message) from None
                raise Refused(exc.message, code=exc.code) from None
        out = work / "out"
        out.mkdir()
        try:
            found: dict[str, Any] = await self.pool.run(
                check.inspect, str(pdf_path), str(out), self._settings.limits
            )
        except JobFailed as exc:
            raise Refused(exc.message, code=exc.code) from None
        if not found["ok"]:
            raise Refused(found["message"], code=found["code"])
        original = await self.blobs.put_original(staged)
        pdf_sha = staged.sha256
        if kind != "pdf":
            pdf_staged = await self.blobs.stage_path(pdf_path)
            await self.blobs.put_original(pdf_staged)
            pdf_sha = pdf_staged.sha256
        await self.blobs.put_derived(pdf_sha, "sanitised.pdf", out / "sanitised.pdf")
        if found["thumbnail"]:
            await self.blobs.put_derived(pdf_sha, "thumb-1.png", out / "thumb-1.png")
        logger.info(
            "meeting %s: %s accepted (%s, %s pages)", meeting_id, name, kind, found["pages"]
        )
        del original
        new = NewDocument(
            meeting_id=meeting_id,
            agenda_item_id=agenda_item_id,
            title=_title_of(name),
            filename=name,
            kind=kind,
            sha256=staged.sha256,
            pdf_sha256=pdf_sha,
            size_bytes=staged.size,
            pages=found["pages"],
            page_sizes=[tuple(s) for s in found["page_sizes"]],
            findings=list(found["findings"]),
            sanitised=bool(found["sanitised"]),
            signatures=list(found["signatures"]),
            uploaded_by=principal.subject,
            uploaded_at=self._clock.now(),
        )
        async with self._store.transaction() as uow:
            meeting = await authz.meeting_for(uow, principal, meeting_id, lock=True)
            authz.require_manage_meeting(principal, meeting)
            doc = await uow.documents.add(new)
            await uow.emit(meeting_id, DocumentUploaded(document_id=doc.id))
            return doc

    # -- recordings -------------------------------------------------------------------------

    async def add_recording(
        self, meeting_id: int, path: Path, media_type: str, title: str, filename: str
    ) -> Document:
        """Keep a finished recording of the meeting as one of its documents, added by the
        system (audited as such): stored by its hash like an upload, a draft meant for the
        chair and secretary (they publish it, or change its audience, if others should see
        it), served as it was recorded (range requests: a <video> plays and seeks in it)."""
        kinds = {t: k for k, t in MEDIA_TYPES.items()}
        if media_type not in kinds:
            raise ValidationError(f"a recording is {', '.join(kinds)}, not {media_type}")
        staged = await self.blobs.stage_path(path)
        try:
            await self.blobs.put_original(staged)
        finally:
            staged.path.unlink(missing_ok=True)
        new = NewDocument(
            meeting_id=meeting_id,
            agenda_item_id=None,
            title=title[:300],
            filename=safe_filename(filename),
            kind=kinds[media_type],
            sha256=staged.sha256,
            pdf_sha256=staged.sha256,
            size_bytes=staged.size,
            pages=0,
            page_sizes=[],
            findings=[],
            sanitised=False,
            signatures=[],
            uploaded_by=SYSTEM,
            uploaded_at=self._clock.now(),
            audience=[f"role:{AudienceRole.CHAIR.value}", f"role:{AudienceRole.SECRETARY.value}"],
        )
        async with self._store.transaction() as uow:
            await uow.meetings.lock(meeting_id)
            if await uow.meetings.get(meeting_id, full=False) is None:
                raise NotFound(f"meeting {meeting_id} does not exist", field="meeting_id")
            uow.actor = SYSTEM
            doc = await uow.documents.add(new)
            await uow.emit(meeting_id, DocumentUploaded(document_id=doc.id))
        logger.info("meeting %s: recording %s kept as document %s (%s bytes)",
                    meeting_id, path.name, doc.id, staged.size)  # fmt: skip
        return doc

    # -- reading metadata ----------------------------------------------------------------

    async def list_documents(self, principal: Principal, meeting_id: int) -> list[Document]:
        async with self._store.transaction() as uow:
            meeting = await authz.meeting_for(uow, principal, meeting_id)
            return await self.visible(uow, principal, meeting)

    async def get(self, principal: Principal, meeting_id: int, document_id: int) -> Document:
        async with self._store.transaction() as uow:
            return (await self._doc(uow, principal, meeting_id, document_id))[1]

    # -- changing ----------------------------------------------------------------------------

    async def update(
        self, principal: Principal, meeting_id: int, document_id: int, changes: dict[str, Any]
    ) -> Document:
        """Title, agenda item, order, audience, presenters, confidential, view-only."""
        async with self._store.transaction() as uow:
            meeting, doc = await self._managed(uow, principal, meeting_id, document_id)
            values = dict(changes)
            item = values.get("agenda_item_id")
            if item is not None and item not in {a.id for a in meeting.agenda}:
                raise ValidationError("no such agenda item in the meeting", field="agenda_item_id")
            for key in ("audience", "presenters"):
                if key in values and values[key] is not None:
                    values[key] = sorted(set(values[key]))
            for key in ("title", "position", "confidential", "view_only", "audience", "presenters"):
                if key in values and values[key] is None:
                    raise ValidationError(f"{key} cannot be null", field=key)
            if doc.is_media and values.get("confidential"):
                raise ValidationError(
                    "a recording cannot be confidential: its copies cannot carry the "
                    "viewer's name", field="confidential",
                )  # fmt: skip
            if values:
                await uow.documents.change(doc.id, **values)
            got = await uow.documents.get(meeting_id, document_id)
            assert got is not None
            if got.state is DocumentState.PUBLISHED:
                await uow.emit(meeting_id, DocumentUpdated(**_announce(got)))
            return got

    async def publish(self, principal: Principal, meeting_id: int, document_id: int) -> Document:
        async with self._store.transaction() as uow:
            _, doc = await self._managed(uow, principal, meeting_id, document_id)
            if doc.state is DocumentState.PUBLISHED:
                raise StateError("the document is published already")
            await uow.documents.change(
                doc.id, state=DocumentState.PUBLISHED.value, published_at=self._clock.now()
            )
            got = await uow.documents.get(meeting_id, document_id)
            assert got is not None
            await uow.emit(meeting_id, DocumentPublished(**_announce(got)))
            return got

    async def unpublish(self, principal: Principal, meeting_id: int, document_id: int) -> Document:
        async with self._store.transaction() as uow:
            _, doc = await self._managed(uow, principal, meeting_id, document_id)
            if doc.state is not DocumentState.PUBLISHED:
                raise StateError("the document is not published")
            await self._stop_if_presented(uow, meeting_id, doc.id)
            await uow.documents.change(doc.id, state=DocumentState.DRAFT.value, published_at=None)
            await uow.emit(meeting_id, DocumentUnpublished(document_id=doc.id))
            got = await uow.documents.get(meeting_id, document_id)
            assert got is not None
            return got

    async def remove(self, principal: Principal, meeting_id: int, document_id: int) -> None:
        """Delete the document from the meeting (its bytes stay: others may share them)."""
        async with self._store.transaction() as uow:
            _, doc = await self._managed(uow, principal, meeting_id, document_id)
            await self._stop_if_presented(uow, meeting_id, doc.id)
            await uow.documents.remove(doc.id)
            await uow.emit(meeting_id, DocumentRemoved(document_id=doc.id))

    # -- serving the bytes --------------------------------------------------------------------

    async def open(
        self,
        principal: Principal,
        meeting_id: int,
        document_id: int,
        *,
        download: bool,
        original: bool = False,
    ) -> Served:
        """The file to serve ``principal``, recorded and audited: the viewer's watermarked
        copy of a confidential document, the sanitised copy of one that carried active
        content, else the original bytes (signatures stay checkable)."""
        async with self._store.transaction() as uow:
            meeting, doc = await self._doc(uow, principal, meeting_id, document_id)
            manager = authz.can_manage_meeting(principal, meeting)
            if download and doc.view_only and not manager:
                raise PermissionDenied(
                    "this document may be viewed but not downloaded", code="view_only"
                )
            if original and not manager:
                raise PermissionDenied("only the chair and secretary fetch the uploaded original")
            unit = await _unit_name(uow, principal)
        variant = (
            "original"
            if original
            else "watermarked"
            if doc.confidential and not manager
            else ("sanitised" if _serves_sanitised(doc) else "original")
        )
        now = self._clock.now()
        key = (principal.subject, doc.id, variant)
        since = self._opened.get(key)
        record = since is None or now - since >= RECORD_EVERY
        if record:
            since = now
            self._opened[key] = now
            self._opened.move_to_end(key)
            while len(self._opened) > MAX_OPENED:
                self._opened.popitem(last=False)
        assert since is not None
        if original:
            path = self.blobs.path_of(doc.sha256)
            etag_part = doc.sha256
            name = doc.filename
            blob = doc.sha256
        elif variant == "watermarked":
            stamp = since.astimezone().strftime("%d/%m/%Y %H:%M")
            path = await self._watermarked(doc, principal, unit, stamp)
            etag_part = path.name
            name = _pdf_name(doc.filename)
            blob = f"{doc.pdf_sha256}/{path.name}"
        else:
            path = self._served_pdf(doc)
            etag_part = doc.pdf_sha256
            name = doc.filename if doc.is_media else _pdf_name(doc.filename)
            blob = _served_blob(doc)
        if path is None or not path.is_file():
            raise NotFound("the document's file is missing from the store", field="document_id")
        if record or download:
            async with self._store.transaction() as uow:
                uow.actor = principal.subject
                await uow.documents.accessed(
                    doc.id, principal.subject, principal.name, variant, now
                )
                await uow.record(
                    "document.accessed",
                    f"meeting:{meeting_id}",
                    {"document_id": doc.id, "variant": variant, "download": download},
                )
        return Served(
            path=path,
            filename=name,
            etag=f'"{etag_part[:32]}"',
            inline_only=doc.view_only and not manager,
            variant=variant,
            blob=blob,
            media_type=doc.media_type,
        )

    async def _watermarked(
        self, doc: Document, principal: Principal, unit: str, stamp: str
    ) -> Path:
        """The viewer's copy, made once per viewer and minute and kept beside the original."""
        import hashlib

        lines = [principal.name, unit, stamp] if unit else [principal.name, stamp]
        key = hashlib.sha256("\n".join([principal.subject, *lines]).encode()).hexdigest()[:24]
        path = self.blobs.derived(doc.pdf_sha256, f"wm-{key}.pdf")
        if path.is_file():
            return path
        src = self._served_pdf(doc)
        if src is None:
            raise NotFound("the document's file is missing from the store", field="document_id")
        work = self.blobs.scratch()
        try:
            tmp = work / "wm.pdf"
            try:
                await self.pool.run(
                    watermark.watermark, str(src), str(tmp), lines, self._settings.font
                )
            except JobFailed as exc:
                raise StateError(f"the watermarked copy could not be made: {exc.message}") from None
            return await self.blobs.put_derived(doc.pdf_sha256, path.name, tmp)
        finally:
            remove_tree(work)

    # -- reading under a grant ------------------------------------------------------------

    async def open_reading(
        self, principal: Principal, meeting_id: int, document_id: int
    ) -> Reading:
        """Authorise ``principal`` once for reading a document (recorded and audited as an
        opening) and grant it the served file's range requests for :data:`GRANT_TTL`."""
        # Taken before the rights are read: a removal committed after this read is heard
        # after this instant, so it withdraws the grant (see meetingd.documents.grants).
        async with self._openings:
            issued_ms = self._clock_ms()
            served = await self.open(principal, meeting_id, document_id, download=False)
        size = (await asyncio.to_thread(served.path.stat)).st_size
        expires = self._clock.now() + GRANT_TTL
        g = grants.Grant(
            subject=principal.subject,
            token_id=principal.token_id,
            meeting_id=meeting_id,
            document_id=document_id,
            blob=served.blob,
            expires=int(expires.timestamp()),
            issued_ms=issued_ms,
            private=served.variant == "watermarked" or served.inline_only,
        )
        return Reading(
            grant=self.reader.sign(g),
            expires_at=expires.replace(microsecond=0),
            size=size,
            variant=served.variant,
            etag=served.etag,
        )

    def readable(self, grant: str, meeting_id: int, document_id: int) -> Readable:
        """The file a range request under ``grant`` reads, checked without the database:
        signature, document, expiry, revocations. Raises :class:`GrantRefused`."""
        return self.reader.readable(grant, meeting_id, document_id)

    @property
    def revocations(self) -> grants.Revocations:
        return self.reader.revocations

    def revoke_grants(self, keys: Iterable[str]) -> None:
        """Rights were removed from ``keys`` (callers, tokens, documents, meetings): the
        grants issued to them until now stop working at once, in this process and in its
        reading process."""
        keys = list(keys)
        now = self._clock_ms()
        self.reader.revoke(keys, now)
        for hook in self.on_revoke:
            hook(keys, now)

    def events_heard(self, events: Iterable[MeetingEvent]) -> None:
        """Committed events, from this process or another: those that change who may read a
        document withdraw the grants issued before them."""
        keys = [k for ev in events for k in _withdrawn_by(ev)]
        if keys:
            self.revoke_grants(keys)

    def _clock_ms(self) -> int:
        return int(self._clock.now().timestamp() * 1000)

    def close(self) -> None:
        """Close the worker pool and the blob descriptors kept for readers."""
        self.pool.close()
        self.reader.close()

    def _served_pdf(self, doc: Document) -> Path | None:
        """The PDF everyone is served: the sanitised copy when the upload carried active
        content or was converted, else the original bytes (signatures stay checkable). A
        recording is served as it was recorded."""
        if _serves_sanitised(doc):
            return self.blobs.derived(doc.pdf_sha256, "sanitised.pdf")
        return self.blobs.path_of(doc.pdf_sha256)

    async def thumbnail(self, principal: Principal, meeting_id: int, document_id: int) -> Path:
        async with self._store.transaction() as uow:
            _, doc = await self._doc(uow, principal, meeting_id, document_id)
        if doc.confidential:
            raise NotFound("a confidential document has no thumbnail", field="document_id")
        path = self.blobs.derived(doc.pdf_sha256, "thumb-1.png")
        if not path.is_file():
            raise NotFound("the document has no thumbnail", field="document_id")
        return path

    # -- presenting ------------------------------------------------------------------------

    async def present(
        self, principal: Principal, meeting_id: int, document_id: int, page: int
    ) -> Presentation:
        async with self._store.transaction() as uow:
            meeting, doc = await self._doc(uow, principal, meeting_id, document_id, lock=True)
            _require_presenter(principal, meeting, doc)
            _require_held(meeting)
            if doc.is_media:
                raise StateError("a recording is played by each viewer, not presented")
            _check_page(doc, page)
            await uow.documents.present(
                meeting_id, doc.id, page, principal.subject, principal.name, self._clock.now()
            )
            await uow.emit(
                meeting_id,
                DocumentPresented(
                    document_id=doc.id,
                    page=page,
                    presenter=principal.subject,
                    presenter_name=principal.name,
                ),
            )
            got = await uow.documents.presentation(meeting_id)
            assert got is not None
            return got

    async def turn_page(self, principal: Principal, meeting_id: int, page: int) -> Presentation:
        async with self._store.transaction() as uow:
            meeting = await authz.meeting_for(uow, principal, meeting_id, lock=True)
            now = await uow.documents.presentation(meeting_id)
            if now is None:
                raise StateError("no document is being presented")
            doc = await uow.documents.get(meeting_id, now.document_id)
            assert doc is not None
            if now.presenter != principal.subject:
                _require_presenter(principal, meeting, doc)
            _check_page(doc, page)
            await uow.documents.turn(meeting_id, page)
            await uow.emit(meeting_id, DocumentPageTurned(document_id=doc.id, page=page))
            got = await uow.documents.presentation(meeting_id)
            assert got is not None
            return got

    async def stop_presenting(self, principal: Principal, meeting_id: int) -> None:
        async with self._store.transaction() as uow:
            meeting = await authz.meeting_for(uow, principal, meeting_id, lock=True)
            now = await uow.documents.presentation(meeting_id)
            if now is None:
                raise StateError("no document is being presented")
            if now.presenter != principal.subject:
                authz.require_manage_meeting(principal, meeting)
            await self._stop_if_presented(uow, meeting_id, now.document_id)

    async def presentation(self, uow: UnitOfWork, meeting_id: int) -> Presentation | None:
        return await uow.documents.presentation(meeting_id)

    async def _stop_if_presented(self, uow: UnitOfWork, meeting_id: int, document_id: int) -> None:
        now = await uow.documents.presentation(meeting_id)
        if now is not None and now.document_id == document_id:
            await uow.documents.stop(meeting_id)
            await uow.emit(meeting_id, DocumentPresentationStopped(document_id=document_id))

    # -- private notes ---------------------------------------------------------------------

    async def set_note(
        self, principal: Principal, meeting_id: int, document_id: int, page: int, text: str
    ) -> Note | None:
        """Write (or, with empty text, remove) the caller's own note on a page. Not audited
        and on no stream: its text never leaves for anyone but its author."""
        async with self._store.transaction() as uow:
            _, doc = await self._doc(uow, principal, meeting_id, document_id)
            _check_page(doc, page)
            await uow.documents.set_note(doc.id, principal.subject, page, text, self._clock.now())
            notes = await uow.documents.notes(doc.id, principal.subject)
            return next((n for n in notes if n.page == page), None)

    async def notes(self, principal: Principal, meeting_id: int, document_id: int) -> list[Note]:
        """The caller's own notes on a document (nobody else's, whoever asks)."""
        async with self._store.transaction() as uow:
            _, doc = await self._doc(uow, principal, meeting_id, document_id)
            return await uow.documents.notes(doc.id, principal.subject)

    # -- receipts and reports -------------------------------------------------------------------

    async def receipts(self, principal: Principal, meeting_id: int) -> list[Receipt]:
        async with self._store.transaction() as uow:
            meeting = await authz.meeting_for(uow, principal, meeting_id)
            authz.require_manage_meeting(principal, meeting)
            return await uow.documents.receipts(meeting_id)

    async def report_rows(self, principal: Principal, meeting_id: int) -> list[list[str]]:
        """One row per published document and participant it went to: who, whether and
        when they opened it (first, last, how often). Notes are never part of it."""
        async with self._store.transaction() as uow:
            meeting = await authz.meeting_for(uow, principal, meeting_id)
            authz.require_manage_meeting(principal, meeting)
            docs = await uow.documents.of_meeting(meeting_id)
            receipts = {
                (r.document_id, r.subject): r for r in await uow.documents.receipts(meeting_id)
            }
            people = await _participants(uow, meeting)
        rows = [
            [
                "document_id",
                "tai_lieu",
                "nguoi_nhan",
                "ma",
                "vai_tro",
                "da_mo",
                "mo_lan_dau",
                "mo_lan_cuoi",
                "so_lan",
            ]
        ]
        for doc in docs:
            if doc.state is not DocumentState.PUBLISHED:
                continue
            for subject, name, role, principal_like in people:
                if not self.may_see(principal_like, meeting, doc):
                    continue
                r = receipts.get((doc.id, subject))
                rows.append(
                    [
                        str(doc.id),
                        doc.title,
                        name,
                        subject,
                        role,
                        "có" if r else "chưa",
                        r.first_at.isoformat() if r else "",
                        r.last_at.isoformat() if r else "",
                        str(r.count if r else 0),
                    ]
                )
        return rows

    async def report(self, principal: Principal, meeting_id: int, fmt: str) -> bytes:
        rows = await self.report_rows(principal, meeting_id)
        if fmt == "csv":
            buf = io.StringIO()
            csv.writer(buf).writerows(rows)
            return ("\ufeff" + buf.getvalue()).encode()  # BOM: Excel reads it as UTF-8
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "Tai lieu"
        for r in rows:
            ws.append(r)
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()


def _announce(doc: Document) -> dict[str, Any]:
    """A stream event's fields: the whole document only when it is for everyone."""
    restricted = doc.restricted
    return {
        "document_id": doc.id,
        "restricted": restricted,
        "document": None if restricted else DocumentOut.of(doc),
    }


def _audience_keys(principal: Principal, meeting: Meeting) -> set[str]:
    keys = {principal.subject}
    if principal.kind == "bridge_point":
        if principal.id in meeting.bridge_point_ids:
            keys.add(f"role:{AudienceRole.BRIDGE_POINT.value}")
        return keys
    if principal.id == meeting.chair_id:
        keys.add(f"role:{AudienceRole.CHAIR.value}")
    if principal.id == meeting.secretary_id:
        keys.add(f"role:{AudienceRole.SECRETARY.value}")
    if principal.id in meeting.delegate_ids:
        keys.add(f"role:{AudienceRole.DELEGATE.value}")
    if principal.has_role(meeting.unit_path, Role.OPERATOR):
        keys.add(f"role:{AudienceRole.OPERATOR.value}")
    return keys


def _serves_sanitised(doc: Document) -> bool:
    return doc.sanitised or (doc.kind != "pdf" and not doc.is_media)


#: Events after which a document's grants, or a meeting's, or a viewer's in a meeting, stop.
_DOCUMENT_CHANGES = frozenset(
    c.type for c in (DocumentUnpublished, DocumentUpdated, DocumentRemoved)
)


def _withdrawn_by(ev: MeetingEvent) -> list[str]:
    """The revocation keys a committed event stands for (see meetingd.documents.grants)."""
    if ev.type in _DOCUMENT_CHANGES:
        return [f"document:{ev.data['document_id']}"]
    if ev.type == DelegateUninvited.type:
        return [f"meeting:{ev.meeting_id}/user:{ev.data['user_id']}"]
    if ev.type == BridgePointUninvited.type:
        return [f"meeting:{ev.meeting_id}/bridge_point:{ev.data['bridge_point_id']}"]
    if ev.type == MeetingUpdated.type:  # a chair or secretary replaced loses every document
        return [f"meeting:{ev.meeting_id}"]
    return []


def _served_blob(doc: Document) -> str:
    """Where :meth:`DocumentService._served_pdf` is, as a grant names it."""
    return f"{doc.pdf_sha256}/sanitised.pdf" if _serves_sanitised(doc) else doc.pdf_sha256


def _require_presenter(principal: Principal, meeting: Meeting, doc: Document) -> None:
    if authz.can_manage_meeting(principal, meeting) or principal.subject in doc.presenters:
        if doc.state is not DocumentState.PUBLISHED:
            raise StateError("publish the document before presenting it")
        return
    raise PermissionDenied("only the chair, the secretary or a named presenter presents")


def _require_held(meeting: Meeting) -> None:
    if meeting.state not in HELD:
        raise StateError(f"presenting is not possible while the meeting is {meeting.state.value}")


def _check_page(doc: Document, page: int) -> None:
    if not 1 <= page <= doc.pages:
        raise ValidationError(f"page must be between 1 and {doc.pages}", field="page")


def _pdf_name(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    return filename if ext.lower() == "pdf" else f"{stem if dot else filename}.pdf"


async def _unit_name(uow: UnitOfWork, principal: Principal) -> str:
    """The viewer's unit, for the watermark (a bridge point's own, else a granted one)."""
    if principal.kind == "bridge_point":
        bp = await uow.bridge_points.get(principal.id)
        if bp is not None:
            unit = await uow.units.get(bp.unit_id)
            return f"{bp.name} · {unit.name}" if unit is not None else bp.name
        return ""
    for grant in principal.grants:
        unit = await uow.units.get(grant.unit_id)
        if unit is not None:
            return unit.name
    return ""


async def _participants(uow: UnitOfWork, meeting: Meeting) -> list[tuple[str, str, str, Principal]]:
    """Everyone a document of the meeting can go to: chair, secretary, delegates, bridge points."""
    out: list[tuple[str, str, str, Principal]] = []
    seen: set[str] = set()
    for uid, role in [(meeting.chair_id, "chu_tri"), (meeting.secretary_id, "thu_ky")] + [
        (d, "dai_bieu") for d in meeting.delegate_ids
    ]:
        if uid is None or f"user:{uid}" in seen:
            continue
        user = await uow.users.get(uid)
        if user is None:
            continue
        seen.add(f"user:{uid}")
        p = Principal(kind="user", id=uid, name=user.display_name, token_id="report")
        out.append((p.subject, user.display_name, role, p))
    for bid in meeting.bridge_point_ids:
        bp = await uow.bridge_points.get(bid)
        if bp is not None:
            p = Principal(kind="bridge_point", id=bid, name=bp.name, token_id="report")
            out.append((p.subject, bp.name, "diem_cau", p))
    return out


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(check.HEADER_WINDOW)


def build_documents(
    config: Config, store: Store, clock: Clock, signing_key: str = ""
) -> DocumentService:
    """The documents service of ``config``: blobs under the data dir, the worker pool, the
    converter and the limits of the ``documents`` section; reading grants signed with a
    key derived from ``signing_key``."""
    d = config.documents
    return DocumentService(
        store,
        clock,
        LocalBlobStore(Path(config.server.data_dir) / "blobs"),
        WorkerPool(d.check_workers, d.check_memory_bytes, d.check_seconds),
        Converter(d.soffice, d.convert_seconds, d.convert_memory_bytes),
        Settings(
            max_upload_bytes=d.max_upload_bytes,
            limits=check.Limits(
                max_pages=d.max_pages,
                max_decompressed_bytes=d.max_decompressed_bytes,
                trust_roots=d.trust_roots,
            ),
            font=d.watermark_font,
            grant_signing_key=signing_key,
        ),
    )
