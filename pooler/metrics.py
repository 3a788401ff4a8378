"""The pooler's Prometheus metrics, in a registry of their own (one per pooler instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PoolerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.frames = Counter(
            "pooler_feed_frames", "Frames received from the venue, by kind", ["source", "kind"], registry=r
        )
        self.parse_errors = Counter(
            "pooler_feed_parse_errors",
            "Frames refused (not valid protocol, or a top beyond the platform's range), by reason",
            ["source", "reason"],
            registry=r,
        )
        self.venue_errors = Counter(
            "pooler_feed_venue_errors", "Error frames sent by the venue, by code", ["source", "code"], registry=r
        )
        self.reconnects = Counter(
            "pooler_feed_reconnects", "Connection attempts after the first one", ["source"], registry=r
        )
        self.connected = Gauge("pooler_feed_connected", "1 while the venue websocket is open", ["source"], registry=r)
        self.watchdog_trips = Counter(
            "pooler_feed_watchdog_trips", "Connections dropped for sending nothing", ["source"], registry=r
        )
        self.feed_delay = Histogram(
            "pooler_feed_delay_seconds",
            "Receipt time minus the frame's event time E (venue clock)",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_dropped = Counter(
            "pooler_ingest_dropped", "Feed events dropped because the ingest queue was full", registry=r
        )
        self.active_source = Gauge(
            "pooler_feed_active", "1 for the source whose quotes are published", ["source"], registry=r
        )
        self.fallback = Gauge("pooler_feed_fallback", "1 while auto mode publishes simulated prices", registry=r)
        self.quote_age = Gauge(
            "pooler_quote_age_seconds", "Age of the latest quote of the published source", ["asset"], registry=r
        )
        self.publish_lag = Histogram(
            "pooler_publish_lag_seconds",
            "Publish completion minus its scheduled tick",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.publishes = Counter("pooler_publishes", "Price updates written to the stream and channel", registry=r)
        self.publish_skipped = Counter("pooler_publish_skipped", "Ticks with no fresh quote to publish", registry=r)
        self.stream_length = Gauge(
            "pooler_stream_length",
            "Entries in the engine's stream after the last publish (the engine trims it; "
            "a steady rise means no engine is trimming)",
            registry=r,
        )
        self.publish_errors = Counter("pooler_publish_errors", "Ticks whose Redis write failed", registry=r)
