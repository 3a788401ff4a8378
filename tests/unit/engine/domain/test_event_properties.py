"""Property tests of account events over the random command mixes of test_properties: each account's
sequence runs 1, 2, 3, ... without a gap; the BALANCE events are a statement that reconciles (the amounts
sum to the balance, each line's balance is the running sum, the last line's used and reserved margin are
the account's), pending orders among the commands;
replay and restore give the same events with the same numbers."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from engine.domain import CreateAccount, PriceUpdate, TradingState
from engine.domain.events import AccountEvent, BalanceCause, BalanceChange, EventKind
from tests.unit.engine.domain.test_properties import ASSETS, USERS, Model, Operation, operations


def _events(model: Model, ops: list[Operation]) -> list[AccountEvent]:
    events: list[AccountEvent] = []
    for operation in ops:
        step = model.command_for(operation)
        if step is not None:
            outcome = model.apply(*step)
            assert all(event.time_ms == model.time_ms for event in outcome.events)
            events.extend(outcome.events)
    return events


def _started(model: Model) -> list[AccountEvent]:
    """What Model.start does (fund two users, quote every asset), keeping the events."""
    events: list[AccountEvent] = []
    for user in USERS[:2]:
        events.extend(model.apply(CreateAccount(user, f"{user}@example.com", 2_000_000), "").events)
    for asset in ASSETS:
        assert model.apply(PriceUpdate((model._quote(asset, 0, 100, 0),)), "").events == ()
    assert model.state.state_hash() == Model().start().state.state_hash()
    return events


def _check_statement(model: Model, user: str, events: list[AccountEvent]) -> None:
    account, summary = model.state.account(user), model.state.account_summary(user)
    if account is None or summary is None:
        assert events == []
        return
    lines = [event.body for event in events if isinstance(event.body, BalanceChange)]
    assert len(lines) == sum(event.kind is EventKind.BALANCE for event in events)
    running = 0
    for line in lines:
        running += line.amount_cents
        assert line.balance_cents == running >= 0
    assert running == account.balance_cents
    # the starting balance plus every later movement is the balance now
    assert lines[0].cause is BalanceCause.DEPOSIT and lines[0].balance_cents == lines[0].amount_cents
    assert lines[0].amount_cents + sum(line.amount_cents for line in lines[1:]) == account.balance_cents
    assert lines[-1].used_margin_cents == summary.used_margin_cents
    assert lines[-1].reserved_cents == summary.reserved_margin_cents
    placed = sum(event.kind is EventKind.ORDER_ACCEPTED for event in events)
    ended = sum(event.kind.value.startswith("ORDER_") for event in events) - placed
    assert placed - ended == summary.pending_orders
    opened = sum(event.kind is EventKind.POSITION_OPENED for event in events)
    closed = sum(event.kind is EventKind.POSITION_CLOSED for event in events)
    assert opened - closed == summary.open_positions


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(operations)
def test_every_account_numbers_its_events_without_a_gap_and_its_statement_reconciles(ops: list[Operation]) -> None:
    model = Model()
    events = _started(model)
    assert [(e.user_id, e.seq, e.kind) for e in events] == [(u, 1, EventKind.BALANCE) for u in USERS[:2]]
    events.extend(_events(model, ops))
    for user in (*USERS, "ghost"):
        own = [event for event in events if event.user_id == user]
        assert [event.seq for event in own] == list(range(1, len(own) + 1))
        _check_statement(model, user, own)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(operations, operations)
def test_replay_and_restore_give_the_same_events(first: list[Operation], second: list[Operation]) -> None:
    live, replayed = Model().start(), Model().start()
    assert _events(live, first) == _events(replayed, first)
    data = json.loads(json.dumps(live.state.snapshot()))
    restored = Model(
        state=TradingState.restore(live.state.rules, data), time_ms=live.time_ms, entries=live.entries,
        mids=dict(live.mids), position_ids=list(live.position_ids),
    )  # fmt: skip
    assert _events(live, second) == _events(restored, second)
