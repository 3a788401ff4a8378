"""Every rejection, as a table: the reason, the exact sentence a person reads, and that nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from engine.domain import (
    AccountCreated,
    ClosePosition,
    CreateAccount,
    OpenPosition,
    RejectReason,
    Rules,
    Side,
    default_rules,
)

from .helpers import BTC_BUY, BTC_SELL, ETH, Driver, rejection, seeded
from .test_orders import PLACEMENT_REJECTIONS

# (label, setup quote (buy, sell) or None for the seed quote, open arguments, reason, message)
OPEN_REJECTIONS: list[tuple[str, tuple[int, int] | None, dict[str, Any], RejectReason, str]] = [
    ("no account", None, {"user": "bob"}, RejectReason.ACCOUNT_NOT_FOUND, "user bob has no trading account"),
    (
        "unknown asset",
        None,
        {"asset": "DOGE_USDC"},
        RejectReason.UNKNOWN_ASSET,
        "asset 'DOGE_USDC' is not traded here (known: BTC_USDC, ETH_USDC, SOL_USDC)",
    ),
    (
        "zero quantity",
        None,
        {"quantity": 0},
        RejectReason.INVALID_QUANTITY,
        "quantity must be a positive multiple of 0.00001 BTC_USDC; got 0",
    ),
    (
        "negative quantity",
        None,
        {"quantity": -1_000},
        RejectReason.INVALID_QUANTITY,
        "quantity must be a positive multiple of 0.00001 BTC_USDC; got -0.00001",
    ),
    (
        "quantity off the step",
        None,
        {"quantity": 1_500},
        RejectReason.INVALID_QUANTITY,
        "quantity must be a positive multiple of 0.00001 BTC_USDC; got 0.000015",
    ),
    (
        "quantity off the ETH step",
        None,
        {"asset": ETH, "quantity": 1_000},
        RejectReason.INVALID_QUANTITY,
        "quantity must be a positive multiple of 0.0001 ETH_USDC; got 0.00001",
    ),
    (
        "leverage 0",
        None,
        {"leverage": 0},
        RejectReason.INVALID_LEVERAGE,
        "leverage must be a whole number from 1 to 100; got 0",
    ),
    (
        "leverage above the cap",
        None,
        {"leverage": 101},
        RejectReason.INVALID_LEVERAGE,
        "leverage must be a whole number from 1 to 100; got 101",
    ),
    (
        "negative slippage",
        None,
        {"slippage_bps": -1},
        RejectReason.INVALID_SLIPPAGE,
        "slippage must be from 0% to 100%; got -0.01%",
    ),
    (
        "slippage above 100%",
        None,
        {"slippage_bps": 10_001},
        RejectReason.INVALID_SLIPPAGE,
        "slippage must be from 0% to 100%; got 100.01%",
    ),
    (
        "negative trade opening price",
        None,
        {"trade_opening_price": -1},
        RejectReason.INVALID_COMMAND,
        "the trade opening price must not be negative",
    ),
    (
        "negative stop-loss",
        None,
        {"stop_loss": -1},
        RejectReason.INVALID_STOP_LOSS,
        "the stop-loss must not be negative",
    ),
    (
        "negative take-profit",
        None,
        {"take_profit": -1},
        RejectReason.INVALID_TAKE_PROFIT,
        "the take-profit must not be negative",
    ),
    (
        "no quote yet",
        None,
        {"asset": ETH, "quantity": 10_000},
        RejectReason.PRICE_UNAVAILABLE,
        "no price of ETH_USDC has been received yet",
    ),
    (
        "stale quote",
        None,
        {"advance_ms": 5_001},
        RejectReason.PRICE_STALE,
        "price of BTC_USDC is stale (5001 ms old, limit 5000 ms)",
    ),
    (
        "fill 1.00% away, 0.99% accepted",
        None,
        {"trade_opening_price": BTC_SELL, "slippage_bps": 99},
        RejectReason.SLIPPAGE_EXCEEDED,
        "the fill price 119416.8450 is 1.00% away from the expected 118234.5000, more than the accepted 0.99%",
    ),
    (
        "slippage 0 and the price moved one unit",
        None,
        {"trade_opening_price": BTC_BUY - 1, "slippage_bps": 0},
        RejectReason.SLIPPAGE_EXCEEDED,
        "the fill price 119416.8450 is 0.01% away from the expected 119416.8449, more than the accepted 0.00%",
    ),
    (
        "SHORT fill too far below the expected price",
        None,
        {"side": Side.SHORT, "trade_opening_price": BTC_BUY, "slippage_bps": 50},
        RejectReason.SLIPPAGE_EXCEEDED,
        "the fill price 118234.5000 is 1.00% away from the expected 119416.8450, more than the accepted 0.50%",
    ),
    (
        "LONG stop-loss at the sell price",
        None,
        {"stop_loss": BTC_SELL},
        RejectReason.INVALID_STOP_LOSS,
        "the stop-loss 118234.5000 of a LONG must be below the current sell price 118234.5000",
    ),
    (
        "LONG stop-loss above the market",
        None,
        {"stop_loss": BTC_BUY},
        RejectReason.INVALID_STOP_LOSS,
        "the stop-loss 119416.8450 of a LONG must be below the current sell price 118234.5000",
    ),
    (
        "SHORT stop-loss at the buy price",
        None,
        {"side": Side.SHORT, "stop_loss": BTC_BUY},
        RejectReason.INVALID_STOP_LOSS,
        "the stop-loss 119416.8450 of a SHORT must be above the current buy price 119416.8450",
    ),
    (
        "LONG take-profit at the sell price",
        None,
        {"take_profit": BTC_SELL},
        RejectReason.INVALID_TAKE_PROFIT,
        "the take-profit 118234.5000 of a LONG must be above the current sell price 118234.5000",
    ),
    (
        "SHORT take-profit at the buy price",
        None,
        {"side": Side.SHORT, "take_profit": BTC_BUY},
        RejectReason.INVALID_TAKE_PROFIT,
        "the take-profit 119416.8450 of a SHORT must be below the current buy price 119416.8450",
    ),
    (
        "SHORT take-profit above the market",
        None,
        {"side": Side.SHORT, "take_profit": BTC_BUY + 1},
        RejectReason.INVALID_TAKE_PROFIT,
        "the take-profit 119416.8451 of a SHORT must be below the current buy price 119416.8450",
    ),
    (
        # 100x LONG: margin $11.95; a loss of $11.945001 rounds to $11.95, so the level is 119,416.8450 -
        # 1,194.5001 = 118,222.3449, and the bid 118220 is below it
        "the spread eats a 100x margin",
        (BTC_BUY, 1_182_200_000),
        {"leverage": 100},
        RejectReason.IMMEDIATE_LIQUIDATION,
        "the position would be liquidated as soon as it opens: the spread between the buy price 119416.8450 "
        "and the sell price 118220.0000 would eat the margin of $11.95 at 100x (liquidation price "
        "118222.3449); lower the leverage",
    ),
    (
        # 1 BTC at 10x: $119,416.845 / 10 = $11,941.6845 -> $11,941.69
        "margin above the balance",
        None,
        {"quantity": 100_000_000},
        RejectReason.INSUFFICIENT_BALANCE,
        "the margin $11,941.69 exceeds the free balance $10,000.00",
    ),
    ("no user id", None, {"user": ""}, RejectReason.INVALID_COMMAND, "the command has no user id"),
    (
        # checks run in a fixed order: the account first, then the command's own fields, then the market
        "several problems: the first check wins",
        None,
        {"user": "bob", "quantity": 0, "leverage": 0},
        RejectReason.ACCOUNT_NOT_FOUND,
        "user bob has no trading account",
    ),
]


@pytest.mark.parametrize(
    ("quote", "arguments", "reason", "message"),
    [case[1:] for case in OPEN_REJECTIONS],
    ids=[case[0] for case in OPEN_REJECTIONS],
)
def test_open_rejections(
    quote: tuple[int, int] | None, arguments: dict[str, Any], reason: RejectReason, message: str
) -> None:
    driver = seeded()
    if quote is not None:
        driver.tick(buy=quote[0], sell=quote[1])
    before = driver.state.state_hash()
    refused = rejection(driver.open(**arguments))
    assert (refused.reason, refused.message) == (reason, message)
    assert driver.state.state_hash() == before
    assert driver.state.open_position_count == 0


@pytest.mark.parametrize("cap", [1, 3, default_rules().max_open_positions_per_account])
def test_an_account_at_the_open_position_cap_is_refused_until_it_closes_one(cap: int) -> None:
    driver = seeded(Rules(assets=default_rules().assets, max_open_positions_per_account=cap))
    driver.signup("bob")
    # 0.00001 BTC at 10x: $1.20 of margin each, so even the default cap fits in alice's $10,000
    positions = [driver.opened(quantity=1_000) for _ in range(cap)]
    before = driver.state.state_hash()
    refused = rejection(driver.open(quantity=1_000))
    assert (refused.reason, refused.message) == (
        RejectReason.TOO_MANY_POSITIONS,
        f"the account already holds {cap} open positions, the most allowed; close one to open another",
    )
    assert driver.state.state_hash() == before
    # the cap is per account, and a close makes room again
    driver.opened(user="bob", quantity=1_000)
    driver.closed(positions[0].id)
    driver.opened(quantity=1_000)
    assert len(driver.state.positions_of("alice")) == cap


def test_the_default_cap_on_open_positions_is_a_thousand() -> None:
    assert default_rules().max_open_positions_per_account == 1_000
    with pytest.raises(ValueError, match="max_open_positions_per_account 0 must be at least 1"):
        Rules(assets=default_rules().assets, max_open_positions_per_account=0)


def test_a_quote_exactly_at_the_staleness_limit_still_trades() -> None:
    driver = seeded()
    driver.opened(advance_ms=5_000)


def test_every_reject_reason_has_a_case() -> None:
    covered = (
        {case[3] for case in OPEN_REJECTIONS}
        | {reason for reason, _ in CLOSE_REJECTIONS.values()}
        | {RejectReason.ACCOUNT_CONFLICT, RejectReason.IDEMPOTENCY_KEY_REUSED, RejectReason.TOO_MANY_POSITIONS}
        # pending orders: tests/unit/engine/domain/test_orders.py (ORDER_NOT_PENDING is the gateway's, from
        # the order history: tests/unit/gateway)
        | {reason for _, reason, _ in PLACEMENT_REJECTIONS}
        | {RejectReason.TOO_MANY_ORDERS, RejectReason.ORDER_WRONG_SIDE, RejectReason.ORDER_NOT_FOUND}
        | {RejectReason.ORDER_NOT_PENDING}
    )
    assert covered == set(RejectReason)


CLOSE_REJECTIONS: dict[str, tuple[RejectReason, str]] = {
    "no account": (RejectReason.ACCOUNT_NOT_FOUND, "user carol has no trading account"),
    "unknown id": (RejectReason.POSITION_NOT_FOUND, "no open position 'pos-nope' in this account"),
    "someone else's": (RejectReason.POSITION_NOT_FOUND, "no open position '{id}' in this account"),
    "already closed": (RejectReason.POSITION_NOT_FOUND, "no open position '{id}' in this account"),
    "stale quote": (RejectReason.PRICE_STALE, "price of BTC_USDC is stale (6000 ms old, limit 5000 ms)"),
}


@pytest.mark.parametrize("case", list(CLOSE_REJECTIONS))
def test_close_rejections(case: str) -> None:
    driver = seeded()
    driver.signup("bob")
    position = driver.opened()
    user, position_id, advance_ms = "alice", position.id, 1
    if case == "no account":
        user = "carol"
    elif case == "unknown id":
        position_id = "pos-nope"
    elif case == "someone else's":
        user = "bob"
    elif case == "already closed":
        driver.closed(position.id)
    elif case == "stale quote":
        quote = driver.state.quote("BTC_USDC")
        assert quote is not None
        advance_ms = quote.received_at_ms + 6_000 - driver.time_ms
    before = driver.state.state_hash()
    refused = rejection(driver.close(position_id, user, advance_ms=advance_ms))
    reason, message = CLOSE_REJECTIONS[case]
    assert (refused.reason, refused.message) == (reason, message.format(id=position.id))
    assert driver.state.state_hash() == before


def test_a_foreign_position_is_indistinguishable_from_a_missing_one() -> None:
    driver = seeded()
    driver.signup("bob")
    position = driver.opened()
    foreign = rejection(driver.close(position.id, "bob"))
    missing = rejection(driver.close("pos-0-0", "bob"))
    assert foreign.reason is missing.reason is RejectReason.POSITION_NOT_FOUND
    assert foreign.message.replace(position.id, "X") == missing.message.replace("pos-0-0", "X")
    assert driver.state.position(position.id) == position


@pytest.mark.parametrize(
    ("command", "reason", "message"),
    [
        (CreateAccount("alice", "", 100), RejectReason.INVALID_COMMAND, "the e-mail address is empty"),
        (
            CreateAccount("alice", "alice@example.com", -1),
            RejectReason.INVALID_COMMAND,
            "the starting balance must not be negative; got -$0.01",
        ),
        (
            CreateAccount("alice", "mallory@example.com", 100),
            RejectReason.ACCOUNT_CONFLICT,
            "user alice already has an account with a different e-mail address",
        ),
        (CreateAccount("", "x@example.com", 100), RejectReason.INVALID_COMMAND, "the command has no user id"),
        (ClosePosition("", "pos-1"), RejectReason.INVALID_COMMAND, "the command has no user id"),
    ],
)
def test_account_rejections(command: CreateAccount | ClosePosition, reason: RejectReason, message: str) -> None:
    driver = seeded()
    before = driver.state.state_hash()
    refused = rejection(driver.apply(command))
    assert (refused.reason, refused.message) == (reason, message)
    assert driver.state.state_hash() == before


def test_create_account_is_idempotent_and_never_resets() -> None:
    driver = Driver()
    created = driver.signup(balance=500_000).reply
    assert isinstance(created, AccountCreated) and not created.already_existed
    created_at = driver.time_ms
    driver.tick()
    driver.opened()  # locks $119.42
    again = driver.apply(CreateAccount("alice", "alice@example.com", 1_000_000))
    assert isinstance(again.reply, AccountCreated) and again.reply.already_existed
    assert again.reply.account.balance_cents == 500_000 - 11_942
    assert again.reply.account.created_at_ms == created_at
    assert driver.balance() == 500_000 - 11_942


def test_open_rejected_when_position_id_would_collide() -> None:
    """Only an entry applied twice can reuse an id; the domain refuses loudly instead of corrupting state."""
    driver = seeded()
    command = OpenPosition("alice", "BTC_USDC", Side.LONG, 1_000, 10, 100, 0, 0, 0)
    driver.state.apply(command, entry_id="7-7", time_ms=driver.time_ms)
    with pytest.raises(ValueError, match="already applied"):
        driver.state.apply(command, entry_id="7-7", time_ms=driver.time_ms)
    assert driver.state.open_position_count == 1
