"""The web terminal's committed bundle (gateway/static/): rebuilt from web/ with the pinned esbuild it is
byte-for-byte what is committed (so it is never stale), the Docker image carries it, it stays small, it
loads nothing from another origin, and the gateway serves it at / with its security headers without
shadowing any API route."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from gateway import web
from gateway.errors import install_error_handlers
from mesh.units import parse_assets
from tests.integration.k8s.image import build_app_tree

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "gateway" / "static"
TERMINAL = ("index.html", "app.js", "app.css")
# Swagger UI for /docs, copied from the pinned swagger-ui-dist
SWAGGER = tuple(
    f"swagger/{name}" for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE")
)
BUNDLE = TERMINAL + SWAGGER
# what the terminal may weigh gzipped (lightweight-charts is most of it)
GZIP_BUDGET_BYTES = 80_000


def test_the_committed_bundle_is_what_the_sources_build(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node and (REPO / "node_modules" / "esbuild").is_dir(), "node and esbuild missing: run scripts/bootstrap.sh"
    subprocess.run([node, str(REPO / "web" / "build.mjs"), str(tmp_path)], check=True, cwd=REPO, timeout=120)
    built = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert built == sorted(p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file()) == sorted(BUNDLE)
    stale = [name for name in BUNDLE if (tmp_path / name).read_bytes() != (STATIC / name).read_bytes()]
    assert not stale, f"gateway/static/{stale} differ from a fresh build: run `npm run build:web` and commit"


def test_the_image_ships_the_bundle(tmp_path: Path) -> None:
    app = build_app_tree(tmp_path)
    for name in BUNDLE:
        assert (app / "gateway" / "static" / name).read_bytes() == (STATIC / name).read_bytes()


def test_the_bundle_is_small_and_self_contained() -> None:
    weight = sum(len(gzip.compress((STATIC / name).read_bytes(), 9)) for name in TERMINAL)
    assert weight <= GZIP_BUDGET_BYTES, f"the terminal weighs {weight} bytes gzipped"
    html = (STATIC / "index.html").read_text()
    # every script and stylesheet comes from this origin (no CDN: the platform runs without internet)
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == []
    for name in ("app.js", "app.css"):
        assert re.search(r"(?:src|href|url)\s*[=(]\s*[\"']?https?://", (STATIC / name).read_text()) is None, name


@pytest.fixture
async def client() -> AsyncIterator[AsyncClient]:
    app = FastAPI(docs_url=None, redoc_url=None)
    app.state.context = SimpleNamespace(asset_specs=parse_assets("BTC_USDC:4:0.00001,SOL_USDC:2:0.01"))

    @app.get("/api/v1/balance")
    async def balance() -> dict[str, int]:
        return {"balance": 1}

    web.install(app)
    install_error_handlers(app)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
        yield http


async def test_the_gateway_serves_the_terminal(client: AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.content == (STATIC / "index.html").read_bytes()
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    script = await client.get("/ui/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert script.headers["x-frame-options"] == "DENY"
    assert (await client.get("/ui/app.css")).headers["content-type"].startswith("text/css")
    assert (await client.get("/ui/config.json")).json() == {
        "assets": {"BTC_USDC": {"decimal": 4, "step": "0.00001"}, "SOL_USDC": {"decimal": 2, "step": "0.01"}}
    }


async def test_the_terminal_shadows_no_api_route(client: AsyncClient) -> None:
    assert (await client.get("/api/v1/balance")).json() == {"balance": 1}
    missing = await client.get("/api/v1/orders")
    # a route of a later release answers the API's JSON 404, which the terminal's feature detection reads
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    assert (await client.get("/ui/nothing.js")).status_code == 404
    assert (await client.get("/ui/../main.py")).status_code == 404


async def test_docs_is_swagger_ui_from_this_origin(client: AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    # nothing from another origin (no CDN, no online validator): the page works offline
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == [] and "cdn." not in html
    assert '"validatorUrl": null' in html
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content == (STATIC / url.removeprefix("/ui/")).read_bytes()
    # the policy allows the page's own files and exactly its one inline start-up script
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert re.search(r"script-src 'self' 'sha256-[^']+'(;|$)", policy) and f"'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
