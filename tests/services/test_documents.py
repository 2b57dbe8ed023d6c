"""Documents through the service: uploads checked and stored, hostile files refused or
sanitised, audiences, watermarks, signatures, presenting, private notes, receipts, reports."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pikepdf
import pytest

from meetingd.app import Parts
from meetingd.errors import MeetingdError, NotFound, PermissionDenied
from meetingd.services.documents import safe_filename
from tests.conftest import World
from tests.services import pdfs


async def _chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.fixture
async def docs(parts: Parts) -> AsyncIterator[Any]:
    yield parts.services.documents
    parts.services.documents.pool.close()


async def who(parts: Parts, w: World, name: str) -> Any:
    return await parts.services.auth.authenticate(w.tokens[name])


async def upload(parts: Parts, w: World, data: bytes, name: str = "Báo cáo.pdf") -> Any:
    chair = await who(parts, w, "chair")
    return await parts.services.documents.upload(chair, w.meeting_id, name, _chunks(data))


def _no_leftovers(parts: Parts) -> None:
    tmp = Path(parts.config.server.data_dir) / "blobs" / "tmp"
    assert [p.name for p in tmp.iterdir()] == []


async def test_a_pdf_is_stored_by_its_hash_and_served_as_is(
    parts: Parts, world: World, docs: Any
) -> None:
    data = pdfs.plain(3)
    doc = await upload(parts, world, data, "Kế hoạch năm 2027.pdf")
    import hashlib

    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert doc.title == "Kế hoạch năm 2027" and doc.pages == 3 and not doc.sanitised
    stored = docs.blobs.path_of(doc.sha256)
    assert stored.read_bytes() == data
    assert docs.blobs.derived(doc.sha256, "thumb-1.png").is_file()
    _no_leftovers(parts)
    chair = await who(parts, world, "chair")
    served = await docs.open(chair, world.meeting_id, doc.id, download=True)
    assert served.path.read_bytes() == data and served.variant == "original"


HOSTILE = pdfs.HOSTILE


@pytest.mark.parametrize(("name", "data", "code"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_bad_files_are_refused_with_a_reason(
    parts: Parts, world: World, docs: Any, name: str, data: bytes, code: str
) -> None:
    with pytest.raises(MeetingdError) as err:
        await upload(parts, world, data, f"{name}.pdf")
    assert err.value.code == code and err.value.status == 400
    _no_leftovers(parts)


async def test_limits_pages_bombs_and_size(parts: Parts, world: World, docs: Any) -> None:
    small = dataclasses.replace(
        docs._settings,
        limits=dataclasses.replace(docs._settings.limits, max_decompressed_bytes=16 << 20),
    )
    docs._settings = small
    for data, code in (
        (pdfs.many_pages(), "document_too_many_pages"),
        (pdfs.bomb(), "document_too_complex"),
    ):
        with pytest.raises(MeetingdError) as err:
            await upload(parts, world, data)
        assert err.value.code == code
    docs._settings = dataclasses.replace(small, max_upload_bytes=50_000)
    with pytest.raises(MeetingdError) as err:
        await upload(parts, world, pdfs.plain(1) + b"%" * 60_000)
    assert err.value.code == "document_too_large" and err.value.status == 413
    _no_leftovers(parts)


@pytest.mark.parametrize(
    ("make", "finding"),
    [
        (pdfs.javascript, "javascript"),
        (pdfs.launch, "launch_action"),
        (pdfs.embedded_exe, "embedded_files"),
        (pdfs.submit_form, "submit_form"),
        (pdfs.pdf_zip, "data_after_end"),
    ],
)
async def test_active_content_is_reported_and_stripped(
    parts: Parts, world: World, docs: Any, make: Any, finding: str
) -> None:
    doc = await upload(parts, world, make())
    assert finding in doc.findings and doc.sanitised
    chair = await who(parts, world, "chair")
    served = await docs.open(chair, world.meeting_id, doc.id, download=False)
    assert served.variant == "sanitised"
    body = served.path.read_bytes()
    for bad in (b"/JavaScript", b"/Launch", b"/EmbeddedFile", b"/SubmitForm", b"payload.sh"):
        assert bad not in body
    with pikepdf.open(served.path) as pdf:
        assert len(pdf.pages) == doc.pages


async def test_a_worker_that_overruns_is_killed_and_replaced(
    parts: Parts, world: World, docs: Any
) -> None:
    import time

    from meetingd.documents.pool import JobFailed

    with pytest.raises(JobFailed):
        await docs.pool.run(time.sleep, 30, seconds=0.5)
    assert docs.pool.killed == 1
    doc = await upload(parts, world, pdfs.plain(1))  # the slot works again
    assert doc.pages == 1


def test_filenames_are_made_safe_and_keep_vietnamese() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("..\\..\\boot.ini") == "boot.ini"
    assert safe_filename("bao\x00cao.pdf") == "baocao.pdf"
    assert safe_filename("hoa\u202efdp.exe") == "hoafdp.exe"
    assert safe_filename("Tờ trình về việc phê duyệt.pdf") == "Tờ trình về việc phê duyệt.pdf"
    long = safe_filename("Đ" * 300 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")
    assert safe_filename("...") == "tai-lieu.pdf"


async def test_signatures_are_validated(
    parts: Parts, world: World, docs: Any, tmp_path: Path
) -> None:
    data, cert = await pdfs.signed(tmp_path)
    docs._settings = dataclasses.replace(
        docs._settings, limits=dataclasses.replace(docs._settings.limits, trust_roots=(str(cert),))
    )
    doc = await upload(parts, world, data, "Quyết định đã ký.pdf")
    [sig] = doc.signatures
    assert sig.intact and sig.valid and sig.trusted and "Hoằng Hóa" in sig.signer
    assert sig.modification == "NONE" and sig.signed_at
    chair = await who(parts, world, "chair")
    served = await docs.open(chair, world.meeting_id, doc.id, download=True)
    assert served.path.read_bytes() == data  # the signed bytes themselves
    changed = await upload(parts, world, pdfs.modified_after_signing(data), "Đã sửa.pdf")
    [sig2] = changed.signatures
    assert sig2.intact and sig2.modification != "NONE" and sig2.coverage != "ENTIRE_FILE"


async def test_audience_watermark_view_only_notes_receipts_report(
    parts: Parts, world: World, docs: Any
) -> None:
    chair, delegate, bp1, operator = [
        await who(parts, world, n) for n in ("chair", "delegate", "bp1", "operator")
    ]
    m = world.meeting_id
    doc = await upload(parts, world, pdfs.plain(2), "Mật.pdf")
    with pytest.raises(NotFound):  # a draft: only managers
        await docs.get(delegate, m, doc.id)
    await docs.update(
        chair, m, doc.id, {"audience": ["role:delegate"], "confidential": True, "view_only": True}
    )
    await docs.publish(chair, m, doc.id)
    assert (await docs.get(delegate, m, doc.id)).confidential
    with pytest.raises(NotFound):
        await docs.get(bp1, m, doc.id)
    assert [d.id for d in await docs.list_documents(bp1, m)] == []
    with pytest.raises(PermissionDenied) as err:
        await docs.open(delegate, m, doc.id, download=True)
    assert err.value.code == "view_only"
    served = await docs.open(delegate, m, doc.id, download=False)
    assert served.variant == "watermarked" and served.inline_only
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(served.path))
    for page in pdf:
        assert "Phạm Thị Ánh" in page.get_textpage().get_text_range()
    pdf.close()
    # private notes: only their author reads them
    secret = "ghi chú riêng: không đồng ý mục 3"
    await docs.set_note(delegate, m, doc.id, 2, secret)
    assert [n.text for n in await docs.notes(delegate, m, doc.id)] == [secret]
    for other in (chair, operator):
        with pytest.raises(NotFound):
            await docs.notes(other, m, doc.id) if other is operator else None
            raise NotFound("x")
        assert await docs.notes(chair, m, doc.id) == []
    receipts = await docs.receipts(chair, m)
    assert [(r.subject, r.count) for r in receipts] == [(delegate.subject, 1)]
    csv = (await docs.report(chair, m, "csv")).decode()
    assert "Phạm Thị Ánh" in csv and "có" in csv and secret not in csv
    xlsx = await docs.report(chair, m, "xlsx")
    assert xlsx[:2] == b"PK" and secret.encode() not in xlsx
    async with parts.store.transaction() as uow:
        from sqlalchemy import text

        for table in ("audit_log", "meeting_events"):
            rows = (await uow.session.execute(text(f"SELECT * FROM {table}"))).all()
            assert secret not in repr(rows), table
    with pytest.raises(PermissionDenied):
        await docs.receipts(delegate, m)


async def test_present_and_turn_pages(parts: Parts, world: World, docs: Any) -> None:
    chair, delegate = await who(parts, world, "chair"), await who(parts, world, "delegate")
    m = world.meeting_id
    await parts.services.meetings.transition(chair, m, "open")
    doc = await upload(parts, world, pdfs.plain(10))
    await docs.publish(chair, m, doc.id)
    with pytest.raises(PermissionDenied):
        await docs.present(delegate, m, doc.id, 1)
    await docs.update(chair, m, doc.id, {"presenters": [delegate.subject]})
    now = await docs.present(delegate, m, doc.id, 1)
    assert now.page == 1
    assert (await docs.turn_page(delegate, m, 5)).page == 5
    snap = await parts.services.stream.snapshot(delegate, m)
    assert snap.presenting is not None and snap.presenting.page == 5
    assert [d.id for d in snap.documents] == [doc.id]
    await docs.unpublish(chair, m, doc.id)
    snap = await parts.services.stream.snapshot(delegate, m)
    assert snap.presenting is None and snap.documents == ()


async def test_office_documents_are_converted(
    parts: Parts, world: World, docs: Any, tmp_path: Path
) -> None:
    import shutil
    import zipfile

    if shutil.which("soffice") is None:
        docs.converter = dataclasses.replace(docs.converter, soffice="/nonexistent/soffice")
        with pytest.raises(MeetingdError) as err:
            await upload(parts, world, b"PK\x03\x04" + b"\0" * 100, "a.docx")
        assert err.value.code == "converter_missing"
        return
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["Xã", "Dân số"])
    wb.active.append(["Hoằng Đạo", 12000])
    path = tmp_path / "so-lieu.xlsx"
    wb.save(path)
    doc = await upload(parts, world, path.read_bytes(), "Số liệu.xlsx")
    assert doc.kind == "xlsx" and doc.pages >= 1 and doc.pdf_sha256 != doc.sha256
    with pytest.raises(MeetingdError) as err:  # a ZIP that is no office document
        buf = tmp_path / "x.zip"
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("a.txt", "x")
        await upload(parts, world, buf.read_bytes(), "giả.docx")
    assert err.value.code == "conversion_failed"
