"""The terminal's live parts in a real browser against the whole platform (the candle builder included):
the bid candles of the selected asset with interval buttons, moving with the market as REST's candles
do; the account event stream, whose toasts say when a position is liquidated or stopped out, which
shows "reconnecting" when its socket drops and resumes with `since` so that an event that happened
meanwhile is shown exactly once; and the statement, to the cent against REST."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from harness.polling import poll_until
from tests.e2e.platform import Platform
from tests.e2e.ui.market import START_PRICES, Quotes, cents_text, driving, platform_sell
from tests.e2e.ui.steps import Steps

pytestmark = pytest.mark.e2e


class AccountSockets:
    """Routes the page's account stream through the test, which can drop it and refuse reconnects;
    it records the first message of every connection (the auth message with `since`)."""

    def __init__(self) -> None:
        self.open: list[WebSocketRoute] = []
        self.refuse = False
        self.auth_messages: list[str] = []

    def handle(self, ws: WebSocketRoute) -> None:
        if self.refuse:
            ws.close(code=1011, reason="refused by the test")
            return
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if isinstance(message, str) and '"auth"' in message:
                self.auth_messages.append(message)
            server.send(message)

        ws.on_message(to_server)
        self.open.append(ws)

    def drop_all(self) -> None:
        while self.open:
            self.open.pop().close(code=1011, reason="dropped by the test")


def last_close(api: httpx.Client, interval: str) -> int | None:
    candles = api.get("/candles", params={"asset": "BTC_USDC", "interval": interval, "limit": 5}).json()["candles"]
    return int(candles[-1]["close"]) if candles else None


def test_candles_events_and_statement(platform: Platform, browser: Browser, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{platform.gateway_port}"
    sockets = AccountSockets()
    with driving(platform) as quotes, httpx.Client(base_url=platform.api, timeout=10) as api:
        for symbol, (bid, ask) in START_PRICES.items():
            quotes.set(api, symbol, bid, ask)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route_web_socket("**/api/v1/ws/account", sockets.handle)
        steps = Steps(page, tmp_path)
        try:
            live_journey(page, steps, api, quotes, sockets, base)
        finally:
            context.close()
        assert errors == [], f"uncaught errors in the page: {errors}"


def live_journey(
    page: Page, steps: Steps, api: httpx.Client, quotes: Quotes, sockets: AccountSockets, base: str
) -> None:
    email = f"live-{uuid.uuid4().hex[:8]}@example.com"
    chart = page.locator("#chart")

    with steps.step("sign up; the account stream is live"):
        page.goto(base + "/")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill("correct horse 1")
        page.get_by_role("button", name="Create account").click()
        expect(page.locator("#terminal")).to_be_visible()
        expect(page.locator("#events-status")).to_have_text("Account: live")
        assert sockets.auth_messages and '"since"' not in sockets.auth_messages[0], sockets.auth_messages
    token = page.evaluate("sessionStorage.getItem('exness.token')")
    auth = {"Authorization": f"Bearer {token}"}

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

    with steps.step("a liquidation is a toast"):
        opened = api.post(
            "/trade/create",
            headers=auth,
            json={"asset": "BTC_USDC", "side": "LONG", "quantity": "0.01", "leverage": 50},
        )
        assert opened.status_code == 201, opened.text
        position = opened.json()["trade"]
        expect(page.locator("#positions tbody tr")).to_have_count(1)
        quotes.set(api, "BTC_USDC", "95000", "95010")
        expect(page.locator("#toasts")).to_contain_text("Position LONG 0.01 BTC_USDC was liquidated")
        expect(page.locator("#positions tbody tr")).to_have_count(0)
        [trade] = api.get("/trade/closed", headers=auth).json()["orders"]
        assert trade["id"] == position["id"] and trade["reason"] == "LIQUIDATION", trade
        expect(page.locator(f'#closed tbody tr[data-trade-id="{position["id"]}"]')).to_contain_text("liquidation")

    with steps.step("a dropped account stream shows reconnecting; a stop-out meanwhile is shown once after"):
        quotes.set(api, "BTC_USDC", "100000", "100010")
        opened = api.post(
            "/trade/create",
            headers=auth,
            json={"asset": "BTC_USDC", "side": "LONG", "quantity": "0.01", "leverage": 10, "stopLoss": "98000"},
        )
        assert opened.status_code == 201, opened.text
        stopped_id = opened.json()["trade"]["id"]
        expect(page.locator("#positions tbody tr")).to_have_count(1)
        page.locator("#toasts").evaluate("box => box.replaceChildren()")
        sockets.refuse = True
        sockets.drop_all()
        expect(page.locator("#events-status")).to_have_text("Account: reconnecting…")
        quotes.set(api, "BTC_USDC", "97000", "97010")  # the stop-loss triggers while the page is away
        assert api.get("/trade/closed", headers=auth).json()["orders"][0]["reason"] == "STOP_LOSS"
        sockets.refuse = False
        expect(page.locator("#events-status")).to_have_text("Account: live", timeout=30_000)
        toast = page.locator("#toasts .toast", has_text="Position LONG 0.01 BTC_USDC was stopped out")
        expect(toast).to_have_count(1)
        assert '"since"' in sockets.auth_messages[-1], sockets.auth_messages
        expect(page.locator(f'#closed tbody tr[data-trade-id="{stopped_id}"]')).to_contain_text("stop loss")
        steps.shot("account events")

    with steps.step("the statement, to the cent against REST"):
        statement = api.get("/account/statement", headers=auth, params={"limit": 20}).json()["entries"]
        rows = page.locator("#statement tbody tr")
        expect(rows).to_have_count(len(statement))
        for index, line in enumerate(statement):
            row = rows.nth(index)
            expect(row).to_have_attribute("data-seq", str(line["seq"]))
            expect(row.locator('[data-field="amount"]')).to_have_text(cents_text(line["amount"]))
            expect(row.locator('[data-field="balance"]')).to_have_text(cents_text(line["balanceAfter"]))
        balance = api.get("/balance", headers=auth).json()["balance"]
        assert statement[0]["balanceAfter"] == balance
        assert sum(line["amount"] for line in statement) == balance
        expect(page.locator("#acct-balance")).to_have_text(cents_text(balance))
