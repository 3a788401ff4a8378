"""Every numeric input of the REST API (gateway.schemas, gateway.order_schemas), given hostile forms: too
many digits, exponent forms, huge and tiny values, NaN and Infinity, numbers beyond int64. Each is
either accepted exactly or refused as the documented 422 naming its field (docs/contract.md §1, §5.3);
nothing raises anything else, which a route would answer with a 5xx."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from gateway import compat_shapes as shapes
from gateway.errors import ApiError
from gateway.order_schemas import PlaceOrderRequest
from gateway.order_translate import place_order_command
from gateway.schemas import AmendTradeRequest, CloseOrderRequest, CreateOrderRequest
from gateway.translate import amend_position_command, close_position_command, open_position_command
from tests.unit.gateway.helpers import SPECS

USER = uuid.uuid4()
# what ExactJsonRequest hands a model: a JSON fraction or exponent as Decimal, an integer (at most 40
# digits) as int, a string as it is
HOSTILE: list[object] = [
    Decimal("1e400"),
    Decimal("-1e400"),
    Decimal("1E+23"),
    Decimal("9.99999999999999999999999E+23"),
    Decimal("1E+24"),
    Decimal("1e-400"),
    Decimal("0E-1000000000"),
    Decimal("0E+1000000000"),
    Decimal("1234567890123.4567"),
    Decimal("123456789012345.6789"),
    Decimal("922337203685477.5807"),
    Decimal("922337203685477.5808"),
    Decimal("1.5e3"),
    Decimal("-0.0"),
    10**39,
    2**63,
    2**64,
    -(2**63),
    "NaN",
    "-nan",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e5",
    "1E+30",
    " 2 ",
    "0x10",
    "1_000",
    "",
    "1" * 60,
    "0." + "0" * 100 + "1",
    "1" * 20 + "." + "1" * 20,
    True,
    None,
    [],
    {},
]

Conversion = Callable[[BaseModel], object]
BASE_ORDER = {"asset": "BTC_USDC", "side": "LONG", "quantity": Decimal("0.01"), "leverage": 10}
FIELDS: list[tuple[type[BaseModel], dict[str, object], str, Conversion]] = [
    *((CreateOrderRequest, BASE_ORDER, field, lambda body: open_position_command(body, SPECS, USER, ""))  # type: ignore[arg-type]
      for field in ("quantity", "leverage", "slippage", "stopLoss", "takeProfit", "tradeOpeningPrice")),
    (CloseOrderRequest, {"orderId": "pos-1"}, "quantity",
     lambda body: close_position_command("pos-1", USER, "", body.quantity)),  # type: ignore[attr-defined]
    *((AmendTradeRequest, {}, field, lambda body: amend_position_command("pos-1", body, SPECS, USER, ""))  # type: ignore[arg-type]
      for field in ("stopLoss", "takeProfit")),
    *((PlaceOrderRequest, {**BASE_ORDER, "type": "LIMIT", "price": Decimal("60000")}, field,
       lambda body: place_order_command(body, SPECS, USER, ""))  # type: ignore[arg-type]
      for field in ("price", "quantity", "leverage", "stopLoss", "takeProfit", "expiresAt")),
]  # fmt: skip


FIELD_IDS = [f"{model.__name__}.{field}" for model, _, field, _ in FIELDS]


def _outcome(model: type[BaseModel], base: dict[str, object], field: str, value: object,
             convert: Conversion) -> str:  # fmt: skip
    """`ok`, or `422 <the field named in the details>`; anything else raised propagates and fails the test."""
    try:
        convert(model.model_validate({**base, field: value}))
    except ValidationError as exc:
        return "422 " + ".".join(str(part) for part in exc.errors()[0]["loc"])
    except ApiError as exc:
        assert exc.status == 422, exc.body()
        return f"422 {exc.details[0]['field']}" if exc.details else f"422 {exc.code}"
    return "ok"


@pytest.mark.parametrize(("model", "base", "field", "convert"), FIELDS, ids=FIELD_IDS)
def test_every_hostile_number_is_accepted_exactly_or_refused_with_422_naming_the_field(
    model: type[BaseModel], base: dict[str, object], field: str, convert: Conversion
) -> None:
    for value in HOSTILE:
        outcome = _outcome(model, base, field, value, convert)
        assert outcome in ("ok", f"422 {field}"), (value, outcome)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", Decimal("1e400"), "1E+30", 2**64, "1" * 60])
@pytest.mark.parametrize(("model", "base", "field", "convert"), FIELDS, ids=FIELD_IDS)
def test_non_finite_and_oversized_numbers_are_refused(
    model: type[BaseModel], base: dict[str, object], field: str, convert: Conversion, value: object
) -> None:
    assert _outcome(model, base, field, value, convert) == f"422 {field}"


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"quantity": Decimal("12345678.12345678")}, ["quantity"]),
        # 15 digits, trailing zeros and exponent forms are stated exactly
        ({"quantity": Decimal("1234567.12345678")}, []),
        ({"quantity": "1e-2"}, []),
    ],
)
def test_the_compatibility_layer_refuses_what_it_could_not_state_back(
    fields: dict[str, object], refused: list[str]
) -> None:
    body = CreateOrderRequest.model_validate({**BASE_ORDER, **fields})
    values = {"quantity": body.quantity, "stopLoss": body.stopLoss, "takeProfit": body.takeProfit}
    if not refused:
        shapes.statable(values)
        return
    with pytest.raises(ApiError) as caught:
        shapes.statable(values)
    assert (caught.value.status, caught.value.code) == (422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in caught.value.details or []] == refused
    assert "more than 15 significant digits" in caught.value.message


LEVEL_FIELDS = [
    (model, base, field) for model, base, field, _ in FIELDS if field in ("price", "stopLoss", "takeProfit")
]


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (Decimal("1234567890123.4567"), False),
        ("123456789012.3456", False),
        ("1234567890123456", False),
        (Decimal("12345678901.2345"), True),  # 15 digits
        (Decimal("1234567890123450000.0000"), True),  # trailing zeros are not significant
        (Decimal("1.5E+5"), True),
    ],
)
@pytest.mark.parametrize(
    ("model", "base", "field"), LEVEL_FIELDS, ids=[f"{m.__name__}.{f}" for m, _, f in LEVEL_FIELDS]
)
def test_a_price_level_has_at_most_15_significant_digits_on_every_api(
    model: type[BaseModel], base: dict[str, object], field: str, value: object, accepted: bool
) -> None:
    """A level every API can state back exactly (the compatibility layer's JSON numbers are doubles): a
    16-digit take-profit set through the main API would otherwise make every compatibility read of the
    position fail."""
    if accepted:
        model.model_validate({**base, field: value})
        return
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**base, field: value})
    error = caught.value.errors()[0]
    assert error["loc"] == (field,) and "more than 15 significant digits" in error["msg"], error
