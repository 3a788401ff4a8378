"""The stream codec: every Command kind round-trips; garbage is refused with a clear CodecError."""

from __future__ import annotations

import pytest
from exness.common.v1 import trading_pb2
from exness.engine.v1 import commands_pb2
from exness.market.v1 import market_pb2

from mesh.stream_codec import (
    CodecError,
    decode_entry,
    decode_price_update,
    encode_command,
    encode_price_update,
)


def _envelope(**body: object) -> commands_pb2.Command:
    return commands_pb2.Command(request_id="req-1", reply_to="gw-a", idempotency_key="key-9", user_id="u-1", **body)


PRICE_UPDATE = market_pb2.PriceUpdate(
    quotes=[
        market_pb2.Quote(
            asset="BTC_USDC", buy_price=1194168000, sell_price=1182345000, decimal=4, venue_time_ms=1_700_000_000_123
        )
    ],
    published_at_ms=1_700_000_000_200,
    source="fake",
)
PLACE_ORDER = commands_pb2.PlaceOrder(
    asset="BTC_USDC",
    side=1,
    type=2,
    price=1_200_000_000,
    quantity=1_000,
    leverage=10,
    expires_at_ms=1_800_000_000_000,
    price_decimal=4,
)
EVERY_KIND = {
    "CREATE_ACCOUNT": _envelope(
        create_account=commands_pb2.CreateAccount(email="a@b.co", starting_balance_cents=1_000_000)
    ),
    "CREATE_ORDER": _envelope(
        open_position=commands_pb2.OpenPosition(
            asset="BTC_USDC",
            side=trading_pb2.SIDE_SHORT,
            quantity=1_000_000,
            leverage=10,
            slippage_bps=100,
            stop_loss=1_200_000_000,
            take_profit=1_100_000_000,
            trade_opening_price=1_182_345_000,
        )
    ),
    "CLOSE_ORDER": _envelope(close_position=commands_pb2.ClosePosition(position_id="pos-1-0", quantity=1_000)),
    "AMEND_ORDER": _envelope(amend_position=commands_pb2.AmendPosition(position_id="pos-1-0", stop_loss=0)),
    "PLACE_PENDING_ORDER": _envelope(place_order=PLACE_ORDER),
    "CANCEL_PENDING_ORDER": _envelope(cancel_order=commands_pb2.CancelOrder(order_id="ord-1-0")),
    "PRICE_UPDATE": commands_pb2.Command(request_id="p-1", price_update=PRICE_UPDATE),
}


@pytest.mark.parametrize("type_name", sorted(EVERY_KIND))
def test_every_command_kind_round_trips(type_name: str) -> None:
    command = EVERY_KIND[type_name]
    fields = encode_command(command)
    assert fields["type"] == type_name.encode()
    assert decode_entry(fields) == command
    # redis-py hands back bytes keys
    assert decode_entry({k.encode(): v for k, v in fields.items()}) == command


def test_encode_refuses_a_command_without_body() -> None:
    with pytest.raises(CodecError, match="no body"):
        encode_command(commands_pb2.Command(request_id="x"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({b"payload": b""}, "no 'type' field"),
        ({b"type": b"CREATE_ORDER"}, "no 'payload' field"),
        ({b"type": b"LAUNCH_ROCKET", b"payload": b""}, "unknown entry type 'LAUNCH_ROCKET'"),
        ({b"type": b"CREATE_ORDER", b"payload": b"\xff\xff\xff\xff"}, "not a Command protobuf"),
        ({b"type": b"CREATE_ORDER", b"payload": b""}, "does not match the payload's body \\(none\\)"),
        (
            {b"type": b"CLOSE_ORDER", b"payload": EVERY_KIND["CREATE_ORDER"].SerializeToString()},
            "does not match the payload's body \\(open_position\\)",
        ),
        ({b"type": b"PRICE_UPDATE", b"payload": b"x" * ((1 << 20) + 1)}, "exceeds"),
    ],
)
def test_malformed_entries_are_refused_clearly(fields: dict[bytes, bytes], message: str) -> None:
    with pytest.raises(CodecError, match=message):
        decode_entry(fields)


@pytest.mark.parametrize("cut", [1, 5, 17, 40])
def test_truncated_payloads_are_refused(cut: int) -> None:
    payload = encode_command(EVERY_KIND["CREATE_ORDER"])["payload"]
    with pytest.raises(CodecError):
        decode_entry({b"type": b"CREATE_ORDER", b"payload": payload[:-cut]})


def test_price_update_pubsub_round_trip_and_garbage() -> None:
    assert decode_price_update(encode_price_update(PRICE_UPDATE)) == PRICE_UPDATE
    with pytest.raises(CodecError, match="not a PriceUpdate"):
        decode_price_update(b"\x0a\xff\xff")
