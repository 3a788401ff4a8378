"""Benchmark of the engine domain core (engine/domain): command throughput, price-tick latency with
100,000 open positions and with 100,000 pending orders, and memory per open position.
Run: `.venv/bin/python -m bench.domain_bench`.

Commands are built before the clock starts: the figures are the cost of `TradingState.apply` alone, on
one core, with the garbage collector at its defaults unless `--no-gc` is given."""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import time
import tracemalloc

from engine.domain import (
    ClosePosition,
    CreateAccount,
    OpenPosition,
    OrderStatus,
    OrderType,
    PlaceOrder,
    PriceUpdate,
    Quote,
    Side,
    TradingState,
    default_rules,
)

ASSET = "BTC_USDC"
DECIMAL = 4
# $118,234.50 bid, ask + 1% spread: the seed's BTC quote at price scale 4 (docs/contract.md §8)
SELL = 1_182_345_000
BUY = 1_194_168_450
QUANTITY = 1_000_000  # 0.01 BTC
USERS = 1_000
TIME_MS = 1_000
# Stop-loss and take-profit levels are spread one price unit apart, so a move of k units below
# LEVEL_GAP triggers exactly k stop-losses.
LEVEL_GAP = 1_000


def _quote(buy: int, sell: int) -> PriceUpdate:
    return PriceUpdate((Quote(ASSET, buy, sell, DECIMAL),))


def _funded_state() -> TradingState:
    state = TradingState(default_rules())
    for user in range(USERS):
        state.apply(CreateAccount(f"user-{user}", f"user-{user}@example.com", 10**12), entry_id=f"0-{user}", time_ms=0)
    state.apply(_quote(BUY, SELL), entry_id="1-0", time_ms=TIME_MS)
    return state


def _open_command(number: int, with_levels: bool) -> OpenPosition:
    """Alternating sides and leverage 2..51 (liquidation levels 2%..50% away); with_levels adds a
    stop-loss and a take-profit, distinct per position."""
    side = Side.LONG if number % 2 == 0 else Side.SHORT
    rank = number // 2
    if not with_levels:
        stop_loss = take_profit = 0
    elif side is Side.LONG:
        stop_loss, take_profit = SELL - LEVEL_GAP - rank, SELL + 100 * LEVEL_GAP + rank
    else:
        stop_loss, take_profit = BUY + LEVEL_GAP + rank, BUY - 100 * LEVEL_GAP - rank
    return OpenPosition(
        f"user-{number % USERS}", ASSET, side, QUANTITY, 2 + number % 50, 100, stop_loss, take_profit, 0
    )


def _percentiles(samples_ns: list[int]) -> str:
    ordered = sorted(samples_ns)
    p50 = statistics.median(ordered) / 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000
    return f"p50 {p50:,.1f} µs, p99 {p99:,.1f} µs ({len(ordered):,} samples)"


def bench_throughput(count: int, with_keys: bool) -> None:
    state = _funded_state()
    opens = [_open_command(n, with_levels=n % 4 < 2) for n in range(count)]
    entry_ids = [f"{TIME_MS}-{n}" for n in range(count)]
    keys = [f"key-{n}" for n in range(count)] if with_keys else [""] * count
    closes = [ClosePosition(f"user-{n % USERS}", f"pos-{entry_ids[n]}") for n in range(count)]
    close_entry_ids = [f"{TIME_MS}-{count + n}" for n in range(count)]
    close_keys = [f"close-{n}" for n in range(count)] if with_keys else [""] * count

    apply = state.apply
    started = time.perf_counter()
    for command, entry_id, key in zip(opens, entry_ids, keys, strict=True):
        apply(command, entry_id=entry_id, time_ms=TIME_MS, idempotency_key=key)
    opened = time.perf_counter()
    for command, entry_id, key in zip(closes, close_entry_ids, close_keys, strict=True):
        apply(command, entry_id=entry_id, time_ms=TIME_MS, idempotency_key=key)
    closed = time.perf_counter()
    assert state.open_position_count == 0, "every open must succeed and every close find its position"

    label = "with idempotency keys" if with_keys else "without idempotency keys"
    print(f"  {label}:")
    print(f"    open : {count / (opened - started):>10,.0f} cmds/s")
    print(f"    close: {count / (closed - opened):>10,.0f} cmds/s")
    print(f"    both : {2 * count / (closed - started):>10,.0f} cmds/s  ({2 * count:,} commands)")


def _state_with_positions(count: int) -> TradingState:
    state = _funded_state()
    for n in range(count):
        outcome = state.apply(_open_command(n, with_levels=True), entry_id=f"{TIME_MS}-{n}", time_ms=TIME_MS)
        assert outcome.closed_trades == () and state.open_position_count == n + 1
    return state


