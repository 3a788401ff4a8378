"""A thin driver for TradingState in tests: it numbers stream entries and advances stream time the way
the engine does, so tests read as a sequence of user actions and price ticks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.domain import (
    AmendPosition,
    ClosePosition,
    Command,
    CreateAccount,
    OpenPosition,
    Outcome,
    Position,
    PositionClosed,
    PositionOpened,
    PriceUpdate,
    Quote,
    Rejection,
    Rules,
    Side,
    TradingState,
    default_rules,
)

BTC = "BTC_USDC"
ETH = "ETH_USDC"
SOL = "SOL_USDC"

# The seed's BTC quote (docs/contract.md §8), corrected by docs/contract.md §3 at price scale 4, assuming a locked book
# (bid = ask = 118234.5, as the seed's own numbers do): buy = ask * 1.01 = 119416.8450, sell = bid.
BTC_BUY = 1_194_168_450
BTC_SELL = 1_182_345_000

START_MS = 1_700_000_000_000
TEN_THOUSAND_DOLLARS = 1_000_000


@dataclass
class Driver:
    rules: Rules = field(default_factory=default_rules)
    state: TradingState = field(init=False)
    time_ms: int = START_MS
    entries: int = 0

    def __post_init__(self) -> None:
        self.state = TradingState(self.rules)

    def apply(self, command: Command, *, key: str = "", advance_ms: int = 1) -> Outcome:
        self.time_ms += advance_ms
        self.entries += 1
        return self.state.apply(
            command, entry_id=f"{self.time_ms}-{self.entries}", time_ms=self.time_ms, idempotency_key=key
        )

    def signup(self, user: str = "alice", balance: int = TEN_THOUSAND_DOLLARS) -> Outcome:
        return self.apply(CreateAccount(user, f"{user}@example.com", balance))

    def tick(
        self, asset: str = BTC, buy: int = BTC_BUY, sell: int = BTC_SELL, decimal: int = 4, advance_ms: int = 1
    ) -> Outcome:
        return self.apply(PriceUpdate((Quote(asset, buy, sell, decimal),)), advance_ms=advance_ms)

    def open(
        self,
        user: str = "alice",
        asset: str = BTC,
        side: Side = Side.LONG,
        quantity: int = 1_000_000,
        leverage: int = 10,
        slippage_bps: int = 100,
        stop_loss: int = 0,
        take_profit: int = 0,
        trade_opening_price: int = 0,
        *,
        key: str = "",
        advance_ms: int = 1,
    ) -> Outcome:
        command = OpenPosition(
            user, asset, side, quantity, leverage, slippage_bps, stop_loss, take_profit, trade_opening_price
        )
        return self.apply(command, key=key, advance_ms=advance_ms)

    def opened(self, **kwargs: Any) -> Position:
        """Open a position that must succeed."""
        reply = self.open(**kwargs).reply
        assert isinstance(reply, PositionOpened), reply
        return reply.position

    def close(
        self, position_id: str, user: str = "alice", *, quantity: int = 0, key: str = "", advance_ms: int = 1
    ) -> Outcome:
        return self.apply(ClosePosition(user, position_id, quantity), key=key, advance_ms=advance_ms)

    def amend(
        self,
        position_id: str,
        stop_loss: int | None = None,
        take_profit: int | None = None,
        user: str = "alice",
        *,
        key: str = "",
        advance_ms: int = 1,
    ) -> Outcome:
        return self.apply(AmendPosition(user, position_id, stop_loss, take_profit), key=key, advance_ms=advance_ms)

    def closed(self, position_id: str, user: str = "alice") -> PositionClosed:
        """Close a position; the close must succeed."""
        reply = self.close(position_id, user).reply
        assert isinstance(reply, PositionClosed), reply
        return reply

    def balance(self, user: str = "alice") -> int:
        account = self.state.account(user)
        assert account is not None
        return account.balance_cents


def rejection(outcome: Outcome) -> Rejection:
    assert isinstance(outcome.reply, Rejection), outcome.reply
    assert outcome.closed_trades == ()
    return outcome.reply


def seeded(rules: Rules | None = None) -> Driver:
    """Alice with $10,000.00 and a fresh BTC quote (the seed example's)."""
    driver = Driver(rules or default_rules())
    driver.signup()
    driver.tick()
    return driver


def busy_driver() -> Driver:
    """A state with something of everything: accounts, positions of both sides with and without
    levels on two assets, closed trades, and remembered replies (including a rejection)."""
    driver = seeded()
    driver.signup("bob", balance=2_500_000)
    driver.tick(asset=ETH, buy=34_913_478, sell=34_567_800)
    driver.opened(stop_loss=BTC_SELL - 50_000, take_profit=BTC_SELL + 50_000, key="a-1")
    driver.opened(user="bob", side=Side.SHORT, leverage=50)
    closing = driver.opened(asset=ETH, quantity=20_000, leverage=3)
    driver.opened(user="bob", asset=ETH, side=Side.SHORT, quantity=10_000, take_profit=34_000_000)
    driver.close(closing.id, key="a-2")
    driver.open(user="bob", leverage=500, key="b-1")  # remembered rejection
    driver.tick(buy=BTC_BUY - 70_000, sell=BTC_SELL - 60_000)  # fires alice's stop-loss
    driver.opened(side=Side.SHORT, quantity=5_000)
    return driver
