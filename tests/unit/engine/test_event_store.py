"""The account-event rows without a database: the protobuf of each event kind, the row's JSON form in a
snapshot body (round trip; damage refused), what PostgreSQL would refuse, and the statement's page token."""

from __future__ import annotations

import json

import pytest
from exness.engine.v1 import events_pb2

from engine.event_store import (
    EVENTS,
    InvalidStatementToken,
    decode_statement_token,
    encode_statement_token,
    event_from_row,
    event_row,
    event_row_problem,
)
from tests.unit.engine.domain.helpers import busy_driver, seeded


def test_every_kind_of_event_survives_the_row_and_the_snapshot() -> None:
    driver = seeded()
    events = list(driver.open(quantity=2_000_000).events)
    position = driver.state.positions_of("alice")[0]
    events += driver.close(position.id, quantity=1_000_000).events
    events += driver.amend(position.id, take_profit=1_300_000_000).events
    events += driver.close(position.id).events
    kinds = {events_pb2.AccountEventKind.Name(event_from_row(event_row(e)).kind) for e in events}
    assert kinds == {f"ACCOUNT_EVENT_KIND_{k}" for k in ("POSITION_OPENED", "BALANCE", "POSITION_UPDATED",
                                                            "POSITION_CLOSED")}  # fmt: skip
    for event in events:
        row = event_row(event)
        assert event_row_problem(row) is None
        again = EVENTS.from_json(json.loads(json.dumps(EVENTS.to_json(row))))
        assert again == row and EVENTS.key(again) == ("account_event", (event.user_id, event.seq))
        message = event_from_row(again)
        assert (message.user_id, message.seq, message.time_ms) == (event.user_id, event.seq, event.time_ms)
    update = event_from_row(event_row(events[2])).position_updated
    assert update.change == events_pb2.POSITION_CHANGE_PARTIAL_CLOSE and update.closed_part.quantity == 1_000_000
    balance = event_from_row(event_row(events[-1])).balance
    assert balance.cause == events_pb2.BALANCE_CAUSE_POSITION_CLOSED and balance.used_margin_cents == 0


@pytest.mark.parametrize("damage", [{"event": "not base64!"}, {"event": 5}, {"user_id": None, "event": None}])
def test_a_damaged_pending_event_is_refused(damage: dict[str, object]) -> None:
    row = EVENTS.to_json(event_row(busy_driver().open().events[0]))
    with pytest.raises(ValueError):
        EVENTS.from_json({**row, **damage})
    with pytest.raises(ValueError):
        EVENTS.from_json(["not", "a", "row"])


def test_rows_postgresql_would_refuse_are_named() -> None:
    row = event_row(busy_driver().open().events[0])
    assert event_row_problem({**row, "seq": 2**63}) and event_row_problem({**row, "user_id": "u\x00"})
    assert event_row_problem({**row, "event": "text"}) and event_row_problem({**row, "time_ms": True})


def test_statement_tokens() -> None:
    assert decode_statement_token(encode_statement_token(42)) == 42
    for token in ("", "x!", encode_statement_token(0), "czE=" * 3, encode_statement_token(2**63)):
        with pytest.raises(InvalidStatementToken):
            decode_statement_token(token)
