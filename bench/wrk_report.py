"""What bench.load measured, turned into figures: the JSON that bench/wrk/mesh.lua's done() writes, the
Prometheus text of the gateway and engine, and the per-level summaries that become report.json and
report.md. Pure functions over plain data (no servers, no clocks), so they are unit-tested.

Units: latencies in the Lua output are microseconds; the report gives milliseconds. A level is one
(scenario, connections) run of wrk."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

# the Lua script's operation names -> what the report calls them
ENDPOINTS = {
    "open": "POST /trade/create",
    "close": "POST /trade/close",
    "positions": "GET /trade/open",
    "balance": "GET /balance",
    "echo": "POST /echo (trivial)",
    # a non-2xx answer in a run with several connections per wrk thread: its body does not say
    "unknown": "(not 2xx; endpoint unknown)",
}
SCENARIOS = {
    "create": "create-order",
    "mixed": "mixed (open 40 / close 30 / reads 30)",
    "echo": "trivial FastAPI POST (ceiling)",
}
SOCKET_ERRORS = ("connect", "read", "write", "timeout")
# wrk counts HTTP statuses > 399 among its errors; they are reported by status, not as socket errors
WRK_STATUS_ERRORS = "status"
REPORT_PERCENTILES = (50.0, 90.0, 99.0)


@dataclass(frozen=True)
class WrkResult:
    """One wrk run as the Lua done() hook saw it."""

    scenario: str
    threads: int
    duration_s: float
    requests: int
    socket_errors: dict[str, int]
    # wrk's own distribution over every request: (percentile, µs), ascending
    percentiles_us: list[tuple[float, float]]
    max_us: float
    # op -> status -> count
    statuses: dict[str, dict[str, int]]
    # op -> latencies in µs (only when each thread had one connection)
    samples_us: dict[str, list[float]] = field(default_factory=dict)


def parse_wrk_result(text: str) -> WrkResult:
    """Read the JSON of mesh.lua's done(). Lua writes an empty table as `{}`, so lists may come as {}."""
    raw = json.loads(text)
    errors = raw.get("errors") or {}
    samples = raw.get("samples_us") or {}
    max_us = float((raw.get("latency_us") or {}).get("max", 0))
    # the maximum closes the distribution (wrk's own percentile(100) is unreliable: 0 in wrk 4.1)
    points = sorted((float(p), float(v)) for p, v in (raw.get("percentiles_us") or []) if float(p) < 100)
    if raw.get("requests"):
        points.append((100.0, max_us))
    return WrkResult(
        scenario=str(raw["scenario"]),
        threads=int(raw["threads"]),
        duration_s=float(raw["duration_us"]) / 1e6,
        requests=int(raw["requests"]),
        socket_errors={name: int(errors.get(name, 0)) for name in (*SOCKET_ERRORS, WRK_STATUS_ERRORS)},
        percentiles_us=points,
        max_us=max_us,
        statuses={op: {str(s): int(n) for s, n in by.items()} for op, by in (raw.get("statuses") or {}).items()},
        samples_us={op: [float(v) for v in values] for op, values in samples.items() if isinstance(values, list)},
    )


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of ascending values (p in 0..100); NaN for no values."""
    if not sorted_values:
        return math.nan
    rank = math.ceil(p / 100 * len(sorted_values))
    return float(sorted_values[min(len(sorted_values), max(rank, 1)) - 1])


def from_distribution(points: Sequence[tuple[float, float]], p: float) -> float:
    """The value at percentile `p` of a distribution given as ascending (percentile, value) points,
    linearly interpolated between them (wrk reports a few fixed percentiles); NaN without points."""
    if not points:
        return math.nan
    if p <= points[0][0]:
        return points[0][1]
    for (p0, v0), (p1, v1) in itertools.pairwise(points):
        if p <= p1:
            return v0 if p1 == p0 else v0 + (v1 - v0) * (p - p0) / (p1 - p0)
    return points[-1][1]


def is_ok(status: str) -> bool:
    return status.startswith("2")


def endpoint_rows(
    result: WrkResult, server_ms: Mapping[str, Mapping[str, float]] | None = None
) -> list[dict[str, Any]]:
    """Per endpoint: requests, rate, statuses, p50/p90/p99/max in ms. Latencies come from the per-request
    samples when there are any, else (a one-endpoint scenario) from wrk's whole-run distribution, else
    from `server_ms` (op -> percentiles in ms, the gateway's own histogram; no max)."""
    rows = []
    for op in sorted(result.statuses, key=lambda name: list(ENDPOINTS).index(name) if name in ENDPOINTS else 99):
        by_status = result.statuses[op]
        # one endpoint: wrk's count (statuses counted by the server include requests still in flight when
        # wrk stopped)
        count = result.requests if len(result.statuses) == 1 else sum(by_status.values())
        samples = sorted(result.samples_us.get(op, []))
        if samples:
            latency = {f"p{p:g}": percentile(samples, p) / 1000 for p in REPORT_PERCENTILES}
            latency["max"] = samples[-1] / 1000
            source = "per-request"
        elif len(result.statuses) == 1:
            latency = {f"p{p:g}": from_distribution(result.percentiles_us, p) / 1000 for p in REPORT_PERCENTILES}
            latency["max"] = result.max_us / 1000
            source = "wrk"
        elif server_ms and op in server_ms:
            latency = dict(server_ms[op]) | {"max": math.nan}
            source = "gateway histogram"
        else:
            latency = {f"p{p:g}": math.nan for p in REPORT_PERCENTILES} | {"max": math.nan}
            source = "none"
        rows.append(
            {
                "endpoint": ENDPOINTS.get(op, op),
                "requests": count,
                "per_s": count / result.duration_s if result.duration_s else 0.0,
                "ok": sum(n for s, n in by_status.items() if is_ok(s)),
                "non_2xx": {s: n for s, n in sorted(by_status.items()) if not is_ok(s)},
                "latency_ms": latency,
                "latency_source": source,
            }
        )
    return rows


def counter_totals(text: str, name: str, by: str, where: Mapping[str, str] | None = None) -> dict[str, float]:
    """Sum the samples of Prometheus counter `name` (with or without `_total`) by the value of label `by`,
    keeping only samples whose labels match `where`."""
    base = name.removesuffix("_total")
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != base:
            continue
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            if where and any(sample.labels.get(k) != v for k, v in where.items()):
                continue
            key = sample.labels.get(by, "")
            totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def status_deltas(before: str, after: str, route: str) -> dict[str, int]:
    """Requests per status that the gateway counted for `route` between two scrapes of its /metrics
    (the statuses of a scenario whose wrk run does not look at responses)."""
    old = counter_totals(before, "gateway_http_requests_total", by="status", where={"route": route})
    new = counter_totals(after, "gateway_http_requests_total", by="status", where={"route": route})
    deltas = {status: round(count - old.get(status, 0.0)) for status, count in new.items()}
    return {status: n for status, n in sorted(deltas.items()) if n > 0}


def fill_statuses(result: WrkResult, op: str, counted: Mapping[str, int] | None) -> WrkResult:
    """`result` with statuses for its one endpoint when the Lua script did not count them: the server's
    counts when given, else wrk's own split (status > 399 counted as errors, the rest as 2xx)."""
    if result.statuses:
        return result
    if counted:
        statuses = dict(counted)
    else:
        failed = result.socket_errors.get("status", 0)
        statuses = {"2xx": result.requests - failed} | ({"4xx/5xx": failed} if failed else {})
    return replace(result, statuses={op: statuses})


# the gateway's route label of each Lua operation (its request histogram is per route)
ROUTES = {
    "open": "/api/v1/trade/create",
    "close": "/api/v1/trade/close",
    "positions": "/api/v1/trade/open",
    "balance": "/api/v1/balance",
}


def histogram_buckets(text: str, name: str, where: Mapping[str, str]) -> dict[float, float]:
    """Cumulative bucket counts {upper bound: count} of Prometheus histogram `name` for matching labels."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name != f"{name}_bucket" or any(sample.labels.get(k) != v for k, v in where.items()):
                continue
            bound = float(sample.labels["le"])
            buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets


def histogram_percentiles(
    before: str, after: str, name: str, where: Mapping[str, str], percentiles: Sequence[float] = REPORT_PERCENTILES
) -> dict[str, float]:
    """Percentiles (in the histogram's unit) of what was observed between two scrapes, interpolated
    linearly inside a bucket (so only as exact as the buckets); a percentile past the last finite bound
    is that bound. NaN when nothing was observed."""
    old = histogram_buckets(before, name, where)
    new = histogram_buckets(after, name, where)
    bounds = sorted(new)
    cumulative = [new[b] - old.get(b, 0.0) for b in bounds]
    total = cumulative[-1] if cumulative else 0.0
    out = {}
    for p in percentiles:
        key = f"p{p:g}"
        if total <= 0:
            out[key] = math.nan
            continue
        target = p / 100 * total
        lower, below = 0.0, 0.0
        for bound, count in zip(bounds, cumulative, strict=True):
            if count >= target:
                if math.isinf(bound):
                    out[key] = lower
                else:
                    inside = count - below
                    out[key] = lower + (bound - lower) * ((target - below) / inside if inside else 1.0)
                break
            lower, below = bound, count
    return out


def rates(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Per-interval rates of a sampled counter: [(t, count), ...] -> [(t_mid, count/s), ...]; a counter
    that went down (a restart) gives no rate for that interval."""
    out = []
    for (t0, c0), (t1, c1) in itertools.pairwise(points):
        if t1 > t0 and c1 >= c0:
            out.append(((t0 + t1) / 2, (c1 - c0) / (t1 - t0)))
    return out


def seconds_to_zero(samples: Sequence[tuple[float, float]], stopped_at: float) -> float | None:
    """From (t, lag) samples: seconds from `stopped_at` (load end) to the first sample at or after it
    with lag 0; None if none reached 0."""
    for t, lag in samples:
        if t >= stopped_at and lag == 0:
            return max(0.0, t - stopped_at)
    return None


def cpu_spent(before: Mapping[str, Mapping[int, float]], after: Mapping[str, Mapping[int, float]]) -> dict[str, float]:
    """CPU seconds per name between two snapshots, over the pids present in both (a PostgreSQL backend
    that exits meanwhile takes its seconds with it)."""
    return {
        name: sum(after.get(name, {})[pid] - seconds for pid, seconds in pids.items() if pid in after.get(name, {}))
        for name, pids in before.items()
    }


def level_summary(
    result: WrkResult,
    *,
    connections: int,
    lag_samples: Sequence[tuple[float, float]],
    stopped_at: float,
    cpu_seconds: Mapping[str, float],
    rss_bytes: Mapping[str, int],
    shared: Iterable[str] = (),
    replies_dropped: float | None = None,
    load_average: Sequence[float] = (),
    server_ms: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Any]:
    """One row of the report: throughput, latency, errors, lag, CPU and memory of every process."""
    status_errors: dict[str, int] = {}
    for by_status in result.statuses.values():
        for status, count in by_status.items():
            if not is_ok(status):
                status_errors[status] = status_errors.get(status, 0) + count
    ok = max(0, result.requests - sum(status_errors.values()))
    during = [lag for t, lag in lag_samples if t <= stopped_at]
    after = [lag for t, lag in lag_samples if t >= stopped_at]
    shared_names = set(shared)
    requests = result.requests
    return {
        "scenario": result.scenario,
        "connections": connections,
        "threads": result.threads,
        "duration_s": round(result.duration_s, 3),
        "requests": requests,
        "requests_per_s": requests / result.duration_s if result.duration_s else 0.0,
        "ok_per_s": ok / result.duration_s if result.duration_s else 0.0,
        "latency_ms": {f"p{p:g}": from_distribution(result.percentiles_us, p) / 1000 for p in REPORT_PERCENTILES}
        | {"max": result.max_us / 1000},
        "distribution_ms": [[p, v / 1000] for p, v in result.percentiles_us],
        "errors": {
            "status": dict(sorted(status_errors.items())),
            "socket": {k: v for k, v in result.socket_errors.items() if v and k in SOCKET_ERRORS},
        },
        "endpoints": endpoint_rows(result, server_ms),
        "engine_lag": {
            "max": max(during, default=None),
            "at_end": during[-1] if during else None,
            "after_stop_max": max(after, default=None),
            # already 0 at the last sample under load: nothing to catch up
            "seconds_to_zero": 0.0 if during and during[-1] == 0 else seconds_to_zero(lag_samples, stopped_at),
        },
        "replies_dropped": replies_dropped,
        "processes": [
            {
                "name": name,
                "cpu_s": round(cpu, 3),
                "cpu_ms_per_request": round(cpu / requests * 1000, 4) if requests else None,
                "rss_mib": round(rss_bytes.get(name, 0) / 2**20, 1),
                "shared": name in shared_names,
            }
            for name, cpu in cpu_seconds.items()
        ],
        "load_average": [round(x, 2) for x in load_average],
    }


def json_ready(value: Any) -> Any:
    """`value` with every NaN float replaced by None (JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Mapping):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def _ms(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _counts(mapping: Mapping[str, int]) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in mapping.items()) or "0"


def _lag(lag: Mapping[str, Any]) -> str:
    if lag.get("max") is None:
        return "-"
    zero = lag.get("seconds_to_zero")
    return f"max {lag['max']:,.0f}, end {lag['at_end']:,.0f}, 0 after {'never' if zero is None else f'{zero:.1f} s'}"


def render_markdown(report: Mapping[str, Any]) -> str:
    """report.md: the throughput/latency table, the per-endpoint table, the CPU/RSS table."""
    machine = report.get("machine", {})
    lines = [
        f"# Load benchmark, {report.get('started_at', '')}",
        "",
        f"Command: `{report.get('command', '')}`",
        "",
        f"Machine: {machine.get('cpus', '?')} cores; load average before {machine.get('load_before', '?')}, "
        f"after {machine.get('load_after', '?')}. Everything (wrk, gateway, engine, pooler, Redis, PostgreSQL) "
        "shares these cores.",
    ]
    if report.get("noisy"):
        lines += [
            "",
            f"**Noisy: {report['noisy']}.** These figures show that the benchmark works, not what the platform can do.",
        ]
    lines += [
        "",
        "## Throughput and latency (whole scenario, wrk's distribution)",
        "",
        "| scenario | conns | req/s | 2xx/s | of ceiling | p50 ms | p90 ms | p99 ms | max ms | non-2xx "
        "| socket errors | engine lag (entries) | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ceiling = {lv["connections"]: lv["ok_per_s"] for lv in report["levels"] if lv["scenario"] == "echo"}
    for level in report["levels"]:
        lat = level["latency_ms"]
        top = ceiling.get(level["connections"])
        share = f"{level['ok_per_s'] / top:.0%}" if top else "-"
        lines.append(
            f"| {SCENARIOS.get(level['scenario'], level['scenario'])} | {level['connections']} | "
            f"{level['requests_per_s']:,.0f} | {level['ok_per_s']:,.0f} | "
            f"{share} | {_ms(lat['p50'])} | {_ms(lat['p90'])} | "
            f"{_ms(lat['p99'])} | {_ms(lat['max'])} | {_counts(level['errors']['status'])} | "
            f"{_counts(level['errors']['socket'])} | {_lag(level['engine_lag'])} | "
            f"{' / '.join(str(x) for x in level['load_average'][:1]) or '?'} |"
        )
    lines += [
        "",
        "## Per endpoint",
        "",
        "| scenario | conns | endpoint | requests | per s | p50 ms | p90 ms | p99 ms | max ms | non-2xx "
        "| latency from |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level in report["levels"]:
        for row in level["endpoints"]:
            lat = row["latency_ms"]
            lines.append(
                f"| {level['scenario']} | {level['connections']} | {row['endpoint']} | {row['requests']:,} | "
                f"{row['per_s']:,.0f} | {_ms(lat['p50'])} | {_ms(lat['p90'])} | {_ms(lat['p99'])} | "
                f"{_ms(lat['max'])} | {_counts(row['non_2xx'])} | {row['latency_source']} |"
            )
    names: list[str] = []
    for level in report["levels"]:
        for proc in level["processes"]:
            if proc["name"] not in names:
                names.append(proc["name"])
    shared = sorted({p["name"] for level in report["levels"] for p in level["processes"] if p["shared"]})
    lines += [
        "",
        "## CPU of every process: per request (seconds in the level), and peak RSS",
        "",
        "| scenario | conns | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for level in report["levels"]:
        by_name = {p["name"]: p for p in level["processes"]}
        cells = []
        for name in names:
            proc = by_name.get(name)
            if proc is None or proc["cpu_ms_per_request"] is None:
                cells.append("-")
            else:
                cells.append(f"{proc['cpu_ms_per_request']:.3f} ms ({proc['cpu_s']:.2f} s), {proc['rss_mib']:.0f} MiB")
        lines.append(f"| {level['scenario']} | {level['connections']} | " + " | ".join(cells) + " |")
    if shared:
        lines += [
            "",
            f"Shared servers ({', '.join(shared)}) also serve other work on the machine: their CPU includes it.",
        ]
    if report.get("chart"):
        lines += ["", f"![latency and throughput]({report['chart']})"]
    return "\n".join(lines) + "\n"
