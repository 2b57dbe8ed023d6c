"""Minutes: a draft made from the record, edited by the secretary, finalised as a PDF laid out
per Decree 30/2020/NĐ-CP, signed (PAdES) and checked by pyHanko and ``meetingd minutes
verify``; its text (``pdftotext``) holds the Vietnamese names exactly."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from meetingd.app import Parts
from meetingd.clock import ManualClock
from meetingd.domain import MinutesSection, MinutesState
from meetingd.errors import ConflictError, StateError
from meetingd.services.minutes import make_test_certificate, verify_pdf
from tests.conftest import World
from tests.services.test_votes import live_with_rollcall, spec, who
from tests.test_cli import meetingd

NAMES = ["Nguyễn Thị Hoà", "Trần Đức Thắng", "Phạm Thị Ánh", "Điểm cầu bp1", "Xã Hoằng Đạo"]


async def _held_meeting(parts: Parts, w: World, clock: ManualClock) -> None:
    """Roll call, a speech, a named vote and a secret one, then the meeting ends."""
    await live_with_rollcall(parts, w)
    chair, delegate = await who(parts, w, "chair"), await who(parts, w, "delegate")
    f, v = parts.services.floor, parts.services.votes
    await f.grant(chair, w.meeting_id, delegate.subject)
    clock.advance(180)
    await f.revoke(delegate, w.meeting_id, delegate.subject)
    named = await v.open(chair, w.meeting_id, spec(kind="named", question="Thông qua báo cáo?"))
    await v.cast(delegate, w.meeting_id, named.id, [0])
    await v.close(chair, w.meeting_id, named.id)
    secret = await v.open(chair, w.meeting_id, spec(kind="secret", question="Bầu tổ trưởng?"))
    await v.cast(delegate, w.meeting_id, secret.id, [1])
    await v.close(chair, w.meeting_id, secret.id)
    await parts.services.meetings.transition(chair, w.meeting_id, "end")


@pytest.mark.timeout(120)
async def test_minutes_from_the_record_to_a_signed_pdf(
    parts: Parts, world: World, clock: ManualClock, tmp_path: Path
) -> None:
    w, mins = world, parts.services.minutes
    secretary = await who(parts, w, "secretary")
    with pytest.raises(StateError):  # no key yet, and the meeting is still a draft
        await mins.finalise(secretary, w.meeting_id)
    make_test_certificate(Path(parts.config.server.data_dir), "UBND huyện Hoằng Hóa")
    with pytest.raises(StateError, match="ended"):
        await mins.finalise(secretary, w.meeting_id)
    await _held_meeting(parts, w, clock)

    draft = await mins.get(secretary, w.meeting_id)
    assert draft.state is MinutesState.DRAFT and draft.updated_at is None
    text = "\n".join(f"{s.heading}\n{s.text}" for s in draft.sections)
    for name in NAMES:
        assert name in text, name
    assert "Thông qua báo cáo?" in text and "- Phạm Thị Ánh: Tán thành" in text  # named
    assert "Bầu tổ trưởng?" in text and "bỏ phiếu kín" in text
    assert "Khai mạc" in text and "IV. Ý kiến phát biểu" in text

    sections = [*draft.sections[:-1], MinutesSection("VII. Kết luận", "Hội nghị thống nhất.")]
    edited = await mins.update(secretary, w.meeting_id, number="12/BB-UBND", sections=sections)
    assert edited.number == "12/BB-UBND" and edited.sections[-1].text == "Hội nghị thống nhất."
    final = await mins.finalise(secretary, w.meeting_id)
    assert final.state is MinutesState.FINAL and final.pdf_sha256
    async with parts.store.transaction() as uow:
        audit = await uow.audit.for_subject(f"meeting:{w.meeting_id}")
    assert (audit[-1][1], audit[-1][2]) == (secretary.subject, "minutes.finalised")
    with pytest.raises(StateError):
        await mins.update(secretary, w.meeting_id, number="13/BB")
    with pytest.raises(StateError):
        await mins.finalise(secretary, w.meeting_id)

    pdf = await mins.pdf(await who(parts, w, "delegate"), w.meeting_id)
    assert pdf.startswith(b"%PDF")
    check = await verify_pdf(pdf, parts.config)
    assert check.ok, check.lines
    assert any("PAdES: True" in line for line in check.lines)

    path = tmp_path / "bien-ban.pdf"
    path.write_bytes(pdf)
    assert shutil.which("pdftotext"), "poppler-utils (scripts/system-deps.sh)"
    out = (
        await asyncio.to_thread(
            subprocess.run, ["pdftotext", "-layout", str(path), "-"], capture_output=True,
            text=True, check=True,
        )
    ).stdout  # fmt: skip
    for needle in [*NAMES, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                   "BIÊN BẢN", "Số: 12/BB-UBND", "Hội nghị thống nhất.", "THƯ KÝ", "CHỦ TRÌ",
                   "Giao ban tháng 11"]:  # fmt: skip
        assert needle in out, needle

    # A changed byte inside the signed range breaks the signature.
    at = pdf.index(b"BI") if b"BI" in pdf[:2000] else 400
    tampered = bytearray(pdf)
    tampered[at] ^= 0x01
    assert not (await verify_pdf(bytes(tampered), parts.config)).ok
    # The command says the same.
    data_dir = str(parts.config.server.data_dir)
    run = await meetingd(tmp_path, "minutes", "verify", str(path), "--data-dir", data_dir)
    assert run.code == 0 and "OK" in run.out, run
    bad = tmp_path / "sua.pdf"
    bad.write_bytes(bytes(tampered))
    run = await meetingd(tmp_path, "minutes", "verify", str(bad), "--data-dir", data_dir)
    assert run.code == 1, run
    # Another key's certificate is not trusted.
    other = dataclasses.replace(
        parts.config, server=dataclasses.replace(parts.config.server, data_dir=tmp_path / "x")
    )
    assert not (await verify_pdf(pdf, other)).ok


async def test_an_edit_made_on_minutes_saved_since_is_refused(
    parts: Parts, world: World, clock: ManualClock
) -> None:
    """Two editors (the secretary and the chair) load the draft; the first save wins, the
    second, made on what it loaded, is refused with ``conflict`` until it loads them again."""
    w, mins = world, parts.services.minutes
    secretary, chair = await who(parts, w, "secretary"), await who(parts, w, "chair")
    loaded = await mins.get(secretary, w.meeting_id)
    assert loaded.updated_at is None  # made from the record
    first = await mins.update(secretary, w.meeting_id, number="12/BB", if_updated_at="unsaved")
    assert first.number == "12/BB" and first.updated_at is not None
    clock.advance(5)
    with pytest.raises(ConflictError, match="saved by user:"):
        await mins.update(chair, w.meeting_id, number="13/BB", if_updated_at="unsaved")
    again = await mins.get(chair, w.meeting_id)
    assert again.number == "12/BB"
    second = await mins.update(chair, w.meeting_id, number="13/BB", if_updated_at=again.updated_at)
    assert second.number == "13/BB" and second.updated_by == chair.subject
    with pytest.raises(ConflictError):  # the secretary's copy is now the old one
        await mins.update(
            secretary, w.meeting_id, place="Hoằng Hóa", if_updated_at=first.updated_at
        )
    # Without if_updated_at nothing is checked (the earlier behaviour).
    last = await mins.update(secretary, w.meeting_id, place="Hoằng Hóa")
    assert (last.number, last.place) == ("13/BB", "Hoằng Hóa")
