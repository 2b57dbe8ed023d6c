"""Documents of meetings, private notes, accesses (read receipts) and the presented page."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from meetingd.documents.domain import (
    Access,
    Document,
    DocumentState,
    NewDocument,
    Note,
    Presentation,
    Receipt,
    Signature,
)
from meetingd.store.models import (
    DocumentAccessRow,
    DocumentNoteRow,
    DocumentPresentationRow,
    DocumentRow,
)


def _document(r: DocumentRow) -> Document:
    return Document(
        id=r.id,
        meeting_id=r.meeting_id,
        agenda_item_id=r.agenda_item_id,
        position=r.position,
        title=r.title,
        filename=r.filename,
        kind=r.kind,
        sha256=r.sha256,
        pdf_sha256=r.pdf_sha256,
        size_bytes=r.size_bytes,
        pages=r.pages,
        page_sizes=tuple((float(w), float(h)) for w, h in r.page_sizes),
        findings=tuple(r.findings),
        sanitised=r.sanitised,
        signatures=tuple(Signature.of(s) for s in r.signatures),
        audience=tuple(r.audience),
        presenters=tuple(r.presenters),
        confidential=r.confidential,
        view_only=r.view_only,
        state=DocumentState(r.state),
        uploaded_by=r.uploaded_by,
        uploaded_at=r.uploaded_at,
        published_at=r.published_at,
    )


class DocumentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, new: NewDocument) -> Document:
        last = (
            await self._s.execute(
                select(func.max(DocumentRow.position)).where(
                    DocumentRow.meeting_id == new.meeting_id
                )
            )
        ).scalar()
        fields: dict[str, Any] = asdict(new)
        fields["page_sizes"] = [list(s) for s in new.page_sizes]
        row = DocumentRow(
            **fields,
            position=(last or 0) + 1,
            presenters=[],
            state=DocumentState.DRAFT.value,
            published_at=None,
        )
        self._s.add(row)
        await self._s.flush()
        return _document(row)

    async def get(self, meeting_id: int, document_id: int) -> Document | None:
        row = (
            await self._s.execute(
                select(DocumentRow)
                .where(DocumentRow.id == document_id, DocumentRow.meeting_id == meeting_id)
                .execution_options(populate_existing=True)
            )
        ).scalar()
        return _document(row) if row else None

    async def of_meeting(self, meeting_id: int) -> list[Document]:
        res = await self._s.execute(
            select(DocumentRow)
            .where(DocumentRow.meeting_id == meeting_id)
            .order_by(DocumentRow.position, DocumentRow.id)
            .execution_options(populate_existing=True)
        )
        return [_document(r) for r in res.scalars()]

    async def change(self, document_id: int, **values: Any) -> None:
        await self._s.execute(
            update(DocumentRow).where(DocumentRow.id == document_id).values(**values)
        )

    async def remove(self, document_id: int) -> None:
        await self._s.execute(delete(DocumentRow).where(DocumentRow.id == document_id))

    async def uses_blob(self, sha256: str) -> bool:
        """Whether any document still refers to these bytes (as original or as its PDF)."""
        n = (
            await self._s.execute(
                select(func.count())
                .select_from(DocumentRow)
                .where((DocumentRow.sha256 == sha256) | (DocumentRow.pdf_sha256 == sha256))
            )
        ).scalar()
        return bool(n)

    # -- notes: every query names the author ------------------------------------------------

    async def set_note(
        self, document_id: int, author: str, page: int, text: str, at: datetime
    ) -> None:
        await self._s.execute(
            delete(DocumentNoteRow).where(
                DocumentNoteRow.document_id == document_id,
                DocumentNoteRow.author == author,
                DocumentNoteRow.page == page,
            )
        )
        if text:
            self._s.add(
                DocumentNoteRow(
                    document_id=document_id, author=author, page=page, text=text, updated_at=at
                )
            )
        await self._s.flush()

    async def notes(self, document_id: int, author: str) -> list[Note]:
        res = await self._s.execute(
            select(DocumentNoteRow)
            .where(DocumentNoteRow.document_id == document_id, DocumentNoteRow.author == author)
            .order_by(DocumentNoteRow.page)
        )
        return [Note(r.document_id, r.page, r.text, r.updated_at) for r in res.scalars()]

    # -- accesses ------------------------------------------------------------------------------

    async def accessed(
        self, document_id: int, subject: str, name: str, variant: str, at: datetime
    ) -> None:
        self._s.add(
            DocumentAccessRow(
                document_id=document_id, subject=subject, name=name, variant=variant, at=at
            )
        )
        await self._s.flush()

    async def accesses(self, meeting_id: int) -> list[Access]:
        res = await self._s.execute(
            select(DocumentAccessRow)
            .join(DocumentRow, DocumentRow.id == DocumentAccessRow.document_id)
            .where(DocumentRow.meeting_id == meeting_id)
            .order_by(DocumentAccessRow.at, DocumentAccessRow.id)
        )
        return [Access(r.document_id, r.subject, r.name, r.variant, r.at) for r in res.scalars()]

    async def receipts(self, meeting_id: int) -> list[Receipt]:
        a = DocumentAccessRow
        res = await self._s.execute(
            select(
                a.document_id,
                a.subject,
                func.max(a.name),
                func.min(a.at),
                func.max(a.at),
                func.count(),
            )
            .join(DocumentRow, DocumentRow.id == a.document_id)
            .where(DocumentRow.meeting_id == meeting_id)
            .group_by(a.document_id, a.subject)
            .order_by(a.document_id, func.min(a.at))
        )
        return [Receipt(d, s, n, first, last, c) for d, s, n, first, last, c in res.all()]

    # -- the presented page -----------------------------------------------------------------

    async def presentation(self, meeting_id: int) -> Presentation | None:
        row = (
            await self._s.execute(
                select(DocumentPresentationRow)
                .where(DocumentPresentationRow.meeting_id == meeting_id)
                .execution_options(populate_existing=True)
            )
        ).scalar()
        if row is None:
            return None
        return Presentation(
            row.meeting_id, row.document_id, row.page, row.presenter, row.presenter_name, row.since
        )

    async def present(
        self,
        meeting_id: int,
        document_id: int,
        page: int,
        presenter: str,
        name: str,
        at: datetime,
    ) -> None:
        await self.stop(meeting_id)
        self._s.add(
            DocumentPresentationRow(
                meeting_id=meeting_id,
                document_id=document_id,
                page=page,
                presenter=presenter,
                presenter_name=name,
                since=at,
            )
        )
        await self._s.flush()

    async def turn(self, meeting_id: int, page: int) -> None:
        await self._s.execute(
            update(DocumentPresentationRow)
            .where(DocumentPresentationRow.meeting_id == meeting_id)
            .values(page=page)
        )

    async def stop(self, meeting_id: int) -> None:
        await self._s.execute(
            delete(DocumentPresentationRow).where(DocumentPresentationRow.meeting_id == meeting_id)
        )
