"""Documents: metadata, publishing, presenting, private notes and read receipts.

The bytes travel over plain HTTP routes (:mod:`meetingd.api.documents`: upload, the file,
the thumbnail, the report), since streamed bodies do not fit a JSON command.
"""

from __future__ import annotations

from meetingd import events as ev
from meetingd.commands.meetings import MEETING, MeetingRef
from meetingd.commands.table import COMMANDS, Context, Rest
from meetingd.schemas import (
    DocumentOut,
    DocumentPatch,
    Id,
    NoteIn,
    NoteOut,
    PresentationOut,
    PresentIn,
    ReadingOut,
    ReceiptOut,
    Request,
    TurnPageIn,
)
from meetingd.services.authz import Permission

DOCS = f"{MEETING}/documents"
DOC = f"{DOCS}/{{document_id}}"
ERRORS = (403, 404, 409)


class DocumentRef(Request):
    meeting_id: Id
    document_id: Id


class DocumentUpdate(DocumentPatch):
    meeting_id: Id
    document_id: Id


class DocumentPresent(PresentIn):
    meeting_id: Id


class DocumentTurn(TurnPageIn):
    meeting_id: Id


class DocumentNote(NoteIn):
    meeting_id: Id
    document_id: Id


@COMMANDS.command(
    "document.list",
    MeetingRef,
    answer=list[DocumentOut],
    summary="The meeting's documents the caller may see, in order",
    tag="documents",
    permission=Permission.READ_DOCUMENT,
    rest=Rest("GET", DOCS, "list_documents", errors=(404,)),
)
async def list_documents(ctx: Context, p: MeetingRef) -> list[DocumentOut]:
    """Drafts too for the chair and secretary; others see published documents whose audience
    includes them. `meeting.join`'s snapshot carries the same list."""
    docs = await ctx.services.documents.list_documents(ctx.principal, p.meeting_id)
    return [DocumentOut.of(d) for d in docs]


@COMMANDS.command(
    "document.get",
    DocumentRef,
    answer=DocumentOut,
    summary="One document's metadata, its check and signature results",
    tag="documents",
    permission=Permission.READ_DOCUMENT,
    rest=Rest("GET", DOC, "get_document", errors=(404,)),
)
async def get_document(ctx: Context, p: DocumentRef) -> DocumentOut:
    """A client that gets a `restricted` `document.published` asks for it here: only those
    the document is for get it (others: `not_found`)."""
    return DocumentOut.of(
        await ctx.services.documents.get(ctx.principal, p.meeting_id, p.document_id)
    )


@COMMANDS.command(
    "document.update",
    DocumentUpdate,
    answer=DocumentOut,
    summary="Title, agenda item, order, audience, presenters, confidential, view-only",
    tag="documents",
    permission=Permission.MANAGE_MEETING,
    events=(ev.DocumentUpdated,),
    rest=Rest("PATCH", DOC, "update_document", errors=ERRORS),
)
async def update_document(ctx: Context, p: DocumentUpdate) -> DocumentOut:
    """`audience` entries: `role:chair|secretary|delegate|bridge_point|operator`, `user:<id>`,
    `bridge_point:<id>`; empty is everyone in the meeting."""
    changes = {k: getattr(p, k) for k in p.model_fields_set - {"meeting_id", "document_id"}}
    doc = await ctx.services.documents.update(ctx.principal, p.meeting_id, p.document_id, changes)
    return DocumentOut.of(doc)


@COMMANDS.command(
    "document.publish",
    DocumentRef,
    answer=DocumentOut,
    summary="Send a document to its audience, at once",
    tag="documents",
    permission=Permission.MANAGE_MEETING,
    events=(ev.DocumentPublished,),
    rest=Rest("POST", f"{DOC}/publish", "publish_document", errors=ERRORS),
)
async def publish_document(ctx: Context, p: DocumentRef) -> DocumentOut:
    doc = await ctx.services.documents.publish(ctx.principal, p.meeting_id, p.document_id)
    return DocumentOut.of(doc)


@COMMANDS.command(
    "document.unpublish",
    DocumentRef,
    answer=DocumentOut,
    summary="Take a document back from its audience",
    tag="documents",
    permission=Permission.MANAGE_MEETING,
    events=(ev.DocumentUnpublished, ev.DocumentPresentationStopped),
    rest=Rest("POST", f"{DOC}/unpublish", "unpublish_document", errors=ERRORS),
)
async def unpublish_document(ctx: Context, p: DocumentRef) -> DocumentOut:
    doc = await ctx.services.documents.unpublish(ctx.principal, p.meeting_id, p.document_id)
    return DocumentOut.of(doc)


@COMMANDS.command(
    "document.remove",
    DocumentRef,
    answer=None,
    summary="Delete a document from the meeting",
    tag="documents",
    permission=Permission.MANAGE_MEETING,
    events=(ev.DocumentRemoved, ev.DocumentPresentationStopped),
    rest=Rest("DELETE", DOC, "remove_document", 204, errors=ERRORS),
)
async def remove_document(ctx: Context, p: DocumentRef) -> None:
    await ctx.services.documents.remove(ctx.principal, p.meeting_id, p.document_id)