def bench_ticks(count: int, quiet_ticks: int, trigger_rounds: int) -> None:
    state = _state_with_positions(count)
    clock = TIME_MS

    def tick(update: PriceUpdate) -> int:
        """Apply one price update; its duration in ns."""
        nonlocal clock
        clock += 100
        entry_id = f"{clock}-0"
        started = time.perf_counter_ns()
        state.apply(update, entry_id=entry_id, time_ms=clock)
        return time.perf_counter_ns() - started

    # Nothing triggers: the price wobbles by less than the nearest stop-loss distance.
    quiet = [_quote(BUY + delta, SELL + delta) for delta in (-(LEVEL_GAP // 2), LEVEL_GAP // 2)]
    samples = [tick(quiet[i % 2]) for i in range(quiet_ticks)]
    assert state.open_position_count == count
    print(f"  no trigger ({count:,} open positions): {_percentiles(samples)}")

    # 1% triggers: the sell price falls just far enough to fire the stop-loss of count/100 LONGs,
    # which are then reopened (untimed) with the same levels for the next round.
    triggered = count // 100
    fall = LEVEL_GAP + triggered - 1
    drop = _quote(BUY - fall, SELL - fall)
    samples = []
    next_entry = count
    for _ in range(trigger_rounds):
        before = state.open_position_count
        samples.append(tick(drop))
        assert before - state.open_position_count == triggered, "exactly 1% must trigger"
        tick(quiet[0])
        for rank in range(triggered):
            command = _open_command(2 * rank, with_levels=True)
            clock += 1
            state.apply(command, entry_id=f"{clock}-{next_entry}", time_ms=clock)
            next_entry += 1
        assert state.open_position_count == count
    print(f"  1% triggers ({triggered:,} of {count:,} closed per tick): {_percentiles(samples)}")


def _order_command(number: int) -> PlaceOrder:
    """Alternating LIMIT LONGs below the buy price and STOP LONGs above it, one price unit apart, so a fall
    of the buy price by k units beyond LEVEL_GAP fills exactly k limits; 100 per user (the default cap)."""
    rank = number // 2
    if number % 2 == 0:
        order_type, price = OrderType.LIMIT, BUY - LEVEL_GAP - rank
    else:
        order_type, price = OrderType.STOP, BUY + LEVEL_GAP + rank
    return PlaceOrder(f"user-{number % USERS}", ASSET, Side.LONG, order_type, price, QUANTITY, 10, 0, 0)


def bench_order_ticks(count: int, quiet_ticks: int, trigger_rounds: int) -> None:
    """Price ticks over `count` pending orders (and no open position at the start)."""
    state = _funded_state()
    clock = TIME_MS
    for n in range(count):
        state.apply(_order_command(n), entry_id=f"{clock}-{n}", time_ms=clock)
    assert state.pending_order_count == count, "every order must be accepted"

    def tick(update: PriceUpdate) -> int:
        nonlocal clock
        clock += 100
        started = time.perf_counter_ns()
        state.apply(update, entry_id=f"{clock}-0", time_ms=clock)
        return time.perf_counter_ns() - started

    quiet = [_quote(BUY + delta, SELL + delta) for delta in (-(LEVEL_GAP // 2), LEVEL_GAP // 2)]
    samples = [tick(quiet[i % 2]) for i in range(quiet_ticks)]
    assert state.pending_order_count == count
    print(f"  no fill ({count:,} pending orders): {_percentiles(samples)}")

    # 1% fills: the buy price falls just far enough to fill count/100 LIMIT LONGs, each opening a position;
    # they are placed again (untimed) for the next round
    triggered = count // 100
    fall = LEVEL_GAP + triggered - 1
    drop = _quote(BUY - fall, SELL - fall)
    samples = []
    next_entry = count
    for _ in range(trigger_rounds):
        clock += 100
        started = time.perf_counter_ns()
        outcome = state.apply(drop, entry_id=f"{clock}-0", time_ms=clock)
        samples.append(time.perf_counter_ns() - started)
        assert [f.status for f in outcome.finished_orders] == [OrderStatus.FILLED] * triggered, "exactly 1% fills"
        tick(quiet[0])
        for rank in range(triggered):
            clock += 1
            state.apply(_order_command(2 * rank), entry_id=f"{clock}-{next_entry}", time_ms=clock)
            next_entry += 1
        assert state.pending_order_count == count
    print(f"  1% fills ({triggered:,} of {count:,} filled per tick, each opening a position): {_percentiles(samples)}")


def bench_memory(count: int) -> None:
    state = _funded_state()
    commands = [_open_command(n, with_levels=n % 4 < 2) for n in range(count)]
    entry_ids = [f"{TIME_MS}-{n}" for n in range(count)]
    gc.collect()
    tracemalloc.start()
    baseline, _ = tracemalloc.get_traced_memory()
    for command, entry_id in zip(commands, entry_ids, strict=True):
        state.apply(command, entry_id=entry_id, time_ms=TIME_MS)
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert state.open_position_count == count
    print(
        f"  {(current - baseline) / count:,.0f} bytes per open position "
        f"({count:,} positions, half with stop-loss and take-profit; tracemalloc, incl. indexes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--quiet-ticks", type=int, default=20_000)
    parser.add_argument("--trigger-rounds", type=int, default=100)
    parser.add_argument("--orders", type=int, default=100_000, help="pending orders of the order-tick benchmark")
    parser.add_argument("--only-orders", action="store_true", help="run the pending-order ticks only")
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="disable the cyclic garbage collector (the domain builds no cycles) to show its share",
    )
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()
    collector = "disabled" if args.no_gc else "default thresholds"
    print(
        f"engine domain benchmark: Python {platform.python_version()} on {platform.machine()}, one core, "
        f"garbage collector {collector}"
    )
    if args.only_orders:
        print("price tick over pending orders:")
        bench_order_ticks(args.orders, args.quiet_ticks, args.trigger_rounds)
        return
    print("open/close throughput:")
    bench_throughput(args.positions, with_keys=False)
    bench_throughput(args.positions, with_keys=True)
    print("price tick:")
    bench_ticks(args.positions, args.quiet_ticks, args.trigger_rounds)
    print("price tick over pending orders:")
    bench_order_ticks(args.orders, args.quiet_ticks, args.trigger_rounds)
    print("memory:")
    bench_memory(args.positions)


if __name__ == "__main__":
    main()
