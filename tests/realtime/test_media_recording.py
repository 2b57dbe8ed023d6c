"""Recording (ghi hình) through the meeting socket: the chair starts and stops it, every
screen is told, and the file holds the meeting's picture and voices."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av

from media import RecordingInfo
from tests.realtime.conftest import Live
from tests.realtime.rtcpeer import SocketPeer
from tests.realtime.test_media_signalling import _peer, live_meeting, wait_for

__all__ = ["live_meeting"]  # the fixture: a started meeting


async def test_the_chair_records_the_meeting(live_meeting: Live) -> None:
    live = live_meeting
    mid = live.meeting_id
    media = live.realtime.media
    assert media is not None
    finished: list[tuple[int, RecordingInfo]] = []

    async def attach(meeting_id: int, info: RecordingInfo) -> None:
        finished.append((meeting_id, info))

    media.on_recording_finished = attach
    chair: SocketPeer = await _peer(live, "chair", (160, 120))
    bp1: SocketPeer = await _peer(live, "bp1", (176, 144))
    try:
        err = await bp1.client.error("recording.start", {"meeting_id": mid})
        assert err["code"] == "forbidden"
        started = await chair.client.ok("recording.start", {"meeting_id": mid})
        assert started["file"].endswith(".webm")
        event = await bp1.client.wait_event("recording.started")
        assert event["file"] == started["file"]
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
        assert stopped["file"] == started["file"] and stopped["bytes"] > 0
        assert (await bp1.client.wait_event("recording.stopped"))["bytes"] == stopped["bytes"]
        err = await chair.client.error("recording.stop", {"meeting_id": mid})
        assert err["code"] == "invalid_state"
        # the documents feature's hook got the finished file
        assert [m for m, _ in finished] == [mid]
        path = Path(finished[0][1].path)
        assert path.name == started["file"] and path.parent.name == "recordings"
        sizes: list[tuple[int, int]] = []
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                if not sizes or sizes[-1] != (frame.width, frame.height):
                    sizes.append((frame.width, frame.height))
        assert sizes[0] == (160, 120) and (176, 144) in sizes, sizes
    finally:
        await chair.close()
        await bp1.close()
        await asyncio.sleep(0)
