"""Protobuf <-> domain translation and closed-trade rows: field-for-field, and malformed commands refused."""

from __future__ import annotations

import pytest
from exness.common.v1 import trading_pb2
from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2

from engine import translate
from engine.domain import (
    AmendPosition,
    ClosedTrade,
    ClosePosition,
    CloseReason,
    CreateAccount,
    OpenPosition,
    Position,
    PositionAmended,
    PositionClosed,
    PriceUpdate,
    Quote,
    Rejection,
    RejectReason,
    Side,
)

TRADE = ClosedTrade(
    id="pos-1", user_id="u", asset="BTC_USDC", side=Side.SHORT, quantity=100_000, leverage=10, entry_price=600_000_000,
    close_price=590_000_000, margin_cents=6_000, pnl_cents=1_000, credited_cents=7_000, reason=CloseReason.TAKE_PROFIT,
    decimal=4, opened_at_ms=1, closed_at_ms=2, stop_loss=0, take_profit=590_000_000, liquidation_price=660_000_000,
)  # fmt: skip


def test_commands_translate_field_for_field() -> None:
    open_command = commands_pb2.Command(
        user_id="u",
        open_position=commands_pb2.OpenPosition(
            asset="ETH_USDC", side=trading_pb2.SIDE_LONG, quantity=10_000, leverage=5, slippage_bps=100,
            stop_loss=1, take_profit=2, trade_opening_price=3,
        ),
    )  # fmt: skip
    assert translate.command_from_proto(open_command) == OpenPosition("u", "ETH_USDC", Side.LONG, 10_000, 5, 100, 1,
                                                                      2, 3)  # fmt: skip
    create = commands_pb2.Command(
        user_id="u", create_account=commands_pb2.CreateAccount(email="a@b.c", starting_balance_cents=5)
    )
    assert translate.command_from_proto(create) == CreateAccount("u", "a@b.c", 5)
    close = commands_pb2.Command(user_id="u", close_position=commands_pb2.ClosePosition(position_id="p"))
    assert translate.command_from_proto(close) == ClosePosition("u", "p")
    quote = market_pb2.Quote(asset="BTC_USDC", buy_price=2, sell_price=1, decimal=4)
    prices = commands_pb2.Command(price_update=market_pb2.PriceUpdate(quotes=[quote]))
    assert translate.command_from_proto(prices) == PriceUpdate((Quote("BTC_USDC", 2, 1, 4),))


def test_replies_to_entries_that_could_not_be_applied_say_whose_fault() -> None:
    malformed = translate.invalid_command_reply("no user_id", request_id="r", stream_id="1-0")
    assert malformed.rejection.reason == commands_pb2.REJECT_REASON_INVALID_COMMAND
    fault = translate.invalid_command_reply(
        "engine error: KeyError()", request_id="r", stream_id="1-0", reason=commands_pb2.REJECT_REASON_ENGINE_FAULT
    )
    assert (fault.request_id, fault.stream_id, fault.rejection.message) == ("r", "1-0", "engine error: KeyError()")
    assert fault.rejection.reason == commands_pb2.REJECT_REASON_ENGINE_FAULT


def test_an_order_priced_on_another_scale_than_the_engines_is_refused() -> None:
    order = commands_pb2.OpenPosition(
        asset="BTC_USDC",
        side=trading_pb2.SIDE_LONG,
        quantity=1_000,
        leverage=5,
        stop_loss=1_000_000_000,
        price_decimal=4,
    )
    command = commands_pb2.Command(user_id="u", open_position=order)
    assert translate.command_from_proto(command, {"BTC_USDC": 4}).stop_loss == 1_000_000_000  # type: ignore[union-attr]
    with pytest.raises(translate.MalformedCommand, match="10\\^4 but the engine uses 10\\^5"):
        translate.command_from_proto(command, {"BTC_USDC": 5})
    command.open_position.price_decimal = 0  # not stated: no check (older producers)
    assert isinstance(translate.command_from_proto(command, {"BTC_USDC": 5}), OpenPosition)


