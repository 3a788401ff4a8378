"""bench.wrk_report: reading mesh.lua's JSON and the services' Prometheus text, and the report built from
them (pure: no servers)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bench import wrk_report
from bench.wrk_report import WrkResult

# what mesh.lua's done() writes for a mixed run (Lua writes an empty table as {}, never [])
LUA_MIXED = json.dumps(
    {
        "scenario": "mixed",
        "per_op": 1,
        "threads": 2,
        "duration_us": 2_000_000,
        "requests": 10,
        "bytes": 999,
        "errors": {"connect": 0, "read": 1, "write": 0, "status": 2, "timeout": 3},
        "latency_us": {"min": 100, "max": 9000, "mean": 1500, "stdev": 10},
        "percentiles_us": [[90, 4000], [50, 1000], [99, 8000]],
        "statuses": {"open": {"201": 4}, "close": {"201": 2, "404": 1}, "balance": {"200": 2, "503": 1}},
        "samples_us": {"open": [1000, 3000, 2000, 4000], "close": [5000, 6000, 9000], "balance": [100, 200, 300]},
    }
)


def result(**changes: object) -> WrkResult:
    base = wrk_report.parse_wrk_result(LUA_MIXED)
    return WrkResult(**{**base.__dict__, **changes})


def test_parse_reads_every_field_and_closes_the_distribution_with_the_maximum() -> None:
    parsed = wrk_report.parse_wrk_result(LUA_MIXED)
    assert parsed.scenario == "mixed"
    assert parsed.threads == 2
    assert parsed.duration_s == 2.0
    assert parsed.requests == 10
    assert parsed.socket_errors == {"connect": 0, "read": 1, "write": 0, "timeout": 3, "status": 2}
    # sorted by percentile; wrk's own percentile(100) is not used, the maximum is
    assert parsed.percentiles_us == [(50.0, 1000.0), (90.0, 4000.0), (99.0, 8000.0), (100.0, 9000.0)]
    assert parsed.statuses["close"] == {"201": 2, "404": 1}
    assert parsed.samples_us["close"] == [5000.0, 6000.0, 9000.0]


def test_parse_accepts_lua_empty_tables_for_lists() -> None:
    raw = json.loads(LUA_MIXED) | {"samples_us": {}, "statuses": {}, "percentiles_us": {}, "requests": 0}
    parsed = wrk_report.parse_wrk_result(json.dumps(raw))
    assert parsed.samples_us == {}
    assert parsed.statuses == {}
    assert parsed.percentiles_us == []


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert wrk_report.percentile(values, 50) == 50
    assert wrk_report.percentile(values, 99) == 99
    assert wrk_report.percentile(values, 99.5) == 100
    assert wrk_report.percentile(values, 100) == 100
    assert wrk_report.percentile(values, 0) == 1
    assert wrk_report.percentile([7.0], 90) == 7
    assert math.isnan(wrk_report.percentile([], 50))


@given(st.lists(st.floats(min_value=0, max_value=1e7), min_size=1), st.floats(0, 100), st.floats(0, 100))
def test_percentile_is_a_sample_and_grows_with_p(values: list[float], p: float, q: float) -> None:
    ordered = sorted(values)
    low, high = sorted((p, q))
    assert wrk_report.percentile(ordered, low) in ordered
    assert wrk_report.percentile(ordered, low) <= wrk_report.percentile(ordered, high)


def test_from_distribution_interpolates_between_wrk_points() -> None:
    points = [(50.0, 1000.0), (90.0, 5000.0), (100.0, 9000.0)]
    assert wrk_report.from_distribution(points, 50) == 1000
    assert wrk_report.from_distribution(points, 70) == 3000
    assert wrk_report.from_distribution(points, 10) == 1000
    assert wrk_report.from_distribution(points, 100) == 9000
    assert math.isnan(wrk_report.from_distribution([], 50))


def test_endpoint_rows_use_per_request_samples() -> None:
    rows = {row["endpoint"]: row for row in wrk_report.endpoint_rows(wrk_report.parse_wrk_result(LUA_MIXED))}
    assert list(rows) == ["POST /trade/create", "POST /trade/close", "GET /balance"]
    close = rows["POST /trade/close"]
    assert close["requests"] == 3
    assert close["per_s"] == 1.5
    assert close["ok"] == 2
    assert close["non_2xx"] == {"404": 1}
    assert close["latency_ms"] == {"p50": 6.0, "p90": 9.0, "p99": 9.0, "max": 9.0}
    assert close["latency_source"] == "per-request"


def test_endpoint_rows_of_one_endpoint_use_wrk_distribution_and_count() -> None:
    single = result(statuses={"open": {"201": 12, "503": 1}}, samples_us={})
    (row,) = wrk_report.endpoint_rows(single)
    # wrk's count, not the server's (which includes requests in flight when wrk stopped)
    assert row["requests"] == 10
    assert row["latency_source"] == "wrk"
    assert row["latency_ms"]["p50"] == 1.0
    assert row["latency_ms"]["max"] == 9.0


def test_endpoint_rows_without_samples_of_several_endpoints_have_no_latency() -> None:
    rows = wrk_report.endpoint_rows(result(samples_us={}))
    assert {row["latency_source"] for row in rows} == {"none"}
    assert all(math.isnan(row["latency_ms"]["p99"]) for row in rows)


GATEWAY_METRICS = """\
# HELP gateway_http_requests_total HTTP requests
# TYPE gateway_http_requests_total counter
gateway_http_requests_total{method="POST",route="/api/v1/trade/create",status="201"} 120.0
gateway_http_requests_total{method="POST",route="/api/v1/trade/create",status="503"} 3.0
gateway_http_requests_total{method="GET",route="/api/v1/balance",status="200"} 7.0
# HELP gateway_http_requests_created HTTP requests
# TYPE gateway_http_requests_created gauge
gateway_http_requests_created{method="GET",route="/api/v1/balance",status="200"} 1.7e9
"""


def test_counter_totals_sum_by_a_label_with_a_filter() -> None:
    assert wrk_report.counter_totals(GATEWAY_METRICS, "gateway_http_requests_total", by="route") == {
        "/api/v1/trade/create": 123.0,
        "/api/v1/balance": 7.0,
    }
    assert wrk_report.counter_totals(
        GATEWAY_METRICS, "gateway_http_requests", by="status", where={"route": "/api/v1/trade/create"}
    ) == {"201": 120.0, "503": 3.0}
    assert wrk_report.counter_totals(GATEWAY_METRICS, "absent_total", by="route") == {}


def test_status_deltas_between_two_scrapes() -> None:
    later = GATEWAY_METRICS.replace("} 120.0", "} 150.0").replace(
        'status="503"} 3.0',
        'status="503"} 3.0\ngateway_http_requests_total{method="POST",route="/api/v1/trade/create",status="504"} 2.0',
    )
    assert wrk_report.status_deltas(GATEWAY_METRICS, later, "/api/v1/trade/create") == {"201": 30, "504": 2}


def histogram(route: str, counts: list[tuple[str, float]]) -> str:
    lines = [
        "# HELP gateway_http_request_duration_seconds HTTP request latency",
        "# TYPE gateway_http_request_duration_seconds histogram",
    ]
    lines += [
        f'gateway_http_request_duration_seconds_bucket{{le="{le}",method="POST",route="{route}"}} {n}'
        for le, n in counts
    ]
    return "\n".join(lines) + "\n"


def test_histogram_percentiles_interpolate_inside_buckets_between_scrapes() -> None:
    before = histogram("/r", [("0.001", 10.0), ("0.01", 10.0), ("0.1", 10.0), ("+Inf", 10.0)])
    # 100 more observations: 50 in (0.001, 0.01], 40 in (0.01, 0.1], 10 past 0.1
    after = histogram("/r", [("0.001", 10.0), ("0.01", 60.0), ("0.1", 100.0), ("+Inf", 110.0)])
    result = wrk_report.histogram_percentiles(
        before, after, "gateway_http_request_duration_seconds", {"route": "/r"}, percentiles=(25, 50, 90, 99)
    )
    assert math.isclose(result["p25"], 0.001 + 0.009 * 0.5)
    assert math.isclose(result["p50"], 0.01)
    assert math.isclose(result["p90"], 0.1)
    # past the last finite bound: that bound
    assert result["p99"] == 0.1


def test_histogram_percentiles_of_an_idle_route_are_nan() -> None:
    text = histogram("/r", [("0.01", 5.0), ("+Inf", 5.0)])
    result = wrk_report.histogram_percentiles(text, text, "gateway_http_request_duration_seconds", {"route": "/r"})
    assert all(math.isnan(v) for v in result.values())
    other = wrk_report.histogram_percentiles("", text, "gateway_http_request_duration_seconds", {"route": "/x"})
    assert all(math.isnan(v) for v in other.values())


def test_endpoint_rows_fall_back_to_the_gateway_histogram() -> None:
    rows = wrk_report.endpoint_rows(result(samples_us={}), {"close": {"p50": 3.0, "p90": 7.0, "p99": 9.5}})
    close = next(row for row in rows if row["endpoint"] == "POST /trade/close")
    assert close["latency_source"] == "gateway histogram"
    assert close["latency_ms"]["p90"] == 7.0
    assert math.isnan(close["latency_ms"]["max"])


def test_fill_statuses_prefers_the_server_counts_and_falls_back_to_wrk() -> None:
    bare = result(statuses={}, samples_us={})
    assert wrk_report.fill_statuses(bare, "open", {"201": 9}).statuses == {"open": {"201": 9}}
    assert wrk_report.fill_statuses(bare, "echo", None).statuses == {"echo": {"2xx": 8, "4xx/5xx": 2}}
    counted = result()
    assert wrk_report.fill_statuses(counted, "open", {"201": 1}) is counted


def test_rates_skip_counter_resets() -> None:
    points = [(0.0, 0.0), (0.5, 100.0), (1.0, 300.0), (1.5, 10.0), (2.0, 60.0)]
    assert wrk_report.rates(points) == [(0.25, 200.0), (0.75, 400.0), (1.75, 100.0)]
    assert wrk_report.rates([(0.0, 5.0)]) == []


def test_seconds_to_zero_counts_from_the_load_stop() -> None:
    lag = [(1.0, 0.0), (2.0, 40.0), (3.0, 12.0), (3.5, 0.0)]
    assert wrk_report.seconds_to_zero(lag, stopped_at=2.5) == 1.0
    assert wrk_report.seconds_to_zero(lag[:3], stopped_at=2.5) is None


def test_cpu_spent_counts_only_processes_present_in_both_snapshots() -> None:
    # a PostgreSQL backend (pid 12) exits during the level: it must not count as negative CPU
    before = {"postgres": {11: 5.0, 12: 9.0}, "gateway": {7: 1.0}, "wrk": {0: 2.0}}
    after = {"postgres": {11: 5.5}, "gateway": {7: 3.25}, "wrk": {0: 2.5}}
    assert wrk_report.cpu_spent(before, after) == {"postgres": 0.5, "gateway": 2.25, "wrk": 0.5}


def level(connections: int = 16) -> dict[str, Any]:
    return wrk_report.level_summary(
        wrk_report.parse_wrk_result(LUA_MIXED),
        connections=connections,
        lag_samples=[(0.5, 3.0), (1.5, 9.0), (2.2, 4.0), (2.6, 0.0)],
        stopped_at=2.0,
        cpu_seconds={"gateway": 0.02, "redis": 0.001},
        rss_bytes={"gateway": 100 * 2**20},
        shared=["redis"],
        replies_dropped=0,
        load_average=(3.456, 2.0, 1.0),
    )


def test_level_summary() -> None:
    summary = level()
    assert summary["connections"] == 16
    assert summary["requests_per_s"] == 5.0
    # 10 answered, 2 of them not 2xx
    assert summary["ok_per_s"] == 4.0
    assert summary["errors"] == {"status": {"404": 1, "503": 1}, "socket": {"read": 1, "timeout": 3}}
    assert summary["latency_ms"] == {"p50": 1.0, "p90": 4.0, "p99": 8.0, "max": 9.0}
    assert summary["engine_lag"]["max"] == 9.0
    assert summary["engine_lag"]["at_end"] == 9.0
    assert summary["engine_lag"]["after_stop_max"] == 4.0
    assert math.isclose(summary["engine_lag"]["seconds_to_zero"], 0.6)
    assert summary["processes"] == [
        {"name": "gateway", "cpu_s": 0.02, "cpu_ms_per_request": 2.0, "rss_mib": 100.0, "shared": False},
        {"name": "redis", "cpu_s": 0.001, "cpu_ms_per_request": 0.1, "rss_mib": 0.0, "shared": True},
    ]
    assert summary["load_average"] == [3.46, 2.0, 1.0]


def test_level_summary_lag_already_zero_under_load() -> None:
    summary = wrk_report.level_summary(
        wrk_report.parse_wrk_result(LUA_MIXED),
        connections=1,
        lag_samples=[(0.5, 3.0), (1.5, 0.0), (2.4, 0.0)],
        stopped_at=2.0,
        cpu_seconds={},
        rss_bytes={},
    )
    assert summary["engine_lag"]["seconds_to_zero"] == 0.0
    assert summary["engine_lag"]["max"] == 3.0


def test_markdown_labels_noise_and_lists_every_level() -> None:
    report = {
        "started_at": "2026-12-01 12:00 UTC",
        "command": "make bench BENCH_ARGS=--quick",
        "machine": {"cpus": 2, "load_before": [3.1, 2, 1], "load_after": [3.3, 2, 1]},
        "noisy": "taken while other work shared the machine (load average 3.1)",
        "levels": [level(), level(connections=64)],
        "chart": "chart.png",
    }
    text = wrk_report.render_markdown(report)
    assert "**Noisy: taken while other work shared the machine (load average 3.1).**" in text
    assert "`make bench BENCH_ARGS=--quick`" in text
    assert (
        "| mixed (open 40 / close 30 / reads 30) | 16 | 5 | 4 | - | 1.00 | 4.00 | 8.00 | 9.00 | 404: 1, 503: 1 "
        "| read: 1, timeout: 3 | max 9, end 9, 0 after 0.6 s | 3.46 |"
    ) in text
    assert "| mixed | 64 | POST /trade/close | 3 | 2 | 6.00 | 9.00 | 9.00 | 9.00 | 404: 1 | per-request |" in text
    assert "| mixed | 16 | 2.000 ms (0.02 s), 100 MiB | 0.100 ms (0.00 s), 0 MiB |" in text
    assert "Shared servers (redis)" in text
    assert "![latency and throughput](chart.png)" in text


def test_markdown_compares_with_the_ceiling_at_the_same_connections() -> None:
    ceiling = level(16) | {"scenario": "echo", "ok_per_s": 16.0}
    report = {"machine": {}, "levels": [level(16), level(64), ceiling]}
    rows = [line for line in wrk_report.render_markdown(report).splitlines() if line.startswith("| mixed (")]
    assert rows[0].startswith("| mixed (open 40 / close 30 / reads 30) | 16 | 5 | 4 | 25% |")
    assert rows[1].startswith("| mixed (open 40 / close 30 / reads 30) | 64 | 5 | 4 | - |")


def test_json_ready_replaces_nan() -> None:
    assert wrk_report.json_ready({"a": [math.nan, 1.0], "b": (math.nan,), "c": "x"}) == {
        "a": [None, 1.0],
        "b": [None],
        "c": "x",
    }
