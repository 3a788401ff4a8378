"""Scripted price paths for the fake Backpack server: one top of book per JSON line, played in a loop."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ScriptStep:
    symbol: str
    bid: Decimal
    ask: Decimal
    bid_qty: Decimal
    ask_qty: Decimal
    # pause before this step
    after_ms: int


def load_script(path: Path) -> list[ScriptStep]:
    """JSON Lines, one top per line: {"s": "BTC_USDC", "b": "68983.0", "a": "68983.1", "B": "0.1", "A": "0.2",
    "after_ms": 100}; blank lines and lines starting with # are skipped. The script repeats forever."""
    steps = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            item = json.loads(line)
            steps.append(
                ScriptStep(
                    item["s"],
                    Decimal(item["b"]),
                    Decimal(item["a"]),
                    Decimal(item.get("B", "1")),
                    Decimal(item.get("A", "1")),
                    int(item.get("after_ms", 100)),
                )
            )
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"{path}:{number}: bad script line ({exc!r}): {line[:80]}") from None
    if not steps:
        raise ValueError(f"{path}: empty script")
    return steps
