"""The web terminal: serves the built bundle in `gateway/static/` (built from `web/` by
`npm run build:web` and committed) at `/` (index.html) and `/ui/` (app.js, app.css), plus
`/ui/config.json`, the asset list (price scale, quantity step) from this gateway's `ASSETS`, which the
order ticket needs and the API does not serve. Also `/docs`, Swagger UI, from the copy of the pinned
swagger-ui-dist the same build puts in `gateway/static/swagger/` (no CDN: the platform runs offline).
Every response here carries the browser security headers; the pages' Content-Security-Policy lets them
load only their own files and talk only to their own origin."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
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


def _inline_script_hashes(html: str) -> str:
    """CSP sources for the page's inline scripts (Swagger UI's start-up call), so nothing else inline runs."""
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'" for text in scripts)


def _swagger_page(title: str, openapi_url: str) -> tuple[str, dict[str, str]]:
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} - Swagger UI",
        swagger_js_url="/ui/swagger/swagger-ui-bundle.js",
        swagger_css_url="/ui/swagger/swagger-ui.css",
        swagger_favicon_url="/ui/swagger/favicon-32x32.png",
        # the online validator's badge would be loaded from the internet
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = bytes(page.body).decode()
    policy = CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src 'self' {_inline_script_hashes(html)}")
    return html, {**SECURITY_HEADERS, "Content-Security-Policy": policy}


class _TerminalFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Any:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def install(app: FastAPI) -> None:
    """Adds the terminal's routes and /docs (create the app with `docs_url=None`, `redoc_url=None`: FastAPI's
    own pages load from a CDN); call after the API routers (nothing here shadows them)."""
    if app.docs_url or app.redoc_url:
        raise RuntimeError("create the app with docs_url=None and redoc_url=None: /docs is served here")
    app.include_router(router)
    html, headers = _swagger_page(app.title, app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

    app.mount("/ui", _TerminalFiles(directory=STATIC_DIR), name="ui")
