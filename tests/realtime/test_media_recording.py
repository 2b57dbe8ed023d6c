"""Recording (ghi hình) through the meeting socket: the chair starts and stops it, every
screen is told, and the file, holding the meeting's picture and voices, becomes a document
of the meeting (added by the system, for the chair and secretary) that plays from its
reading address with byte ranges. A recording the meeting's end stops is kept the same way.
"""

from __future__ import annotations

import asyncio
import io
from datetime import datetime
from pathlib import Path

import aiohttp
import av

from media import RecordingInfo
from meetingd.services.documents import SYSTEM
from tests.realtime.conftest import Live
from tests.realtime.rtcpeer import SocketPeer
from tests.realtime.test_media_signalling import _peer, live_meeting, wait_for

__all__ = ["live_meeting"]  # the fixture: a started meeting

Finished = tuple[int, RecordingInfo, int | None]


def hook(live: Live) -> asyncio.Queue[Finished]:
    """Every recording the bridge finishes and keeps, as the bridge tells it."""
    media = live.realtime.media
    assert media is not None
    done: asyncio.Queue[Finished] = asyncio.Queue()

    async def finished(meeting_id: int, info: RecordingInfo, document_id: int | None) -> None:
        done.put_nowait((meeting_id, info, document_id))

    media.on_recording_finished = finished
    return done


def exists(path: str) -> bool:
    """Whether a file is still at ``path``."""
    return Path(path).exists()


async def audit(live: Live) -> list[tuple[str, str]]:
    """The meeting's audit rows: (actor, action)."""
    async with live.parts.store.transaction() as uow:
        rows = await uow.audit.for_subject(f"meeting:{live.meeting_id}")
    return [(actor, action) for _, actor, action in rows]


