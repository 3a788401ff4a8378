"""gateway.schemas: the request models refuse booleans and non-finite numbers and normalise e-mail."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from gateway.schemas import SignupRequest
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
