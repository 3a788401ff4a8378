"""The pre-trade checks run in a fixed order and the first refusal is the answer: an order wrong in
several ways is told about the first thing in that order (each reason's own sentence is in
test_rejections)."""

from __future__ import annotations

import pytest

from engine.domain import OpenPosition, RejectReason, Rules, Side, checks, default_rules

RULES = Rules(assets=default_rules().assets, max_open_positions_per_account=2)


def _order(**changes: object) -> OpenPosition:
    fields: dict[str, object] = {
        "user_id": "u", "asset": "BTC_USDC", "side": Side.LONG, "quantity": 1_000, "leverage": 10,
        "slippage_bps": 100, "stop_loss": 0, "take_profit": 0, "trade_opening_price": 0,
    }  # fmt: skip
    fields.update(changes)
    return OpenPosition(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "open_positions", "reason"),
    [
        ({"asset": "DOGE_USDC", "leverage": 0}, 2, RejectReason.TOO_MANY_POSITIONS),
        ({"asset": "DOGE_USDC", "quantity": 0}, 1, RejectReason.UNKNOWN_ASSET),
        ({"quantity": 1, "leverage": 0}, 0, RejectReason.INVALID_QUANTITY),
        ({"leverage": 101, "slippage_bps": -1}, 0, RejectReason.INVALID_LEVERAGE),
        ({"slippage_bps": 10_001, "stop_loss": -1}, 0, RejectReason.INVALID_SLIPPAGE),
        ({"trade_opening_price": -1, "stop_loss": -1}, 0, RejectReason.INVALID_COMMAND),
        ({"stop_loss": -1, "take_profit": -1}, 0, RejectReason.INVALID_STOP_LOSS),
        ({"take_profit": -1}, 0, RejectReason.INVALID_TAKE_PROFIT),
    ],
)
def test_the_first_failing_check_decides(changes: dict[str, object], open_positions: int, reason: RejectReason) -> None:
    refused = checks.order_rejection(RULES, _order(**changes), open_positions)
    assert refused is not None and refused.reason is reason


def test_a_sound_order_passes_every_check_that_needs_no_price() -> None:
    assert checks.order_rejection(RULES, _order(), 1) is None
