"""One batch's plan (candles.builder.plan_batch, pure): the candles of its price updates, the moved cursor
with its count of entries read, and the gap when the stream's trimmed head is longer than what was read;
entries that are not commands or not prices are stepped over."""

from __future__ import annotations

from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2

from candles.aggregation import Candle
from candles.builder import StreamRead, plan_batch
from candles.entries import STREAM_START
from candles.store import Cursor, Gap
from mesh.stream_codec import encode_command
from mesh.units import AssetSpec

SPECS = {"BTC_USDC": AssetSpec("BTC_USDC", 4, 1000), "SOL_USDC": AssetSpec("SOL_USDC", 4, 1_000_000)}
T = 1_764_590_400_000  # 2025-12-01 12:00:00 UTC, a bucket start of every interval


def prices(*quotes: tuple[str, int, int]) -> dict[str, bytes]:
    update = market_pb2.PriceUpdate(
        quotes=[market_pb2.Quote(asset=a, buy_price=p + 10, sell_price=p, decimal=d) for a, p, d in quotes],
        source="fake",
    )
    return encode_command(commands_pb2.Command(price_update=update))


def order() -> dict[str, bytes]:
    return encode_command(commands_pb2.Command(close_position=commands_pb2.ClosePosition(position_id="p")))


def test_a_first_batch_counts_from_what_the_stream_still_holds() -> None:
    read = StreamRead(
        [(f"{T}-0", prices(("BTC_USDC", 500, 4))), (f"{T + 61_000}-0", prices(("BTC_USDC", 700, 4)))], 12, 2
    )
    plan = plan_batch(Cursor(STREAM_START, None), read, SPECS)
    assert plan.gap is None
    assert plan.to == Cursor(f"{T + 61_000}-0", 12)
    assert plan.candles[("BTC_USDC", "1m", T)] == Candle.of(500)
    assert plan.candles[("BTC_USDC", "1m", T + 60_000)] == Candle.of(700)
    assert plan.candles[("BTC_USDC", "1h", T)] == Candle(500, 700, 500, 700, 2)


def test_bids_not_asks_and_only_configured_assets_at_their_scale() -> None:
    read = StreamRead(
        [
            (f"{T}-0", prices(("BTC_USDC", 500, 4), ("DOGE_USDC", 9, 4), ("SOL_USDC", 80, 2))),
            (f"{T}-1", prices(("SOL_USDC", 0, 4))),  # one quote per asset per entry, as the engine requires
        ],
        2,
        2,
    )
    plan = plan_batch(Cursor(STREAM_START, None), read, SPECS)
    assert {key[0] for key in plan.candles} == {"BTC_USDC"}
    assert plan.candles[("BTC_USDC", "1d", T - 12 * 3_600_000)] == Candle.of(500)
    assert plan.skipped.counts == {"unknown_asset": 1, "scale": 1, "price": 1}


def test_other_commands_and_malformed_entries_move_the_cursor_without_candles() -> None:
    read = StreamRead(
        [
            (f"{T}-0", order()),
            (f"{T}-1", {"type": b"PRICE_UPDATE", "payload": b"\xff\xfe not protobuf"}),
            (f"{T}-2", {"nothing": b"here"}),
        ],
        10,
        10,
    )
    plan = plan_batch(Cursor(f"{T - 5}-0", 7), read, SPECS)
    assert plan.candles == {}
    assert plan.malformed == 2
    assert plan.to == Cursor(f"{T}-2", 10)
    assert plan.gap is None


def test_a_trim_past_the_cursor_is_a_gap_and_counting_resumes_after_it() -> None:
    # the builder read 7 entries; the stream has been given 20 and holds 5: 15 are gone, 8 of them unread
    read = StreamRead([(f"{T}-0", prices(("BTC_USDC", 500, 4)))], 20, 5)
    plan = plan_batch(Cursor(f"{T - 90_000}-0", 7), read, SPECS)
    assert plan.gap == Gap(f"{T - 90_000}-0", f"{T}-0")
    assert plan.to == Cursor(f"{T}-0", 16)
    assert plan.candles[("BTC_USDC", "1m", T)] == Candle.of(500)


def test_a_trim_of_entries_already_read_is_no_gap() -> None:
    read = StreamRead([(f"{T}-0", prices(("BTC_USDC", 500, 4)))], 20, 5)
    assert plan_batch(Cursor(f"{T - 90_000}-0", 15), read, SPECS).gap is None
