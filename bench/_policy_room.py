"""Signalling-only media rooms for the policy benchmarks (no peer connections, no media).

A room is filled the way meetingd's media bridge fills it (``room.add_endpoint(eid, role,
on_offer=...)``, ids ``"<subject>#<sid>"``) and every endpoint is made to report an audio
and a video track, which is all the policy reads. What is left to time is the synchronous
work a policy change does before the next packet is forwarded.
"""

from __future__ import annotations

import statistics

from _media_common import percentile

from media import Kind, MediaPlane, Room


async def _no_offer(sdp: str) -> None:
    return None


def meeting_roles(n: int, delegates: int | None = None) -> dict[str, str]:
    """``n`` endpoints: one chair, ``delegates`` (default n // 10) delegates, bridge points."""
    d = n // 10 if delegates is None else delegates
    roles = {"user:1#chair": "chair"}
    roles.update({f"user:{100 + i}#d{i}": "delegate" for i in range(d)})
    roles.update({f"bridge_point:{i}#b{i}": "bridge_point" for i in range(n - 1 - d)})
    return roles


def signalling_room(plane: MediaPlane, room_id: str, roles: dict[str, str]) -> Room:
    """A room of ``roles`` (endpoint id -> role) in which everybody publishes.

    The policy reads who publishes on its next run: make one change before timing.
    """
    room = plane.create_room(room_id)
    for eid, role in roles.items():
        room.add_endpoint(eid, role, on_offer=_no_offer)
    for ep in room.endpoints.values():
        ep.published_kinds = lambda: {Kind.AUDIO, Kind.VIDEO}  # type: ignore[method-assign]
    return room


def ms_summary(seconds: list[float]) -> dict[str, float]:
    """Median, 95th percentile (nearest rank) and max of durations, in milliseconds."""
    p95 = percentile(seconds, 95)
    return {
        "median": round(statistics.median(seconds) * 1000, 3),
        "p95": round((p95 or 0.0) * 1000, 3),
        "max": round(max(seconds) * 1000, 3),
    }
