"""Document bytes over HTTP: the streamed upload, the file (range requests, ETag), the
thumbnail and the per-meeting report. Metadata, publishing and presenting are commands
(:mod:`meetingd.commands.documents`); these routes only move bytes and call the service."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal
from urllib.parse import quote

from aiohttp import hdrs, web
from pydantic import BaseModel, ConfigDict, Field

from meetingd.api.context import services
from meetingd.api.ranges import answer
from meetingd.api.routing import Call, Routes
from meetingd.commands.documents import DOC, DOCS
from meetingd.errors import PermissionDenied
from meetingd.schemas import MAX_ID, DocumentOut

routes = Routes()
CHUNK = 256 * 1024
PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
#: What a document's file is: a PDF, or a recording of the meeting (WebM or MP4).
SERVED = {
    **PDF,
    **{t: {"schema": {"type": "string", "format": "binary"}} for t in ("video/webm", "video/mp4")},
}


class UploadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    filename: str = Field(min_length=1, max_length=1000, description="The file's name")
    agenda_item_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class FileQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    download: bool = Field(default=False, description="As an attachment (refused if view-only)")
    original: bool = Field(default=False, description="The uploaded bytes (chair, secretary)")


class ReadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    grant: str = Field(min_length=1, max_length=1024, description="From `document.open`")
    download: bool = Field(
        default=False,
        description="As an attachment (refused under a grant for a view-only or watermarked copy)",
    )


#: Ranges up to this long are read into memory and written at once (cheaper in Python than
#: the sendfile dance for pdf.js's 64 KiB); longer ones go by ``loop.sendfile``.
INLINE_MAX = 512 * 1024


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["csv", "xlsx"] = "csv"


def _disposition(kind: str, filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@routes.route(
    "POST",
    DOCS,
    summary="Upload a document (PDF, DOCX, ODT, XLSX, PPTX): the body is the file itself",
    tag="documents",
    query=UploadQuery,
    response=DocumentOut,
    status=201,
    errors=(403, 404, 409, 501),
    raw_body={
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        **PDF,
    },
    rules=("the bytes are a sound PDF or office document, as the error code says",),
)
async def upload_document(call: Call[Any, UploadQuery]) -> DocumentOut:
    """Streamed to disk under `documents.max_upload_bytes` (413 `document_too_large` past
    it), converted to PDF when it is an office document, checked in a worker process, and
    stored as a draft. A refused file answers 400 with the reason's code (`not_a_pdf`,
    `document_empty`, `document_damaged`, `document_encrypted`, `document_too_many_pages`,
    `document_page_size`, `document_too_complex`, `conversion_failed`) or 501
    `converter_missing`. Who may call: the meeting's chair or secretary."""

    async def chunks() -> Any:
        async for block in call.request.content.iter_chunked(CHUNK):
            yield block

    doc = await services(call.request).documents.upload(
        call.principal,
        call.path["meeting_id"],
        call.query.filename,
        chunks(),
        call.query.agenda_item_id,
    )
    return DocumentOut.of(doc)


@routes.route(
    "GET",
    f"{DOC}/file",
    summary="The document's file for the reader: its PDF, or a recording (range requests, ETag)",
    tag="documents",
    query=FileQuery,
    response=DocumentOut,
    errors=(403, 404, 409),
    raw_content=SERVED,
)
async def document_file(call: Call[Any, FileQuery]) -> web.StreamResponse:
    """Confidential: the viewer's own copy with their name, unit and the time on every page.
    Active content found on upload: the sanitised copy. Else the original bytes, so its
    signatures stay checkable. View-only documents are served inline only (`download=true`
    answers 403 `view_only`). Every serving is recorded (read receipts) and audited."""
    served = await services(call.request).documents.open(
        call.principal,
        call.path["meeting_id"],
        call.path["document_id"],
        download=call.query.download,
        original=call.query.original,
    )
    kind = "attachment" if call.query.download and not served.inline_only else "inline"
    headers = {
        "Content-Disposition": _disposition(kind, served.filename),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store"
        if served.variant == "watermarked" or served.inline_only
        else "private, max-age=3600",
        "Content-Type": served.media_type,
    }
    return web.FileResponse(served.path, headers=headers)


