"""Idempotency keys: a retry returns the original reply and changes nothing; a reused key with another
command is refused; keys are scoped per user and forgotten oldest first."""

from __future__ import annotations

from engine.domain import (
    AccountCreated,
    CreateAccount,
    PositionClosed,
    PositionOpened,
    PriceUpdate,
    Quote,
    RejectReason,
    Rules,
    TradingState,
    default_rules,
)

from .helpers import BTC, BTC_BUY, BTC_SELL, rejection, seeded


def test_a_retried_open_returns_the_original_reply_and_opens_once() -> None:
    driver = seeded()
    first = driver.open(key="order-1")
    after_first = driver.state.state_hash()
    retry = driver.open(key="order-1", advance_ms=30_000)  # even once the price is stale
    assert retry.reply == first.reply and isinstance(retry.reply, PositionOpened)
    assert driver.state.state_hash() == after_first
    assert driver.state.open_position_count == 1


def test_a_reused_key_with_another_command_is_refused() -> None:
    driver = seeded()
    driver.open(key="order-1")
    before = driver.state.state_hash()
    refused = rejection(driver.open(key="order-1", leverage=20))
    assert refused.reason is RejectReason.IDEMPOTENCY_KEY_REUSED
    assert refused.message == "idempotency key 'order-1' was already used for a different command"
    assert driver.state.state_hash() == before


def test_keys_are_scoped_per_user() -> None:
    driver = seeded()
    driver.signup("bob")
    alice = driver.open(key="same")
    bob = driver.open(user="bob", key="same")
    assert isinstance(alice.reply, PositionOpened) and isinstance(bob.reply, PositionOpened)
    assert alice.reply.position.id != bob.reply.position.id
    assert driver.state.open_position_count == 2


def test_a_retried_close_credits_once_and_reports_no_second_trade() -> None:
    driver = seeded()
    position = driver.opened()
    first = driver.close(position.id, key="close-1")
    assert isinstance(first.reply, PositionClosed) and len(first.closed_trades) == 1
    balance = driver.balance()
    retry = driver.close(position.id, key="close-1")
    assert retry.reply == first.reply
    assert retry.closed_trades == ()
    assert driver.balance() == balance
    # without the key, the same close is simply refused: the position is gone
    assert rejection(driver.close(position.id)).reason is RejectReason.POSITION_NOT_FOUND


def test_a_rejection_is_remembered_too() -> None:
    """A key names one attempt: retrying it can never turn a refusal into an execution."""
    driver = seeded()
    refused = rejection(driver.open(key="order-1", advance_ms=9_000))
    assert refused.reason is RejectReason.PRICE_STALE
    driver.tick()
    assert driver.open(key="order-1").reply == refused
    assert driver.state.open_position_count == 0
    driver.opened()  # the same order under no key (or a new key) executes


def test_account_creation_with_a_key() -> None:
    driver = seeded()
    command = CreateAccount("bob", "bob@example.com", 5_000)
    first = driver.apply(command, key="signup")
    assert isinstance(first.reply, AccountCreated) and not first.reply.already_existed
    assert driver.apply(command, key="signup").reply == first.reply


def test_keys_are_forgotten_oldest_first() -> None:
    driver = seeded(Rules(assets=default_rules().assets, idempotency_retention=2))
    driver.open(key="k1")
    driver.open(key="k2")
    driver.open(key="k3")
    assert driver.state.idempotency_key_count == 2
    driver.open(key="k2")  # remembered: nothing happens
    assert driver.state.open_position_count == 3
    driver.open(key="k1")  # forgotten: executes again
    assert driver.state.open_position_count == 4


def test_retention_zero_remembers_nothing() -> None:
    driver = seeded(Rules(assets=default_rules().assets, idempotency_retention=0))
    driver.open(key="k1")
    driver.open(key="k1")
    assert (driver.state.open_position_count, driver.state.idempotency_key_count) == (2, 0)


def test_price_updates_ignore_the_key() -> None:
    state = TradingState(default_rules())
    update = PriceUpdate((Quote(BTC, BTC_BUY, BTC_SELL, 4),))
    state.apply(update, entry_id="1-0", time_ms=1, idempotency_key="tick")
    state.apply(update, entry_id="2-0", time_ms=2, idempotency_key="tick")
    quote = state.quote(BTC)
    assert quote is not None and quote.received_at_ms == 2
    assert state.idempotency_key_count == 0
