"""Per-endpoint health figures, computed from our own counters and RTCP."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EndpointStats:
    """Health of one endpoint over the last stats interval.

    ``*_in`` is what the server receives from the endpoint (its published tracks, loss
    and jitter measured by the server); ``*_out`` what the server sends to it (loss and
    jitter as the endpoint reports them in RTCP receiver reports). ``rtt_ms`` comes from
    the LSR/DLSR of those reports. ``fps`` counts frames by RTP marker bit.
    """

    endpoint_id: str
    role: str
    state: str
    bitrate_in: int
    bitrate_out: int
    packets_in: int
    packets_out: int
    packets_dropped: int
    loss_in: float
    loss_out: float
    jitter_in_ms: float
    jitter_out_ms: float
    rtt_ms: float | None
    fps_in: float
    fps_out: float
    last_keyframe_at: float | None
    keyframe_requests: int
    #: video slots to this endpoint paused for heavy loss right now
    video_paused: int = 0
