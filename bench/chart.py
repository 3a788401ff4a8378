"""chart.png of a bench.load report: one latency-distribution panel per scenario (a line per connection
count, wrk's percentiles on a "nines" axis) and the throughput over time of the whole run (the gateway's
request counter sampled every 0.5 s, wrk's mean rate per level, the engine's stream lag)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after matplotlib.use: the backend is chosen before pyplot loads

from bench.wrk_report import SCENARIOS


def nines(percentile: float) -> float:
    """50 -> 0.3, 90 -> 1, 99 -> 2, 99.9 -> 3: percentiles spread so the tail is readable."""
    return -math.log10(max(1e-6, 1 - min(percentile, 99.9999) / 100))


def write_chart(report: Mapping[str, Any], path: Path) -> None:
    levels = report["levels"]
    scenarios = list(dict.fromkeys(level["scenario"] for level in levels))
    fig = plt.figure(figsize=(5 * max(len(scenarios), 2), 9), constrained_layout=True)
    grid = fig.add_gridspec(2, max(len(scenarios), 1))
    ticks = [50, 90, 99, 99.9, 99.99]
    for column, scenario in enumerate(scenarios):
        ax = fig.add_subplot(grid[0, column])
        for level in (lv for lv in levels if lv["scenario"] == scenario):
            points = [(p, v) for p, v in level["distribution_ms"] if p < 100 and v and v > 0]
            if points:
                ax.plot(
                    [nines(p) for p, _ in points],
                    [v for _, v in points],
                    marker=".",
                    label=f"{level['connections']} conns",
                )
        ax.set_yscale("log")
        ax.set_xticks([nines(p) for p in ticks], [f"p{p:g}" for p in ticks])
        ax.set_ylabel("latency (ms)")
        ax.set_title(SCENARIOS.get(scenario, scenario), fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[1, :])
    series = report.get("series", {})
    rate = series.get("gateway_requests_per_s", [])
    if rate:
        ax.plot(
            [t for t, _ in rate],
            [r for _, r in rate],
            color="tab:blue",
            lw=1,
            label="gateway requests/s (its /metrics, every 0.5 s)",
        )
    for span, level in zip(series.get("spans", []), levels, strict=False):
        ax.hlines(level["requests_per_s"], span["start_s"], span["end_s"], color="tab:orange", lw=2)
        ax.text(
            (span["start_s"] + span["end_s"]) / 2,
            level["requests_per_s"],
            f"{span['scenario']}\n{span['connections']}",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.plot([], [], color="tab:orange", lw=2, label="wrk mean requests/s per level")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylabel("requests/s")
    lag = series.get("engine_lag", [])
    if lag:
        twin = ax.twinx()
        twin.plot([t for t, _ in lag], [v for _, v in lag], color="tab:red", lw=0.8, alpha=0.7)
        twin.set_ylabel("engine stream lag (entries)", color="tab:red")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, alpha=0.3)
    noisy = f" (noisy: {report['noisy']})" if report.get("noisy") else ""
    fig.suptitle(f"bench.load {report.get('started_at', '')}{noisy}", fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)
