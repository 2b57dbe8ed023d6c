"""Small real recordings for the tests: what the media plane writes, made by FFmpeg here."""

from __future__ import annotations

import fractions
from pathlib import Path

import av


def webm(path: Path, frames: int = 30) -> Path:
    """A small real recording: VP8 video and Opus audio in WebM, encoded by FFmpeg."""
    with av.open(str(path), "w", format="webm") as out:
        video = out.add_stream("libvpx", rate=15)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        audio = out.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        for n in range(frames):
            frame = av.VideoFrame(160, 120, "yuv420p")
            frame.planes[0].update(bytes([(n * 8) & 0xFF]) * frame.planes[0].buffer_size)
            frame.pts = n
            for packet in video.encode(frame):
                out.mux(packet)
        for n in range(frames * 3):
            sound = av.AudioFrame(format="s16", layout="mono", samples=960)
            sound.planes[0].update(bytes(1920))
            sound.sample_rate, sound.pts = 48000, n * 960
            sound.time_base = fractions.Fraction(1, 48000)
            for packet in audio.encode(sound):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    return path
