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
from engine.event_store import EVENTS
from engine.metrics import EngineMetrics
from engine.refusals import RefuseToLead
from engine.replies import GatewayStream, ReplyHub
from engine.trade_rows import TRADES, trade_key
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
    writer = applier.writer
    trade = trade_key(position.id)
    # the account's events so far (signup 1, open 2-3, close 4-5) and the trade, all waiting
    assert [row["seq"] for row in writer.pending_rows(EVENTS)] == [1, 2, 3, 4, 5]
    assert [row["id"] for row in writer.pending_rows(TRADES)] == [position.id]
    assert writer.pending_count(TRADES) == 1 and writer.pending_count(EVENTS) == 5
    (hold,) = writer.held[trade]
    assert hold.gateway_id == GW and hold.reply.request_id == "close"
    assert hold.reply.WhichOneof("result") == "position_closed"
    # the close's two events hold it too: it goes out when the last of the three rows is committed
    assert writer.held[(EVENTS.name, ("u1", 4))] == writer.held[(EVENTS.name, ("u1", 5))] == [hold]
    writer._release([writer.pending[trade], writer.pending[(EVENTS.name, ("u1", 4))]])
    assert feed.drain() == []
    writer._release(list(writer.pending.values()))
    (reply,) = feed.drain()
    assert reply.request_id == "close" and writer.pending == {} and writer.held == {}


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


async def test_a_capture_while_entries_keep_coming_matches_its_last_applied_id(applier: EntryApplier) -> None:
    """A snapshot is captured in slices with the loop free between them while a consumer keeps applying
    batches: the capture holds exactly the entries up to its last_applied_id, so restoring it and
    replaying the entries after that id gives the uninterrupted state."""
    import asyncio
    import json

    from engine.snapshots import decode_body, encode_body

    feed = Feed(applier)
    log: list[tuple[str, dict[str, bytes]]] = []

    def send(command: commands_pb2.Command) -> None:
        fields = encode_command(command)
        entry_id, error = feed.entry(fields)
        assert error is None
        log.append((entry_id, fields))

    send(_prices())
    for user in range(40):
        send(_signup(f"u{user}"))

    async def consumer() -> None:
        # batches of entries, applied as engine.consumer does (under `applying`), yielding between batches
        for batch in range(60):
            async with applier.applying:
                user = f"u{batch % 40}"
                order = _order(user, f"o{batch}")
                order.idempotency_key = f"k{batch % 7}"
                send(order)
                if batch % 3 == 0 and applier.state.positions_of(user):
                    position = applier.state.positions_of(user)[0]
                    send(
                        commands_pb2.Command(
                            user_id=user,
                            request_id=f"c{batch}",
                            reply_to=GW,
                            close_position=commands_pb2.ClosePosition(position_id=position.id),
                        )
                    )
                if batch % 5 == 0:
                    send(_signup(f"late-{batch}"))
            await asyncio.sleep(0)

    async def snapshot() -> tuple[Any, str]:
        await asyncio.sleep(0)
        return await applier.capture(per_slice=3)  # many slices: the consumer runs between them

    consuming = asyncio.create_task(consumer())
    capture, last_applied_id = await snapshot()
    await consuming
    assert log[0][0] < last_applied_id < log[-1][0]  # entries were applied before and after the capture
    uninterrupted = applier.state.state_hash()

    blob, state_hash = encode_body({"last_applied_id": last_applied_id, "state": capture})
    body = decode_body(blob)
    assert json.loads(json.dumps(body["state"])) == body["state"]
    restored = TradingState.restore(default_rules(), body["state"])
    assert restored.state_hash() == state_hash  # the hash the manifest records is the captured state's
    replayer = EntryApplier(restored, last_applied_id, price_decimals=applier.price_decimals, hub=applier.hub,
                            writer=applier.writer, metrics=applier.metrics)  # fmt: skip
    for entry_id, fields in log:
        if entry_id > last_applied_id:
            assert replayer.apply(entry_id, fields, live=False, answer=False) is None
    assert restored.state_hash() == uninterrupted


