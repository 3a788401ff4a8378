"""The /ws/account pieces without servers: the first message's parsing, the JSON of each event kind, and
an AccountSession's ordering against an in-memory table of committed events (the engine's
ListAccountEvents rules): each number sent once, in order, gaps read back from the table."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from exness.common.v1 import trading_pb2
from exness.engine.v1 import engine_service_pb2, events_pb2

from gateway import account_events
from gateway.account_events import AccountSession
from gateway.event_json import event_json, statement_line
from gateway.routes.account import BadAuthMessage, parse_auth_message

USER = "u-1"


def _balance(seq: int, amount: int, balance: int) -> events_pb2.AccountEvent:
    change = events_pb2.BalanceChange(
        cause=events_pb2.BALANCE_CAUSE_MARGIN_LOCKED, amount_cents=amount, balance_cents=balance,
        used_margin_cents=-amount, position_id="pos-1",
    )  # fmt: skip
    return events_pb2.AccountEvent(user_id=USER, seq=seq, time_ms=1_700_000_000_000 + seq,
                                   kind=events_pb2.ACCOUNT_EVENT_KIND_BALANCE, balance=change)  # fmt: skip


class Table:
    """Committed events and the engine's ListAccountEvents answers over them."""

    def __init__(self, count: int) -> None:
        self.events = [_balance(seq, -seq, 1_000_000 - seq) for seq in range(1, count + 1)]
        self.kept_from = 1
        self.reads = 0

    async def list_account_events(self, user_id: str, after_seq: int, limit: int
                                  ) -> engine_service_pb2.ListAccountEventsResponse:  # fmt: skip
        self.reads += 1
        last = len(self.events)
        if after_seq > last or (after_seq + 1 < self.kept_from):
            return engine_service_pb2.ListAccountEventsResponse(resync=True, last_committed_seq=last)
        chosen = self.events[after_seq : after_seq + limit]
        return engine_service_pb2.ListAccountEventsResponse(
            events=chosen, more=after_seq + limit < last, last_committed_seq=last
        )


def _session(table: Table) -> tuple[AccountSession, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    async def send(text: str) -> None:
        sent.append(json.loads(text))

    return AccountSession(USER, send, table), sent  # type: ignore[arg-type]


async def _settle(session: AccountSession) -> None:
    """Run the session until its inbox is empty."""
    task = asyncio.create_task(session.run())
    for _ in range(50):
        await asyncio.sleep(0)
    task.cancel()


@pytest.mark.parametrize(
    ("text", "expected"),
    [('{"type": "auth", "token": "t"}', ("t", None)), ('{"type": "auth", "token": "t", "since": 7}', ("t", 7)),
     ('{"type": "auth", "token": "t", "since": null}', ("t", None))],
)  # fmt: skip
def test_the_auth_message(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_auth_message(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "[]", '{"type": "auth"}', '{"type": "AUTH", "token": "t"}', '{"type": "auth", "token": 5}',
     '{"type": "auth", "token": "t", "since": 1.5}', '{"type": "auth", "token": "t", "since": "3"}',
     '{"type": "auth", "token": "t", "since": 9223372036854775808}'],
)  # fmt: skip
def test_a_bad_auth_message_says_why(text: str) -> None:
    with pytest.raises(BadAuthMessage):
        parse_auth_message(text)


def test_event_json_uses_the_rest_fields() -> None:
    position = trading_pb2.Position(id="pos-1", asset="BTC_USDC", side=trading_pb2.SIDE_LONG, quantity=1_000_000,
                                    leverage=10, entry_price=1_194_168_450, margin_cents=11_942, decimal=4,
                                    opened_at_ms=1_700_000_000_000, stop_loss=1_100_000_000)  # fmt: skip
    opened = events_pb2.AccountEvent(user_id=USER, seq=2, time_ms=5, kind=events_pb2.ACCOUNT_EVENT_KIND_POSITION_OPENED,
                                     position_opened=position)  # fmt: skip
    message = event_json(opened)
    assert (message["type"], message["seq"], message["ts"]) == ("POSITION_OPENED", 2, 5)
    assert message["position"]["quantity"] == "0.01" and message["position"]["stopLoss"] == 1_100_000_000
    assert message["position"]["side"] == "LONG" and message["position"]["currentPrice"] is None
    assert event_json(_balance(3, -11_942, 988_058)) == {
        "type": "BALANCE", "seq": 3, "ts": 1_700_000_000_003, "cause": "MARGIN_LOCKED", "amount": -11_942,
        "balance": 988_058, "reserved": 0, "usedMargin": 11_942, "positionId": "pos-1", "orderId": None,
    }  # fmt: skip
    line = statement_line(_balance(3, -11_942, 988_058))
    assert (line.seq, line.type, line.amount, line.balanceAfter, line.orderId) == (3, "MARGIN_LOCKED", -11_942,
                                                                                   988_058, None)  # fmt: skip


async def test_a_session_resumes_after_since_and_sends_each_number_once() -> None:
    table = Table(5)
    session, sent = _session(table)
    await session.start(2)
    assert sent[0] == {"type": "SUBSCRIBED", "seq": 2}
    assert [m["seq"] for m in sent[1:]] == [3, 4, 5]
    # live: 4 and 5 again (the read covered them) are dropped, 6 is next
    table.events.append(_balance(6, -6, 0))
    for seq in (4, 5, 6):
        session.offer(table.events[seq - 1])
    await _settle(session)
    # 8 arrives before 7 was seen: both are committed, read back from the table
    table.events += [_balance(7, -7, 0), _balance(8, -8, 0)]
    session.offer(table.events[7])
    await _settle(session)
    assert [m["seq"] for m in sent[1:]] == [3, 4, 5, 6, 7, 8]


async def test_a_session_without_since_starts_at_the_last_committed_event() -> None:
    table = Table(4)
    session, sent = _session(table)
    await session.start(None)
    assert sent == [{"type": "SUBSCRIBED", "seq": 4}]


async def test_a_session_reads_long_histories_page_by_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(account_events, "REFILL_PAGE", 3)
    table = Table(10)
    session, sent = _session(table)
    await session.start(0)
    assert [m["seq"] for m in sent[1:]] == list(range(1, 11)) and table.reads == 4


async def test_a_flooded_inbox_is_dropped_and_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(account_events, "INBOX_CAPACITY", 3)
    table = Table(2)
    session, sent = _session(table)
    await session.start(2)
    table.events += [_balance(seq, -seq, 0) for seq in range(3, 11)]
    for event in table.events[2:]:
        session.offer(event)
    await _settle(session)
    assert [m["seq"] for m in sent[1:]] == list(range(3, 11))


async def test_since_beyond_what_is_kept_answers_resync() -> None:
    table = Table(5)
    session, sent = _session(table)
    await session.start(9)
    assert sent == [{"type": "RESYNC", "seq": 5}]
    table.kept_from = 4
    session, sent = _session(table)
    await session.start(1)
    assert sent == [{"type": "RESYNC", "seq": 5}]
    # and the socket goes on from there
    table.events.append(_balance(6, -6, 0))
    session.offer(table.events[5])
    await _settle(session)
    assert [m["seq"] for m in sent] == [5, 6]
