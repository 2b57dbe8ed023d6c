"""How long the media plane takes to apply a policy change (floor, mute, chair page).

Rooms of N bridge points plus a chair, signalling only (no peer connections, no media):
this isolates the policy work that runs synchronously on every change, before the next
packet is forwarded. The issue asks for changes to take effect within 300 ms.

    .venv/bin/python bench/policy_switch.py [--n 40,500,2000] [--repeat 50]

Prints one JSON document: per N, the median and max milliseconds of one change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

from media import Kind, MediaConfig, MediaPlane


async def measure(n: int, repeat: int) -> dict[str, object]:
    plane = MediaPlane(MediaConfig(listen_ips=("127.0.0.1",)))
    room = plane.create_room(f"bench-{n}")
    room.add_endpoint("chair", "chair")
    for i in range(n):
        room.add_endpoint(f"bp{i:04d}", "bridge_point")
    for ep in room.endpoints.values():
        ep.published_kinds = lambda: {Kind.AUDIO, Kind.VIDEO}  # type: ignore[method-assign]
    pages = max(1, (n + 15) // 16)
    timings: dict[str, list[float]] = {"floor": [], "mute": [], "page": []}
    for r in range(repeat):
        speaker = f"bp{(r * 7) % n:04d}"
        t0 = time.perf_counter()
        room.set_floor([speaker])
        timings["floor"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        room.set_muted(speaker, r % 2 == 0)
        timings["mute"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        room.set_video_page("chair", r % pages)
        timings["page"].append(time.perf_counter() - t0)
    await plane.close()
    return {
        "n": n,
        **{
            f"{k}_ms": {
                "median": round(statistics.median(v) * 1000, 3),
                "max": round(max(v) * 1000, 3),
            }
            for k, v in timings.items()
        },
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="40,500,2000")
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    results = []
    for n in (int(x) for x in args.n.split(",")):
        print(f"policy_switch: N={n}", file=sys.stderr)
        results.append(await measure(n, args.repeat))
    print(
        json.dumps(
            {"bench": "policy_switch", "loadavg": os.getloadavg()[0], "results": results}, indent=1
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
