"""Simulcast under capped links: 20 receivers, 5 of them behind a 300 kbit/s cap.

A publisher (this process) sends one camera as three simulcast layers (aiortc VP8
encoders, 160x90 / 320x180 / 640x360 at 15 fps, one m-line each, marked as the agent
marks them) and holds the floor. 20 bridge points receive it on their speaker tile: 15 on
loopback (one client process), 5 each in a network namespace of its own behind a veth
pair shaped to 300 kbit/s both ways (``tc netem rate`` when the kernel has sch_netem,
else ``tc tbf``, said in the output). The SFU listens on loopback and the veth addresses.
Receivers count frames where aiortc would decode them (aiortc's whole receive path runs:
jitter buffer, NACK, REMB). After a warm-up, one window reports per receiver: frame rate,
freezes longer than 1 s and the layer forwarded. Goal: capped receivers on the low layer
at >= 15 fps... of a 15 fps source (so: full rate), the others on the high layer, no
freeze > 1 s.

    .venv/bin/python bench/simulcast.py [--receivers 20] [--capped 5] [--window 15]

Needs root and iproute2 (namespaces). Prints one JSON document; everything stops by
itself and every namespace and veth it made is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                os.path.dirname(os.path.abspath(__file__))]
SELF = os.path.abspath(__file__)

LAYERS = ((160, 90, 150_000), (320, 180, 400_000), (640, 360, 1_200_000))
FPS = 15
#: side of the moving noise square (what makes the picture cost bits)
NOISE = 64


def sh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)


# -- receivers (a child process, on loopback or inside a namespace) ---------------------


async def receive(server: str, ids: list[str], seconds: float) -> None:
    """Join ``ids`` as receive-only bridge points; report frames per id on stdout."""
    from _media_common import install_counting_receivers, restrict_ice_to_loopback
    from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    if server.startswith("http://127.0.0.1"):
        restrict_ice_to_loopback()
    install_counting_receivers(light=False)
    pcs: dict[str, Any] = {}
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession() as http:

        async def offers(eid: str, pc: Any) -> None:
            while True:
                async with http.get(f"{server}/offer", params={"id": eid, "timeout": "5"}) as r:
                    sdp = (await r.json())["sdp"]
                if sdp:
                    await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
                    await pc.setLocalDescription(await pc.createAnswer())
                    async with http.post(f"{server}/answer", json={
                        "id": eid, "sdp": pc.localDescription.sdp}) as r:
                        await r.read()

        for eid in ids:
            pc = RTCPeerConnection(
                RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
            )
            pcs[eid] = pc
            await pc.setLocalDescription(await pc.createOffer())
            async with http.post(f"{server}/join", json={
                "id": eid, "role": "bridge_point", "sdp": pc.localDescription.sdp}) as r:
                answer = (await r.json())["sdp"]
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            tasks.append(asyncio.ensure_future(offers(eid, pc)))
        print(json.dumps({"joined": ids}), flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        window = float(json.loads(line)["window"])
        starts: dict[str, dict[str, int]] = {}
        for eid, pc in pcs.items():
            starts[eid] = {}
            for t in pc.getTransceivers():
                c = getattr(t.receiver, "_bench_counter", None)
                if c is not None and c.kind == "video":
                    starts[eid][str(t.mid)] = c.start_window()[0]
        await asyncio.sleep(window)
        now = time.monotonic()
        report: dict[str, Any] = {}
        for eid, pc in pcs.items():
            best: dict[str, Any] = {"fps": 0.0, "freezes": 0}
            for t in pc.getTransceivers():
                c = getattr(t.receiver, "_bench_counter", None)
                if c is None or c.kind != "video" or str(t.mid) not in starts[eid]:
                    continue
                c.stop_window(now)
                fps = (c.frames - starts[eid][str(t.mid)]) / window
                if fps > best["fps"]:
                    best = {"fps": round(fps, 1), "freezes": c.w_gaps_over_1s,
                            "max_gap": round(c.w_max_gap, 2)}
            report[eid] = best
        print(json.dumps({"report": report}), flush=True)
        # stay connected until told (the server reads the layers meanwhile)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for pc in pcs.values():
            await pc.close()


# -- the publisher ----------------------------------------------------------------------


class Camera:
    """A 640x360 picture that changes enough to cost bits: a drifting gradient and a
    moving noise square (aiortc encodes each layer from it)."""

    def __init__(self) -> None:
        self.n = 0
        self.start: float | None = None
        self.noise = [os.urandom(NOISE * NOISE) for _ in range(8)]

    async def frame(self) -> Any:
        import av

        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.n / FPS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame(640, 360, "yuv420p")
        luma = frame.planes[0]
        line = luma.line_size
        row = bytes((x + self.n * 5) & 0xFF for x in range(line))
        data = bytearray(row * 360)
        x0, y0 = (self.n * 7) % (640 - NOISE), (self.n * 3) % (360 - NOISE)
        block = self.noise[self.n % len(self.noise)]
        for y in range(NOISE):
            at = (y0 + y) * line + x0
            data[at : at + NOISE] = block[y * NOISE : (y + 1) * NOISE]
        luma.update(bytes(data))
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = self.n * 90000 // FPS
        frame.time_base = fractions.Fraction(1, 90000)
        self.n += 1
        return frame


def layer_tracks() -> list[Any]:
    from aiortc import MediaStreamTrack
    from aiortc.contrib.media import MediaRelay

    from media.agent import Scaled

    camera = Camera()

    class Source(MediaStreamTrack):
        kind = "video"

        async def recv(self) -> Any:
            return await camera.frame()

    relay = MediaRelay()
    source = Source()
    return [Scaled(relay.subscribe(source, buffered=False), w, h) for w, h, _ in LAYERS]


async def publish(server: str, http: aiohttp.ClientSession) -> Any:
    from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from media.agent import ToneAudio
    from media.sdp import mark_agent_layers

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pc.addTrack(ToneAudio())
    for track in layer_tracks():
        pc.addTrack(track)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = mark_agent_layers(pc.localDescription.sdp, tuple(b for _, _, b in LAYERS))
    async with http.post(f"{server}/join", json={"id": "pub", "role": "bridge_point",
                                                 "sdp": sdp}) as r:
        answer = (await r.json())["sdp"]
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def offers() -> None:
        while True:
            async with http.get(f"{server}/offer", params={"id": "pub", "timeout": "5"}) as r:
                offer = (await r.json())["sdp"]
            if offer:
                await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                async with http.post(f"{server}/answer", json={
                        "id": "pub", "sdp": pc.localDescription.sdp}) as r:
                    await r.read()

    pc._bench_task = asyncio.ensure_future(offers())
    return pc


# -- namespaces -------------------------------------------------------------------------


def make_namespaces(count: int, rate: str) -> tuple[list[tuple[str, str, str]], str]:
    """``count`` namespaces behind shaped veth pairs: [(ns, host ip, ns ip)], the shaper."""
    made: list[tuple[str, str, str]] = []
    base = random.randint(20, 200)
    shaper = "netem"
    for i in range(count):
        ns, host, peer = f"mdsim{base}-{i}", f"mdsh{base}x{i}", f"mdsn{base}x{i}"
        host_ip, ns_ip = f"10.214.{base}.{4 * i + 1}", f"10.214.{base}.{4 * i + 2}"
        for step in (
            ("ip", "netns", "add", ns),
            ("ip", "link", "add", host, "type", "veth", "peer", "name", peer),
            ("ip", "link", "set", peer, "netns", ns),
            ("ip", "addr", "add", f"{host_ip}/30", "dev", host),
            ("ip", "link", "set", host, "up"),
            ("ip", "-n", ns, "addr", "add", f"{ns_ip}/30", "dev", peer),
            ("ip", "-n", ns, "link", "set", peer, "up"),
            ("ip", "-n", ns, "link", "set", "lo", "up"),
        ):
            done = sh(*step)
            if done.returncode:
                remove_namespaces([*made, (ns, host_ip, ns_ip)])
                raise RuntimeError(f"{' '.join(step)}: {done.stderr.strip()}")
        made.append((ns, host_ip, ns_ip))
        for prefix, dev in ((("tc",), host), (("ip", "netns", "exec", ns, "tc"), peer)):
            if shaper == "netem":
                done = sh(*prefix, "qdisc", "add", "dev", dev, "root", "netem", "rate", rate)
                if done.returncode:
                    shaper = "tbf"
            if shaper == "tbf":
                done = sh(*prefix, "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate,
                          "burst", "32kb", "latency", "400ms")
                if done.returncode:
                    remove_namespaces(made)
                    raise RuntimeError(f"cannot shape {dev}: {done.stderr.strip()}")
    return made, shaper


def remove_namespaces(made: list[tuple[str, str, str]]) -> None:
    for ns, _, _ in made:
        sh("ip", "netns", "del", ns)  # the veth pair goes with its end inside


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from _sfu_http import Host

    from media._aiortc_private import restrict_host_addresses

    namespaces, shaper = make_namespaces(args.capped, args.rate)
    lease = restrict_host_addresses(["127.0.0.1"])
    procs: list[asyncio.subprocess.Process] = []
    port = args.port
    ips = ("127.0.0.1", *(h for _, h, _ in namespaces))
    server_task: asyncio.Task[None] | None = None
    try:
        from _sfu_http import serve

        server_task = asyncio.ensure_future(
            serve(Host(ips), port, ips, args.window + args.warmup + 120)
        )
        server = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{server}/layers", params={"source": "pub"}) as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.1)
            pub = await publish(server, http)
            async with http.post(f"{server}/floor", json={"ids": ["pub"]}) as r:
                await r.read()
            plain = [f"bp-{i:02d}" for i in range(args.receivers - args.capped)]
            groups: list[tuple[list[str], list[str], str]] = [
                (plain, [sys.executable, SELF, "--receive", server], "loopback")
            ]
            for i, (ns, host_ip, _) in enumerate(namespaces):
                groups.append(([f"capped-{i}"], ["ip", "netns", "exec", ns, sys.executable,
                                                 SELF, "--receive", f"http://{host_ip}:{port}"],
                               ns))
            for ids, cmd, _ in groups:
                proc = await asyncio.create_subprocess_exec(
                    *cmd, "--ids", ",".join(ids), stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
                procs.append(proc)
            for proc in procs:
                assert proc.stdout is not None
                await asyncio.wait_for(proc.stdout.readline(), 60)
            await asyncio.sleep(args.warmup)
            load = os.getloadavg()
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write((json.dumps({"window": args.window}) + "\n").encode())
                await proc.stdin.drain()
            reports: dict[str, Any] = {}
            for proc in procs:
                assert proc.stdout is not None
                line = await asyncio.wait_for(proc.stdout.readline(), args.window + 60)
                reports.update(json.loads(line)["report"])
            async with http.get(f"{server}/layers", params={"source": "pub"}) as r:
                layers = await r.json()
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(b"{}\n")
                await proc.stdin.drain()
            pub._bench_task.cancel()
            await pub.close()
            async with http.post(f"{server}/quit") as r:
                await r.read()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        if server_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server_task, 15)
        lease.release()
        remove_namespaces(namespaces)
    rows = {eid: {**reports.get(eid, {}), **layers.get(eid, {})} for eid in sorted(reports)}
    capped = [r for e, r in rows.items() if e.startswith("capped")]
    others = [r for e, r in rows.items() if not e.startswith("capped")]
    return {
        "bench": "simulcast",
        "machine": "2-core VM shared with other engineers' test runs: figures are noisy",
        "shaper": shaper if shaper == "netem" else "tbf (this kernel has no sch_netem)",
        "cap": args.rate, "receivers": args.receivers, "capped": args.capped,
        "source_fps": FPS, "layers": [f"{w}x{h}" for w, h, _ in LAYERS],
        "window_seconds": args.window, "loadavg_at_window": load,
        "capped_summary": {
            "low_layer": sum(1 for r in capped if r.get("layer") == 0),
            "min_fps": min((r.get("fps", 0) for r in capped), default=None),
            "freezes_over_1s": sum(r.get("freezes", 0) for r in capped),
        },
        "others_summary": {
            "high_layer": sum(1 for r in others if r.get("layer") == len(LAYERS) - 1),
            "min_fps": min((r.get("fps", 0) for r in others), default=None),
            "freezes_over_1s": sum(r.get("freezes", 0) for r in others),
        },
        "per_receiver": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--receive", default="", help=argparse.SUPPRESS)
    ap.add_argument("--ids", default="", help=argparse.SUPPRESS)
    ap.add_argument("--receivers", type=int, default=20)
    ap.add_argument("--capped", type=int, default=5)
    ap.add_argument("--rate", default="300kbit")
    ap.add_argument("--port", type=int, default=18441)
    ap.add_argument("--warmup", type=float, default=25.0)
    ap.add_argument("--window", type=float, default=15.0)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    if args.receive:
        asyncio.run(receive(args.receive, args.ids.split(","), args.window))
        os._exit(0)
    if os.geteuid() != 0:
        sys.exit("bench/simulcast.py needs root (network namespaces)")
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    os._exit(0)


if __name__ == "__main__":
    main()
