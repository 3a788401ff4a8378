"""Operations: /healthz (the process is alive), /readyz (engine channel READY with the reply stream
open, Redis and PostgreSQL reachable) and /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway import db
from gateway.deps import ContextDep
from gateway.schemas import Health

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 2.0
Status = Literal["ok", "failed"]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


async def _check(name: str, awaitable: object) -> Status:
    try:
        await asyncio.wait_for(awaitable, CHECK_TIMEOUT_SECONDS)  # type: ignore[arg-type]
    except Exception as exc:  # any failure means "not ready"
        # the body is public (behind the Ingress): a status word there, the exception's text only in the log
        log.warning("readiness check failed", extra={"check": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
        return "failed"
    return "ok"


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(context: ContextDep) -> JSONResponse:
    redis_check, db_check = await asyncio.gather(
        _check("redis", context.redis.ping()), _check("postgres", db.ping(context.db_engine))
    )
    checks: dict[str, Status] = {
        "engine": "ok" if context.engine.ready else "failed",
        "redis": redis_check,
        "postgres": db_check,
    }
    ready = all(value == "ok" for value in checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
