"""schemathesis over the gateway's whole OpenAPI, against a real gateway process and a real engine process:
every operation the document lists (so new endpoints are fuzzed as soon as they are served), with
schema-valid and schema-invalid input, then stateful call sequences along the document's links (signup ->
signin, create -> close / amend). No response may be a 5xx or differ from the document (status, content
type, body schema, headers). The number of examples is fixed and the generation derandomized, so the run
is the same every time and fits the suite's time budget; the counts are printed for docs/reliability.md."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from harness.candles_process import start_candles
from tests.integration.gateway.support import Quote, Stack, feed_engine

# Per operation and generation mode; stateful scenarios on top. Together under a minute on the quiet 2-core box.
EXAMPLES_PER_OPERATION = 30
STATEFUL_SCENARIOS = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
QUOTES = [
    Quote("BTC_USDC", buy=1_010_000_000, sell=1_000_000_000),
    Quote("ETH_USDC", buy=30_300_000, sell=30_000_000),
    Quote("SOL_USDC", buy=1_515_000, sell=1_500_000),
]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def candles_address(redis_url: str, postgres_url: str, artifacts_dir: Path) -> Iterator[str]:
    """A candle builder with a database of its own, for GET /candles."""
    server = postgres_url.rpartition("/")[0]
    name = f"exness_fuzz_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(f"{server}/postgres")
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    env = {"REDIS_URL": redis_url, "STREAM_KEY": f"test:fuzz{uuid.uuid4().hex[:8]}:stream:engine"}
    proc, address = start_candles({**env, "DATABASE_URL": f"{server}/{name}"}, artifacts_dir)
    try:
        yield address
    finally:
        proc.stop()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def fuzz_stack(stack_factory: Callable[..., Stack], candles_address: str) -> Stack:
    """A gateway whose auth limits do not stop the fuzzer, and an engine whose quotes never go stale
    while it runs (so orders reach the engine instead of stopping at 503 PRICE_STALE)."""
    stack = stack_factory(
        engine_env={"PRICE_STALE_AFTER_MS": "86400000"},
        gateway_env={"AUTH_RATE_LIMIT": "100000/minute", "CANDLES_ADDR": candles_address},
    )

    async def feed() -> None:
        redis = aioredis.Redis.from_url(stack.env["REDIS_URL"])
        try:
            await feed_engine(redis, stack.stream_key, QUOTES)
        finally:
            await redis.aclose()

    asyncio.run(feed())
    return stack


def _token(base_url: str) -> str:
    email = f"fuzz{uuid.uuid4().hex[:12]}@example.com"
    response = httpx.post(f"{base_url}/api/v1/signup", json={"email": email, "password": "fuzzing-pass"}, timeout=30)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def _schema(stack: Stack) -> Any:
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    schema.config.base_url = stack.base_url
    return schema


def test_every_operation_answers_as_documented_and_never_5xx(fuzz_stack: Stack) -> None:
    schema = _schema(fuzz_stack)
    headers = {"Authorization": f"Bearer {_token(fuzz_stack.base_url)}"}
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    # the document lists the API (a check that this test fuzzes something real)
    assert {"POST /api/v1/signup", "POST /api/v1/trade/create", "PATCH /api/v1/trade/{positionId}"} <= labels
    cases = 0
    for operation in operations:
        has_input = bool(operation.body) or any(True for _ in operation.iter_parameters())
        # an operation that takes nothing (GET /healthz) has no invalid input to send
        modes = [schemathesis.GenerationMode.POSITIVE] + [schemathesis.GenerationMode.NEGATIVE] * has_input
        for mode in modes:

            @FUZZ_SETTINGS
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                nonlocal cases
                response = case.call(base_url=fuzz_stack.base_url, headers=headers, timeout=30)
                cases += 1
                statuses[response.status_code] += 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            run()
    print(f"\nschemathesis: {len(operations)} operations, {cases} requests, statuses {dict(sorted(statuses.items()))}")
    assert not [status for status in statuses if status >= 500]


def _valid_bodies(run: str) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    """Bodies the API accepts, mixed in with the generated ones, so sequences get past their first step
    (a random order names an unknown asset; a random e-mail is rarely one)."""
    return {
        "POST /api/v1/signup": st.builds(
            lambda n: {"email": f"fuzz{run}.{n}@example.com", "password": "fuzzing-pass"}, st.integers(0, 10**6)
        ),
        "POST /api/v1/trade/create": st.fixed_dictionaries(
            {
                "asset": st.sampled_from([quote.asset for quote in QUOTES]),
                "side": st.sampled_from(["LONG", "SHORT"]),
                "quantity": st.sampled_from(["0.001", "0.01"]),
                "leverage": st.integers(1, 50),
            }
        ),
    }


def test_stateful_sequences_along_the_links(fuzz_stack: Stack) -> None:
    schema = _schema(fuzz_stack)
    valid = _valid_bodies(uuid.uuid4().hex[:8])

    @schema.hook
    def before_generate_body(context: schemathesis.HookContext, strategy: st.SearchStrategy[Any]) -> Any:
        extra = valid.get(context.operation.label) if context.operation else None
        return strategy if extra is None else st.one_of(strategy, extra, extra)

    headers = {"Authorization": f"Bearer {_token(fuzz_stack.base_url)}"}
    statuses: Counter[int] = Counter()
    transitions: Counter[str] = Counter()
    base = schema.as_state_machine()

    class Sequences(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": fuzz_stack.base_url, "headers": headers, "timeout": 30}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            statuses[response.status_code] += 1
            transitions[case.operation.label] += 1

        def validate_response(self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=headers)

    Sequences.run(
        settings=settings(
            FUZZ_SETTINGS, max_examples=STATEFUL_SCENARIOS, stateful_step_count=6, phases=[Phase.generate]
        )
    )
    steps = sum(statuses.values())
    print(
        f"\nschemathesis stateful: {STATEFUL_SCENARIOS} scenarios, {steps} requests, "
        f"statuses {dict(sorted(statuses.items()))}, {dict(transitions)}"
    )
    assert not [status for status in statuses if status >= 500]
    # the links were followed: positions were closed and amended
    assert transitions["POST /api/v1/trade/close"] and transitions["PATCH /api/v1/trade/{positionId}"]
