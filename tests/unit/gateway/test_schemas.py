"""gateway.schemas: the request models refuse booleans and non-finite numbers and normalise e-mail."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from gateway.schemas import SigninRequest, SignupRequest
from tests.unit.gateway.helpers import order


def test_request_models_refuse_booleans_and_normalise_email() -> None:
    for bad in (
        {"quantity": True},
        {"leverage": True},
        {"leverage": "5"},
        {"quantity": "nan"},
        {"quantity": "Infinity"},
        {"slippage": 100.5},
        {"side": "long"},
        {"leverage": Decimal("1e9999999")},
        {"leverage": 10**5000},
        {"quantity": Decimal("1e999999")},
        {"stopLoss": "1e500000"},
    ):
        with pytest.raises(ValidationError):
            order(**bad)
    assert SignupRequest(email="  Mixed.Case@Example.COM ", password="12345678").email == "mixed.case@example.com"


@pytest.mark.parametrize("email", ["a\x00b@example.com", "a\x01b@example.com", "ab@exa\x7fmple.com", "a b@example.com"])
def test_signup_refuses_control_characters_in_the_email(email: str) -> None:
    with pytest.raises(ValidationError):
        SignupRequest(email=email, password="12345678")


def test_signin_refuses_only_what_no_stored_address_can_hold() -> None:
    # found by schemathesis: a NUL reached PostgreSQL, which refused it, and signin answered 503
    with pytest.raises(ValidationError):
        SigninRequest(email="trader\x00@example.com", password="x")
    assert SigninRequest(email=" Old\x01Rule@Example.com", password="x").email == "old\x01rule@example.com"
