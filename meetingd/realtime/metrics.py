"""Prometheus figures of the real-time layer, read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from meetingd.realtime.server import RealtimeServer


class RealtimeCollector(Collector):
    def __init__(self, server: RealtimeServer) -> None:
        self._server = server

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s = self._server
        yield GaugeMetricFamily(
            "meetingd_realtime_connections",
            "Authenticated socket.io connections on this process",
            value=len(s.namespace.connections),
        )
        yield GaugeMetricFamily(
            "meetingd_realtime_meetings",
            "Meetings with connections on this process",
            value=len(s.sequencer.meetings),
        )
        yield CounterMetricFamily(
            "meetingd_realtime_events_fanned_out",
            "Meeting events sent to their rooms on this process (each once per room)",
            value=s.sequencer.delivered,
        )
        deliveries = CounterMetricFamily(
            "meetingd_realtime_deliveries",
            "Room events delivered to connections here, by how (written straight to an idle "
            "connection's transport, or queued behind what it had not written yet)",
            labels=["path"],
        )
        deliveries.add_metric(["direct"], s.deliveries.direct)
        deliveries.add_metric(["queued"], s.deliveries.queued)
        yield deliveries
        yield CounterMetricFamily(
            "meetingd_realtime_slow_consumers_dropped",
            "Connections dropped because their client read nothing (outgoing queue full)",
            value=s.namespace.slow_dropped,
        )
        yield CounterMetricFamily(
            "meetingd_realtime_allocator_trims",
            "Times the allocator was made to give back memory freed after a burst of work",
            value=s.memory.trims,
        )
        yield CounterMetricFamily(
            "meetingd_realtime_allocator_trimmed_bytes",
            "Resident memory given back by those trims",
            value=s.memory.released,
        )
        yield CounterMetricFamily(
            "meetingd_realtime_events_healed",
            "Meeting events read from the database log because they did not arrive in time",
            value=s.sequencer.healed,
        )
        if s.bus is not None:
            yield GaugeMetricFamily(
                "meetingd_realtime_redis_up",
                "1 while Redis answers the event bus (publishing and subscription), else 0",
                value=1 if s.bus.outage.up else 0,
            )
            yield CounterMetricFamily(
                "meetingd_realtime_bus_events_received",
                "Meeting events received from the other processes through Redis",
                value=s.bus.received,
            )
            yield CounterMetricFamily(
                "meetingd_realtime_bus_messages_dropped",
                "Messages not published to Redis (it was away or behind); healed from the log",
                value=s.bus.dropped,
            )
        if s.directory is not None:
            streams = GaugeMetricFamily(
                "meetingd_media_cascade_streams",
                "Media tracks crossing between this node and another (cascading), by peer "
                "node and direction: one per published track wanted there, whatever the "
                "number of receivers behind it",
                labels=["peer", "direction"],
            )
            sent = CounterMetricFamily(
                "meetingd_media_cascade_bytes",
                "Bytes of media and feedback sent to and received from another media node",
                labels=["peer", "direction"],
            )
            for peer, figures in s.directory.node.stats().items():
                streams.add_metric([peer, "out"], figures["streams_out"])
                streams.add_metric([peer, "in"], figures["streams_in"])
                sent.add_metric([peer, "out"], figures["bytes_out"])
                sent.add_metric([peer, "in"], figures["bytes_in"])
            yield streams
            yield sent
            yield GaugeMetricFamily(
                "meetingd_media_cascade_peers",
                "Other media nodes registered in Redis (cascading)",
                value=len(s.directory.node.peers),
            )
        yield GaugeMetricFamily(
            "meetingd_media_rooms",
            "Media rooms (meetings with media) on this process",
            value=len(s.media.plane.rooms) if s.media is not None else 0,
        )
