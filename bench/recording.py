"""CPU and disk of recording a meeting while the SFU forwards it (goal: < 0.05 core).

A server process (this file with ``--serve``: ``media.MediaPlane`` behind the same small
HTTP signalling as ``bench/_media_server.py``, plus ``/record`` and ``/stop-record``) hosts
one room; this process runs the clients: a chair and two bridge points, each publishing
aiortc-encoded VP8 (320x240, 15 fps) and Opus, and receiving what the SFU forwards them
(one bridge point holds the floor). The server's CPU is read from ``/proc/PID/stat`` over
windows with and without a recording, interleaved (off, on, off, on, ...), so both see the
same machine; the recording's cost is the difference of the means.

    .venv/bin/python bench/recording.py [--window 12] [--rounds 2] [--json out.json]

Prints one JSON document. Everything stops by itself (bounded windows; the server is
stopped by its PID and exits after ``--max-seconds`` anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                os.path.dirname(os.path.abspath(__file__))]

SELF = os.path.abspath(__file__)
from _media_common import proc_cpu_seconds  # noqa: E402

# -- server -------------------------------------------------------------------------------


async def serve(port: int, max_seconds: float, directory: str) -> None:
    from _sfu_http import Host
    from _sfu_http import serve as serve_http

    await serve_http(Host(("127.0.0.1",)), port, ("127.0.0.1",), max_seconds, directory)


# -- clients ------------------------------------------------------------------------------


class Client:
    """One aiortc participant: publishes a pattern and a tone, receives (and decodes)."""

    def __init__(self, base: str, eid: str, role: str, http: aiohttp.ClientSession) -> None:
        from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection

        from media.agent import PatternVideo, ToneAudio

        self.base, self.eid, self.role, self.http = base, eid, role, http
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.pc.addTrack(ToneAudio())
        self.pc.addTrack(PatternVideo(320, 240, fps=15))
        self.frames = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", lambda t: self._tasks.append(asyncio.ensure_future(self._eat(t))))

    async def _eat(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames += 1

    async def start(self) -> None:
        from aiortc import RTCSessionDescription

        await self.pc.setLocalDescription(await self.pc.createOffer())
        async with self.http.post(f"{self.base}/join", json={
            "id": self.eid, "role": self.role, "sdp": self.pc.localDescription.sdp,
        }) as r:
            answer = (await r.json())["sdp"]
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        self._tasks.append(asyncio.ensure_future(self._offers()))

    async def _offers(self) -> None:
        from aiortc import RTCSessionDescription

        while True:
            async with self.http.get(f"{self.base}/offer",
                                     params={"id": self.eid, "timeout": "5"}) as r:
                sdp = (await r.json())["sdp"]
            if sdp is None:
                continue
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            async with self.http.post(f"{self.base}/answer", json={
                "id": self.eid, "sdp": self.pc.localDescription.sdp,
            }) as r:
                await r.read()

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from media._aiortc_private import restrict_host_addresses

    lease = restrict_host_addresses(["127.0.0.1"])  # the clients' ICE on loopback too
    directory = tempfile.mkdtemp(prefix="bench-recording-")
    port = args.port
    proc = await asyncio.create_subprocess_exec(
        sys.executable, SELF, "--serve", str(port),
        "--dir", directory, "--max-seconds", str(args.max_seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    assert line.startswith(b"READY"), line
    base = f"http://127.0.0.1:{port}"
    clients: list[Client] = []
    windows: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession() as http:
            for eid, role in (("chair", "chair"), ("bp1", "bridge_point"), ("bp2", "bridge_point")):
                c = Client(base, eid, role, http)
                clients.append(c)
                await c.start()
            async with http.post(f"{base}/floor", json={"ids": ["bp1"]}) as r:
                await r.read()
            await asyncio.sleep(args.warmup)
            for i in range(2 * args.rounds):
                recording = i % 2 == 1
                if recording:
                    async with http.post(f"{base}/record") as r:
                        await r.read()
                    await asyncio.sleep(2.0)  # the first keyframe, the encoders' start
                c0, t0 = proc_cpu_seconds(proc.pid), time.monotonic()
                await asyncio.sleep(args.window)
                c1, t1 = proc_cpu_seconds(proc.pid), time.monotonic()
                windows.append({"recording": recording, "cores": round((c1 - c0) / (t1 - t0), 4),
                                "loadavg": os.getloadavg()[0]})
                if recording:
                    async with http.post(f"{base}/stop-record") as r:
                        files.append(await r.json())
            with contextlib.suppress(Exception):
                async with http.post(f"{base}/quit") as r:
                    await r.read()
    finally:
        for c in clients:
            await c.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 15)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        lease.release()
    off = [w["cores"] for w in windows if not w["recording"]]
    on = [w["cores"] for w in windows if w["recording"]]
    for f in files:
        f["bytes_per_second"] = round(f["bytes"] / max(f["seconds"], 1e-9))
        with contextlib.suppress(OSError):
            os.unlink(f["path"])
    with contextlib.suppress(OSError):
        os.rmdir(directory)
    return {
        "bench": "recording",
        "machine": "2-core VM shared with other engineers' test runs: figures are noisy",
        "setup": "3 participants (aiortc VP8 320x240 15 fps + Opus each), 1 on the floor",
        "window_seconds": args.window,
        "windows": windows,
        "server_cores_without": round(sum(off) / len(off), 4),
        "server_cores_with": round(sum(on) / len(on), 4),
        "recording_cores": round(sum(on) / len(on) - sum(off) / len(off), 4),
        "files": files,
        "loadavg_end": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--dir", default="", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=18431)
    ap.add_argument("--window", type=float, default=12.0)
    ap.add_argument("--warmup", type=float, default=6.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=300.0)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.max_seconds, args.dir))
        os._exit(0)
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
