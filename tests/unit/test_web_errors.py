"""The terminal's error sentences (web/src/api.js `errorText`): the API's error body reads as its
message (with the fields of a 422), and no body, however odd, is shown as "[object Object]"."""

from __future__ import annotations

from typing import Any

from tests.unit.test_web_money import run_js


def error_text(status: int, body: Any) -> str:
    result: str = run_js([("errorText", [status, body])], module="api")[0]
    return result


def test_the_api_error_body_reads_as_its_message() -> None:
    body = {"error": {"code": "INSUFFICIENT_BALANCE", "message": "the margin $1,020,201.00 exceeds the free balance"}}
    assert error_text(422, body) == "the margin $1,020,201.00 exceeds the free balance"
    details = {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "invalid request",
            "details": [{"field": "quantity", "message": "must be positive"}, {"message": "bad"}],
        }
    }
    assert error_text(422, details) == "invalid request: quantity must be positive; bad"
    assert error_text(503, {"error": {"code": "PRICE_STALE"}}) == "PRICE_STALE"


def test_odd_bodies_still_read_as_words() -> None:
    odd: list[Any] = [
        None,
        [],
        "text",
        5,
        {},
        {"error": None},
        {"error": {}},
        {"detail": [{"msg": "x"}]},
        {"error": {"message": {"nested": True}, "code": {"x": 1}}},
        {"error": {"message": "m", "details": [{"field": {"a": 1}, "message": {"b": 2}}, "plain", None]}},
    ]
    results = run_js([("errorText", [500, body]) for body in odd], module="api")
    for body, text in zip(odd, results, strict=True):
        assert isinstance(text, str) and text, (body, text)
        assert "[object" not in text and "undefined" not in text and "null" not in text, (body, text)
    assert error_text(502, None) == "Request failed (HTTP 502)"
    assert error_text(500, {"error": "the engine is down"}) == "the engine is down"
