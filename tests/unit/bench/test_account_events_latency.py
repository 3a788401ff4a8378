"""The account-events benchmark's per-socket bookkeeping: what it counts as lost, duplicated and timed."""

from __future__ import annotations

from bench.account_events_latency import Listener, Tally, _distribution


def _listener(measure_from_ms: float = 1_000) -> Listener:
    return Listener("ws://unused", "token", "user-1", Tally(measure_from_ms=measure_from_ms))


def test_events_in_order_are_counted_once_and_timed_from_their_stream_time() -> None:
    listener = _listener()
    listener.receive({"type": "SUBSCRIBED", "seq": 0}, 0)
    listener.receive({"type": "DEPOSIT", "seq": 1, "ts": 500}, 600)  # before the load: not timed
    listener.receive({"type": "POSITION_OPENED", "seq": 2, "ts": 1_000}, 1_012)
    listener.receive({"type": "BALANCE", "seq": 3, "ts": 1_000}, 1_030)
    tally = listener.tally
    assert listener.subscribed.is_set()
    assert (tally.events, tally.duplicated, tally.skipped) == (3, 0, 0)
    assert tally.latencies == [12, 30]
    assert listener.last_seq == 3


def test_a_repeated_seq_is_a_duplicate_and_a_skipped_one_is_lost() -> None:
    listener = _listener()
    for seq in (1, 2, 2, 1, 5, 6):
        listener.receive({"type": "BALANCE", "seq": seq, "ts": 2_000}, 2_001)
    tally = listener.tally
    assert tally.duplicated == 2
    assert tally.skipped == 2  # 3 and 4 never came
    assert listener.last_seq == 6
    assert len(tally.latencies) == 4


def test_resync_moves_the_position_and_is_counted() -> None:
    listener = _listener()
    listener.receive({"type": "RESYNC", "seq": 40}, 0)
    listener.receive({"type": "BALANCE", "seq": 41, "ts": 2_000}, 2_005)
    assert (listener.tally.resyncs, listener.tally.skipped, listener.last_seq) == (1, 0, 41)


def test_distribution_reports_percentiles_and_max() -> None:
    figures = _distribution([float(v) for v in range(101)])  # 0..100: the q-th value is q
    assert figures == {"p50": 50.0, "p90": 90.0, "p99": 99.0, "max": 100.0}
    assert _distribution([]) == {}
