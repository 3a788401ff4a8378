"""Configuration of the trading rules: traded assets (`mesh.units.AssetSpec`: price scale and quantity
step), leverage cap, maintenance rate, price staleness, the open-position and pending-order caps and
idempotency retention.
Validated once, immutable. The rules in force are part of the state (see TradingState.snapshot and
ChangeRules), encoded by `encode_rules`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from mesh.units import AssetSpec


@dataclass(frozen=True, slots=True)
class Rules:
    assets: Mapping[str, AssetSpec]
    max_leverage: int = 100
    maintenance_margin_rate: Fraction = Fraction(0)
    price_stale_after_ms: int = 5000
    # Open positions one account may hold at once. Every read of an account (its position list, its
    # summary) runs on the engine's single loop in time proportional to this, so it bounds how long one
    # account can hold up everyone else's orders and ticks.
    max_open_positions_per_account: int = 1_000
    # pending LIMIT/STOP orders one account may hold at once, for the same reason
    max_pending_orders_per_account: int = 100
    # idempotency keys are remembered per user: at most this many (the user's oldest is forgotten
    # first) and for this long in stream time (24 h); see engine.domain.idempotency
    idempotency_keys_per_user: int = 1_000
    idempotency_window_ms: int = 86_400_000

    def __post_init__(self) -> None:
        if not self.assets:
            raise ValueError("no assets configured")
        for symbol, spec in self.assets.items():
            if symbol != spec.symbol:
                raise ValueError(f"asset key {symbol!r} does not match its spec {spec.symbol!r}")
        if self.max_leverage < 1:
            raise ValueError(f"max_leverage {self.max_leverage} must be at least 1")
        if not 0 <= self.maintenance_margin_rate < 1:
            raise ValueError(f"maintenance_margin_rate {self.maintenance_margin_rate} outside [0, 1)")
        if self.max_open_positions_per_account < 1:
            raise ValueError(f"max_open_positions_per_account {self.max_open_positions_per_account} must be at least 1")
        if self.max_pending_orders_per_account < 0:
            raise ValueError(
                f"max_pending_orders_per_account {self.max_pending_orders_per_account} must not be negative"
            )
        if self.price_stale_after_ms < 0:
            raise ValueError("price_stale_after_ms must not be negative")
        if self.idempotency_keys_per_user < 0 or self.idempotency_window_ms < 0:
            raise ValueError("idempotency_keys_per_user and idempotency_window_ms must not be negative")
        # a read-only copy: the rules of a running state must not change under it
        object.__setattr__(self, "assets", MappingProxyType(dict(self.assets)))


def default_rules() -> Rules:
    """The defaults of docs/contract.md §1: BTC step 0.00001, ETH 0.0001, SOL 0.01, price scale 4."""
    return Rules(
        assets={
            "BTC_USDC": AssetSpec("BTC_USDC", 4, 1_000),
            "ETH_USDC": AssetSpec("ETH_USDC", 4, 10_000),
            "SOL_USDC": AssetSpec("SOL_USDC", 4, 1_000_000),
        }
    )


def encode_rules(rules: Rules) -> dict[str, Any]:
    """The rules as JSON-ready primitives, every field of Rules (a rule added later is recorded with the
    others): assets as [symbol, decimal, step] rows by symbol, a rate as "numerator/denominator"."""
    encoded: dict[str, Any] = {}
    for field in fields(Rules):
        value = getattr(rules, field.name)
        if field.name == "assets":
            value = [[spec.symbol, spec.decimal, spec.step] for _, spec in sorted(value.items())]
        elif isinstance(value, Fraction):
            value = f"{value.numerator}/{value.denominator}"
        encoded[field.name] = value
    return encoded


def decode_rules(data: object) -> Rules:
    """Strict inverse of `encode_rules` (ValueError on damage). A rule missing from `data` (recorded before
    it existed) takes its default."""
    if not isinstance(data, dict):
        raise ValueError(f"rules must be an object, got {data!r}")
    known = {field.name: field for field in fields(Rules)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"unknown rules {unknown}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "assets":
            values[name] = {spec.symbol: spec for spec in map(_decode_asset, _list(value))}
            continue
        default = known[name].default
        if isinstance(default, Fraction) and type(value) is str:
            try:
                values[name] = Fraction(value)
            except ZeroDivisionError:
                raise ValueError(f"rule {name}: {value!r} divides by zero") from None
        elif default is not MISSING and type(value) is type(default):
            values[name] = value
        else:
            raise ValueError(f"rule {name}: unexpected value {value!r}")
    return Rules(**values)


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {value!r}")
    return value


def _decode_asset(row: object) -> AssetSpec:
    values = _list(row)
    if [type(value) for value in values] != [str, int, int]:
        raise ValueError(f"asset row {row!r} is not [symbol, decimal, step]")
    return AssetSpec(*values)