@COMMANDS.command(
    "document.present",
    DocumentPresent,
    answer=PresentationOut,
    summary="Put a document on every screen at a page",
    tag="documents",
    permission=Permission.PRESENT_DOCUMENT,
    events=(ev.DocumentPresented,),
    rest=Rest("POST", f"{DOCS}/present", "present_document", errors=ERRORS),
)
async def present_document(ctx: Context, p: DocumentPresent) -> PresentationOut:
    """A published document, while the meeting is open, live or paused."""
    got = await ctx.services.documents.present(ctx.principal, p.meeting_id, p.document_id, p.page)
    return PresentationOut.of(got)


@COMMANDS.command(
    "document.turn_page",
    DocumentTurn,
    answer=PresentationOut,
    summary="Turn the presented document to a page; every follower goes there",
    tag="documents",
    permission=Permission.PRESENT_DOCUMENT,
    events=(ev.DocumentPageTurned,),
    rest=Rest("POST", f"{DOCS}/turn-page", "turn_page", errors=ERRORS),
)
async def turn_page(ctx: Context, p: DocumentTurn) -> PresentationOut:
    return PresentationOut.of(
        await ctx.services.documents.turn_page(ctx.principal, p.meeting_id, p.page)
    )


@COMMANDS.command(
    "document.stop_presenting",
    MeetingRef,
    answer=None,
    summary="Take the presented document off the screens",
    tag="documents",
    permission=Permission.PRESENT_DOCUMENT,
    events=(ev.DocumentPresentationStopped,),
    rest=Rest("POST", f"{DOCS}/stop-presenting", "stop_presenting", 204, errors=ERRORS),
)
async def stop_presenting(ctx: Context, p: MeetingRef) -> None:
    """The presenter itself, or the chair or secretary."""
    await ctx.services.documents.stop_presenting(ctx.principal, p.meeting_id)


@COMMANDS.command(
    "document.set_note",
    DocumentNote,
    answer=None,
    summary="Write one's own private note on a page (empty text removes it)",
    tag="documents",
    permission=Permission.READ_DOCUMENT,
    rest=Rest("PUT", f"{DOC}/notes", "set_note", 204, errors=(404,)),
)
async def set_note(ctx: Context, p: DocumentNote) -> None:
    """Only its author ever reads it back: not the chair, not an operator, no report, no
    audit log, no stream event."""
    await ctx.services.documents.set_note(
        ctx.principal, p.meeting_id, p.document_id, p.page, p.text
    )


@COMMANDS.command(
    "document.notes",
    DocumentRef,
    answer=list[NoteOut],
    summary="The caller's own private notes on a document",
    tag="documents",
    permission=Permission.READ_DOCUMENT,
    rest=Rest("GET", f"{DOC}/notes", "list_notes", errors=(404,)),
)
async def list_notes(ctx: Context, p: DocumentRef) -> list[NoteOut]:
    notes = await ctx.services.documents.notes(ctx.principal, p.meeting_id, p.document_id)
    return [NoteOut.of(n) for n in notes]


@COMMANDS.command(
    "document.open",
    DocumentRef,
    answer=ReadingOut,
    summary="Open a document for reading: the address its range requests go to, with a "
    "short-lived reading grant",
    tag="documents",
    permission=Permission.READ_DOCUMENT,
    rest=Rest("POST", f"{DOC}/open", "open_document", errors=(403, 404, 409)),
)
async def open_document(ctx: Context, p: DocumentRef) -> ReadingOut:
    """Authorised and recorded once (a read receipt, an audit row), like `GET .../file`;
    the range requests then carry the grant instead of a token and cost no database query.
    A confidential document's grant reads the viewer's own watermarked copy. The grant stops
    working at once when the viewer's right is removed (logout, uninvitation, a document
    unpublished, changed or removed, a changed meeting, an account or device disabled) and
    after `expires_at`: the reader then opens the document again."""
    r = await ctx.services.documents.open_reading(ctx.principal, p.meeting_id, p.document_id)
    path = f"{DOC.format(meeting_id=p.meeting_id, document_id=p.document_id)}/read?grant={r.grant}"
    url = _reading_base(ctx) + path
    return ReadingOut.model_validate(
        {"url": url, "expires_at": r.expires_at, "size": r.size, "variant": r.variant,
         "etag": r.etag}
    )  # fmt: skip


def _reading_base(ctx: Context) -> str:
    """Where the range requests go: the reading port's public address, or the reading port
    on the host the caller reached us by, or (no reading port, or a caller behind a proxy
    that was not told where it is) this server's own route, as a path."""
    at = ctx.services.documents.reading_port
    if at.public_url:
        return at.public_url
    if at.port and at.derive and ctx.host:
        return f"http://{ctx.host}:{at.port}"
    return ""


@COMMANDS.command(
    "document.receipts",
    MeetingRef,
    answer=list[ReceiptOut],
    summary="Read receipts: who opened which document, first and last time, how often",
    tag="documents",
    permission=Permission.MANAGE_MEETING,
    rest=Rest("GET", f"{DOCS}/receipts", "document_receipts", errors=(403, 404)),
)
async def receipts(ctx: Context, p: MeetingRef) -> list[ReceiptOut]:
    return [
        ReceiptOut.of(r) for r in await ctx.services.documents.receipts(ctx.principal, p.meeting_id)
    ]
