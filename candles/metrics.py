"""Prometheus metrics of the candle builder, in a registry of its own (served on CANDLES_METRICS_PORT)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

REGISTRY = CollectorRegistry()

ENTRIES = Counter("candles_entries_total", "Stream entries folded into candles (committed)", registry=REGISTRY)
SKIPPED = Counter(
    "candles_quotes_skipped_total", "Quotes left out of the candles (unknown asset, other scale, bad price)",
    ["reason"], registry=REGISTRY,
)  # fmt: skip
MALFORMED = Counter("candles_malformed_entries_total", "Stream entries that are not a command", registry=REGISTRY)
GAPS = Counter("candles_gaps_total", "Times the stream had been trimmed past the builder's cursor", registry=REGISTRY)
ERRORS = Counter(
    "candles_batch_errors_total", "Batches that failed on Redis or PostgreSQL (retried)", registry=REGISTRY
)
CURSOR_MS = Gauge("candles_cursor_ms", "Time (ms) of the last stream entry in the candles", registry=REGISTRY)
BACKFILLED = Counter("candles_backfilled_total", "Buckets added from the venue's history", registry=REGISTRY)
BACKFILL_ERRORS = Counter(
    "candles_backfill_errors_total", "Venue klines requests that failed or answered garbage", registry=REGISTRY
)


def serve(host: str, port: int) -> None:
    start_http_server(port, addr=host, registry=REGISTRY)