@pytest.mark.parametrize(
    "command",
    [
        commands_pb2.Command(create_account=commands_pb2.CreateAccount(email="a@b.c")),  # no user id
        commands_pb2.Command(user_id="u", create_account=commands_pb2.CreateAccount()),  # no email
        commands_pb2.Command(user_id="u", open_position=commands_pb2.OpenPosition(side=trading_pb2.SIDE_LONG)),
        commands_pb2.Command(user_id="u", open_position=commands_pb2.OpenPosition(asset="BTC_USDC")),  # no side
        commands_pb2.Command(user_id="u", close_position=commands_pb2.ClosePosition()),
        commands_pb2.Command(price_update=market_pb2.PriceUpdate()),
        commands_pb2.Command(user_id="u"),  # no body
    ],
)
def test_commands_without_required_fields_are_malformed(command: commands_pb2.Command) -> None:
    with pytest.raises(translate.MalformedCommand):
        translate.command_from_proto(command)


def test_every_enum_member_has_a_proto_value() -> None:
    assert set(translate.REJECT_TO_PROTO) == set(RejectReason)
    assert set(translate.REASON_TO_PROTO) == set(CloseReason)
    assert len(set(translate.REJECT_TO_PROTO.values())) == len(RejectReason)


def test_replies_and_rows() -> None:
    reply = translate.reply_to_proto(PositionClosed(TRADE, 9_999), request_id="r", stream_id="5-1")
    assert reply.request_id == "r" and reply.stream_id == "5-1"
    assert reply.position_closed.balance_cents == 9_999
    assert reply.position_closed.trade.reason == trading_pb2.CLOSE_REASON_TAKE_PROFIT
    assert reply.position_closed.trade.side == trading_pb2.SIDE_SHORT
    row = translate.closed_trade_row(TRADE)
    assert row["side"] == "SHORT" and row["reason"] == "TAKE_PROFIT" and set(row) == set(translate.CLOSED_TRADE_COLUMNS)
    # the row (as stored in snapshots and PostgreSQL) gives back exactly the reply's trade
    assert translate.closed_trade_from_row(row) == reply.position_closed.trade
    rejection = translate.reply_to_proto(Rejection(RejectReason.PRICE_STALE, "old"), request_id="r", stream_id="1-0")
    assert rejection.rejection.reason == commands_pb2.REJECT_REASON_PRICE_STALE
    assert rejection.rejection.message == "old"


def test_partial_close_and_amend_translate_both_ways() -> None:
    close = commands_pb2.Command(user_id="u", close_position=commands_pb2.ClosePosition(position_id="p", quantity=7))
    assert translate.command_from_proto(close) == ClosePosition("u", "p", 7)
    # a present 0 removes a level; an absent one is unchanged
    amend = commands_pb2.Command(
        user_id="u", amend_position=commands_pb2.AmendPosition(position_id="p", stop_loss=0, price_decimal=4)
    )
    assert translate.command_from_proto(amend) == AmendPosition("u", "p", 0, None, 4)
    amend.amend_position.ClearField("stop_loss")
    amend.amend_position.take_profit = 9
    assert translate.command_from_proto(amend) == AmendPosition("u", "p", None, 9, 4)
    with pytest.raises(translate.MalformedCommand, match="no position_id"):
        translate.command_from_proto(commands_pb2.Command(user_id="u", amend_position=commands_pb2.AmendPosition()))

    position = Position("pos-1", "u", "BTC_USDC", Side.SHORT, 100_000, 10, 600_000_000, 6_000, 0, 660_000_000, 0, 0,
                        4, 1, 1)  # fmt: skip
    part = TRADE._replace(id="pos-1:5-0")
    message = translate.reply_to_proto(PositionClosed(part, 9, position), request_id="r", stream_id="5-0")
    closed = message.position_closed
    assert (closed.trade.id, closed.balance_cents, closed.remaining.id) == ("pos-1:5-0", 9, "pos-1")
    # the rest is marked at the price the part closed at: (60000 - 59000) * 0.001 = $1 = 100 cents
    assert (closed.remaining_current_price, closed.remaining_unrealized_pnl_cents) == (590_000_000, 100)
    whole = translate.reply_to_proto(PositionClosed(TRADE, 9), request_id="r", stream_id="5-0").position_closed
    assert not whole.HasField("remaining")
    amended = translate.reply_to_proto(PositionAmended(position, 3), request_id="r", stream_id="6-0")
    assert (amended.position_amended.position.id, amended.position_amended.balance_cents) == ("pos-1", 3)


