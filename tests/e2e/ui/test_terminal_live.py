"""The terminal's live chart in a real browser against the whole platform (the candle builder included):
the bid candles of the selected asset with interval buttons, moving with the market as REST's candles
do, and the interval buttons from the keyboard."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from harness.polling import poll_until
from tests.e2e.platform import Platform
from tests.e2e.ui.market import START_PRICES, Quotes, driving, platform_sell
from tests.e2e.ui.steps import Steps

pytestmark = pytest.mark.e2e


def last_close(api: httpx.Client, interval: str) -> int | None:
    candles = api.get("/candles", params={"asset": "BTC_USDC", "interval": interval, "limit": 5}).json()["candles"]
    return int(candles[-1]["close"]) if candles else None


def test_candles_follow_the_market(platform: Platform, browser: Browser, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{platform.gateway_port}"
    with driving(platform) as quotes, httpx.Client(base_url=platform.api, timeout=10) as api:
        for symbol, (bid, ask) in START_PRICES.items():
            quotes.set(api, symbol, bid, ask)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        steps = Steps(page, tmp_path)
        try:
            candle_journey(page, steps, api, quotes, base)
        finally:
            context.close()
        assert errors == [], f"uncaught errors in the page: {errors}"


def candle_journey(page: Page, steps: Steps, api: httpx.Client, quotes: Quotes, base: str) -> None:
    email = f"live-{uuid.uuid4().hex[:8]}@example.com"
    chart = page.locator("#chart")

    with steps.step("sign up"):
        page.goto(base + "/")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill("correct horse 1")
        page.get_by_role("button", name="Create account").click()
        expect(page.locator("#terminal")).to_be_visible()

    with steps.step("bid candles of the selected asset follow the market"):
        page.locator('#ticker-list li[data-symbol="BTC_USDC"]').get_by_role("button").click()
        expect(page.locator("#chart-kind")).to_have_text("Bid candles")
        expect(chart).to_have_attribute("data-interval", "1m")
        quotes.set(api, "BTC_USDC", "100500", "100510")
        bid = int(platform_sell("100500").scaleb(4))
        expect(chart).to_have_attribute("data-close", str(bid))
        poll_until(lambda: last_close(api, "1m") == bid, "REST's live 1m candle at the new bid", 30)

    with steps.step("interval buttons switch the series, from the keyboard too"):
        five = page.get_by_role("group", name="Candle interval").get_by_role("button", name="5m", exact=True)
        five.focus()
        five.press("Enter")
        expect(five).to_have_attribute("aria-pressed", "true")
        expect(chart).to_have_attribute("data-interval", "5m")
        expect(chart).not_to_have_attribute("data-candles", "0")
        quotes.set(api, "BTC_USDC", "100600", "100610")
        expect(chart).to_have_attribute("data-close", str(int(platform_sell("100600").scaleb(4))))
        moved = int(platform_sell("100600").scaleb(4))
        poll_until(lambda: last_close(api, "5m") == moved, "REST's live 5m candle at the new bid", 30)
        expect(page.get_by_role("button", name="1m", exact=True)).to_have_attribute("aria-pressed", "false")
        steps.shot("candles")
