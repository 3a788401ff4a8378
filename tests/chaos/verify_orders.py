"""The pending-order checks every fault test ends with (called by tests/chaos/verify.py), from what the
clients saw acknowledged, independently of the engine's bookkeeping:

- every order of the clients' accounts, pending in the engine or ended in `order_history`, is one an
  acknowledged placement named, and each acknowledged placement is exactly one of the two (none lost, none
  placed twice by a retry), with the very fields its reply gave;
- `order_history` holds exactly the stream replay's ended orders, each once, and the engine serves the same
  rows (ListOrderHistory, as /api/v1/orders/history);
- an acknowledged cancel ended its order CANCELLED, the record its reply gave; a refused cancel (the order
  no longer pending) found it FILLED, EXPIRED or REJECTED before the cancel; an EXPIRED order ended at or
  after its expiry; a FILLED one opened the position its id names, which is still open or is a closed
  trade in PostgreSQL;
- each account's reserved margin is the sum of the reserves its still-pending orders' placements
  acknowledged, and so is what its ORDER_RESERVED and ORDER_RELEASED statement lines leave taken; each order
  has one ORDER_ACCEPTED event, one reserve, and once ended one end event (its record) and one release."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import asyncpg
import grpc
from exness.engine.v1 import commands_pb2, engine_service_pb2, engine_service_pb2_grpc, events_pb2, orders_pb2

from engine.orders_wire import order_record_from_row
from tests.chaos.load import Acknowledged
from tests.integration.engine.support import Producer

NO_LONGER_PENDING = {"FILLED", "EXPIRED", "REJECTED"}
RESERVE_CAUSES = (events_pb2.BALANCE_CAUSE_ORDER_RESERVED, events_pb2.BALANCE_CAUSE_ORDER_RELEASED)


async def verify_orders(acknowledged: list[Acknowledged], producer: Producer, postgres_url: str, address: str,
                        users: list[str], closed: dict[str, dict[str, Any]],
                        events: dict[tuple[str, int], dict[str, Any]]) -> dict[str, int]:  # fmt: skip
    """`users`: the clients' accounts; `closed`: the closed-trade rows in PostgreSQL; `events`: the
    account_events rows. Returns the figures (placed, cancelled, filled, ...)."""
    placed: dict[str, orders_pb2.PendingOrder] = {}
    cancels: list[tuple[str, commands_pb2.Reply]] = []
    for ack in acknowledged:
        if ack.reply.WhichOneof("result") == "order_placed":
            order = ack.reply.order_placed.order
            assert order.id not in placed, f"order {order.id} acknowledged to two placements"
            placed[order.id] = order
        elif ack.command.WhichOneof("body") == "cancel_order":
            cancels.append((ack.command.cancel_order.order_id, ack.reply))
    history = await _history_rows(postgres_url, users)
    accounts = set(users)
    expected = {oid: row for oid, row in producer.order_rows.items() if row["user_id"] in accounts}
    assert history == expected, sorted(history.keys() ^ expected.keys())[:5]
    pending = await _pending_orders(address, users)
    assert not pending.keys() & history.keys(), "an order both pending and ended"
    assert pending.keys() | history.keys() == placed.keys(), (
        f"orders nobody acknowledged: {sorted((pending.keys() | history.keys()) - placed.keys())[:5]}; "
        f"acknowledged orders missing: {sorted(placed.keys() - pending.keys() - history.keys())[:5]}"
    )
    for order_id, order in pending.items():
        assert order == placed[order_id], (order, placed[order_id])
    for order_id, row in history.items():
        assert order_record_from_row(row).order == placed[order_id], (row, placed[order_id])
    await _served_history(address, users, history)
    cancelled = _check_cancels(cancels, history)
    _check_ends(history, closed, await _open_positions(address, users))
    await _check_reserves(address, users, pending, history, events)
    statuses = Counter(row["status"] for row in history.values())
    return {"placed": len(placed), "cancelled": cancelled, "cancel_refused": len(cancels) - cancelled,
            "filled": statuses["FILLED"], "expired": statuses["EXPIRED"], "rejected_at_fill": statuses["REJECTED"],
            "still_pending": len(pending)}  # fmt: skip


def _check_cancels(cancels: list[tuple[str, commands_pb2.Reply]], history: dict[str, dict[str, Any]]) -> int:
    """How many cancels were acknowledged (each ended its order CANCELLED with the record its reply gave);
    every other one was refused because the order had ended otherwise before it."""
    done = 0
    for order_id, reply in cancels:
        row = history.get(order_id)
        assert row is not None, f"cancelled order {order_id} not in order_history"
        if reply.WhichOneof("result") == "order_cancelled":
            assert row["status"] == "CANCELLED" and order_record_from_row(row) == reply.order_cancelled.order, row
            done += 1
            continue
        assert reply.rejection.reason == commands_pb2.REJECT_REASON_ORDER_NOT_FOUND, reply
        assert row["status"] in NO_LONGER_PENDING, row
        assert row["finished_at_ms"] <= int(reply.stream_id.split("-")[0]), (row, reply.stream_id)
    assert len({order_id for order_id, _ in cancels}) == len(cancels), "a client cancelled an order twice"
    return done


def _check_ends(history: dict[str, dict[str, Any]], closed: dict[str, dict[str, Any]],
                open_positions: dict[str, str]) -> None:  # fmt: skip
    """`open_positions`: position id -> user id, every position of the clients' accounts open now."""
    for order_id, row in history.items():
        if row["status"] == "EXPIRED":
            assert 0 < row["expires_at_ms"] <= row["finished_at_ms"], row
        if row["status"] != "FILLED":
            assert row["position_id"] == "" and row["fill_price"] == 0, row
            continue
        position_id = row["position_id"]
        assert position_id == "pos-" + order_id.removeprefix("ord-") and row["fill_price"] > 0, row
        if position_id in open_positions:
            assert open_positions[position_id] == row["user_id"], row
        else:
            trade = closed.get(position_id)
            assert trade is not None, f"filled order {order_id}: position {position_id} neither open nor closed"
            assert trade["user_id"] == row["user_id"] and trade["quantity"] == row["quantity"], (trade, row)