def test_a_quote_keeps_its_confirmation_time() -> None:
    quote = market_pb2.Quote(
        asset="BTC_USDC", buy_price=2, sell_price=1, decimal=4, venue_time_ms=7, confirmed_at_ms=1_800_000_000_000
    )
    update = market_pb2.PriceUpdate(quotes=[quote], published_at_ms=1_800_000_000_900)
    prices = commands_pb2.Command(price_update=update)
    assert translate.command_from_proto(prices) == PriceUpdate(
        (Quote("BTC_USDC", 2, 1, 4, 1_800_000_000_000, 1_800_000_000_900),)
    )


def test_a_price_update_quoting_one_asset_twice_is_malformed() -> None:
    # docs/contract.md §3: one quote per asset per update; which of two would win is not the engine's guess
    dip = market_pb2.Quote(asset="BTC_USDC", buy_price=2, sell_price=1, decimal=4)
    back = market_pb2.Quote(asset="BTC_USDC", buy_price=20, sell_price=10, decimal=4)
    eth = market_pb2.Quote(asset="ETH_USDC", buy_price=2, sell_price=1, decimal=4)
    prices = commands_pb2.Command(price_update=market_pb2.PriceUpdate(quotes=[dip, eth, back]))
    with pytest.raises(translate.MalformedCommand, match="more than one quote of 'BTC_USDC'"):
        translate.command_from_proto(prices)


def _signup(user_id: str, email: str = "a@b.c", key: str = "") -> commands_pb2.Command:
    return commands_pb2.Command(user_id=user_id, idempotency_key=key,
                                create_account=commands_pb2.CreateAccount(email=email))  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [
        _signup("evil\x00user"),
        _signup("u\nv"),
        _signup("u" * (translate.MAX_USER_ID_LENGTH + 1)),
        _signup("u", email="a\x00@b.c"),
        _signup("u", email="a" * (translate.MAX_EMAIL_LENGTH - 3) + "@b.c"),
        _signup("u", key="k" * (translate.MAX_IDEMPOTENCY_KEY_LENGTH + 1)),
        _signup("u", key="two words"),
        _signup("u", key="nul\x00"),
        commands_pb2.Command(
            user_id="u",
            open_position=commands_pb2.OpenPosition(
                asset="B" * (translate.MAX_ASSET_LENGTH + 1), side=trading_pb2.SIDE_LONG
            ),
        ),
        commands_pb2.Command(user_id="u", close_position=commands_pb2.ClosePosition(position_id="p\x00")),
        commands_pb2.Command(
            user_id="u",
            amend_position=commands_pb2.AmendPosition(position_id="p" * (translate.MAX_POSITION_ID_LENGTH + 1)),
        ),
    ],
)
def test_strings_no_gateway_sends_are_malformed(command: commands_pb2.Command) -> None:
    with pytest.raises(translate.MalformedCommand):
        translate.command_from_proto(command)


def test_strings_at_the_gateways_bounds_are_accepted() -> None:
    user_id = "0" * translate.MAX_USER_ID_LENGTH
    email = "a" * (translate.MAX_EMAIL_LENGTH - 4) + "@b.c"
    key = "!~" * (translate.MAX_IDEMPOTENCY_KEY_LENGTH // 2)
    assert translate.command_from_proto(_signup(user_id, email, key)) == CreateAccount(user_id, email, 0)
