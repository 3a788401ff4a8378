"""The web terminal's committed bundle (gateway/static/): rebuilt from web/ with the pinned esbuild it is
byte-for-byte what is committed (so it is never stale), the Docker image carries it, it stays small, it
loads nothing from another origin, and the gateway serves it at / with its security headers without
shadowing any API route."""

from __future__ import annotations

import gzip
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
BUNDLE = ("index.html", "app.js", "app.css")
# what the terminal may weigh gzipped (lightweight-charts is most of it)
GZIP_BUDGET_BYTES = 80_000


def test_the_committed_bundle_is_what_the_sources_build(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node and (REPO / "node_modules" / "esbuild").is_dir(), "node and esbuild missing: run scripts/bootstrap.sh"
    subprocess.run([node, str(REPO / "web" / "build.mjs"), str(tmp_path)], check=True, cwd=REPO, timeout=120)
    built = sorted(p.name for p in tmp_path.iterdir())
    assert built == sorted(p.name for p in STATIC.iterdir()) == sorted(BUNDLE)
    stale = [name for name in BUNDLE if (tmp_path / name).read_bytes() != (STATIC / name).read_bytes()]
    assert not stale, f"gateway/static/{stale} differ from a fresh build: run `npm run build:web` and commit"


def test_the_image_ships_the_bundle(tmp_path: Path) -> None:
    app = build_app_tree(tmp_path)
    for name in BUNDLE:
        assert (app / "gateway" / "static" / name).read_bytes() == (STATIC / name).read_bytes()


def test_the_bundle_is_small_and_self_contained() -> None:
    weight = sum(len(gzip.compress((STATIC / name).read_bytes(), 9)) for name in BUNDLE)
    assert weight <= GZIP_BUDGET_BYTES, f"the terminal weighs {weight} bytes gzipped"
    html = (STATIC / "index.html").read_text()
    # every script and stylesheet comes from this origin (no CDN: the platform runs without internet)
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == []
    for name in ("app.js", "app.css"):
        assert re.search(r"(?:src|href|url)\s*[=(]\s*[\"']?https?://", (STATIC / name).read_text()) is None, name


@pytest.fixture
async def client() -> AsyncIterator[AsyncClient]:
    app = FastAPI()
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
