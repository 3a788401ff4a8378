"""What the gateway's health answers and database errors must never show (gateway/routes/health.py, gateway/db.py)."""

from __future__ import annotations

import json

import pytest


def test_database_errors_never_show_the_statement_parameters() -> None:
    # an IntegrityError on INSERT would otherwise print the e-mail and password hash it was given
    from gateway.db import make_engine

    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert engine.sync_engine.hide_parameters is True


async def test_readiness_shows_status_words_only(caplog: pytest.LogCaptureFixture) -> None:
    from types import SimpleNamespace

    from gateway.routes.health import readyz

    secret = "redis://:Hunter2pw@cache:6379 refused; user=app password=Hunter2pw"

    class Down:
        async def ping(self) -> None:
            raise ConnectionError(secret)

        def connect(self) -> None:
            raise OSError(secret)

    context = SimpleNamespace(redis=Down(), db_engine=Down(), engine=SimpleNamespace(ready=False))
    with caplog.at_level("WARNING", logger="gateway.routes.health"):
        response = await readyz(context)  # type: ignore[arg-type]
    assert response.status_code == 503
    assert json.loads(bytes(response.body)) == {
        "status": "unavailable",
        "checks": {"engine": "failed", "redis": "failed", "postgres": "failed"},
    }
    # why is for the operator, in the log (whose formatter redacts it)
    assert {record.__dict__["check"] for record in caplog.records} == {"redis", "postgres"}
