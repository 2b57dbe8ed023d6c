"""Documents over HTTP: the streamed upload and its size limit, hostile files, range
requests and ETags, view-only, the viewer's watermark, private notes, read receipts, the
report, and a hostile check that does not stall the server."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pypdfium2
import pytest
from openpyxl import load_workbook

from meetingd.app import PARTS
from meetingd.config import Config
from tests.api.checks import expect_error
from tests.api.documents_world import plain_pdf, seed_document
from tests.conftest import World
from tests.services import pdfs

LIMIT = 256 * 1024


@pytest.fixture
def config(config: Config) -> Config:
    """Small upload and decompression limits, so that they are reached quickly."""
    docs = dataclasses.replace(
        config.documents, max_upload_bytes=LIMIT, max_decompressed_bytes=64 << 20
    )
    return dataclasses.replace(config, documents=docs)


def _docs_url(w: World) -> str:
    return f"/api/v1/meetings/{w.meeting_id}/documents"


def _blob_files(app: Any) -> list[str]:
    root = Path(app[PARTS].config.server.data_dir) / "blobs"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def _upload(client: Any, w: World, data: Any, name: str, who: str = "chair") -> Any:
    return await client.post(
        f"{_docs_url(w)}?filename={quote(name)}",
        data=data,
        headers={**w.auth(who), "Content-Type": "application/pdf"},
    )


def _text_of(pdf: bytes) -> str:
    doc = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()


async def test_a_streamed_upload_is_stored_and_listed(client: Any, api_world: World) -> None:
    w = api_world
    data = pdfs.plain(4)

    async def body() -> AsyncIterator[bytes]:  # what a browser's progress-reporting upload sends
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    resp = await _upload(client, w, body(), "../../Kế hoạch\u202e.pdf")
    assert resp.status == 201, await resp.text()
    doc = await resp.json()
    assert doc["filename"] == "Kế hoạch.pdf" and doc["pages"] == 4 and doc["state"] == "draft"
    listed = await client.get(_docs_url(w), headers=w.auth("secretary"))
    assert [d["id"] for d in await listed.json()] == [doc["id"]]
    # a draft: the delegate does not see it, not even by id
    assert await (await client.get(_docs_url(w), headers=w.auth("delegate"))).json() == []
    got = await client.get(f"{_docs_url(w)}/{doc['id']}", headers=w.auth("delegate"))
    await expect_error(got, 404, code="not_found", field="document_id", mentions="document")


async def test_an_upload_past_the_limit_is_refused_while_streaming(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    before = _blob_files(app)
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        block = b"%PDF-1.7\n" + b"0" * 65527
        for _ in range(64):  # 4 MiB, sixteen times the limit
            sent += len(block)
            yield block

    resp = await _upload(client, w, body(), "to.pdf")
    err = await expect_error(resp, 413, code="document_too_large", mentions="")
    assert err["code"] == "document_too_large"
    assert _blob_files(app) == before, "nothing of the refused body is kept"


HOSTILE = pdfs.HOSTILE


async def test_each_hostile_file_is_a_clear_4xx(
    client: Any, api_world: World, app: Any, subtests: Any
) -> None:
    from meetingd.errors import ERROR_TEXTS, ErrorCode

    w = api_world
    before = _blob_files(app)
    for name, data, code in HOSTILE:
        with subtests.test(name):
            resp = await _upload(client, w, data, f"{name}.pdf")
            err = await expect_error(resp, 400, code=code, mentions="")
            assert ERROR_TEXTS[ErrorCode(err["code"])].vi, err  # a Vietnamese sentence says why
    assert _blob_files(app) == before


async def test_range_requests_and_etags(client: Any, api_world: World, app: Any) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    url = f"{_docs_url(w)}/{doc.id}/file"
    whole = await client.get(url, headers=w.auth("delegate"))
    assert whole.status == 200 and whole.headers["Accept-Ranges"] == "bytes"
    data = await whole.read()
    assert data == plain_pdf()  # no active content: the original bytes, signatures intact
    part = await client.get(url, headers={**w.auth("delegate"), "Range": "bytes=10-99"})
    assert part.status == 206 and await part.read() == data[10:100]
    assert part.headers["Content-Range"] == f"bytes 10-99/{len(data)}"
    tail = await client.get(url, headers={**w.auth("delegate"), "Range": "bytes=-16"})
    assert tail.status == 206 and await tail.read() == data[-16:]
    etag = whole.headers["ETag"]
    again = await client.get(url, headers={**w.auth("delegate"), "If-None-Match": etag})
    assert again.status == 304 and await again.read() == b""


async def test_view_only_refuses_download_and_the_watermark_names_the_viewer(
    client: Any, api_world: World, app: Any
) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id, confidential=True, view_only=True)
    url = f"{_docs_url(w)}/{doc.id}/file"
    refused = await client.get(url + "?download=true", headers=w.auth("delegate"))
    await expect_error(refused, 403, code="view_only", mentions="downloaded")
    resp = await client.get(url, headers=w.auth("delegate"))
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Disposition"].startswith("inline")
    assert "no-store" in resp.headers["Cache-Control"]
    text = _text_of(await resp.read())
    assert text.count("Phạm Thị Ánh") >= 3, text[:300]  # the viewer's own name, every page
    other = await client.get(url, headers=w.auth("bp1"))
    bp_text = _text_of(await other.read())
    assert "Phạm Thị Ánh" not in bp_text and bp_text.strip()


async def test_notes_are_read_by_their_author_only(client: Any, api_world: World, app: Any) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id)
    notes = f"{_docs_url(w)}/{doc.id}/notes"
    secret = "Ý kiến riêng: chưa đồng ý mục 3"
    put = await client.put(notes, json={"page": 2, "text": secret}, headers=w.auth("delegate"))
    assert put.status == 204, await put.text()
    mine = await (await client.get(notes, headers=w.auth("delegate"))).json()
    assert [(n["page"], n["text"]) for n in mine] == [(2, secret)]
    for who in ("chair", "secretary", "operator", "admin", "bp1"):
        seen = []
        for path in (
            notes,
            _docs_url(w),
            f"{_docs_url(w)}/{doc.id}",
            f"{_docs_url(w)}/receipts",
            f"{_docs_url(w)}/report?format=csv",
            f"/api/v1/meetings/{w.meeting_id}",
        ):
            resp = await client.get(path, headers=w.auth(who))
            seen.append((await resp.read()).decode(errors="replace"))
        assert not any(secret in s for s in seen), who
        own = await (await client.get(notes, headers=w.auth(who))).json()
        assert own == [], who


async def test_receipts_and_the_report(client: Any, api_world: World, app: Any) -> None:
    w = api_world
    doc = await seed_document(app[PARTS], w, w.meeting_id, title="Tờ trình số 5")
    url = f"{_docs_url(w)}/{doc.id}/file"
    # A reader's many range requests are one opening; a reading ten minutes later another.
    for who in ("delegate", "delegate", "bp1"):
        assert (await client.get(url, headers=w.auth(who))).status == 200
    for first, last in ((0, 99), (100, 199)):
        ranged = {**w.auth("delegate"), "Range": f"bytes={first}-{last}"}
        assert (await client.get(url, headers=ranged)).status in (200, 206)
    app[PARTS].clock.advance(10 * 60)
    assert (await client.get(url, headers=w.auth("delegate"))).status == 200
    got = await (await client.get(f"{_docs_url(w)}/receipts", headers=w.auth("chair"))).json()
    counts = {r["subject"]: r["count"] for r in got}
    assert counts == {
        f"user:{w.users['delegate']}": 2,
        f"bridge_point:{w.bridge_points['bp1']}": 1,
    }
    resp = await client.get(f"{_docs_url(w)}/report?format=csv", headers=w.auth("secretary"))
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    assert rows[0][:3] == ["document_id", "tai_lieu", "nguoi_nhan"]
    opened = {r[3]: (r[5], r[8]) for r in rows[1:]}
    assert opened[f"user:{w.users['delegate']}"] == ("có", "2")
    assert opened[f"user:{w.users['chair']}"] == ("chưa", "0")
    xlsx = await client.get(f"{_docs_url(w)}/report?format=xlsx", headers=w.auth("chair"))
    assert xlsx.status == 200
    sheet = load_workbook(io.BytesIO(await xlsx.read())).active
    assert sheet is not None
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert [str(v) for v in values[0][:3]] == rows[0][:3] and len(values) == len(rows)
    assert any(row_[1] == "Tờ trình số 5" for row_ in values[1:])
    refused = await client.get(f"{_docs_url(w)}/report?format=csv", headers=w.auth("delegate"))
    await expect_error(refused, 403, code="forbidden", mentions="")


async def test_a_bomb_being_checked_does_not_stall_other_requests(
    client: Any, api_world: World
) -> None:
    w = api_world
    bomb = pdfs.bomb(200 * 1024 * 1024)
    assert len(bomb) < LIMIT
    upload = asyncio.ensure_future(_upload(client, w, bomb, "bom.pdf"))
    answered = 0
    try:
        while not upload.done() and answered < 200:
            health = await client.get("/healthz")
            assert health.status == 200
            answered += 1
        resp = await upload
    finally:
        if not upload.done():
            upload.cancel()
    print(f"/healthz answered {answered} times while the bomb was checked")
    assert answered >= 1
    await expect_error(resp, 400, code="document_too_complex", mentions="")
