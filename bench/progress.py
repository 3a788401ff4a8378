"""The progress line bench.load redraws while wrk runs (pure formatting; the caller decides where it goes)."""

from __future__ import annotations


def bar(fraction: float, width: int = 30) -> str:
    """`[#########.....]` for a fraction clamped to 0..1."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def progress_line(
    *,
    done_s: float,
    total_s: float,
    label: str,
    level_s: float,
    level_total_s: float,
    rate: float | None,
    lag: float | None,
) -> str:
    """One line: the whole run's bar and share, then this level's label, time, live rate and engine lag."""
    fraction = done_s / total_s if total_s else 1.0
    parts = [
        f"{bar(fraction)} {min(fraction, 1.0):4.0%}",
        f"{label} {min(level_s, level_total_s):4.1f}/{level_total_s:.0f} s",
    ]
    if rate is not None:
        parts.append(f"gateway {rate:7,.0f} req/s")
    if lag is not None:
        parts.append(f"lag {lag:,.0f}")
    return "  ".join(parts)
