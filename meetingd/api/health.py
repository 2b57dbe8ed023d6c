"""The operator's view of media link health (bitrate, loss, jitter, round trip, fps)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from meetingd.api.context import services
from meetingd.api.routing import Call, Routes
from meetingd.schemas import Response
from meetingd.services.health import HealthService

routes = Routes()


class MediaHealthOut(Response):
    subject: str
    connection: str
    role: str
    state: str
    bitrate_in: int
    bitrate_out: int
    loss_in: float
    loss_out: float
    jitter_in_ms: float
    jitter_out_ms: float
    rtt_ms: float | None
    fps_in: float
    fps_out: float
    last_keyframe_at: datetime | None
    measured_at: datetime


@routes.route(
    "GET",
    "/api/v1/meetings/{meeting_id}/media-health",
    summary="Link health of every media connection of the meeting",
    tag="health",
    response=list[MediaHealthOut],
    errors=(403, 404),
)
async def media_health(call: Call[Any, Any]) -> list[MediaHealthOut]:
    """For the meeting's operators, chair and secretary. Figures are refreshed every
    `media.stats_interval_seconds` while the connection lasts; `*_in` is what the server
    receives from the participant, `*_out` what it sends to it."""
    rows = await services(call.request).health.for_meeting(call.principal, call.path["meeting_id"])
    return [MediaHealthOut.of(h) for h in rows]


class MediaHealthCollector(Collector):
    """Prometheus gauges per media connection, read from the health service at scrape time."""

    FIELDS = (
        ("bitrate_in_bps", "bitrate_in", "Bits per second received from the participant"),
        ("bitrate_out_bps", "bitrate_out", "Bits per second sent to the participant"),
        ("loss_in_ratio", "loss_in", "Packet loss on what the participant sends"),
        ("loss_out_ratio", "loss_out", "Packet loss the participant reports"),
        ("jitter_in_ms", "jitter_in_ms", "Jitter on what the participant sends"),
        ("rtt_ms", "rtt_ms", "Round trip to the participant"),
        ("fps_in", "fps_in", "Video frames per second received from the participant"),
    )

    def __init__(self, health: HealthService) -> None:
        self._health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        current = self._health.current()
        for name, attr, doc in self.FIELDS:
            family = GaugeMetricFamily(
                f"meetingd_media_{name}", doc, labels=["meeting", "subject", "connection"]
            )
            for meeting_id, rows in current.items():
                for h in rows:
                    value = getattr(h, attr)
                    if value is not None:
                        family.add_metric([str(meeting_id), h.subject, h.connection], float(value))
            yield family
        connected = GaugeMetricFamily(
            "meetingd_media_connections", "Media connections per meeting", labels=["meeting"]
        )
        for meeting_id, rows in current.items():
            connected.add_metric([str(meeting_id)], float(len(rows)))
        yield connected
