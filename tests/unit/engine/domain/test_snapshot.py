"""Snapshots and the state hash: JSON-ready, canonical, restorable to a state that behaves identically,
stable across processes and hash seeds, and strict about damaged input."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.domain import (
    AssetSpec,
    ChangeRules,
    PositionOpened,
    Rejection,
    Rules,
    Side,
    TradingState,
    default_rules,
    records,
)
from engine.domain.capture import SNAPSHOT_FORMAT

from .helpers import BTC_BUY, BTC_SELL, ETH, busy_driver

REPO_ROOT = Path(__file__).resolve().parents[4]


def _assert_json_primitives(value: object) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            _assert_json_primitives(item)
    elif isinstance(value, list):
        for item in value:
            _assert_json_primitives(item)
    else:
        assert type(value) in (int, str), value


def test_snapshot_is_made_of_json_primitives() -> None:
    _assert_json_primitives(busy_driver().state.snapshot())


def test_restore_gives_the_same_hash_and_the_same_behaviour() -> None:
    driver = busy_driver()
    data = json.loads(json.dumps(driver.state.snapshot()))
    restored = TradingState.restore(driver.rules, data)
    assert restored.state_hash() == driver.state.state_hash()
    assert restored.snapshot() == driver.state.snapshot()
    original = driver.state
    bob_positions = original.positions_of("bob")
    assert restored.positions_of("bob") == bob_positions

    # the same entries on both: replies, closed trades (the rebuilt indexes fire alike) and hashes match
    driver.state = restored
    later = [
        lambda: driver.tick(buy=1_210_000_000, sell=1_205_995_000),  # liquidates bob's 50x SHORT
        lambda: driver.tick(asset=ETH, buy=34_000_000, sell=33_900_000),  # fires bob's ETH take-profit
        lambda: driver.open(key="a-1"),  # remembered: a different command under a known key
        lambda: driver.close("pos-1700000000007-7", key="a-2"),  # remembered close
        lambda: driver.open(user="bob", leverage=500, key="b-1"),  # remembered rejection
        lambda: driver.opened(side=Side.SHORT),
    ]
    restored_outcomes = [step() for step in later]
    driver.state = original
    driver.time_ms -= len(later)
    driver.entries -= len(later)
    original_outcomes = [step() for step in later]
    assert restored_outcomes == original_outcomes
    assert {t.id for t in original_outcomes[0].closed_trades + original_outcomes[1].closed_trades} == {
        p.id for p in bob_positions
    }
    assert restored.state_hash() == original.state_hash()


_HASH_SCRIPT = "from tests.unit.engine.domain.helpers import busy_driver; print(busy_driver().state.state_hash())"


def test_state_hash_is_stable_across_processes_and_hash_seeds() -> None:
    expected = busy_driver().state.state_hash()
    for seed in ("0", "1", "4242"):
        environment = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", _HASH_SCRIPT],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        assert result.stdout.strip() == expected


def test_hash_tells_states_apart() -> None:
    driver = busy_driver()
    before = driver.state.state_hash()
    driver.tick(buy=BTC_BUY, sell=BTC_SELL)  # only the quote's time changes
    assert driver.state.state_hash() != before


def test_a_smaller_retention_put_in_force_keeps_each_users_newest_key() -> None:
    driver = busy_driver()
    rules = Rules(assets=default_rules().assets, idempotency_keys_per_user=1)
    restored = TradingState.restore(driver.rules, driver.state.snapshot())
    assert restored.apply(ChangeRules(rules), entry_id="9000-0", time_ms=9000).reply is None
    # alice had a-1 and a-2, bob b-1: each keeps only their newest
    assert restored.idempotency_key_count == 2
    assert [row[1] for row in restored.snapshot()["idempotency"]] == ["a-2", "b-1"]


def _damaged(mutate: Any) -> dict[str, Any]:
    data = copy.deepcopy(busy_driver().state.snapshot())
    mutate(data)
    return data


DAMAGE = {
    "unknown format": lambda d: d.update(format=99),
    "missing section": lambda d: d.pop("quotes"),
    "float balance": lambda d: d["accounts"][0].__setitem__(2, 998751.0),
    "bool where a number belongs": lambda d: d["positions"][0].__setitem__(4, True),
    "bad side": lambda d: d["positions"][0].__setitem__(3, "FLAT"),
    "short row": lambda d: d["positions"][0].pop(),
    "duplicate account": lambda d: d["accounts"].append(list(d["accounts"][0])),
    "position without account": lambda d: d["positions"][0].__setitem__(1, "carol"),
    "duplicate position": lambda d: d["positions"].append(list(d["positions"][0])),
    "sequence not above the positions": lambda d: d.update(next_sequence=5),
    "unknown reply kind": lambda d: d["idempotency"][0][3].__setitem__(0, "Shrug"),
    "unknown command kind": lambda d: d["idempotency"][0][3].__setitem__(0, "Shrug"),
    "duplicate idempotency key": lambda d: d["idempotency"].append(d["idempotency"][0]),
    "not a dict": lambda d: d.update(accounts=7),
    "position without a quote": lambda d: d["quotes"].pop(),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_snapshots_are_refused(damage: str) -> None:
    with pytest.raises(ValueError):
        TradingState.restore(default_rules(), _damaged(DAMAGE[damage]))


@pytest.mark.parametrize(
    "rules",
    [
        Rules(assets={"BTC_USDC": AssetSpec("BTC_USDC", 4, 1_000)}),  # ETH no longer traded
        Rules(assets={**default_rules().assets, "ETH_USDC": AssetSpec("ETH_USDC", 2, 10_000)}),  # rescaled
    ],
)
def test_rules_that_do_not_fit_the_state_are_refused(rules: Rules) -> None:
    state = busy_driver().state
    before = state.state_hash()
    assert isinstance(state.apply(ChangeRules(rules), entry_id="9000-0", time_ms=9000).reply, Rejection)
    assert state.state_hash() == before
    # a format-2 snapshot records no rules: it is restored under the given ones, and refused if they misfit
    legacy = {**state.snapshot(), "format": 2}
    del legacy["rules"]
    with pytest.raises(ValueError):
        TradingState.restore(rules, legacy)


def test_a_remembered_open_keeps_its_valuation_through_a_snapshot_and_an_older_one_restores() -> None:
    driver = busy_driver()
    first = driver.open(key="opened-once").reply
    assert isinstance(first, PositionOpened) and first.valuation is not None
    data = json.loads(json.dumps(driver.state.snapshot()))
    assert data["format"] == SNAPSHOT_FORMAT >= 5
    restored = TradingState.restore(driver.rules, data)
    driver.state = restored
    assert driver.open(key="opened-once").reply == first  # the retry's reply is the first one, valuation too
    # a format-3 snapshot remembers an open without its valuation: it restores, the reply has none
    legacy = copy.deepcopy(data)
    legacy["format"] = 3
    del legacy["orders"]
    for row in legacy["idempotency"]:
        if row[4][0] == "PositionOpened":
            del row[4][3:]
    older = TradingState.restore(driver.rules, legacy)
    remembered = [records.decode_reply(row[4]) for row in legacy["idempotency"] if row[4][0] == "PositionOpened"]
    assert remembered and all(isinstance(r, PositionOpened) and r.valuation is None for r in remembered)
    assert older.account_count == restored.account_count
