"""bench.progress: the progress line drawn while wrk runs."""

from __future__ import annotations

from bench.progress import bar, progress_line


def test_bar_clamps_and_fills() -> None:
    assert bar(0.5, width=10) == "[#####.....]"
    assert bar(-1, width=4) == "[....]"
    assert bar(3, width=4) == "[####]"


def test_progress_line_shows_run_share_level_time_rate_and_lag() -> None:
    line = progress_line(done_s=15, total_s=60, label="create c=64", level_s=5.04, level_total_s=10, rate=2345.6, lag=3)
    assert line.startswith(bar(0.25) + "  25%")
    assert "create c=64  5.0/10 s" in line
    assert "gateway   2,346 req/s" in line
    assert line.endswith("lag 3")


def test_progress_line_without_live_figures() -> None:
    line = progress_line(done_s=0, total_s=0, label="echo c=1", level_s=12, level_total_s=10, rate=None, lag=None)
    assert "100%" in line
    assert "10.0/10 s" in line
    assert "req/s" not in line and "lag" not in line
