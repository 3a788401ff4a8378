"""Idempotency keys: a retry returns the original reply and changes nothing; a reused key with another
command is refused; keys are scoped per user and forgotten oldest first."""

from __future__ import annotations

from engine.domain import (
    AccountCreated,
    ClosePosition,
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
    # the client saw a price 2% under the fill, allowing 1%: refused
    expected = BTC_BUY * 98 // 100
    refused = rejection(driver.open(trade_opening_price=expected, key="order-1"))
    assert refused.reason is RejectReason.SLIPPAGE_EXCEEDED
    # the market comes back to where the client saw it, but the key names the refused attempt
    driver.tick(buy=expected, sell=expected - 1_000_000)
    assert driver.open(trade_opening_price=expected, key="order-1").reply == refused
    assert driver.state.open_position_count == 0
    driver.opened()  # the same order under no key (or a new key) executes


def test_account_creation_with_a_key() -> None:
    driver = seeded()
    command = CreateAccount("bob", "bob@example.com", 5_000)
    first = driver.apply(command, key="signup")
    assert isinstance(first.reply, AccountCreated) and not first.reply.already_existed
    assert driver.apply(command, key="signup").reply == first.reply


def test_a_users_keys_are_forgotten_oldest_first_beyond_the_per_user_cap() -> None:
    driver = seeded(Rules(assets=default_rules().assets, idempotency_keys_per_user=2))
    driver.open(key="k1")
    driver.open(key="k2")
    driver.open(key="k3")
    assert driver.state.idempotency_key_count == 2
    driver.open(key="k2")  # remembered: nothing happens
    assert driver.state.open_position_count == 3
    driver.open(key="k1")  # forgotten: executes again
    assert driver.state.open_position_count == 4


def test_other_users_keys_never_push_out_mine() -> None:
    """A flood of keyed (even rejected) commands from one user must not make another user's retry run
    twice: retention is per user."""
    driver = seeded(Rules(assets=default_rules().assets, idempotency_keys_per_user=3))
    first = driver.open(key="order-1")
    driver.apply(CreateAccount("mallory", "mallory@example.com", 1_000_000))
    for n in range(50):
        driver.apply(ClosePosition("mallory", f"pos-nothing-{n}"), key=f"junk-{n}")
    retry = driver.open(key="order-1")
    assert retry.reply == first.reply
    assert driver.state.open_position_count == 1


def test_keys_expire_after_the_window_in_stream_time() -> None:
    driver = seeded(Rules(assets=default_rules().assets, idempotency_window_ms=60_000))
    first = driver.open(key="order-1")
    assert driver.open(key="order-1", advance_ms=59_000).reply == first.reply
    driver.tick(buy=BTC_BUY, sell=BTC_SELL, advance_ms=2_000)  # a fresh price, 61 s after the open
    again = driver.open(key="order-1")
    assert isinstance(again.reply, PositionOpened) and again.reply != first.reply
    assert driver.state.open_position_count == 2


def test_a_refusal_for_want_of_a_price_is_not_remembered() -> None:
    """PRICE_STALE is 503 "try again" at the gateway: the same key must be able to execute later."""
    driver = seeded()
    stale = driver.open(key="order-1", advance_ms=30_000)
    assert rejection(stale).reason is RejectReason.PRICE_STALE
    driver.tick(buy=BTC_BUY, sell=BTC_SELL)
    fresh = driver.open(key="order-1")
    assert isinstance(fresh.reply, PositionOpened)
    assert driver.open(key="order-1").reply == fresh.reply
    assert driver.state.open_position_count == 1


def test_retention_zero_remembers_nothing() -> None:
    driver = seeded(Rules(assets=default_rules().assets, idempotency_keys_per_user=0))
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


def test_a_capture_keeps_the_eviction_order_when_an_expired_key_comes_back() -> None:
    """A key used again after its window (but not yet evicted) moves to its user's newest place; a capture
    taken then and encoded after more commands must list the keys in that order, as snapshot() does."""
    from engine.domain.idempotency import IdempotencyStore, Remembered

    reply = AccountCreated.__new__(AccountCreated)  # the store never looks inside replies
    command = ClosePosition("u", "p")
    store = IdempotencyStore(keys_per_user=5, window_ms=100)
    store.remember(Remembered("u", "k1", 0, command, reply))
    store.remember(Remembered("v", "k1", 50, command, reply))
    store.remember(Remembered("u", "k2", 90, command, reply))
    # u's k1 expired at 100 and is still kept (k2 is younger): it comes back and moves behind k2
    store.remember(Remembered("u", "k1", 120, command, reply))
    expected = [(e.user_id, e.key, e.time_ms) for e in store]
    entries, users = (list(view) for view in store.capture_views())
    store.remember(Remembered("u", "k3", 130, command, reply))
    captured = [(e.user_id, e.key, e.time_ms) for e in IdempotencyStore.iter_captured(entries, users)]
    assert captured == expected
