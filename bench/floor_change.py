"""How long one floor change blocks the event loop, done the way meetingd's bridge does it.

A meeting of N endpoints (one chair, N/10 delegates, bridge points; signalling only, see
``_policy_room``) gets a series of floor changes: each names one new speaker and one newly
muted endpoint. Two ways of applying one change are timed:

* ``one_call``: ``room.set_floor(floor, muted)``, the floor holders and the whole muted
  set together, one policy run;
* ``two_step``: ``room.set_floor(floor)`` then ``room.set_muted(eid, ...)`` for every
  endpoint, what the bridge did before ``set_floor`` took the muted set;
* ``bridge``: the whole path a floor change takes in meetingd: a committed ``floor.granted``
  (or ``floor.muted``, ``floor.revoked``) stream event handed to the media bridge's
  ``on_event``, which parses the typed event, updates its floor mirror and applies it.

    .venv/bin/python bench/floor_change.py [--n 40,100,500] [--repeat 30] [--json-out F]

Prints one JSON document: per N and way, the median, p95 and max milliseconds of one
change, the policy runs it took, and the 1-minute load average when it was measured.
Goal: bridge under 30 ms at N=500.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from _media_common import progress
from _policy_room import meeting_roles, ms_summary, signalling_room

from media import MediaConfig, MediaPlane, Room
from meetingd.domain import MeetingEvent
from meetingd.events import FloorGranted, FloorMuted, FloorRevoked, to_data
from meetingd.realtime.media_bridge import MediaBridge, _FloorMirror, _MeetingMedia

MAX_N = 2000

Change = Callable[[Room, list[str], set[str]], None]


def one_call(room: Room, floor: list[str], muted: set[str]) -> None:
    room.set_floor(floor, muted)


def two_step(room: Room, floor: list[str], muted: set[str]) -> None:
    room.set_floor(floor)
    for eid in room.endpoints:
        room.set_muted(eid, eid in muted)


def takes_muted_set() -> bool:
    """False on a media plane from before ``set_floor(ids, muted)`` (for "before" figures)."""
    return "muted" in inspect.signature(Room.set_floor).parameters


async def measure(plane: MediaPlane, n: int, repeat: int, change: Change) -> dict[str, object]:
    roles = meeting_roles(n)
    room = signalling_room(plane, f"floor-{change.__name__}-{n}", roles)
    bridge_points = [eid for eid, role in roles.items() if role == "bridge_point"]
    change(room, bridge_points[-1:], set())  # the policy reads who publishes
    runs_before = getattr(room, "policy_runs", None)
    times: list[float] = []
    for r in range(repeat):
        floor = [bridge_points[(r * 7) % len(bridge_points)]]
        muted = {bridge_points[(r * 3 + 1) % len(bridge_points)]}
        t0 = time.perf_counter()
        change(room, floor, muted)
        times.append(time.perf_counter() - t0)
    runs_after = getattr(room, "policy_runs", None)
    await plane.close_room(room.room_id)
    return {
        "ms": ms_summary(times),
        "policy_runs_per_change": (
            round((runs_after - runs_before) / repeat, 2)
            if runs_before is not None and runs_after is not None
            else None
        ),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


async def _no_emit(sid: str, event: object) -> None:
    return None


async def measure_bridge(plane: MediaPlane, n: int, repeat: int) -> dict[str, object]:
    """Floor events through ``MediaBridge.on_event``, as the sequencer delivers them."""
    roles = meeting_roles(n)
    room = signalling_room(plane, f"floor-bridge-{n}", roles)
    bridge = MediaBridge(plane, services=None, emit=_no_emit)  # type: ignore[arg-type]
    # The room as the bridge holds it after every endpoint's first offer (set up directly:
    # joining through real offers is not what is timed here).
    bridge._meetings[1] = _MeetingMedia(
        room=room, chair_subject="user:1", floor=_FloorMirror(), endpoints={e: e for e in roles}
    )
    subjects = [eid.partition("#")[0] for eid, r in roles.items() if r == "bridge_point"]
    now = datetime.now(UTC)
    seq = 0

    async def deliver(event: object) -> float:
        nonlocal seq
        seq += 1
        ev = MeetingEvent(1, seq, event.type, to_data(event), now)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        await bridge.on_event(ev)
        return time.perf_counter() - t0

    def granted(subject: str) -> FloorGranted:
        return FloorGranted(
            subject=subject, name=subject, state="granted", requested_at=now,
            granted_at=now, muted=False,
        )  # fmt: skip

    await deliver(granted(subjects[-1]))  # the policy reads who publishes
    await deliver(FloorRevoked(subject=subjects[-1], was="granted", by="user:1"))
    runs_before = room.policy_runs
    times: list[float] = []
    for r in range(repeat):
        speaker = subjects[(r * 7) % len(subjects)]
        times.append(await deliver(granted(speaker)))
        times.append(await deliver(FloorMuted(subject=speaker, muted=True)))
        times.append(await deliver(FloorRevoked(subject=speaker, was="granted", by="user:1")))
    runs = (room.policy_runs - runs_before) / len(times)
    await plane.close_room(room.room_id)
    return {
        "ms": ms_summary(times),
        "events": len(times),
        "policy_runs_per_change": round(runs, 2),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


async def run(sizes: list[int], repeat: int) -> dict[str, object]:
    ways: list[Change] = [one_call, two_step] if takes_muted_set() else [two_step]
    results = []
    plane = MediaPlane(MediaConfig(listen_ips=("127.0.0.1",)))  # started by its first room
    try:
        for n in sizes:
            point: dict[str, object] = {"n": n}
            for way in ways:
                progress(f"floor_change: N={n} {way.__name__}")
                point[way.__name__] = await measure(plane, n, repeat, way)
            progress(f"floor_change: N={n} bridge")
            point["bridge"] = await measure_bridge(plane, n, repeat)
            results.append(point)
    finally:
        await plane.close()
    return {
        "bench": "floor_change",
        "repeat": repeat,
        "python": sys.version.split()[0],
        "results": results,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", default="40,100,500", help=f"room sizes (each at most {MAX_N})")
    ap.add_argument("--repeat", type=int, default=30, help="floor changes timed per N and way")
    ap.add_argument("--json-out", help="also write the JSON document to this file")
    args = ap.parse_args()
    sizes = [int(x) for x in args.n.split(",")]
    if any(not 2 < n <= MAX_N for n in sizes) or not 1 <= args.repeat <= 1000:
        ap.error(f"each N in 3..{MAX_N}, --repeat in 1..1000")
    text = json.dumps(asyncio.run(run(sizes, args.repeat)), indent=1)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
