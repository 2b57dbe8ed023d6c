"""A receiving client for the netem test, run inside the test's network namespace.

``ip netns exec <ns> python netem_receiver.py <seconds>``. Signalling is JSON lines:
stdout ``{"offer": sdp}`` first (receive-only: it publishes nothing), stdin
``{"answer": sdp}`` for it and ``{"offer": sdp}`` for each server offer (answered on
stdout with ``{"answer": sdp}``), ``{"stop": true}`` ends it. At the end it prints
``{"stats": {mid: {...}}}``: frames decoded, frame rate, freezes longer than 1 s (video),
gaps longer than 100 ms (audio), over the measured window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError


def send(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    times: dict[str, list[float]] = {}
    kinds: dict[str, str] = {}
    tasks: list[asyncio.Task[None]] = []

    async def consume(track: MediaStreamTrack) -> None:
        await asyncio.sleep(0)
        mid = next(str(t.mid) for t in pc.getTransceivers() if t.receiver.track is track)
        kinds[mid] = track.kind
        seen = times.setdefault(mid, [])
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                seen.append(time.monotonic())

    pc.on("track", lambda track: tasks.append(asyncio.ensure_future(consume(track))))
    await pc.setLocalDescription(await pc.createOffer())
    send({"offer": pc.localDescription.sdp})
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        msg = json.loads(line)
        if "answer" in msg:
            await pc.setRemoteDescription(RTCSessionDescription(msg["answer"], "answer"))
        elif "offer" in msg:
            await pc.setRemoteDescription(RTCSessionDescription(msg["offer"], "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            send({"answer": pc.localDescription.sdp})
        elif "stop" in msg:
            window = float(msg.get("window", 10.0))
            break
    end = time.monotonic()
    start = end - window
    stats: dict[str, dict[str, float]] = {}
    for mid, seen in times.items():
        inside = [t for t in seen if t >= start]
        gaps = [b - a for a, b in zip([start, *inside], [*inside, end], strict=True)]
        if kinds[mid] == "video":
            stats[mid] = {"kind": 1, "frames": len(inside), "fps": len(inside) / window,
                          "freezes": sum(1 for g in gaps if g > 1.0),
                          "longest_gap": max(gaps, default=window)}
        else:
            stats[mid] = {"kind": 0, "frames": len(inside),
                          "gaps": sum(1 for g in gaps if g > 0.1),
                          "longest_gap": max(gaps, default=window)}
    send({"stats": stats})
    for t in tasks:
        t.cancel()
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
