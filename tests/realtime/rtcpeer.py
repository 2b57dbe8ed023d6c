"""A meeting participant with media: a socket connection plus a real aiortc peer connection,
signalling over ``rtc.*`` exactly as a browser or the agent does."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from tests.media.media_peers import Received, SyntheticVideo, ToneAudio
from tests.realtime.livekit import LiveClient


class SocketPeer:
    """Publishes a synthetic camera and microphone; counts decoded frames per ``mid``."""

    def __init__(self, client: LiveClient, meeting_id: int, *, size: tuple[int, int]) -> None:
        self.client = client
        self.meeting_id = meeting_id
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.pc.addTrack(ToneAudio())
        self.pc.addTrack(SyntheticVideo(*size))
        self.received: dict[str, Received] = {}
        self.negotiated = asyncio.Event()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)
        client.sio.on("rtc.offered", self._on_offered)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        await asyncio.sleep(0)
        mid = next(str(t.mid) for t in self.pc.getTransceivers() if t.receiver.track is track)
        rec = self.received.setdefault(mid, Received(track.kind))
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                rec.frames += 1
                if track.kind == "video":
                    rec.last_size = (frame.width, frame.height)
                    rec.sizes.add(rec.last_size)

    async def _on_offered(self, data: dict[str, Any]) -> None:
        # The recording handler of LiveClient sees it too; this one answers it.
        async with self._lock:
            await self.pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self.client.ok(
                "rtc.answer", {"meeting_id": self.meeting_id, "sdp": self.pc.localDescription.sdp}
            )
        self.negotiated.set()

    async def start(self) -> None:
        async with self._lock:
            await self.pc.setLocalDescription(await self.pc.createOffer())
            answer = await self.client.ok(
                "rtc.offer", {"meeting_id": self.meeting_id, "sdp": self.pc.localDescription.sdp}
            )
            await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.wait_for(self.negotiated.wait(), 15)

    def frames(self, kind: str, mid: str | None = None) -> int:
        return sum(
            r.frames
            for m, r in self.received.items()
            if r.kind == kind and (mid is None or m == mid)
        )

    def sizes(self) -> set[tuple[int, int]]:
        return {s for r in self.received.values() for s in r.sizes}

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.pc.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)
