"""What several gateway unit tests share: a signing secret, the default asset specs and an order request."""

from __future__ import annotations

from decimal import Decimal

from gateway.config import GatewaySettings
from gateway.schemas import CreateOrderRequest
from mesh.settings import DEFAULT_ASSETS

SECRET = "unit-secret-" + "y" * 32
SPECS = GatewaySettings(jwt_secret=SECRET, assets=DEFAULT_ASSETS).asset_specs


def order(**fields: object) -> CreateOrderRequest:
    return CreateOrderRequest.model_validate(
        {"asset": "BTC_USDC", "side": "LONG", "quantity": Decimal("0.01"), "leverage": 10, **fields}
    )
