"""The rules in force belong to the state and the log: a rules entry puts new ones in force without
re-deciding what was decided, snapshots record them, and a format-2 snapshot (written before they were
recorded, tests/fixtures/snapshots/format2.json) is still restored, under the configured rules."""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from exness.engine.v1 import commands_pb2

from engine import translate
from engine.config import EngineSettings
from engine.domain import (
    ChangeRules,
    CreateAccount,
    OpenPosition,
    PositionOpened,
    PriceUpdate,
    Quote,
    Rejection,
    RejectReason,
    Rules,
    Side,
    TradingState,
    decode_rules,
    default_rules,
    encode_rules,
)
from engine.domain.capture import SNAPSHOT_FORMAT
from mesh.stream_codec import decode_entry, encode_command

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "snapshots" / "format2.json"
T0 = 1_764_000_000_000


def _apply(state: TradingState, n: int, command: Any) -> Any:
    return state.apply(command, entry_id=f"{T0 + n}-0", time_ms=T0 + n).reply


def test_the_format_2_fixture_restores_under_the_configured_rules_and_is_rewritten_in_the_current_format() -> None:
    fixture = json.loads(FIXTURE.read_text())
    state_data = fixture["body"]["state"]
    assert state_data["format"] == 2 and "rules" not in state_data
    settings = EngineSettings(**{name: str(value) for name, value in fixture["rules"].items()})
    restored = TradingState.restore(settings.rules(), state_data)  # what the engine's restore does
    assert restored.rules == settings.rules()
    assert restored.account_count == 2 and restored.open_position_count == 3
    assert restored.idempotency_key_count == 4
    rewritten = restored.snapshot()
    assert rewritten["format"] == SNAPSHOT_FORMAT and decode_rules(rewritten["rules"]) == settings.rules()
    # nothing but the format, the recorded rules, the (empty) orders table and the accounts' event
    # counters (0: none yet) changed
    assert rewritten["orders"] == []
    assert rewritten["accounts"] == [[*row, 0] for row in state_data["accounts"]]
    assert {k: v for k, v in rewritten.items() if k not in ("format", "rules", "orders", "accounts")} == {
        k: v for k, v in state_data.items() if k not in ("format", "accounts")
    }
    again = TradingState.restore(default_rules(), json.loads(json.dumps(rewritten)))
    assert again.rules == settings.rules() and again.state_hash() == restored.state_hash()


def test_a_rules_entry_governs_what_follows_and_leaves_what_was_decided() -> None:
    rules = replace(default_rules(), maintenance_margin_rate=Fraction(1, 200))
    state = TradingState(rules)
    _apply(state, 1, CreateAccount("u", "u@example.com", 1_000_000))
    _apply(state, 2, PriceUpdate((Quote("BTC_USDC", 600_500_000, 600_000_000, 4),)))
    order = OpenPosition("u", "BTC_USDC", Side.LONG, 100_000, 80, 100, 0, 0, 0)
    assert isinstance(_apply(state, 3, order), PositionOpened)

    lowered = replace(rules, max_leverage=50)
    assert _apply(state, 4, ChangeRules(lowered)) is None
    assert state.rules == lowered and state.open_position_count == 1
    refused = _apply(state, 5, order)
    assert isinstance(refused, Rejection) and refused.reason is RejectReason.INVALID_LEVERAGE

    # the snapshot records the rules in force: a restore keeps them whatever it is given
    restored = TradingState.restore(rules, json.loads(json.dumps(state.snapshot())))
    assert restored.rules == lowered and restored.state_hash() == state.state_hash()


def test_rules_round_trip_and_damaged_rules_are_refused() -> None:
    rules = replace(default_rules(), max_leverage=20, maintenance_margin_rate=Fraction(1, 200),
                    price_stale_after_ms=2500)  # fmt: skip
    assert decode_rules(json.loads(json.dumps(encode_rules(rules)))) == rules
    encoded = encode_rules(rules)
    assert decode_rules({k: v for k, v in encoded.items() if k != "price_stale_after_ms"}).price_stale_after_ms == 5000
    damage = [
        {**encoded, "max_leverage": 0}, {**encoded, "max_leverage": True}, {**encoded, "max_leverage": 1.5},
        {**encoded, "maintenance_margin_rate": "1/0"}, {**encoded, "maintenance_margin_rate": 0.005},
        {**encoded, "surprise": 1}, {**encoded, "assets": [["BTC_USDC", 4]]}, {**encoded, "assets": {}}, [],
    ]  # fmt: skip
    for data in damage:
        with pytest.raises(ValueError):
            decode_rules(data)


def test_the_rules_entry_crosses_the_wire_and_garbage_is_malformed() -> None:
    rules: Rules = replace(default_rules(), max_leverage=50)
    fields = encode_command(translate.rules_to_proto(rules))
    assert fields["type"] == b"CHANGE_RULES"
    assert translate.command_from_proto(decode_entry(fields)) == ChangeRules(rules)
    garbage = commands_pb2.Command(change_rules=commands_pb2.ChangeRules(rules_json='{"max_leverage": -1'))
    with pytest.raises(translate.MalformedCommand, match="no valid rules"):
        translate.command_from_proto(garbage)
