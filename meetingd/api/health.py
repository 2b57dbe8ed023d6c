"""Media link health in Prometheus: aggregates for anyone, per-connection figures on a token.

The per-connection series name meetings, participants and socket ids, so they are kept off the
public scrape (see ``server.metrics_token``): :class:`MediaHealthCollector` yields only
process-wide aggregates, :class:`MediaHealthDetailCollector` the labelled series.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from meetingd.services.health import HealthService

#: (metric name, MediaHealth attribute, help text) of each per-connection figure.
FIELDS = (
    ("bitrate_in_bps", "bitrate_in", "Bits per second received from the participant"),
    ("bitrate_out_bps", "bitrate_out", "Bits per second sent to the participant"),
    ("loss_in_ratio", "loss_in", "Packet loss on what the participant sends"),
    ("loss_out_ratio", "loss_out", "Packet loss the participant reports"),
    ("jitter_in_ms", "jitter_in_ms", "Jitter on what the participant sends"),
    ("rtt_ms", "rtt_ms", "Round trip to the participant"),
    ("fps_in", "fps_in", "Video frames per second received from the participant"),
)


class MediaHealthCollector(Collector):
    """Aggregates over every media connection of this process: count, mean and maximum.

    Nothing here identifies a meeting, a participant or a connection.
    """

    FIELDS = FIELDS

    def __init__(self, health: HealthService) -> None:
        self._health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = [h for hs in self._health.current().values() for h in hs]
        yield GaugeMetricFamily(
            "meetingd_media_links", "Media connections with recent figures", value=len(rows)
        )
        for name, attr, doc in FIELDS:
            values = [float(v) for h in rows if (v := getattr(h, attr)) is not None]
            mean = sum(values) / len(values) if values else 0.0
            yield GaugeMetricFamily(f"meetingd_media_{name}_mean", f"{doc}: mean", value=mean)
            yield GaugeMetricFamily(
                f"meetingd_media_{name}_max", f"{doc}: maximum", value=max(values, default=0.0)
            )


class MediaHealthDetailCollector(Collector):
    """Prometheus gauges per media connection (meeting, subject, connection labels)."""

    def __init__(self, health: HealthService) -> None:
        self._health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        current = self._health.current()
        for name, attr, doc in FIELDS:
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
