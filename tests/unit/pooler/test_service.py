"""The bounded queue between the socket and the normaliser: it never blocks the feed, and when full it
drops the oldest event (a newer top of the same market supersedes it) and counts the drop."""

from __future__ import annotations

from pooler.config import PoolerSettings
from pooler.events import Heartbeat
from pooler.service import Pooler


def test_full_queue_drops_the_oldest_event_and_counts_it() -> None:
    pooler = Pooler(PoolerSettings(feed="sim", feed_queue_size=2))
    events = [Heartbeat("sim", 1, "BTC_USDC", float(i), i * 1000) for i in range(3)]
    for event in events:
        pooler.enqueue(event)
    assert [pooler.ingest_queue.get_nowait() for _ in range(2)] == events[1:]
    assert pooler.metrics.registry.get_sample_value("pooler_ingest_dropped_total") == 1
