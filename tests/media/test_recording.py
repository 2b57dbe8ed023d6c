"""Recording ("ghi hình"): the speaker's video as sent and the mixed audio in one file,
VP8 in WebM, H.264 in MP4.

Real aiortc publishers on loopback. A spy on aiortc's VP8 and H.264 encoders (the
publishers run in the test's process; the server has no encoder) notes every frame they
make, so the tests show that each picture in the file is one of them byte for byte (not
re-encoded) and that the picture changes publisher or simulcast layer only at a keyframe.
The file is then opened by ffprobe and decoded from start to end by PyAV and FFmpeg.
"""

from __future__ import annotations

import asyncio
import itertools
import pathlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import av
import pytest
from aiortc import RTCRtpSender
from media_peers import LAYERS, ConnectFn, Peer, SimulcastPeer, wait_for

from media import ConflictError, MediaPlane, NotFoundError, Room
from media.policy import Kind
from media.recording import MP4, WEBM, Recording
from tests.conftest import skip_or_fail

CHAIR, OTHER = (176, 144), (240, 180)
SMALL, MID, BIG = (size for size, _ in LAYERS)


@dataclass
class Encoded:
    """Every frame the publishers' encoders made, as the file holds it (a VP8 frame; H.264
    NAL units with 4-byte lengths, as in MP4), with its encoder and whether it is a key."""

    frames: dict[bytes, tuple[int, bool]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def add(self, encoder: Any, data: bytes, key: bool) -> None:
        if not hasattr(encoder, "_spy_id"):  # not id(): a new encoder may reuse an address
            encoder._spy_id = next(self._ids)
        self.frames[data] = (encoder._spy_id, key)


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> Encoded:
    from aiortc.codecs import h264, vpx

    spy = Encoded()
    vp8_encode = vpx.Vp8Encoder.encode
    h264_frame = h264.H264Encoder._encode_frame

    def encode_vp8(self: Any, frame: Any, force_keyframe: bool = False) -> Any:
        payloads, timestamp = vp8_encode(self, frame, force_keyframe)
        data = b"".join(vpx.vp8_depayload(p) for p in payloads)  # aiortc's own depacketizer
        spy.add(self, data, not data[0] & 1)
        return payloads, timestamp

    def encode_h264(self: Any, frame: Any, force_keyframe: bool) -> Iterator[bytes]:
        nals = list(h264_frame(self, frame, force_keyframe))
        if nals:
            data = b"".join(len(n).to_bytes(4, "big") + n for n in nals)
            spy.add(self, data, any(n[0] & 0x1F == 5 for n in nals))
        yield from nals

    monkeypatch.setattr(vpx.Vp8Encoder, "encode", encode_vp8)
    monkeypatch.setattr(h264.H264Encoder, "_encode_frame", encode_h264)
    return spy


def sources_in(path: pathlib.Path, encoded: Encoded) -> list[int]:
    """The encoders whose frames the file shows, in order; every picture must be one of
    theirs byte for byte, and each change of encoder must come at a keyframe."""
    runs: list[int] = []
    with av.open(str(path)) as container:
        for packet in container.demux(container.streams.video[0]):
            if not packet.size:
                continue
            made = encoded.frames.get(bytes(packet))
            assert made is not None, f"picture {len(runs)}: no publisher encoded these bytes"
            encoder, key = made
            assert packet.is_keyframe == key
            if not runs or runs[-1] != encoder:
                assert key, f"the picture moved to encoder {encoder} at a frame that is no key"
                runs.append(encoder)
    return runs


def decode(path: pathlib.Path, fmt: str, codec: str) -> tuple[list[tuple[int, int]], int, float]:
    """Every video frame's size (each change once), the audio samples, the duration (s)."""
    sizes: list[tuple[int, int]] = []
    samples = 0
    with av.open(str(path)) as container:
        assert fmt in container.format.name.split(","), container.format.name
        assert container.streams.video[0].codec_context.name == codec
        for frame in container.decode(video=0, audio=0):
            if isinstance(frame, av.VideoFrame):
                if not sizes or sizes[-1] != (frame.width, frame.height):
                    sizes.append((frame.width, frame.height))
            else:
                samples += frame.samples
        duration = float(container.duration or 0) / av.time_base
    return sizes, samples, duration


def ffmpeg_check(path: pathlib.Path) -> float:
    """ffprobe's duration of the file, after FFmpeg decoded all of it without an error.

    The file's own video timestamps must increase strictly (ffprobe). FFmpeg's null output
    keeps a constant frame rate guessed from the file (30/s) and complains, about its output,
    when two pictures of a variable-rate recording come closer than that: that line says
    nothing of the file and is not counted as a decoding error."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        skip_or_fail("ffmpeg and ffprobe are not installed (scripts/system-deps.sh installs them)")
    run = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-fps_mode", "passthrough",
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    errors = [ln for ln in run.stderr.splitlines() if "to muxer in stream" not in ln]
    assert run.returncode == 0 and not errors, run.stderr
    dts = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=dts",
         "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.split()  # fmt: skip
    times = [int(d) for d in dts if d.lstrip("-").isdigit()]
    assert times and all(b > a for a, b in itertools.pairwise(times)), times[:50]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert probe.stderr.strip() == "", probe.stderr
    return float(probe.stdout)


def size_of(path: pathlib.Path) -> int:
    """The file's size, -1 if there is none."""
    return path.stat().st_size if path.exists() else -1


def shows(rec: Recording, endpoint_id: str) -> bool:
    """Whether the recording's picture is pointed at ``endpoint_id``."""
    return rec.video_slot.source is not None and rec.video_slot.source.endpoint_id == endpoint_id


def frames_of(rec: Recording) -> Any:
    async def frames(n: int, what: str) -> None:
        start = rec.video_frames
        await wait_for(lambda: rec.video_frames >= start + n, within=15, what=what)

    return frames


async def test_recording_follows_the_speaker_through_switches_and_a_reconnect(
    plane: MediaPlane,
    join: ConnectFn,
    peers: list[Peer],
    encoded: Encoded,
    tmp_path: pathlib.Path,
) -> None:
    room = plane.create_room("r-record")
    chair = await join(room, "chair", "chair", size=CHAIR)
    cam = SimulcastPeer(room, "bp-cam", "bridge_point")
    peers.append(cam)
    await cam.connect()
    await asyncio.wait_for(cam.negotiated.wait(), 10)
    await join(room, "bp-other", "bridge_point", size=OTHER)
    await wait_for(lambda: len(room.endpoint("bp-cam").primary_layers(Kind.VIDEO)) == 3,
                   what="simulcast layers")  # fmt: skip

    path = tmp_path / "hop.webm"
    began = time.monotonic()
    rec = room.start_recording(str(path))
    with pytest.raises(ConflictError):
        room.start_recording(str(tmp_path / "again.webm"))
    frames = frames_of(rec)

    # nobody speaks: the chair's picture
    await frames(15, "the chair recorded")
    assert rec.container is WEBM and rec.path == str(path)
    # the floor: the speaker's top layer, as sent
    room.set_floor(["bp-cam"])
    await wait_for(lambda: shows(rec, "bp-cam"), what="the speaker recorded")
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
    wall = time.monotonic() - began
    with pytest.raises(NotFoundError):
        await room.stop_recording()
    assert info.path == str(path) and info.bytes == size_of(path) > 0
    assert info.media_type == "video/webm" and info.video_codec == "vp8"
    assert info.video_switches >= 4 and info.keyframes >= 5

    # one file: every picture as a publisher's encoder made it, switching only at keyframes:
    # chair, the camera's top layer, its middle layer, the other speaker before and after
    # its reload (a new encoder), the chair again
    runs = sources_in(path, encoded)
    assert len(runs) >= 6 and len(set(runs)) >= 5 and runs[0] == runs[-1], runs
    sizes, samples, duration = decode(path, "webm", "vp8")
    # every frame decodes, from the first to the last, and the switches are in it
    assert sizes[0] == CHAIR and sizes[-1] == CHAIR
    it = iter(sizes)
    assert all(s in it for s in (CHAIR, BIG, MID, OTHER, CHAIR)), sizes
    probed = ffmpeg_check(path)
    # the file covers the time it was recording
    assert abs(duration - info.duration) < 1.0 and abs(probed - info.duration) < 1.0
    assert probed > wall - 1.5, (probed, wall)
    # mixed audio for the whole recording (the chair's and the floor holders' tones)
    assert samples >= 48000 * (info.duration - 1.5)


async def _h264_peer(room: Room, peers: list[Peer], endpoint_id: str, role: str,
                     size: tuple[int, int]) -> Peer:  # fmt: skip
    """A publisher whose camera goes out as H.264 (as a browser may send it)."""
    peer = Peer(room, endpoint_id, role, size=size)
    caps = RTCRtpSender.getCapabilities("video").codecs
    for t in peer.pc.getTransceivers():
        if t.kind == "video":
            t.setCodecPreferences([c for c in caps if c.mimeType == "video/H264"])
    peers.append(peer)
    await peer.connect()
    await asyncio.wait_for(peer.negotiated.wait(), 10)
    return peer


async def test_h264_is_recorded_as_sent_into_an_mp4(
    plane: MediaPlane,
    join: ConnectFn,
    peers: list[Peer],
    encoded: Encoded,
    tmp_path: pathlib.Path,
) -> None:
    room = plane.create_room("r-record-h264")
    await _h264_peer(room, peers, "chair", "chair", CHAIR)
    await _h264_peer(room, peers, "bp-h264", "bridge_point", OTHER)
    await join(room, "bp-vp8", "bridge_point", size=(128, 96))
    track = room.endpoint("chair").primary_track(Kind.VIDEO)
    assert track is not None and {c.name for c in track.codecs.values()} == {"H264"}

    rec = room.start_recording(str(tmp_path / "h264.webm"))
    frames = frames_of(rec)
    await frames(15, "the chair's H.264 recorded")
    # the first picture was H.264: the file is an MP4
    assert rec.container is MP4 and rec.path == str(tmp_path / "h264.mp4")
    room.set_floor(["bp-h264"])
    await wait_for(lambda: shows(rec, "bp-h264"), what="the H.264 speaker recorded")
    await frames(15, "the H.264 speaker recorded")
    # a VP8 speaker cannot go into this file: left out of the picture, its voice is in
    room.set_floor(["bp-vp8"])
    await wait_for(lambda: rec.other_codec_frames >= 15, what="the VP8 speaker left out")
    room.set_floor([])
    await frames(15, "the chair again")

    info = await room.stop_recording()
    path = pathlib.Path(info.path)
    assert path.name == "h264.mp4" and size_of(tmp_path / "h264.webm") == -1
    assert info.media_type == "video/mp4" and info.video_codec == "h264"
    assert info.other_codec_frames >= 15 and info.bytes == size_of(path)

    runs = sources_in(path, encoded)  # NAL units byte for byte, switches at IDR frames
    assert len(runs) >= 3 and len(set(runs)) == 2 and runs[0] == runs[-1], runs
    sizes, samples, duration = decode(path, "mp4", "h264")
    assert sizes[0] == CHAIR and sizes[-1] == CHAIR and OTHER in sizes, sizes
    assert (128, 96) not in sizes
    probed = ffmpeg_check(path)
    assert abs(duration - info.duration) < 1.0 and abs(probed - info.duration) < 1.0
    assert samples >= 48000 * (info.duration - 1.5)
