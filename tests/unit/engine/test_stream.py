"""engine.stream: stream entry ids order numerically and carry their time."""

from __future__ import annotations

from engine.stream import entry_key, entry_time_ms


def test_entry_ids_order_numerically_and_give_the_time() -> None:
    assert entry_key("1700000000000-10") > entry_key("1700000000000-9")
    assert entry_key("1700000000001-0") > entry_key("1700000000000-99")
    assert entry_time_ms("1700000000123-4") == 1700000000123