async def test_the_chair_records_the_meeting_and_gets_a_document(live_meeting: Live) -> None:
    live = live_meeting
    mid = live.meeting_id
    media = live.realtime.media
    assert media is not None
    finished = hook(live)
    chair: SocketPeer = await _peer(live, "chair", (160, 120))
    bp1: SocketPeer = await _peer(live, "bp1", (176, 144))
    try:
        err = await bp1.client.error("recording.start", {"meeting_id": mid})
        assert err["code"] == "forbidden"
        started = await chair.client.ok("recording.start", {"meeting_id": mid})
        name = started["file"]
        assert name.startswith(f"meeting-{mid}-") and "." not in name
        event = await bp1.client.wait_event("recording.started")
        assert event["file"] == name
        # a screen that joins now (or reloads) learns it from its snapshot: it says so too
        late = await live.connect("delegate")
        joined = await late.ok("meeting.join", {"meeting_id": mid})
        now = joined["snapshot"]["recording"]
        assert now is not None and now["file"] == name, now
        since, at = datetime.fromisoformat(now["since"]), datetime.fromisoformat(event["at"])
        assert abs((since - at).total_seconds()) < 1.0, (now, event)
        err = await chair.client.error("recording.start", {"meeting_id": mid})
        assert err["code"] == "conflict"
        room = media.plane.room(str(mid))
        rec = room.recording
        assert rec is not None
        await wait_for(lambda: rec.video_frames > 15, 20, "the chair recorded")
        subject = f"bridge_point:{live.world.bridge_points['bp1']}"
        await chair.client.ok("floor.grant", {"meeting_id": mid, "subject": subject})
        frames = rec.video_frames
        await wait_for(lambda: rec.video_frames > frames + 20, 20, "the speaker recorded")
        stopped = await chair.client.ok("recording.stop", {"meeting_id": mid})
        assert stopped["file"] == f"{name}.webm" and stopped["bytes"] > 0
        doc_id = stopped["document_id"]
        assert isinstance(doc_id, int)
        said = await bp1.client.wait_event("recording.stopped")
        assert said["bytes"] == stopped["bytes"] and said["document_id"] == doc_id
        later = await live.connect("delegate")
        assert (await later.ok("meeting.join", {"meeting_id": mid}))["snapshot"][
            "recording"
        ] is None
        err = await chair.client.error("recording.stop", {"meeting_id": mid})
        assert err["code"] == "invalid_state"
        meeting_id, info, kept = await asyncio.wait_for(finished.get(), 5)
        assert (meeting_id, kept) == (mid, doc_id)
        # the file left the recordings directory for the documents store
        assert Path(info.path).parent.name == "recordings" and not exists(info.path)

        # a draft of the meeting for its chair and secretary, a video, not a PDF
        doc = await chair.client.ok("document.get", {"meeting_id": mid, "document_id": doc_id})
        assert doc["title"].startswith("Ghi hình cuộc họp “") and "–" in doc["title"]
        assert doc["media_type"] == "video/webm" and doc["kind"] == "webm"
        assert doc["state"] == "draft" and doc["pages"] == 0
        assert doc["audience"] == ["role:chair", "role:secretary"]
        assert doc["size_bytes"] == stopped["bytes"] and doc["filename"].endswith(".webm")
        listed = await chair.client.ok("document.list", {"meeting_id": mid})
        assert doc_id in [d["id"] for d in listed]
        err = await bp1.client.error("document.get", {"meeting_id": mid, "document_id": doc_id})
        assert err["code"] == "not_found"
        err = await chair.client.error(
            "document.update", {"meeting_id": mid, "document_id": doc_id, "confidential": True}
        )
        assert err["code"] == "invalid_request"
        rows = await audit(live)
        assert (SYSTEM, "document.uploaded") in rows
        assert (f"user:{live.world.users['chair']}", "recording.stopped") in rows

        # it plays from its reading address: ranges of a video, as a <video> asks for them
        reading = await chair.client.ok("document.open", {"meeting_id": mid, "document_id": doc_id})
        url = live.url + reading["url"] if reading["url"].startswith("/") else reading["url"]
        async with aiohttp.ClientSession() as http:
            async with http.get(url, headers={"Range": "bytes=0-1023"}) as r:
                assert r.status == 206 and r.headers["Content-Type"] == "video/webm"
                assert r.headers["Content-Range"] == f"bytes 0-1023/{stopped['bytes']}"
            async with http.get(url) as r:
                assert r.status == 200 and r.headers["Content-Disposition"] == "inline"
                body = await r.read()
            async with http.get(url, params={"download": "true"}) as r:
                assert r.status == 200 and r.headers["Content-Disposition"] == "attachment"
        sizes: list[tuple[int, int]] = []
        with av.open(io.BytesIO(body)) as container:
            for frame in container.decode(video=0):
                if not sizes or sizes[-1] != (frame.width, frame.height):
                    sizes.append((frame.width, frame.height))
        assert sizes[0] == (160, 120) and (176, 144) in sizes, sizes
        # published, it is still not a page to present: each viewer plays it
        await chair.client.ok("document.publish", {"meeting_id": mid, "document_id": doc_id})
        err = await chair.client.error(
            "document.present", {"meeting_id": mid, "document_id": doc_id, "page": 1}
        )
        assert err["code"] == "invalid_state", err
    finally:
        await chair.close()
        await bp1.close()
        await asyncio.sleep(0)


async def test_a_recording_the_meeting_end_stops_is_kept(live_meeting: Live) -> None:
    live = live_meeting
    mid = live.meeting_id
    media = live.realtime.media
    assert media is not None
    finished = hook(live)
    chair: SocketPeer = await _peer(live, "chair", (160, 120))
    try:
        await chair.client.ok("recording.start", {"meeting_id": mid})
        rec = media.plane.room(str(mid)).recording
        assert rec is not None
        await wait_for(lambda: rec.video_frames > 15, 20, "the chair recorded")
        await live.transition("end")
        meeting_id, info, doc_id = await asyncio.wait_for(finished.get(), 20)
        assert meeting_id == mid and isinstance(doc_id, int) and info.video_frames > 15
        said = await chair.client.wait_event("recording.stopped")
        assert said["document_id"] == doc_id and said["file"] == Path(info.path).name
        doc = await chair.client.ok("document.get", {"meeting_id": mid, "document_id": doc_id})
        assert doc["media_type"] == "video/webm" and doc["state"] == "draft"
        assert doc["size_bytes"] == info.bytes
        rows = await audit(live)
        # stopped by nobody: the system's doing, after the meeting ended
        assert rows.index(("system", "recording.stopped")) > rows.index(
            (f"user:{live.world.users['chair']}", "meeting.ended")
        )
        assert (SYSTEM, "document.uploaded") in rows
    finally:
        await chair.close()
        await asyncio.sleep(0)