@routes.route(
    "GET",
    f"{DOC}/read",
    summary="The served file under a reading grant (range requests; no token, no database)",
    tag="documents",
    query=ReadQuery,
    response=DocumentOut,
    auth=False,
    errors=(403, 404),
    raw_content=SERVED,
)
async def read_document(call: Call[Any, ReadQuery]) -> web.StreamResponse:
    """What pdf.js's range requests fetch, with the grant `document.open` answered: checked
    by its signature, expiry and this process's record of removed rights, so it touches no
    database and stops working as soon as the viewer's right is removed (403
    `grant_refused`: open the document again). `Range: bytes=a-b` answers 206; `If-Range`
    with the ETag, `If-None-Match` (304) and `If-Match` (412) are honoured. A watermarked
    copy or a view-only document is `Cache-Control: private, no-store`. A recording is
    answered as `video/webm` or `video/mp4`, so that a `<video>` element plays and seeks in
    it with the same ranges; `download=true` answers it as an attachment (403 `view_only`
    under a grant for a view-only document or a watermarked copy)."""
    request = call.request
    r = services(request).documents.readable(
        call.query.grant, call.path["meeting_id"], call.path["document_id"]
    )
    if call.query.download and r.private:
        raise PermissionDenied("this document may be viewed but not downloaded", code="view_only")
    got = request.headers
    a = answer(
        r.size,
        r.etag,
        head=request.method == "HEAD",
        range_=got.get(hdrs.RANGE),
        if_range=got.get(hdrs.IF_RANGE),
        if_match=got.get(hdrs.IF_MATCH),
        if_none_match=got.get(hdrs.IF_NONE_MATCH),
    )
    headers = {
        hdrs.CONTENT_TYPE: r.media_type,
        hdrs.CONTENT_DISPOSITION: "attachment" if call.query.download else "inline",
        hdrs.ETAG: r.etag,
        hdrs.ACCEPT_RANGES: "bytes",
        hdrs.CACHE_CONTROL: "private, no-store" if r.private else "private, max-age=600",
    }
    if a.content_range is not None:
        headers[hdrs.CONTENT_RANGE] = a.content_range
    if a.body_bytes == 0:
        if a.status != 304:
            headers[hdrs.CONTENT_LENGTH] = str(a.length)
        return web.Response(status=a.status, headers=headers)
    if a.body_bytes <= INLINE_MAX:
        # A page-cache read of at most INLINE_MAX: the blob is on local disk and hot.
        return web.Response(
            status=a.status, headers=headers, body=os.pread(r.fd, a.body_bytes, a.start)
        )
    resp = web.StreamResponse(status=a.status, headers=headers)
    resp.content_length = a.body_bytes
    await resp.prepare(request)
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the reader went away")
    with os.fdopen(os.dup(r.fd), "rb") as f:
        await asyncio.get_running_loop().sendfile(transport, f, a.start, a.body_bytes)
    await resp.write_eof()
    return resp


@routes.route(
    "GET",
    f"{DOC}/thumbnail",
    summary="Page 1 as a PNG (not for confidential documents)",
    tag="documents",
    response=DocumentOut,
    errors=(404,),
    raw_content={"image/png": {"schema": {"type": "string", "format": "binary"}}},
)
async def document_thumbnail(call: Call[Any, Any]) -> web.StreamResponse:
    path = await services(call.request).documents.thumbnail(
        call.principal, call.path["meeting_id"], call.path["document_id"]
    )
    return web.FileResponse(
        path, headers={"Content-Type": "image/png", "Cache-Control": "private, max-age=3600"}
    )


@routes.route(
    "GET",
    f"{DOCS}/report",
    summary="Which documents went to whom and who opened them (CSV or XLSX)",
    tag="documents",
    query=ReportQuery,
    response=DocumentOut,
    errors=(403, 404),
    raw_content={
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}
        },
    },
)
async def document_report(call: Call[Any, ReportQuery]) -> web.StreamResponse:
    """Who may call: the meeting's chair or secretary. Private notes are never in it."""
    fmt = call.query.format
    body = await services(call.request).documents.report(
        call.principal, call.path["meeting_id"], fmt
    )
    ctype = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    name = f"bao-cao-tai-lieu-{call.path['meeting_id']}.{fmt}"
    return web.Response(
        body=body,
        headers={"Content-Type": ctype, "Content-Disposition": _disposition("attachment", name)},
    )
