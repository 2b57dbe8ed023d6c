"""Recording ("ghi hình"): the speaker's video as sent and the mixed audio, in one WebM.

Real aiortc publishers on loopback; the file is decoded from start to end with PyAV.
"""

from __future__ import annotations

import asyncio
import pathlib

import av
import pytest
from media_peers import LAYERS, ConnectFn, Peer, SimulcastPeer, wait_for

from media import ConflictError, MediaPlane, NotFoundError
from media.policy import Kind

CHAIR, OTHER = (176, 144), (240, 180)
SMALL, MID, BIG = (size for size, _ in LAYERS)


def decode(path: pathlib.Path) -> tuple[list[tuple[int, int]], int, float]:
    """Every video frame's size in order, the audio samples, the duration (s)."""
    sizes: list[tuple[int, int]] = []
    samples = 0
    with av.open(str(path)) as container:
        assert container.format.name.startswith("matroska")
        vstream = container.streams.video[0]
        assert vstream.codec_context.name in ("vp8", "libvpx")
        for frame in container.decode(video=0, audio=0):
            if isinstance(frame, av.VideoFrame):
                if not sizes or sizes[-1] != (frame.width, frame.height):
                    sizes.append((frame.width, frame.height))
            else:
                samples += frame.samples
        duration = float(container.duration or 0) / av.time_base
    return sizes, samples, duration


async def test_recording_follows_the_speaker_through_switches_and_a_reconnect(
    plane: MediaPlane, join: ConnectFn, peers: list[Peer], tmp_path: pathlib.Path
) -> None:
    room = plane.create_room("r-record")
    chair = await join(room, "chair", "chair", size=CHAIR)
    cam = SimulcastPeer(room, "bp-cam", "bridge_point")
    peers.append(cam)
    await cam.connect()
    await asyncio.wait_for(cam.negotiated.wait(), 10)
    await join(room, "bp-other", "bridge_point", size=OTHER)
    await wait_for(lambda: len(room.endpoint("bp-cam").primary_layers(Kind.VIDEO)) == 3,
                   what="simulcast layers")

    path = tmp_path / "hop.webm"
    rec = room.start_recording(str(path))
    with pytest.raises(ConflictError):
        room.start_recording(str(tmp_path / "again.webm"))

    async def frames(n: int, what: str) -> None:
        start = rec.video_frames
        await wait_for(lambda: rec.video_frames >= start + n, within=15, what=what)

    # nobody speaks: the chair's picture
    await frames(15, "the chair recorded")
    # the floor: the speaker's top layer, as sent
    room.set_floor(["bp-cam"])
    await wait_for(lambda: rec.video_slot.source is not None
                   and rec.video_slot.source.endpoint_id == "bp-cam", what="speaker recorded")
    await frames(15, "the speaker recorded")
    # a layer switch in the middle of the recording (the tile asks for less)
    rec.video_slot.tile_cap = 1
    rec.video_slot.select(room.config.clock())
    await wait_for(lambda: rec.video_slot.layer_switches >= 1, what="layer switch")
    await frames(15, "the middle layer recorded")
    # another speaker, who then reloads its page (a new peer connection)
    room.set_floor(["bp-other"])
    await frames(15, "the other speaker recorded")
    old = next(p for p in peers if p.endpoint_id == "bp-other")
    await old.close()
    new = Peer(room, "bp-other", "bridge_point", size=OTHER, reuse=room.endpoint("bp-other"))
    peers.append(new)
    await new.connect()
    await asyncio.wait_for(new.negotiated.wait(), 10)
    await frames(15, "recorded after the reconnect")
    room.set_floor([])
    await frames(10, "the chair again")
    assert chair.pc.connectionState == "connected"

    info = await room.stop_recording()
    with pytest.raises(NotFoundError):
        await room.stop_recording()
    assert info.path == str(path) and info.bytes == path.stat().st_size > 0
    assert info.video_switches >= 4 and info.keyframes >= 5

    sizes, samples, duration = decode(path)
    # every frame decodes, from the first to the last, and the switches are in it
    assert sizes[0] == CHAIR and sizes[-1] == CHAIR
    it = iter(sizes)
    assert all(s in it for s in (CHAIR, BIG, MID, OTHER, CHAIR)), sizes
    assert abs(duration - info.duration) < 2.0
    # mixed audio for the whole recording (the chair's and the floor holders' tones)
    assert samples >= 48000 * (info.duration - 1.5)
