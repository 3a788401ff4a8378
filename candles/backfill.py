"""History from the venue: Backpack's `GET /api/v1/klines?symbol=&interval=&startTime=&endTime=` (times in
UTC seconds; an array of `{start, end, open, high, low, close, volume, quoteVolume, trades}`, prices as
decimal strings, `start`/`end` naive-UTC "YYYY-MM-DD HH:MM:SS", docs/backpack-protocol.md) turned into
candles of the platform's scale.

The rule (docs/contract.md, Candles): backfill only adds buckets that hold none of the platform's own
quotes. It asks only for buckets that end by `until_ms`, the time of the first stream entry the builder
has not folded in yet (so no backfilled bucket can hold a quote still to come), and inserts with
`ON CONFLICT DO NOTHING`, so a bucket already built from our quotes is never touched. The venue's trade
prices stand in for the bid in that history, rounded down to the price scale like the bid. A candle
without prices, not aligned to our bucket or not parseable is left out (and counted)."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from candles import metrics
from candles.aggregation import INTERVAL_MS, INTERVALS, BucketKey, Candle, bucket_start
from mesh.units import AssetSpec, scale_round_down

log = logging.getLogger("candles.backfill")

TIMEOUT_SECONDS = 10.0


class KlineError(ValueError):
    """A venue candle that cannot become one of ours."""


def _start_ms(text: object) -> int:
    if not isinstance(text, str):
        raise KlineError(f"start is not a string: {text!r}")
    try:
        when = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError:
        raise KlineError(f"start is not 'YYYY-MM-DD HH:MM:SS': {text[:40]!r}") from None
    return int(when.timestamp()) * 1000


def _price(item: dict[str, Any], name: str, decimal: int) -> int:
    text = item.get(name)
    if not isinstance(text, str):
        raise KlineError(f"{name} missing")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise KlineError(f"{name} is not a number: {text[:40]!r}") from None
    if not value.is_finite() or value <= 0 or value.adjusted() > 18:
        raise KlineError(f"{name} out of range: {text[:40]!r}")
    return scale_round_down(value, decimal)


def parse_klines(body: object, asset: str, interval: str, decimal: int, until_ms: int) -> dict[BucketKey, Candle]:
    """The venue's answer as our candles (ticks 0); items that do not fit are skipped and counted."""
    if not isinstance(body, list):
        raise KlineError(f"klines answer is not an array: {str(body)[:80]}")
    width = INTERVAL_MS[interval]
    candles: dict[BucketKey, Candle] = {}
    for item in body:
        try:
            if not isinstance(item, dict):
                raise KlineError("item is not an object")
            start = _start_ms(item.get("start"))
            if bucket_start(start, interval) != start or start + width > until_ms:
                raise KlineError(f"bucket {item.get('start')} is not a whole {interval} bucket before the cut-off")
            prices = [_price(item, name, decimal) for name in ("open", "high", "low", "close")]
        except KlineError as exc:
            metrics.BACKFILL_ERRORS.inc()
            log.debug("skipping a venue candle", extra={"asset": asset, "interval": interval, "error": str(exc)})
            continue
        open_, high, low, close = prices
        candles[(asset, interval, start)] = Candle(open_, high, low, close, 0)
    return candles


async def fetch_history(
    client: httpx.AsyncClient,
    base_url: str,
    specs: dict[str, AssetSpec],
    until_ms: int,
    buckets: int,
    since_ms: int | None = None,
) -> dict[BucketKey, Candle]:
    """Every asset's and interval's whole buckets ending by `until_ms`: the last `buckets` of each, or
    those after `since_ms` (a gap) when given. A failed request is logged and counted; the others count."""
    history: dict[BucketKey, Candle] = {}
    for spec in specs.values():
        for interval in INTERVALS:
            width = INTERVAL_MS[interval]
            start_ms = until_ms - buckets * width if since_ms is None else bucket_start(since_ms, interval)
            params = {
                "symbol": spec.symbol,
                "interval": interval,
                "startTime": str(max(0, start_ms) // 1000),
                "endTime": str(until_ms // 1000),
            }
            try:
                response = await client.get(f"{base_url}/api/v1/klines", params=params, timeout=TIMEOUT_SECONDS)
                response.raise_for_status()
                history.update(parse_klines(response.json(), spec.symbol, interval, spec.decimal, until_ms))
            except (httpx.HTTPError, ValueError) as exc:  # KlineError and a JSON decode error are ValueErrors
                metrics.BACKFILL_ERRORS.inc()
                log.warning(
                    "venue klines unavailable",
                    extra={"asset": spec.symbol, "interval": interval, "error": str(exc)[:300]},
                )
    return history
