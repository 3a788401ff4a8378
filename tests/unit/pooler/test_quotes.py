"""Normalisation and the quote book's freshness rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mesh.units import parse_assets
from pooler.backpack import BookTicker
from pooler.events import Heartbeat, TopOfBook, Withdrawn
from pooler.publisher import price_update
from pooler.quotes import INT64_MAX, PlatformQuote, QuoteBook, QuoteRangeError, normalise

SPECS = parse_assets("BTC_USDC:4:0.00001,SOL_USDC:2:0.01")


def _ticker(symbol: str = "BTC_USDC", ask: str | None = "68983.1", bid: str | None = "68983.0") -> BookTicker:
    return BookTicker(
        symbol,
        None if ask is None else Decimal(ask),
        Decimal("1"),
        None if bid is None else Decimal(bid),
        Decimal("1"),
        7,
        1771003771693848,
        1771003771690207,
    )


def test_normalise_applies_spread_and_scale() -> None:
    quote = normalise(_ticker(), SPECS["BTC_USDC"], 100, "fake")
    assert quote == PlatformQuote("BTC_USDC", 696729310, 689830000, 4, 1771003771693, "fake")
    # SOL at 2 decimals: 98.97 * 1.01 = 99.9597 rounds up to 99.96, bid 98.96 stays
    sol = normalise(_ticker("SOL_USDC", "98.97", "98.96"), SPECS["SOL_USDC"], 100, "fake")
    assert sol is not None and (sol.buy_price, sol.sell_price, sol.decimal) == (9996, 9896, 2)


def test_normalise_empty_side_gives_no_quote() -> None:
    assert normalise(_ticker(ask=None), SPECS["BTC_USDC"], 100, "fake") is None


def test_fresh_quotes_follow_configured_asset_order_and_max_age() -> None:
    book = QuoteBook(SPECS, 100, max_age_seconds=5.0)
    book.apply(TopOfBook("live", 1, _ticker("SOL_USDC", "98.97", "98.96"), received_at=100.0, received_at_ms=100_000))
    book.apply(TopOfBook("live", 1, _ticker(), received_at=101.0, received_at_ms=101_000))
    assert [q.asset for q in book.fresh("live", 104.0)] == ["BTC_USDC", "SOL_USDC"]
    assert [q.asset for q in book.fresh("live", 105.5)] == ["BTC_USDC"]
    assert book.fresh("live", 106.5) == []
    assert book.age("live", "SOL_USDC", 105.5) == 5.5


def test_sources_are_kept_apart() -> None:
    book = QuoteBook(SPECS, 100, 5.0)
    book.apply(TopOfBook("sim", 9, _ticker(ask="1.1", bid="1.0"), 100.0, 100000))
    assert book.fresh("live", 100.0) == []
    assert [q.source for q in book.fresh("sim", 100.0)] == ["sim"]


def test_heartbeat_of_the_same_session_keeps_a_quiet_quote_fresh() -> None:
    book = QuoteBook(SPECS, 100, 5.0)
    book.apply(TopOfBook("live", 1, _ticker(), 100.0, 100000))
    book.apply(Heartbeat("live", 1, "BTC_USDC", 104.0, 104000))
    assert [q.asset for q in book.fresh("live", 108.0)] == ["BTC_USDC"]


def test_heartbeat_of_a_new_connection_does_not_vouch_for_an_old_quote() -> None:
    book = QuoteBook(SPECS, 100, 5.0)
    book.apply(TopOfBook("live", 1, _ticker(), 100.0, 100000))
    # reconnected (session 2): the top may have changed while we were away
    book.apply(Heartbeat("live", 2, "BTC_USDC", 104.0, 104000))
    assert book.fresh("live", 106.0) == []


def test_unknown_assets_are_ignored_and_an_empty_side_drops_the_quote() -> None:
    book = QuoteBook(SPECS, 100, 5.0)
    assert book.apply(TopOfBook("live", 1, _ticker("DOGE_USDC"), 100.0, 100000)) is None
    book.apply(TopOfBook("live", 1, _ticker(), 100.0, 100000))
    book.apply(TopOfBook("live", 1, _ticker(bid=None), 100.5, 100500))
    assert book.fresh("live", 101.0) == [] and book.latest("live", "BTC_USDC") is None


def test_a_top_beyond_int64_or_rounding_to_zero_is_refused_and_drops_the_old_quote() -> None:
    # inside the parser's bounds, but 10^15 x 1.01 at 10^4 is beyond int64 (protobuf would refuse it)
    with pytest.raises(QuoteRangeError) as caught:
        normalise(_ticker(ask="1000000000000000", bid="1"), SPECS["BTC_USDC"], 100, "fake")
    assert caught.value.reason == "range" and caught.value.symbol == "BTC_USDC"
    with pytest.raises(QuoteRangeError):
        normalise(_ticker("SOL_USDC", ask="1", bid="0.001"), SPECS["SOL_USDC"], 100, "fake")
    # the largest that fits: the buy price is exactly int64's maximum
    edge = normalise(_ticker(ask=str(Decimal(INT64_MAX) / 10**4), bid="1"), SPECS["BTC_USDC"], 0, "fake")
    assert edge is not None and edge.buy_price == INT64_MAX
    book = QuoteBook(SPECS, 100, 5.0)
    book.apply(TopOfBook("live", 1, _ticker(), 100.0, 100000))
    with pytest.raises(QuoteRangeError):
        book.apply(TopOfBook("live", 1, _ticker(ask="1000000000000000", bid="1"), 100.5, 100500))
    # the venue's top is no longer the old one: it must not be published, not even on a heartbeat
    book.apply(Heartbeat("live", 1, "BTC_USDC", 101.0, 101000))
    assert book.fresh("live", 101.0) == []


def test_a_withdrawn_top_is_no_longer_published_and_the_other_assets_are() -> None:
    book = QuoteBook(SPECS, 100, 5.0)
    book.apply(TopOfBook("live", 1, _ticker(), 100.0, 100000))
    book.apply(TopOfBook("live", 1, _ticker("SOL_USDC", "98.97", "98.96"), 100.0, 100000))
    book.apply(Withdrawn("live", 1, "BTC_USDC", 100.5))
    book.apply(Heartbeat("live", 1, "BTC_USDC", 101.0, 101000))
    assert [q.asset for q in book.fresh("live", 101.0)] == ["SOL_USDC"]
    book.apply(TopOfBook("live", 1, _ticker(), 101.5, 101500))
    assert [q.asset for q in book.fresh("live", 102.0)] == ["BTC_USDC", "SOL_USDC"]


def test_a_published_quote_is_dated_by_its_last_confirmation() -> None:
    book = QuoteBook(SPECS, 100, 5.0)
    book.apply(TopOfBook("live", 1, _ticker(), 100.0, 1_799_999_990_000))
    book.apply(Heartbeat("live", 1, "BTC_USDC", 102.0, 1_799_999_992_000))
    # a heartbeat that arrived out of order changes nothing
    book.apply(Heartbeat("live", 1, "BTC_USDC", 101.0, 1_799_999_991_000))
    book.apply(TopOfBook("live", 1, _ticker("SOL_USDC", "98.97", "98.96"), 103.0, 1_799_999_993_000))
    confirmed = book.fresh_confirmed("live", 104.5)
    assert [(q.asset, ms) for q, ms in confirmed] == [("BTC_USDC", 1_799_999_992_000), ("SOL_USDC", 1_799_999_993_000)]
    update = price_update(confirmed, "live", published_at_ms=1_800_000_000_000)
    # the wall clock of the last confirmation, stable however often it is re-published
    assert [q.confirmed_at_ms for q in update.quotes] == [1_799_999_992_000, 1_799_999_993_000]
    assert (
        price_update(book.fresh_confirmed("live", 106.0), "live", 1_800_000_000_100).quotes[0].confirmed_at_ms
        == 1_799_999_992_000
    )
    # the venue's own clock stays for information
    assert update.quotes[0].venue_time_ms == 1771003771693