async def test_a_failing_reply_after_the_domain_applied_is_dead_lettered_not_raised(
    applier: EntryApplier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # e.g. a protobuf int64 overflow while building the reply: escaping, the entry would stay unacknowledged
    # and replay would hit it again, forever
    feed = Feed(applier)

    def overflow(*args: object, **kwargs: object) -> None:
        raise ValueError("Value out of range: 9223372036854775808")

    monkeypatch.setattr(translate, "reply_to_proto", overflow)
    entry_id, error = feed.send(_signup("u1", "boom"))
    assert error is not None and "Value out of range" in error and applier.last_applied_id == entry_id
    # applied (replay applies it identically), and the sender is told the engine failed
    assert applier.state.account("u1") is not None
    (reply,) = feed.drain()
    assert reply.rejection.reason == commands_pb2.REJECT_REASON_ENGINE_FAULT and reply.request_id == "boom"
    # replayed without an answer, it applies cleanly to the same state
    monkeypatch.undo()
    _, replayed = feed.send(_signup("u2", "quiet"), answer=False, live=False)
    assert replayed is None


async def test_failing_trade_rows_are_dead_lettered_not_raised(
    applier: EntryApplier, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = Feed(applier)
    feed.send(_signup("u1"))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("metrics broke")

    monkeypatch.setattr(applier, "_record", broken)
    entry_id, error = feed.send(_prices(), answer=False)
    assert error == "engine error after applying: RuntimeError('metrics broke')"
    assert applier.last_applied_id == entry_id and applier.state.quote("BTC_USDC") is not None


async def test_an_idempotent_retry_repeats_the_first_open_reply_exactly(applier: EntryApplier) -> None:
    feed = Feed(applier)
    feed.send(_signup("u1"))
    feed.send(_prices())
    order = _order("u1", "first")
    order.idempotency_key = "k1"
    feed.drain()
    feed.send(order)
    (first,) = feed.drain()
    (position,) = applier.state.positions_of("u1")
    assert first.position_opened.current_price == 600_000_000
    # the price moves and the position is closed; then the client retries the create
    moved = market_pb2.Quote(asset="BTC_USDC", buy_price=650_500_000, sell_price=650_000_000, decimal=4)
    feed.send(commands_pb2.Command(price_update=market_pb2.PriceUpdate(quotes=[moved])))
    feed.send(commands_pb2.Command(user_id="u1", close_position=commands_pb2.ClosePosition(position_id=position.id)))
    assert not applier.state.positions_of("u1")
    retry = _order("u1", "retry")
    retry.idempotency_key = "k1"
    feed.send(retry)
    (again,) = feed.drain()
    assert again.position_opened == first.position_opened


async def test_entries_are_decoded_in_the_price_scales_of_the_rules_in_force(applier: EntryApplier) -> None:
    feed = Feed(applier)
    rules = default_rules()
    btc = rules.assets["BTC_USDC"]
    rescaled = replace(rules, assets={**rules.assets, "BTC_USDC": replace(btc, decimal=2)})
    _, error = feed.send(translate.rules_to_proto(rescaled))
    assert error is None and applier.state.rules == rescaled
    feed.send(_signup("u1"))
    # an order stating the new scale is understood, one stating the old is malformed
    assert applier.malformed(encode_command(_order("u1", "new", price_decimal=2))) is None
    assert applier.malformed(encode_command(_order("u1", "old", price_decimal=4))) is not None


async def test_a_refused_configured_rules_entry_refuses_to_lead(applier: EntryApplier) -> None:
    feed = Feed(applier)
    feed.send(_prices())
    rules = default_rules()
    without_btc = replace(rules, assets={k: v for k, v in rules.assets.items() if k != "BTC_USDC"})
    # a refused rules entry written by another session: the rules in force stay, nothing else happens
    _, error = feed.send(translate.rules_to_proto(without_btc), live=False, answer=False)
    assert error is None and applier.state.rules == rules
    # the one this session wrote to put the configured rules in force: it must not serve under the old ones
    applier.awaited_rules_entry = f"{T0 + feed.n + 1}-0"
    with pytest.raises(RefuseToLead, match="BTC_USDC"):
        feed.send(translate.rules_to_proto(without_btc))


async def test_trade_store_errors_never_show_the_row_values() -> None:
    # a failed query's text would otherwise carry a row (user ids, amounts) into a log; this is the reads'
    # engine, the group commit's asyncpg errors are checked in tests/integration/engine/test_trade_rows.py
    store = TradeStore("postgresql://nobody@127.0.0.1:1/none")
    assert store.engine.sync_engine.hide_parameters is True
    await store.close()
