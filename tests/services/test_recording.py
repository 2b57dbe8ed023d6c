"""A finished recording kept as a document of the meeting, through the services: added by
the system for the chair and secretary, titled in Vietnamese, stored by its hash, served as
a video (never paged, presented or stamped), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from meetingd.app import Parts
from meetingd.errors import NotFound, StateError, ValidationError
from meetingd.services.recording import recording_title
from tests.conftest import World
from tests.services.videos import webm

START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
END = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)


@pytest.fixture
async def docs(parts: Parts) -> AsyncIterator[Any]:
    yield parts.services.documents
    parts.services.documents.pool.close()


async def test_a_finished_recording_becomes_a_draft_for_the_chair_and_secretary(
    parts: Parts, world: World, docs: Any, tmp_path: Path
) -> None:
    auth = parts.services.auth
    chair, secretary, delegate = [
        await auth.authenticate(world.tokens[n]) for n in ("chair", "secretary", "delegate")
    ]
    m = world.meeting_id
    recordings = parts.services.recording.directory
    recordings.mkdir(parents=True, exist_ok=True)
    path = webm(recordings / "meeting-1-20260105T010000Z.webm")
    data = path.read_bytes()

    doc = await parts.services.recording.keep(m, path, "video/webm", START, END)
    assert doc.title == "Ghi hình cuộc họp “Giao ban tháng 11” (08:00–09:30, ngày 05/01/2026)"
    assert doc.filename == f"ghi-hinh-cuoc-hop-{m}-20260105-0800.webm"
    assert (doc.kind, doc.media_type, doc.is_media) == ("webm", "video/webm", True)
    assert doc.sha256 == doc.pdf_sha256 == hashlib.sha256(data).hexdigest()
    assert (doc.pages, doc.size_bytes, doc.uploaded_by) == (0, len(data), "system")
    assert doc.audience == ("role:chair", "role:secretary") and doc.state.value == "draft"
    # the documents store holds it by its hash; the recordings directory no longer does
    assert docs.blobs.path_of(doc.sha256).read_bytes() == data and not path.exists()
    assert [p.name for p in (Path(parts.config.server.data_dir) / "blobs" / "tmp").iterdir()] == []
    # the system added it: audited in its name
    async with parts.store.transaction() as uow:
        rows = await uow.audit.for_subject(f"meeting:{m}")
    assert ("system", "document.uploaded") in [(actor, action) for _, actor, action in rows]

    assert [d.id for d in await docs.list_documents(secretary, m)] == [doc.id]
    assert await docs.list_documents(delegate, m) == []
    # published as it is, it still reaches the chair and secretary only
    await docs.publish(chair, m, doc.id)
    assert await docs.list_documents(delegate, m) == []
    with pytest.raises(NotFound):
        await docs.open(delegate, m, doc.id, download=False)
    await docs.update(chair, m, doc.id, {"audience": []})
    served = await docs.open(delegate, m, doc.id, download=True)
    assert served.path.read_bytes() == data and served.variant == "original"
    assert served.media_type == "video/webm" and served.filename == doc.filename
    reading = await docs.open_reading(delegate, m, doc.id)
    r = docs.readable(reading.grant, m, doc.id)
    assert (r.size, r.media_type, r.private) == (len(data), "video/webm", False)

    # a video: not confidential (no copy can carry a name), not presented, no pages
    with pytest.raises(ValidationError):
        await docs.update(chair, m, doc.id, {"confidential": True})
    await parts.services.meetings.transition(chair, m, "open")
    with pytest.raises(StateError):
        await docs.present(chair, m, doc.id, 1)
    with pytest.raises(ValidationError):
        await docs.set_note(delegate, m, doc.id, 1, "trang 1")
    with pytest.raises(NotFound):
        await docs.thumbnail(chair, m, doc.id)


async def test_an_unknown_meeting_or_format_keeps_the_file_where_it_is(
    parts: Parts, world: World, docs: Any, tmp_path: Path
) -> None:
    path = webm(tmp_path / "meeting-x.webm", frames=5)
    with pytest.raises(NotFound):
        await parts.services.recording.keep(world.meeting_id + 99, path, "video/webm", START, END)
    with pytest.raises(ValidationError):
        await parts.services.recording.keep(world.meeting_id, path, "video/ogg", START, END)
    assert path.exists()


def test_the_title_says_the_meeting_and_its_hours_in_vietnam() -> None:
    late = datetime(2026, 1, 5, 16, 30, tzinfo=UTC)  # 23:30 in Vietnam
    assert recording_title("  Họp   UBND ", late, late) == (
        "Ghi hình cuộc họp “Họp UBND” (23:30–23:30, ngày 05/01/2026)"
    )
    long = recording_title("Ạ" * 400, START, END)
    assert len(long) == 300 and "…”" in long and long.endswith("ngày 05/01/2026)")
