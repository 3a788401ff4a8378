"""The e-mail index: a derived read of the state (lower-cased, first account wins), kept by account
creation, rebuilt by restore and never part of the snapshot or the state hash."""

from __future__ import annotations

import json

from engine.domain import CreateAccount, TradingState

from .helpers import Driver


def test_account_creation_indexes_the_lower_cased_email_and_the_first_account_keeps_it() -> None:
    driver = Driver()
    driver.apply(CreateAccount("u1", "Ann@Example.com", 1_000))
    driver.apply(CreateAccount("u2", "ann@example.COM", 1_000))
    assert driver.state.user_id_for_email("ANN@example.com") == "u1"
    assert driver.state.user_id_for_email("nobody@example.com") is None


def test_restore_rebuilds_the_index_and_the_hash_ignores_it() -> None:
    driver = Driver()
    driver.signup("alice")
    driver.apply(CreateAccount("bob", "Bob@Example.com", 1_000))
    data = json.loads(json.dumps(driver.state.snapshot()))
    assert set(data) == {"format", "rules", "next_sequence", "accounts", "positions", "orders", "quotes", "idempotency"}
    restored = TradingState.restore(driver.rules, data)
    assert restored.user_id_for_email("bob@example.com") == "bob"
    assert restored.user_id_for_email("ALICE@example.com") == "alice"
    assert restored.state_hash() == driver.state.state_hash()
