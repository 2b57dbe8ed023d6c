"""Document bytes over HTTP: the streamed upload, the file (range requests, ETag), the
thumbnail and the per-meeting report. Metadata, publishing and presenting are commands
(:mod:`meetingd.commands.documents`); these routes only move bytes and call the service."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from meetingd.api.context import services
from meetingd.api.routing import Call, Routes
from meetingd.commands.documents import DOC, DOCS
from meetingd.schemas import MAX_ID, DocumentOut

routes = Routes()
CHUNK = 256 * 1024
PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}


class UploadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    filename: str = Field(min_length=1, max_length=1000, description="The file's name")
    agenda_item_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class FileQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    download: bool = Field(default=False, description="As an attachment (refused if view-only)")
    original: bool = Field(default=False, description="The uploaded bytes (chair, secretary)")


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
    summary="The document's PDF for the reader (range requests, ETag)",
    tag="documents",
    query=FileQuery,
    response=DocumentOut,
    errors=(403, 404, 409),
    raw_content=PDF,
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
        "Content-Type": "application/pdf",
    }
    return web.FileResponse(served.path, headers=headers)


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