Rows = dict[str, dict[str, Any]]


async def _check_reserves(address: str, users: list[str], pending: dict[str, orders_pb2.PendingOrder], history: Rows,
                          events: dict[tuple[str, int], dict[str, Any]]) -> None:  # fmt: skip
    accounts = set(users)
    reserved: dict[str, int] = defaultdict(int)
    for order in pending.values():
        reserved[order.user_id] += order.reserved_cents
    taken: dict[str, int] = defaultdict(int)
    lines: Counter[tuple[str, int]] = Counter()  # (order id, cause) -> BALANCE lines
    ends: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    for (user, _), row in events.items():
        if user not in accounts:
            continue
        event = events_pb2.AccountEvent.FromString(bytes(row["event"]))
        body = event.WhichOneof("body")
        if body == "balance" and event.balance.cause in RESERVE_CAUSES:
            taken[user] -= event.balance.amount_cents
            lines[(event.balance.order_id, event.balance.cause)] += 1
        elif body == "order_accepted":
            accepted[event.order_accepted.id] += 1
        elif body == "order_ended":
            record = event.order_ended
            assert record == order_record_from_row(history[record.order.id]), record
            ends[record.order.id] += 1
    for order_id in pending.keys() | history.keys():
        ended = int(order_id in history)
        assert accepted[order_id] == 1 and ends[order_id] == ended, (order_id, accepted[order_id], ends[order_id])
        assert lines[(order_id, RESERVE_CAUSES[0])] == 1 and lines[(order_id, RESERVE_CAUSES[1])] == ended, order_id
    async with grpc.aio.insecure_channel(address) as channel:
        stub = engine_service_pb2_grpc.EngineServiceStub(channel)
        for user in users:
            account = await stub.GetAccount(engine_service_pb2.GetAccountRequest(user_id=user), timeout=10)
            assert account.reserved_margin_cents == reserved[user] == taken[user], (user, account, taken[user])
            assert account.pending_orders == sum(1 for o in pending.values() if o.user_id == user), account


async def _history_rows(postgres_url: str, users: list[str]) -> dict[str, dict[str, Any]]:
    conn = await asyncpg.connect(postgres_url)
    try:
        found = await conn.fetch("SELECT * FROM order_history WHERE user_id = ANY($1::text[])", users)
    finally:
        await conn.close()
    rows = {row["id"]: dict(row) for row in found}
    assert len(rows) == len(found)
    return rows


async def _pending_orders(address: str, users: list[str]) -> dict[str, orders_pb2.PendingOrder]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = engine_service_pb2_grpc.EngineServiceStub(channel)
        found = []
        for user in users:
            found += (await stub.ListOrders(engine_service_pb2.ListOrdersRequest(user_id=user), timeout=10)).orders
    orders = {order.id: order for order in found}
    assert len(orders) == len(found), "an order pending twice"
    return orders


async def _all_pages(address: str, users: list[str], rpc: str, request_type: Any, field: str) -> list[Any]:
    """Every item of a paged EngineService read (`rpc`, repeated `field`) for each user, page by page."""
    items: list[Any] = []
    async with grpc.aio.insecure_channel(address) as channel:
        call = getattr(engine_service_pb2_grpc.EngineServiceStub(channel), rpc)
        for user in users:
            token = ""
            while True:
                page = await call(request_type(user_id=user, page_size=500, page_token=token), timeout=10)
                items.extend(getattr(page, field))
                if not (token := page.next_page_token):
                    break
    return items


async def _served_history(address: str, users: list[str], history: dict[str, dict[str, Any]]) -> None:
    """ListOrderHistory (what /api/v1/orders/history shows), page by page: each ended order once, as stored."""
    served = await _all_pages(address, users, "ListOrderHistory", engine_service_pb2.ListOrderHistoryRequest, "orders")
    served_ids = [record.order.id for record in served]
    assert sorted(served_ids) == sorted(history), f"order history served differently: {len(served)} of {len(history)}"
    assert all(record == order_record_from_row(history[record.order.id]) for record in served)


async def _open_positions(address: str, users: list[str]) -> dict[str, str]:
    views = await _all_pages(address, users, "ListPositions", engine_service_pb2.ListPositionsRequest, "positions")
    return {view.position.id: view.position.user_id for view in views}
