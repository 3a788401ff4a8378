"""A quote's age runs from when the feed last produced or confirmed it (`Quote.confirmed_at_ms`), not from
the stream entry that carried it: a top the pooler kept re-publishing is as old as its last confirmation.
On arrival it is at least as old as it was when published (`published_at_ms - confirmed_at_ms`, one
clock), so a publisher clock running ahead of the stream's cannot make it younger. A confirmation dated
after its entry counts as the entry's time; an unstated one (0) is the entry's."""

from __future__ import annotations

from engine.domain import PositionOpened, PriceUpdate, Quote, RejectReason, TradingState
from tests.unit.domain.helpers import BTC, BTC_BUY, BTC_SELL, Driver, rejection

LIMIT_MS = 5_000  # default_rules().price_stale_after_ms


def _confirmed_tick(driver: Driver, confirmed_at_ms: int, advance_ms: int = 1) -> None:
    driver.apply(PriceUpdate((Quote(BTC, BTC_BUY, BTC_SELL, 4, confirmed_at_ms),)), advance_ms=advance_ms)


def _priced(confirmed_offset_ms: int | None) -> Driver:
    """Alice with $10,000 and one BTC quote whose confirmation is `confirmed_offset_ms` from its entry
    (None: not stated)."""
    driver = Driver()
    assert driver.rules.price_stale_after_ms == LIMIT_MS
    driver.signup()
    _confirmed_tick(driver, 0 if confirmed_offset_ms is None else driver.time_ms + 1 + confirmed_offset_ms)
    return driver


def test_a_republished_top_ages_from_its_last_confirmation_not_from_the_entries() -> None:
    driver = Driver()
    driver.signup()
    confirmed = driver.time_ms + 100  # the first of the entries below
    # the pooler re-publishes the same top every 100 ms for 4.9 s without a new confirmation
    for _ in range(50):
        _confirmed_tick(driver, confirmed, advance_ms=100)
    assert driver.time_ms == confirmed + 4_900
    # the last entry is 101 ms old, the top 5,001 ms: stale
    refused = rejection(driver.open(advance_ms=101))
    assert (refused.reason, refused.message) == (
        RejectReason.PRICE_STALE, f"price of {BTC} is stale (5001 ms old, limit {LIMIT_MS} ms)")


def test_a_quote_confirmed_before_its_entry_is_that_much_older() -> None:
    driver = _priced(-4_000)
    refused = rejection(driver.open(advance_ms=1_001))
    assert refused.reason is RejectReason.PRICE_STALE and "(5001 ms old" in refused.message
    driver = _priced(-4_000)
    assert isinstance(driver.open(advance_ms=1_000).reply, PositionOpened)


def test_a_quote_confirmed_after_its_entry_is_clamped_to_the_entry() -> None:
    driver = _priced(+10_000)
    quote = driver.state.quote(BTC)
    assert quote is not None and quote.received_at_ms == driver.time_ms
    assert isinstance(driver.open(advance_ms=LIMIT_MS).reply, PositionOpened)
    driver = _priced(+10_000)
    assert rejection(driver.open(advance_ms=LIMIT_MS + 1)).reason is RejectReason.PRICE_STALE


def test_an_unstated_confirmation_dates_the_quote_by_its_entry() -> None:
    driver = _priced(None)
    quote = driver.state.quote(BTC)
    assert quote is not None and quote.received_at_ms == driver.time_ms
    assert isinstance(driver.open(advance_ms=LIMIT_MS).reply, PositionOpened)


def test_a_quote_stale_on_arrival_never_trades() -> None:
    driver = _priced(-LIMIT_MS - 1)
    assert rejection(driver.open(advance_ms=0)).reason is RejectReason.PRICE_STALE


def test_the_dating_survives_a_snapshot() -> None:
    driver = _priced(-3_000)
    restored = TradingState.restore(driver.rules, driver.state.snapshot())
    assert restored.quote(BTC) == driver.state.quote(BTC)
    assert restored.state_hash() == driver.state.state_hash()



def _skewed(skew_ms: int, age_at_publish_ms: int) -> Driver:
    """One BTC quote published by a pooler whose clock is `skew_ms` ahead of the stream's, `age_at_publish_ms`
    after its last confirmation (the entry lands at the publish instant)."""
    driver = Driver()
    driver.signup()
    published = driver.time_ms + 1 + skew_ms
    driver.apply(PriceUpdate((Quote(BTC, BTC_BUY, BTC_SELL, 4, published - age_at_publish_ms, published),)))
    return driver


def test_a_publisher_clock_ahead_of_the_streams_cannot_make_a_quote_younger() -> None:
    # 10 s ahead: the confirmation looks 6 s in the entry's future, but the quote was 4 s old when published
    driver = _skewed(10_000, 4_000)
    quote = driver.state.quote(BTC)
    assert quote is not None and quote.received_at_ms == driver.time_ms - 4_000
    assert rejection(driver.open(advance_ms=1_001)).reason is RejectReason.PRICE_STALE
    assert isinstance(_skewed(10_000, 4_000).open(advance_ms=1_000).reply, PositionOpened)


def test_a_publisher_clock_behind_the_streams_only_makes_quotes_older() -> None:
    # 2 s behind: the entry's time less the confirmation counts those 2 s too (the safe side)
    driver = _skewed(-2_000, 1_000)
    quote = driver.state.quote(BTC)
    assert quote is not None and quote.received_at_ms == driver.time_ms - 3_000
    assert rejection(driver.open(advance_ms=2_001)).reason is RejectReason.PRICE_STALE
