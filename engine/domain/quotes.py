"""Quotes: which incoming quotes are accepted (in the asset's price scale), and whether the latest one is
fresh enough to trade on."""

from __future__ import annotations

from engine.domain import money
from engine.domain.commands import Quote, Rejection
from engine.domain.model import LatestQuote, RejectReason
from engine.domain.rules import Rules
from mesh.units import MAX_DECIMAL


def accepted_quote(rules: Rules, quote: Quote, time_ms: int) -> LatestQuote | str:
    """The quote in its asset's price scale, or why it is skipped."""
    spec = rules.assets.get(quote.asset)
    if spec is None:
        return f"quote skipped: asset {quote.asset!r} is not traded here"
    if not 0 <= quote.decimal <= MAX_DECIMAL:
        return f"quote of {quote.asset} skipped: decimal {quote.decimal} outside 0..{MAX_DECIMAL}"
    if quote.buy_price <= 0 or quote.sell_price <= 0:
        return f"quote of {quote.asset} skipped: prices must be positive"
    if quote.sell_price > quote.buy_price:
        return f"quote of {quote.asset} skipped: the sell price is above the buy price"
    # Rescaling keeps every stored price in the scale positions, stop-losses and replies use. It
    # rounds the buy price up and the sell price down, so the spread can only widen.
    buy_price = money.rescale_buy_price(quote.buy_price, quote.decimal, spec.decimal)
    sell_price = money.rescale_sell_price(quote.sell_price, quote.decimal, spec.decimal)
    if sell_price <= 0:
        return f"quote of {quote.asset} skipped: the sell price rounds to 0 at decimal {spec.decimal}"
    # The quote's age runs from when the feed last produced or confirmed it, so the time the pooler
    # kept re-publishing it counts against the staleness limit. That age is measured on the pooler's
    # clock alone (published_at - confirmed_at, never negative) and subtracted from the entry's time:
    # comparing the pooler's clock with Redis's would make every quote look stale (or fresh) whenever
    # the two machines disagree, and opens and closes would then be refused while triggers fire on the
    # same quotes. The entry's time when the quote does not state both. Only values of the entry:
    # replay decides alike.
    confirmed, published = quote.confirmed_at_ms, quote.published_at_ms
    age_ms = max(0, published - confirmed) if confirmed > 0 and published > 0 else 0
    if age_ms > rules.price_stale_after_ms:
        # stale on arrival: stored, it could fire a stop-loss or liquidation no open or close could use
        return (f"quote of {quote.asset} skipped: already {age_ms} ms old when published "
                f"(limit {rules.price_stale_after_ms} ms)")  # fmt: skip
    dated_ms = time_ms - age_ms
    return LatestQuote(spec.symbol, buy_price, sell_price, spec.decimal, dated_ms)


def fresh_quote(rules: Rules, quote: LatestQuote | None, asset: str, time_ms: int) -> LatestQuote | Rejection:
    """`quote`, the latest of `asset`, if it is at most `price_stale_after_ms` old in stream time."""
    if quote is None:
        return Rejection(RejectReason.PRICE_UNAVAILABLE, f"no price of {asset} has been received yet")
    age = time_ms - quote.received_at_ms
    limit = rules.price_stale_after_ms
    if age > limit:
        return Rejection(RejectReason.PRICE_STALE, f"price of {asset} is stale ({age} ms old, limit {limit} ms)")
    return quote
