"""Media link health in Prometheus (bitrate, loss, jitter, round trip, fps per connection)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from meetingd.services.health import HealthService


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
