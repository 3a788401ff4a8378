"""The web terminal: serves the built bundle in `gateway/static/` (built from `web/` by
`npm run build:web` and committed) at `/` (index.html) and `/ui/` (app.js, app.css), plus
`/ui/config.json`, the asset list (price scale, quantity step) from this gateway's `ASSETS`, which the
order ticket needs and the API does not serve. Every response here carries the browser security headers;
the page's Content-Security-Policy lets it load only its own files and talk only to its own origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from mesh.units import format_quantity

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # revalidated on every load (ETag), so a new release is picked up at once
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@router.get("/ui/config.json")
async def config(request: Request) -> JSONResponse:
    specs = request.app.state.context.asset_specs
    assets = {symbol: {"decimal": spec.decimal, "step": format_quantity(spec.step)} for symbol, spec in specs.items()}
    return JSONResponse({"assets": assets}, headers=SECURITY_HEADERS)


class _TerminalFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Any:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def install(app: FastAPI) -> None:
    """Adds the terminal's routes; call after the API routers (nothing here shadows them)."""
    app.include_router(router)
    app.mount("/ui", _TerminalFiles(directory=STATIC_DIR), name="ui")
