"""A quote's age runs from when the feed last produced or confirmed it (`Quote.confirmed_at_ms`), not from
the stream entry that carried it: a top the pooler kept re-publishing is as old as its last confirmation.
That age is measured on the publisher's clock alone (`published_at_ms - confirmed_at_ms`, never negative)
and the quote is dated by its entry's time less that age: the publisher's clock is never compared with
the stream's, so a skew either way changes nothing. A quote already stale when published is skipped
(not stored, fires no trigger). A quote that does not state both times is dated by its entry."""

from __future__ import annotations

from engine.domain import PositionOpened, PriceUpdate, Quote, RejectReason, Side, TradingState
from tests.unit.engine.domain.helpers import BTC, BTC_BUY, BTC_SELL, Driver, rejection

LIMIT_MS = 5_000  # default_rules().price_stale_after_ms


def _tick(driver: Driver, confirmed_at_ms: int, published_at_ms: int, advance_ms: int = 1,
          buy: int = BTC_BUY, sell: int = BTC_SELL) -> tuple[str, ...]:  # fmt: skip
    outcome = driver.apply(PriceUpdate((Quote(BTC, buy, sell, 4, confirmed_at_ms, published_at_ms),)),
                           advance_ms=advance_ms)  # fmt: skip
    return outcome.skipped_quotes


def _skewed(skew_ms: int, age_at_publish_ms: int) -> Driver:
    """Alice with $10,000 and one BTC quote published by a pooler whose clock is `skew_ms` ahead of the
    stream's (negative: behind), `age_at_publish_ms` after its last confirmation (the entry lands at the
    publish instant)."""
    driver = Driver()
    assert driver.rules.price_stale_after_ms == LIMIT_MS
    driver.signup()
    published = driver.time_ms + 1 + skew_ms
    assert _tick(driver, published - age_at_publish_ms, published) == ()
    return driver


def test_a_republished_top_ages_from_its_last_confirmation_not_from_the_entries() -> None:
    driver = Driver()
    driver.signup()
    confirmed = driver.time_ms + 100  # the first of the entries below
    # the pooler re-publishes the same top every 100 ms for 4.9 s without a new confirmation
    for tick in range(50):
        _tick(driver, confirmed, confirmed + 100 * tick, advance_ms=100)
    assert driver.time_ms == confirmed + 4_900
    # the last entry is 101 ms old, the top 5,001 ms: stale
    refused = rejection(driver.open(advance_ms=101))
    assert (refused.reason, refused.message) == (
        RejectReason.PRICE_STALE,
        f"price of {BTC} is stale (5001 ms old, limit {LIMIT_MS} ms)",
    )


def test_the_age_at_publish_counts_against_the_limit() -> None:
    driver = _skewed(0, 4_000)
    refused = rejection(driver.open(advance_ms=1_001))
    assert refused.reason is RejectReason.PRICE_STALE and "(5001 ms old" in refused.message
    assert isinstance(_skewed(0, 4_000).open(advance_ms=1_000).reply, PositionOpened)


def test_a_publisher_clock_ahead_of_the_streams_changes_nothing() -> None:
    for skew_ms in (10_000, 60_000):
        driver = _skewed(skew_ms, 4_000)
        quote = driver.state.quote(BTC)
        assert quote is not None and quote.received_at_ms == driver.time_ms - 4_000
        assert rejection(driver.open(advance_ms=1_001)).reason is RejectReason.PRICE_STALE
        assert isinstance(_skewed(skew_ms, 4_000).open(advance_ms=1_000).reply, PositionOpened)


def test_a_publisher_clock_behind_the_streams_changes_nothing() -> None:
    # far more than the limit behind: the quote is as old as the pooler measured, no older
    for skew_ms in (-2_000, -LIMIT_MS - 1, -60_000):
        driver = _skewed(skew_ms, 1_000)
        quote = driver.state.quote(BTC)
        assert quote is not None and quote.received_at_ms == driver.time_ms - 1_000
        assert isinstance(driver.open(advance_ms=LIMIT_MS - 1_000).reply, PositionOpened)
        assert rejection(_skewed(skew_ms, 1_000).open(advance_ms=LIMIT_MS - 999)).reason is RejectReason.PRICE_STALE


def test_opens_and_triggers_agree_under_a_skewed_publisher_clock() -> None:
    # a pooler a minute behind: opens succeed, and a stop-loss fires on the same kind of quote
    driver = _skewed(-60_000, 0)
    opened = driver.open(side=Side.LONG, stop_loss=BTC_SELL - 1_000).reply
    assert isinstance(opened, PositionOpened)
    now = driver.time_ms + 1 - 60_000
    outcome = driver.apply(PriceUpdate((Quote(BTC, BTC_BUY - 2_000, BTC_SELL - 2_000, 4, now, now),)))
    assert outcome.skipped_quotes == () and len(outcome.closed_trades) == 1


def test_a_quote_stale_on_arrival_is_skipped_and_fires_nothing() -> None:
    driver = _skewed(0, 0)
    opened = driver.open(side=Side.LONG, stop_loss=BTC_SELL - 1_000).reply
    assert isinstance(opened, PositionOpened)
    before = driver.state.quote(BTC)
    published = driver.time_ms + 1
    # far below the stop-loss, but already past the limit when the pooler published it
    skipped = _tick(driver, published - LIMIT_MS - 1, published, buy=BTC_BUY - 2_000, sell=BTC_SELL - 2_000)
    assert skipped == (f"quote of {BTC} skipped: already {LIMIT_MS + 1} ms old when published "
                       f"(limit {LIMIT_MS} ms)",)  # fmt: skip
    assert driver.state.quote(BTC) == before
    assert driver.state.position(opened.position.id) is not None
    # exactly at the limit it is still accepted
    assert _tick(driver, published - LIMIT_MS, published) == ()


def test_a_publish_time_before_the_confirmation_counts_as_age_zero() -> None:
    driver = _skewed(0, -3_000)
    quote = driver.state.quote(BTC)
    assert quote is not None and quote.received_at_ms == driver.time_ms


def test_an_unstated_time_dates_the_quote_by_its_entry() -> None:
    for confirmed, published in ((0, 0), (0, 1_800_000_000_000), (1_800_000_000_000, 0)):
        driver = Driver()
        driver.signup()
        assert _tick(driver, confirmed, published) == ()
        quote = driver.state.quote(BTC)
        assert quote is not None and quote.received_at_ms == driver.time_ms
        assert isinstance(driver.open(advance_ms=LIMIT_MS).reply, PositionOpened)


def test_the_dating_survives_a_snapshot() -> None:
    driver = _skewed(-7_000, 3_000)
    restored = TradingState.restore(driver.rules, driver.state.snapshot())
    assert restored.quote(BTC) == driver.state.quote(BTC)
    assert restored.state_hash() == driver.state.state_hash()
