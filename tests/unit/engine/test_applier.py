"""The entry applier on its own (no Redis, no database): what an applied entry does to the state, which
replies it sends and when, and the one malformed-entry check shared by every path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from exness.common.v1 import trading_pb2
from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2

from engine import translate
from engine.applier import EntryApplier
from engine.domain import TradingState, default_rules
from engine.metrics import EngineMetrics
from engine.replies import GatewayStream, ReplyHub
from engine.trades import TradeStore, TradeWriter
from mesh.stream_codec import encode_command

GW = "gw-1"
T0 = 1_764_000_000_000


@pytest.fixture
async def applier() -> AsyncIterator[EntryApplier]:
    metrics = EngineMetrics()
    hub = ReplyHub(metrics)
    # never connects: the writer only collects rows and held replies here
    store = TradeStore("postgresql://nobody@127.0.0.1:1/none")
    writer = TradeWriter(store, hub, metrics)
    decimals = {symbol: spec.decimal for symbol, spec in default_rules().assets.items()}
    yield EntryApplier(TradingState(default_rules()), "0-0", price_decimals=decimals, hub=hub, writer=writer,
                       metrics=metrics)  # fmt: skip
    await store.close()


class Feed:
    """Numbers entries the way Redis does and keeps the gateway's reply stream at hand."""

    def __init__(self, applier: EntryApplier) -> None:
        self.applier = applier
        self.n = 0
        self.replies: GatewayStream = applier.hub.open(GW)

    def entry(self, fields: dict[str, bytes], *, answer: bool = True, live: bool = True) -> tuple[str, str | None]:
        self.n += 1
        entry_id = f"{T0 + self.n}-0"
        return entry_id, self.applier.apply(entry_id, fields, live=live, answer=answer)

    def send(self, command: commands_pb2.Command, **flags: Any) -> tuple[str, str | None]:
        return self.entry(encode_command(command), **flags)

    def drain(self) -> list[commands_pb2.Reply]:
        items = list(self.replies.items)
        self.replies.items.clear()
        return items


def _signup(user: str, request_id: str = "") -> commands_pb2.Command:
    create = commands_pb2.CreateAccount(email=f"{user}@example.com", starting_balance_cents=1_000_000)
    return commands_pb2.Command(user_id=user, request_id=request_id, reply_to=GW, create_account=create)


def _prices() -> commands_pb2.Command:
    quote = market_pb2.Quote(asset="BTC_USDC", buy_price=600_500_000, sell_price=600_000_000, decimal=4)
    return commands_pb2.Command(price_update=market_pb2.PriceUpdate(quotes=[quote]))


def _order(user: str, request_id: str, **fields: Any) -> commands_pb2.Command:
    order = commands_pb2.OpenPosition(asset="BTC_USDC", side=trading_pb2.SIDE_LONG, quantity=100_000, leverage=10,
                                      slippage_bps=100, **fields)  # fmt: skip
    return commands_pb2.Command(user_id=user, request_id=request_id, reply_to=GW, open_position=order)


async def test_applied_entries_change_the_state_and_answer_only_when_asked(applier: EntryApplier) -> None:
    feed = Feed(applier)
    first, error = feed.send(_signup("u1", "r1"))
    assert error is None and applier.last_applied_id == first
    (reply,) = feed.drain()
    assert reply.request_id == "r1" and reply.stream_id == first and reply.account_created.account.user_id == "u1"
    assert applier.state.user_id_for_email("U1@Example.com") == "u1"
    # a replayed entry whose sender got its answer already: applied, not answered
    feed.send(_signup("u2", "r2"), answer=False, live=False)
    assert applier.state.account_count == 2 and feed.drain() == []
    assert applier.commands_applied == 2


async def test_a_close_is_answered_only_once_its_row_is_committed(applier: EntryApplier) -> None:
    feed = Feed(applier)
    feed.send(_signup("u1"))
    feed.send(_prices())
    feed.send(_order("u1", "open"))
    (position,) = applier.state.positions_of("u1")
    feed.drain()
    close = commands_pb2.Command(user_id="u1", request_id="close", reply_to=GW,
                                 close_position=commands_pb2.ClosePosition(position_id=position.id))  # fmt: skip
    feed.send(close)
    assert feed.drain() == []
    assert list(applier.writer.pending) == [position.id]
    ((gateway_id, held),) = applier.writer.held[position.id]
    assert gateway_id == GW and held.request_id == "close" and held.WhichOneof("result") == "position_closed"


async def test_one_check_judges_an_entry_on_every_path(applier: EntryApplier) -> None:
    feed = Feed(applier)
    feed.send(_signup("u1"))
    feed.send(_prices())
    feed.drain()
    foreign_scale = _order("u1", "scaled", stop_loss=5_900_000, price_decimal=2)
    entry_id, error = feed.send(foreign_scale)
    assert error is not None and "10^2" in error
    assert applier.last_applied_id == entry_id and not applier.state.positions_of("u1")
    (refusal,) = feed.drain()
    assert refusal.rejection.reason == commands_pb2.REJECT_REASON_INVALID_COMMAND
    # met again as a pending entry after a crash: the same verdict
    assert applier.malformed(encode_command(foreign_scale)) == error
    assert applier.malformed(encode_command(_order("u1", "fine", price_decimal=4))) is None
    garbage_id, garbage = feed.entry({b"type": b"CREATE_ORDER", b"payload": b"\x00junk"})
    assert garbage and applier.last_applied_id == garbage_id and feed.drain() == []


async def test_a_failing_handler_is_dead_lettered_with_an_engine_fault_reply(
    applier: EntryApplier, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = Feed(applier)

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(TradingState, "apply", explode)
    entry_id, error = feed.send(_signup("u1", "boom"))
    assert error == "engine error: RuntimeError('bug')" and applier.last_applied_id == entry_id
    (reply,) = feed.drain()
    assert reply.rejection.reason == commands_pb2.REJECT_REASON_ENGINE_FAULT and reply.request_id == "boom"


async def test_a_rules_entry_puts_its_rules_in_force(applier: EntryApplier) -> None:
    feed = Feed(applier)
    lowered = replace(default_rules(), max_leverage=5)
    _, error = feed.send(translate.rules_to_proto(lowered))
    assert error is None and applier.state.rules == lowered and feed.drain() == []
    feed.send(_signup("u1"))
    feed.send(_prices())
    feed.drain()
    feed.send(_order("u1", "x10"))
    (refused,) = feed.drain()
    assert refused.rejection.reason == commands_pb2.REJECT_REASON_INVALID_LEVERAGE
