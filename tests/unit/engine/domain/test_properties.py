"""Property tests over random command sequences, pending orders among them: money is conserved (balance +
reserved + margins + credited - debited = deposits), no balance goes negative, the trigger indexes close and
fill exactly what a brute-force scan would (expiries too), snapshot -> restore keeps hash and behaviour, and
replaying the same entries gives the same hash."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain import (
    AccountCreated,
    AmendPosition,
    CancelOrder,
    ClosePosition,
    CloseReason,
    Command,
    CreateAccount,
    OpenPosition,
    OrderCancelled,
    OrderPlaced,
    OrderStatus,
    OrderType,
    Outcome,
    PendingOrder,
    PlaceOrder,
    Position,
    PositionClosed,
    PositionOpened,
    PriceUpdate,
    Quote,
    Side,
    TradingState,
    default_rules,
    money,
)

USERS = ("u0", "u1", "u2")
ASSETS = ("BTC_USDC", "ETH_USDC", "SOL_USDC")
STEPS = {"BTC_USDC": 1_000, "ETH_USDC": 10_000, "SOL_USDC": 1_000_000}
# one generated operation: its kind, then the values its strategy drew
Operation = tuple[Any, ...]
START_MIDS = {"BTC_USDC": 1_188_000_000, "ETH_USDC": 34_700_000, "SOL_USDC": 1_880_000}
KEYS = ("",) * 6 + ("k1", "k2", "k3")

# mostly the two funded users; sometimes one who may sign up later, or one who never does
actors = st.sampled_from(("u0", "u1") * 3 + ("u2", "ghost"))
signups = st.tuples(st.just("signup"), st.sampled_from(USERS), st.integers(0, 3_000_000), st.booleans())
ticks = st.tuples(
    st.just("tick"),
    st.sampled_from(ASSETS),
    st.integers(-1_500, 1_500),  # move of the mid, basis points
    st.integers(0, 300),  # spread, basis points
    # 0-6 well-formed (5: at price scale 2, 6: at scale 6); 7: sell above buy, 8: zero prices, 9: unknown asset
    st.integers(0, 9),
    st.booleans(),  # add a second quote for another asset
)
# distance of a stop-loss or take-profit from the closing price in bps: mostly off or on the right side,
# sometimes (negative) on the wrong one
# mostly small; sometimes large enough to exceed a balance
_QUANTITY_STEPS = {"small": st.integers(-2, 40), "large": st.integers(10_000, 5_000_000)}
quantity_steps = st.sampled_from(("small",) * 5 + ("large",)).flatmap(_QUANTITY_STEPS.__getitem__)
_LEVEL_DISTANCES = {"off": st.just(0), "right": st.integers(1, 1_500), "wrong": st.integers(-300, -1)}
levels = st.sampled_from(("off", "off", "right", "right", "wrong")).flatmap(_LEVEL_DISTANCES.__getitem__)
opens = st.tuples(
    st.just("open"),
    actors,
    st.sampled_from(ASSETS),
    st.sampled_from(Side),
    quantity_steps,
    st.sampled_from((10, 1, 2, 5, 20, 50, 100, 10, 20, 50, 0, 101)),
    st.sampled_from((100, 100, 100, 0, 10_001)),
    levels,  # stop-loss
    levels,  # take-profit
    st.sampled_from((0, 0, 0, 1, 2)),  # 0: no slippage check, 1: expected = fill, 2: expected 2% away
    st.sampled_from(KEYS),
)
closes = st.tuples(st.just("close"), actors, st.integers(0, 1_000), st.sampled_from(KEYS))
# a partial close: k in 1..12 closes about k/13 of the position; 0 all of it; -1 one step more than it
# holds, -2 minus a step, -3 half a step (the last three are refused)
partials = st.tuples(st.just("partial"), actors, st.integers(0, 1_000), st.integers(-3, 12), st.sampled_from(KEYS))
# new levels: None keeps one, 0 removes it, else a distance as for an open
amend_levels = st.none() | st.just(0) | levels.filter(bool)
amends = st.tuples(st.just("amend"), actors, st.integers(0, 1_000), amend_levels, amend_levels, st.sampled_from(KEYS))
waits = st.tuples(st.just("wait"), st.integers(0, 7_000))
# a pending order: its distance from the market in bps (positive on the side where it waits, negative or 0
# on the wrong side), levels around its price as for an open, an expiry after 0 (none) .. 20 s of stream time
places = st.tuples(
    st.just("place"),
    actors,
    st.sampled_from(ASSETS),
    st.sampled_from(Side),
    st.sampled_from(OrderType),
    st.sampled_from(("right",) * 4 + ("wrong",)).flatmap(
        {"right": st.integers(1, 1_500), "wrong": st.integers(-100, 0)}.__getitem__
    ),
    quantity_steps,
    st.sampled_from((10, 1, 5, 20, 100, 0)),
    levels,
    levels,
    st.sampled_from((0, 0, 1, 500, 5_000, 20_000)),
    st.sampled_from(KEYS),
)
cancels = st.tuples(st.just("cancel"), actors, st.integers(0, 1_000), st.sampled_from(KEYS))
# opens and ticks are the interesting part, so they are drawn most often
KINDS = {
    "open": opens, "tick": ticks, "close": closes, "partial": partials, "amend": amends, "signup": signups,
    "wait": waits, "place": places, "cancel": cancels,
}  # fmt: skip
operation_kinds = st.sampled_from(
    ("open",) * 3 + ("tick",) * 4 + ("place",) * 3
    + ("close", "partial", "partial", "amend", "amend", "signup", "wait", "cancel")
)  # fmt: skip
operations = st.lists(operation_kinds.flatmap(KINDS.__getitem__), min_size=20, max_size=100)


def _expected_reason(position: Position, buy: int, sell: int) -> CloseReason | None:
    """The brute-force rule, position by position, straight from docs/contract.md §4."""
    if position.side is Side.LONG:
        liquidated = position.liquidation_price and sell <= position.liquidation_price
        stopped = position.stop_loss and sell <= position.stop_loss
        profited = position.take_profit and sell >= position.take_profit
    else:
        liquidated = buy >= position.liquidation_price
        stopped = position.stop_loss and buy >= position.stop_loss
        profited = position.take_profit and buy <= position.take_profit
    if liquidated:
        return CloseReason.LIQUIDATION
    if stopped:
        return CloseReason.STOP_LOSS
    if profited:
        return CloseReason.TAKE_PROFIT
    return None


@dataclass
class Model:
    """Drives a TradingState from generated operations and keeps the books needed to check it."""

    state: TradingState = field(default_factory=lambda: TradingState(default_rules()))
    time_ms: int = 1_000_000
    entries: int = 0
    mids: dict[str, int] = field(default_factory=lambda: dict(START_MIDS))
    deposits: int = 0
    realized: int = 0
    position_ids: list[str] = field(default_factory=list)

    def start(self) -> Model:
        """Fund two users and quote every asset, so most generated commands have something to act on."""
        for user in USERS[:2]:
            self.apply(CreateAccount(user, f"{user}@example.com", 2_000_000), "")
        for asset in ASSETS:
            self.apply(PriceUpdate((self._quote(asset, 0, 100, 0),)), "")
        return self

    def command_for(self, operation: Operation) -> tuple[Command, str] | None:
        kind = operation[0]
        if kind == "wait":
            self.time_ms += operation[1]
            return None
        if kind == "signup":
            _, user, balance, conflicting = operation
            email = f"{user}@other.example" if conflicting else f"{user}@example.com"
            return CreateAccount(user, email, balance), ""
        if kind == "tick":
            return PriceUpdate(self._quotes(operation)), ""
        if kind == "open":
            return self._open(operation)
        if kind == "partial":
            _, actor, pick, share, key = operation
            user, position_id, position = self._target(actor, pick)
            step = STEPS[position.asset if position else ASSETS[0]]
            held = position.quantity if position else step
            quantity = {-3: step // 2, -2: -step, -1: held + step}.get(share, held * share // 13 // step * step)
            return ClosePosition(user, position_id, quantity), key
        if kind == "amend":
            return self._amend(operation)
        if kind == "place":
            return self._place(operation)
        if kind == "cancel":
            _, actor, pick, key = operation
            known = [o.id for o in self.pending_orders()] + ["ord-missing"]
            order = self.state.pending_order(known[pick % len(known)])
            owner = order.user_id if order and actor in USERS[:2] else actor
            return CancelOrder(owner, known[pick % len(known)]), key
        _, user, pick, key = operation
        known = [*self.position_ids, "pos-missing"]
        return ClosePosition(user, known[pick % len(known)]), key

    def _target(self, actor: str, pick: int) -> tuple[str, str, Position | None]:
        """One of the open positions (or a missing one), acted on by its owner unless the actor is one of
        the users who hold nothing at the start (then the position is someone else's or missing)."""
        known = [p.id for p in self.open_positions()] + ["pos-missing"]
        position_id = known[pick % len(known)]
        position = self.state.position(position_id)
        owner = position.user_id if position and actor in USERS[:2] else actor
        return owner, position_id, position

    def _amend(self, operation: Operation) -> tuple[Command, str]:
        _, actor, pick, sl_bps, tp_bps, key = operation
        user, position_id, position = self._target(actor, pick)
        if position is None:
            return AmendPosition(user, position_id, sl_bps, tp_bps), key
        quote = self.state.quote(position.asset)
        assert quote is not None
        closing = quote.sell_price if position.side is Side.LONG else quote.buy_price
        towards_loss = -1 if position.side is Side.LONG else 1

        def level(bps: int | None, direction: int) -> int | None:
            return bps if not bps else max(0, closing + direction * closing * bps // 10_000)

        return AmendPosition(user, position_id, level(sl_bps, towards_loss), level(tp_bps, -towards_loss)), key

    def _place(self, operation: Operation) -> tuple[Command, str]:
        _, user, asset, side, order_type, distance, steps, leverage, sl_bps, tp_bps, expiry, key = operation
        quote = self.state.quote(asset)
        buy, sell = (quote.buy_price, quote.sell_price) if quote else (self.mids[asset], self.mids[asset])
        market = buy if side is Side.LONG else sell
        # a LIMIT LONG or a STOP SHORT waits below the market, the others above
        below = (order_type is OrderType.LIMIT) is (side is Side.LONG)
        price = max(1, market + (-1 if below else 1) * market * distance // 10_000)
        towards_loss = -1 if side is Side.LONG else 1
        stop_loss = price + towards_loss * price * sl_bps // 10_000 if sl_bps else 0
        take_profit = price - towards_loss * price * tp_bps // 10_000 if tp_bps else 0
        expires_at = self.time_ms + expiry if expiry else 0
        command = PlaceOrder(
            user, asset, side, order_type, price, steps * STEPS[asset], leverage, max(0, stop_loss),
            max(0, take_profit), expires_at,
        )  # fmt: skip
        return command, key

    def _quote(self, asset: str, move: int, spread: int, form: int) -> Quote:
        mid = max(10_000, self.mids[asset] * (10_000 + move) // 10_000)
        self.mids[asset] = mid
        half_spread = mid * spread // 20_000
        buy, sell = mid + half_spread, mid - half_spread
        if form == 5:
            return Quote(asset, buy // 100, sell // 100, 2)
        if form == 6:
            return Quote(asset, buy * 100 + 99, sell * 100 + 1, 6)
        if form == 7:
            return Quote(asset, sell, buy + 1, 4)
        if form == 8:
            return Quote(asset, 0, 0, 4)
        if form == 9:
            return Quote("DOGE_USDC", buy, sell, 4)
        return Quote(asset, buy, sell, 4)

    def _quotes(self, operation: Operation) -> tuple[Quote, ...]:
        _, asset, move, spread, form, second = operation
        quotes = [self._quote(asset, move, spread, form)]
        if second:
            other = ASSETS[(ASSETS.index(asset) + 1) % len(ASSETS)]
            quotes.append(self._quote(other, -move, spread, 0))
        return tuple(quotes)

    def _open(self, operation: Operation) -> tuple[Command, str]:
        _, user, asset, side, steps, leverage, slippage, sl_bps, tp_bps, expectation, key = operation
        quote = self.state.quote(asset)
        buy, sell = (quote.buy_price, quote.sell_price) if quote else (self.mids[asset], self.mids[asset])
        entry, closing = (buy, sell) if side is Side.LONG else (sell, buy)
        # positive distances put the level on the right side of the market, negative on the wrong one
        towards_loss = -1 if side is Side.LONG else 1
        stop_loss = closing + towards_loss * closing * sl_bps // 10_000 if sl_bps else 0
        take_profit = closing - towards_loss * closing * tp_bps // 10_000 if tp_bps else 0
        expected_price = (0, entry, entry * 102 // 100)[expectation]
        command = OpenPosition(
            user,
            asset,
            side,
            steps * STEPS[asset],
            leverage,
            slippage,
            max(0, stop_loss),
            max(0, take_profit),
            expected_price,
        )
        return command, key

    def apply(self, command: Command, key: str) -> Outcome:
        self.time_ms += 1
        self.entries += 1
        outcome = self.state.apply(
            command, entry_id=f"{self.time_ms}-{self.entries}", time_ms=self.time_ms, idempotency_key=key
        )
        reply = outcome.reply
        # a remembered reply (an idempotent retry) carries the time of the original command, not this one
        if (
            isinstance(reply, AccountCreated)
            and not reply.already_existed
            and reply.account.created_at_ms == self.time_ms
        ):
            self.deposits += reply.account.balance_cents
        if isinstance(reply, PositionOpened) and reply.position.opened_at_ms == self.time_ms:
            self.position_ids.append(reply.position.id)
        self.position_ids.extend(f.position_id for f in outcome.finished_orders if f.status is OrderStatus.FILLED)
        self.realized += sum(t.credited_cents - t.margin_cents for t in outcome.closed_trades)
        return outcome

    def pending_orders(self) -> list[PendingOrder]:
        return sorted((o for user in USERS for o in self.state.pending_orders_of(user)), key=lambda o: o.sequence)

    def open_positions(self) -> list[Position]:
        return sorted((p for user in USERS for p in self.state.positions_of(user)), key=lambda p: p.sequence)

    def check_books(self) -> None:
        balances = [account.balance_cents for user in USERS if (account := self.state.account(user))]
        assert all(balance >= 0 for balance in balances)
        locked = sum(p.margin_cents for p in self.open_positions())
        reserved = sum(o.reserved_cents for o in self.pending_orders())
        # balance + reserved + margins + credited - debited = start
        assert sum(balances) + reserved + locked - self.realized == self.deposits
        assert self.state.open_position_count == len(self.open_positions())
        assert self.state.pending_order_count == len(self.pending_orders())
        for user in USERS:
            summary = self.state.account_summary(user)
            if summary is not None:
                assert summary.reserved_margin_cents == sum(
                    o.reserved_cents for o in self.state.pending_orders_of(user)
                )


def _brute_force_closures(model: Model, update: PriceUpdate) -> list[tuple[str, CloseReason, int]]:
    rules = model.state.rules
    still_open = model.open_positions()
    expected: list[tuple[str, CloseReason, int]] = []
    for quote in update.quotes:
        spec = rules.assets.get(quote.asset)
        if spec is None or quote.buy_price <= 0 or quote.sell_price <= 0 or quote.sell_price > quote.buy_price:
            continue
        buy = money.rescale_buy_price(quote.buy_price, quote.decimal, spec.decimal)
        sell = money.rescale_sell_price(quote.sell_price, quote.decimal, spec.decimal)
        if sell <= 0:
            continue
        for position in [p for p in still_open if p.asset == quote.asset]:
            reason = _expected_reason(position, buy, sell)
            if reason is not None:
                expected.append((position.id, reason, sell if position.side is Side.LONG else buy))
                still_open.remove(position)
    return expected


def _fills(order: PendingOrder, buy: int, sell: int) -> bool:
    """The fill rules of docs/contract.md, written out again."""
    if order.side is Side.LONG:
        return buy <= order.price if order.type is OrderType.LIMIT else buy >= order.price
    return sell >= order.price if order.type is OrderType.LIMIT else sell <= order.price


def _brute_force_order_ends(model: Model, command: Command) -> list[tuple[str, int]]:
    """(order id, fill price or 0) of every order the next entry ends, by scanning them all: first those
    expiring at its time, then for a price update those its quotes meet (in placement order)."""
    time_ms = model.time_ms + 1
    pending = model.pending_orders()
    expired = sorted((o for o in pending if o.expires_at_ms and o.expires_at_ms <= time_ms),
                     key=lambda o: (o.expires_at_ms, o.sequence))  # fmt: skip
    expected = [(o.id, 0) for o in expired]
    pending = [o for o in pending if o not in expired]
    if not isinstance(command, PriceUpdate):
        return expected
    for quote in command.quotes:
        spec = model.state.rules.assets.get(quote.asset)
        if spec is None or quote.buy_price <= 0 or quote.sell_price <= 0 or quote.sell_price > quote.buy_price:
            continue
        buy = money.rescale_buy_price(quote.buy_price, quote.decimal, spec.decimal)
        sell = money.rescale_sell_price(quote.sell_price, quote.decimal, spec.decimal)
        if sell <= 0:
            continue
        for order in [o for o in pending if o.asset == quote.asset and _fills(o, buy, sell)]:
            expected.append((order.id, buy if order.side is Side.LONG else sell))
            pending.remove(order)
    return expected


def _check_order_ends(model: Model, outcome: Outcome, expected: list[tuple[str, int]]) -> None:
    assert [f.order.id for f in outcome.finished_orders] == [order_id for order_id, _ in expected]
    for finished, (_, fill_price) in zip(outcome.finished_orders, expected, strict=True):
        order = finished.order
        assert model.state.pending_order(order.id) is None
        if finished.status is OrderStatus.FILLED:
            position = model.state.position(finished.position_id)
            assert position is not None and position.entry_price == fill_price == finished.fill_price
            assert position.margin_cents == money.margin_cents(
                fill_price, order.quantity, order.leverage, order.decimal
            )
        else:
            assert finished.status in (OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.CANCELLED)
            assert (finished.status is OrderStatus.REJECTED) == bool(fill_price)


def _check_partial(model: Model, reply: PositionClosed) -> None:
    """The rest of a partial close: same id, entry, levels and sequence; the margin and maintenance it keeps
    are at least its proportional share; its level is exact and never looser; the part's id is its own."""
    rest, trade = reply.remaining, reply.trade
    assert rest is not None and model.state.position(rest.id) == rest
    assert trade.id == f"{rest.id}:{model.time_ms}-{model.entries}"
    whole = rest.quantity + trade.quantity
    assert rest.margin_cents * whole >= (rest.margin_cents + trade.margin_cents) * rest.quantity
    assert rest.liquidation_price == money.liquidation_price(
        rest.side, rest.entry_price, rest.quantity, rest.margin_cents, rest.maintenance_cents, rest.decimal
    )
    level = trade.liquidation_price
    assert rest.liquidation_price >= level if rest.side is Side.LONG else rest.liquidation_price <= level


def _run(model: Model, ops: list[Operation]) -> list[Outcome]:
    outcomes = []
    for operation in ops:
        step = model.command_for(operation)
        if step is not None:
            outcomes.append(model.apply(*step))
    return outcomes


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(operations)
def test_books_balance_and_indexes_match_a_brute_force_scan(ops: list[Operation]) -> None:
    model = Model().start()
    for operation in ops:
        step = model.command_for(operation)
        if step is None:
            continue
        command, key = step
        expected = _brute_force_closures(model, command) if isinstance(command, PriceUpdate) else None
        order_ends = _brute_force_order_ends(model, command)
        outcome = model.apply(command, key)
        if expected is not None:
            assert [(t.id, t.reason, t.close_price) for t in outcome.closed_trades] == expected
        reply = outcome.reply
        if (
            isinstance(command, CancelOrder)
            and isinstance(reply, OrderCancelled)
            and reply.order.finished_at_ms == model.time_ms
        ):
            order_ends.append((command.order_id, 0))
        _check_order_ends(model, outcome, order_ends)
        if isinstance(outcome.reply, OrderPlaced):
            order = outcome.reply.order
            assert order.reserved_cents == money.margin_cents(
                order.price, order.quantity, order.leverage, order.decimal
            )
        for trade in outcome.closed_trades:
            assert trade.credited_cents == max(0, trade.margin_cents + trade.pnl_cents)
        reply = outcome.reply
        if isinstance(reply, PositionClosed) and reply.remaining is not None and outcome.closed_trades:
            _check_partial(model, reply)
        model.check_books()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(operations, operations)
def test_replay_and_restore_give_the_same_state(first: list[Operation], second: list[Operation]) -> None:
    live, replayed = Model().start(), Model().start()
    assert _run(live, first) == _run(replayed, first)
    assert live.state.state_hash() == replayed.state.state_hash()

    data = json.loads(json.dumps(live.state.snapshot()))
    restored = Model(
        state=TradingState.restore(live.state.rules, data),
        time_ms=live.time_ms,
        entries=live.entries,
        mids=dict(live.mids),
        position_ids=list(live.position_ids),
    )
    assert restored.state.state_hash() == live.state.state_hash()
    assert _run(live, second) == _run(restored, second)
    assert live.state.state_hash() == restored.state.state_hash()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(operations, operations)
def test_a_capture_encoded_after_later_entries_is_the_snapshot_at_its_entry(
    first: list[Operation], second: list[Operation]
) -> None:
    """The engine captures on the loop and encodes in a thread while entries go on being applied: the
    encoded capture must be the state at the capture, and restoring it and replaying what followed must
    give the uninterrupted state."""
    live = Model().start()
    _run(live, first)
    at_capture = live.state.snapshot()
    clock = (live.time_ms, live.entries, dict(live.mids), list(live.position_ids))
    capture = live.state.capture()
    uninterrupted = _run(live, second)

    data = json.loads(json.dumps(capture.encode()))
    assert data == at_capture
    # the text the snapshot writer stores, in pieces of 3 rows: the canonical encoding of the same state
    assert "".join(capture.json_pieces(rows=3)) == json.dumps(at_capture, sort_keys=True, separators=(",", ":"))
    time_ms, entries, mids, position_ids = clock
    restored = Model(
        state=TradingState.restore(live.state.rules, data), time_ms=time_ms, entries=entries, mids=mids,
        position_ids=position_ids,
    )  # fmt: skip
    assert _run(restored, second) == uninterrupted
    assert restored.state.state_hash() == live.state.state_hash()
