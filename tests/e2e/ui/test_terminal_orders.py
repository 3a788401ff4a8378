"""Pending orders in the terminal, in a real browser against the whole platform: the ticket's LIMIT and
STOP choice with its estimate at the order price, a refusal in words, the pending list with its reserve
in the account bar, a cancel, a fill when the fake Backpack's prices cross the level, and the order
history, everything to the cent against REST."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.platform import Platform
from tests.e2e.ui.market import START_PRICES, Quotes, cents_text, driving, error_message, price_text
from tests.e2e.ui.steps import Steps

pytestmark = pytest.mark.e2e


def test_limit_and_stop_orders_through_the_terminal(platform: Platform, browser: Browser, tmp_path: Path) -> None:
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
            orders_journey(page, steps, api, quotes, base)
        finally:
            context.close()
        assert errors == [], f"uncaught errors in the page: {errors}"


def orders_journey(page: Page, steps: Steps, api: httpx.Client, quotes: Quotes, base: str) -> None:
    pending = page.locator("#orders tbody tr")
    history = page.locator("#history tbody tr")

    with steps.step("sign up; the ticket offers limit and stop orders"):
        page.goto(base + "/")
        page.get_by_label("E-mail").fill(f"orders-{uuid.uuid4().hex[:8]}@example.com")
        page.get_by_label("Password").fill("correct horse 1")
        page.get_by_role("button", name="Create account").click()
        expect(page.locator("#terminal")).to_be_visible()
        expect(page.get_by_role("group", name="Order type")).to_be_visible()
        expect(page.locator("#orders-panel")).to_be_visible()
    token = page.evaluate("sessionStorage.getItem('exness.token')")
    auth = {"Authorization": f"Bearer {token}"}

    with steps.step("a limit buy shows its estimate at the order price"):
        page.locator('#ticker-list li[data-symbol="BTC_USDC"]').get_by_role("button").click()
        page.get_by_text("Limit", exact=True).click()
        expect(page.get_by_role("radio", name="Limit")).to_be_checked()
        page.get_by_label("Order price ($)").fill("99000")
        page.get_by_label("Quantity").fill("0.01")
        expect(page.locator("#t-price-hint")).to_contain_text("Buys when the ask falls to this price or below")
        reserve = math.ceil(Decimal("99000") * Decimal("0.01") * 100 / 10)
        expect(page.locator("#est-price")).to_have_text(price_text(Decimal("99000")))
        expect(page.locator("#est-margin")).to_have_text(f"≈ {cents_text(reserve)}")

    with steps.step("a limit buy above the market is refused in words"):
        page.get_by_label("Order price ($)").fill("150000")
        refusal = api.post(
            "/orders",
            headers=auth,
            json={
                "asset": "BTC_USDC",
                "side": "LONG",
                "type": "LIMIT",
                "price": "150000",
                "quantity": "0.01",
                "leverage": 10,
            },
        )
        assert refusal.status_code == 422, refusal.text
        page.get_by_role("button", name="Buy limit BTC_USDC").click()
        expect(page.locator("#ticket-error")).to_have_text(error_message(refusal))
        expect(pending).to_have_count(0)

    with steps.step("place it, see it pending and its reserve in the account bar"):
        page.get_by_label("Order price ($)").fill("99000")
        page.get_by_role("button", name="Buy limit BTC_USDC").dblclick()
        expect(pending).to_have_count(1)
        [order] = api.get("/orders", headers=auth).json()["orders"]
        assert (order["type"], order["price"], order["reservedMargin"]) == ("LIMIT", 990_000_000, reserve), order
        expect(pending.first).to_have_attribute("data-order-id", order["id"])
        expect(pending.first.locator('[data-field="reserved"]')).to_have_text(cents_text(reserve))
        balance = api.get("/balance", headers=auth).json()
        assert balance["reservedMargin"] == reserve
        expect(page.locator("#acct-reserved")).to_have_text(cents_text(reserve))
        expect(page.locator("#acct-balance")).to_have_text(cents_text(balance["balance"]))

    with steps.step("cancel it; it is in the order history"):
        pending.first.get_by_role("button", name="Cancel").click()
        expect(pending).to_have_count(0)
        [done] = api.get("/orders/history", headers=auth).json()["orders"]
        assert (done["id"], done["status"]) == (order["id"], "CANCELLED"), done
        expect(history.first.locator('[data-field="status"]')).to_have_text("cancelled")
        expect(page.locator("#acct-reserved")).to_have_text("$0.00")

    with steps.step("a limit buy fills when the ask falls to its price"):
        page.get_by_role("button", name="Buy limit BTC_USDC").click()
        expect(pending).to_have_count(1)
        quotes.set(api, "BTC_USDC", "97900", "98000")  # the platform's ask: 98,980.0000
        expect(pending).to_have_count(0)
        expect(page.locator("#positions tbody tr")).to_have_count(1)
        [filled, _] = api.get("/orders/history", headers=auth).json()["orders"]
        assert filled["status"] == "FILLED" and filled["positionId"], filled
        [position] = api.get("/trade/open", headers=auth).json()["orders"]
        assert position["id"] == filled["positionId"] and position["entryPrice"] <= 990_000_000, position
        expect(history.first.locator('[data-field="status"]')).to_have_text("filled")
        expect(history.first.locator('[data-field="detail"]')).to_contain_text(position["id"])

    with steps.step("a sell stop below the bid waits for the market to fall"):
        page.get_by_text("Stop", exact=True).click()
        page.get_by_text("Sell / Short").click()
        page.get_by_label("Order price ($)").fill("90000")
        expect(page.locator("#t-price-hint")).to_contain_text("Sells when the bid falls to this price or below")
        page.get_by_role("button", name="Sell stop BTC_USDC").click()
        expect(pending).to_have_count(1)
        [stop] = api.get("/orders", headers=auth).json()["orders"]
        assert (stop["type"], stop["side"], stop["price"]) == ("STOP", "SHORT", 900_000_000), stop
        page.locator("#toasts").evaluate("box => box.replaceChildren()")
        steps.shot("pending orders")
