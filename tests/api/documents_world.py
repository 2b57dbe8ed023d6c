"""Documents added to a test world through the real upload (checked, stored, thumbnail
made), then given an audience and flags directly (no events: for the role matrices)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from functools import cache
from typing import Any

from meetingd.app import Parts
from meetingd.documents.domain import Document
from tests.conftest import World
from tests.services import pdfs

PAGES = 3


@cache
def plain_pdf() -> bytes:
    """One three-page PDF for the whole run (its bytes, hence its sha256, stay the same)."""
    return pdfs.plain(PAGES)


async def chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def seed_document(
    parts: Parts,
    w: World,
    meeting_id: int,
    *,
    published: bool = True,
    audience: Sequence[str] = (),
    presenters: Sequence[str] = (),
    confidential: bool = False,
    view_only: bool = False,
    title: str = "Báo cáo tổng hợp",
) -> Document:
    """A document of ``meeting_id`` with the given audience and flags (no events)."""
    docs = parts.services.documents
    admin = await parts.services.auth.authenticate(w.tokens["admin"])
    data = plain_pdf()
    first = await docs.upload(admin, meeting_id, f"{title}.pdf", chunks(data))
    async with parts.store.transaction() as uow:
        values: dict[str, object] = {
            "audience": sorted(audience),
            "presenters": sorted(presenters),
            "confidential": confidential,
            "view_only": view_only,
        }
        if published:
            values.update(state="published", published_at=parts.clock.now())
        await uow.documents.change(first.id, **values)
        got = await uow.documents.get(meeting_id, first.id)
    assert got is not None
    return got


async def open_reading(client: Any, w: World, doc_id: int, who: str = "delegate") -> dict[str, Any]:
    """``document.open`` over REST as ``who``: the reading (grant URL, size, etag, ...)."""
    resp = await client.post(
        f"/api/v1/meetings/{w.meeting_id}/documents/{doc_id}/open", headers=w.auth(who)
    )
    assert resp.status == 200, await resp.text()
    got: dict[str, Any] = await resp.json()
    return got
