"""Prometheus metrics of one engine process, in a registry of its own (served on ENGINE_METRICS_PORT)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class EngineMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.commands_applied = Counter(
            "engine_commands_applied_total", "Stream entries applied to the trading state", ["type"], registry=r
        )
        self.batch_size = Histogram(
            "engine_batch_size", "Entries per XREADGROUP batch", registry=r,
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
        )  # fmt: skip
        self.stream_lag = Gauge("engine_stream_lag", "Stream entries after the last applied one", registry=r)
        self.snapshot_age = Gauge("engine_snapshot_age_seconds", "Wall time since the newest snapshot", registry=r)
        self.snapshot_duration = Histogram(
            "engine_snapshot_duration_seconds", "Time to capture and write a snapshot", registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )  # fmt: skip
        self.snapshot_capture = Histogram(
            "engine_snapshot_capture_seconds", "Start to end of a snapshot's capture, while no entry is applied "
            "(its slices hold the loop ~1-3 ms each; encoding and writing run in a worker thread)", registry=r,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1),
        )  # fmt: skip
        self.snapshot_failures = Counter("engine_snapshot_failures_total", "Snapshots that failed", registry=r)
        self.replies_sent = Counter("engine_replies_sent_total", "Replies queued to a gateway stream", registry=r)
        self.replies_dropped = Counter(
            "engine_replies_dropped_total", "Replies dropped (gateway absent or its queue full)", ["reason"],
            registry=r,
        )  # fmt: skip
        self.ack_retries = Counter(
            "engine_ack_retries_total", "Batch acknowledgements retried after a Redis connection error or "
            "timeout (the batch's replies held until one lands)", registry=r,
        )  # fmt: skip
        self.dead_letters = Counter(
            "engine_dead_letters_total", "Malformed entries copied to the dead-letter stream", registry=r
        )
        self.pending_trade_rows = Gauge(
            "engine_pending_trade_rows", "Closed trades applied but not yet committed to PostgreSQL", registry=r
        )
        self._add_event_metrics(r)
        self.trade_rows_committed = Counter(
            "engine_trade_rows_committed_total", "Closed-trade rows committed (group commits)", registry=r
        )
        self.trade_commit_failures = Counter(
            "engine_trade_commit_failures_total", "Failed closed-trade group commits (retried)", registry=r
        )
        self.trade_rows_quarantined = Counter(
            "engine_trade_rows_quarantined_total",
            "Closed-trade rows PostgreSQL refused, set aside in closed_trades_quarantine (page someone)",
            registry=r,
        )
        self.replayed_entries = Counter(
            "engine_replayed_entries_total", "Entries applied by start-up replay (XRANGE)", registry=r
        )
        self.fenced_writes = Counter(
            "engine_fenced_writes_total", "Side effects refused because a newer leader holds the lease (its epoch "
            "is higher): a paused or cut-off leader's, by what it tried to write", ["what"], registry=r,
        )  # fmt: skip
        self.leader = Gauge("engine_leader", "1 while this instance holds the single-writer lease", registry=r)
        self.gateways = Gauge("engine_gateways", "Gateways with an open StreamReplies call", registry=r)

    def _add_event_metrics(self, r: CollectorRegistry) -> None:
        self.pending_event_rows = Gauge(
            "engine_pending_event_rows", "Account events applied but not yet committed to PostgreSQL", registry=r
        )
        self.events_published = Counter(
            "engine_account_events_published_total", "Committed account events handed to event subscribers",
            registry=r,
        )  # fmt: skip
        self.event_subscribers_dropped = Counter(
            "engine_event_subscribers_dropped_total", "StreamAccountEvents calls ended for falling behind",
            registry=r,
        )  # fmt: skip

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
