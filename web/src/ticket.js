// The order ticket: validates the form exactly (quantity a multiple of the asset's step, prices within
// the asset's scale), shows the pre-trade estimate, and sends a market order to /trade/create or, where
// the server has pending orders, a LIMIT or STOP order to /orders, with one Idempotency-Key per
// submission: the key is kept while the same order is retried after an unknown outcome (network error,
// 502/503/504), so a double click or a retry never opens twice.

import { newIdempotencyKey, request } from "./api.js";
import { $ } from "./dom.js";
import {
  estimateLiquidationPrice,
  estimateMarginCents,
  formatCents,
  formatScaled,
  parseScaled,
  QUANTITY_DECIMALS,
  stepDecimals,
} from "./money.js";

// statuses after which the order may or may not have run: the retry must reuse the key
const UNKNOWN_OUTCOME = new Set([0, 502, 503, 504]);
// a second click on the same order this soon after it succeeded is the rest of a double click, not a
// second order (a fast server can answer between the two clicks)
const DOUBLE_CLICK_MS = 800;

// when a pending order fills (docs/contract.md): buyPrice for a LONG, sellPrice for a SHORT
const PRICE_HINTS = {
  "LIMIT LONG": "Buys when the ask falls to this price or below (ask now {market}).",
  "LIMIT SHORT": "Sells when the bid rises to this price or above (bid now {market}).",
  "STOP LONG": "Buys when the ask rises to this price or above (ask now {market}); it may fill worse.",
  "STOP SHORT": "Sells when the bid falls to this price or below (bid now {market}); it may fill worse.",
};

export class Ticket {
  constructor({ assets, feed, onPlaced, onAccepted }) {
    this.assets = assets; // symbol -> {decimal, step: "0.00001"}
    this.feed = feed;
    this.onPlaced = onPlaced;
    this.onAccepted = onAccepted;
    this.form = $("ticket");
    this.pending = null; // {body: JSON text, key}
    this.done = null; // the order that just succeeded: {identity, until}
    this.inFlight = false;
    const select = $("t-asset");
    select.replaceChildren(...Object.keys(assets).map((symbol) => new Option(symbol, symbol)));
    this.form.addEventListener("input", () => this.refresh());
    this.form.addEventListener("change", () => this.refresh());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    // the double-click window ends as soon as the trader does anything else (another button, a field):
    // only a second press of the same button right after the first is taken for a double click
    document.addEventListener("pointerdown", (event) => {
      if (!event.target.closest?.("#ticket button[type=submit]")) this.done = null;
    });
    this.refresh();
  }

  get asset() {
    return $("t-asset").value;
  }

  selectAsset(symbol) {
    $("t-asset").value = symbol;
    this.refresh();
  }

  side() {
    return this.form.elements.side.value;
  }

  type() {
    return $("t-types").hidden ? "MARKET" : this.form.elements.type.value;
  }

  /** Shows the LIMIT/STOP choice (only where the server has /orders). */
  enableOrderTypes(on) {
    $("t-types").hidden = !on;
    if (!on) $("t-market").checked = true;
    this.refresh();
  }

  /** The request body, or throws Error with the sentence to show. */
  body() {
    const spec = this.assets[this.asset];
    if (!spec) throw new Error("Choose an asset");
    const quantityText = $("t-qty").value.trim();
    const quantity = parseScaled(quantityText, QUANTITY_DECIMALS, "Quantity");
    const step = parseScaled(spec.step, QUANTITY_DECIMALS, "step");
    if (quantity <= 0n) throw new Error("Quantity must be more than 0");
    if (quantity % step !== 0n) throw new Error(`Quantity must be a multiple of ${spec.step}`);
    const type = this.type();
    const body = { asset: this.asset, side: this.side(), quantity: quantityText, leverage: Number($("t-lev").value) };
    if (type === "MARKET") {
      body.slippage = $("t-slip").value.trim() || "1";
      parseScaled(body.slippage, 2, "Slippage");
    } else {
      body.type = type;
      body.price = $("t-price").value.trim();
      if (!body.price) throw new Error("Enter the order price");
      if (parseScaled(body.price, spec.decimal, "Order price") <= 0n) throw new Error("Order price must be more than 0");
    }
    for (const [field, id, label] of [["stopLoss", "t-sl", "Stop loss"], ["takeProfit", "t-tp", "Take profit"]]) {
      const text = $(id).value.trim();
      if (text) {
        parseScaled(text, spec.decimal, label);
        body[field] = text;
      }
    }
    const quote = this.feed.quotes.get(this.asset);
    if (quote && type === "MARKET") {
      // the price this trader saw: the fill is checked against it with the slippage tolerance
      const seen = body.side === "LONG" ? quote.buyPrice : quote.sellPrice;
      body.tradeOpeningPrice = formatScaled(seen, quote.decimal, { group: false });
    }
    return { body, quantity };
  }

  refresh() {
    const spec = this.assets[this.asset];
    $("t-lev-out").textContent = `${$("t-lev").value}×`;
    $("t-step").textContent = spec ? `(step ${spec.step})` : "";
    $("t-qty").setAttribute("placeholder", spec ? spec.step : "");
    const long = this.side() === "LONG";
    const type = this.type();
    const kind = type === "MARKET" ? "" : ` ${type.toLowerCase()}`;
    $("t-submit").textContent = `${long ? "Buy" : "Sell"}${kind} ${this.asset}`;
    $("t-submit").className = `primary ${long ? "long" : "short"}`;
    $("t-price-box").hidden = type === "MARKET";
    $("t-slip-box").hidden = type !== "MARKET";
    $("ticket-title").textContent = type === "MARKET" ? "Market order" : `${type === "LIMIT" ? "Limit" : "Stop"} order`;
    const quote = this.feed.quotes.get(this.asset);
    const market = quote ? formatScaled(long ? quote.buyPrice : quote.sellPrice, quote.decimal) : "—";
    $("t-price-hint").textContent = PRICE_HINTS[`${type} ${this.side()}`]?.replace("{market}", market) ?? "";
    let price = "—";
    let margin = "—";
    let liquidation = "—";
    const at = this.estimatePrice(type, long, quote);
    if (at !== null) {
      price = formatScaled(at, quote.decimal);
      try {
        const quantity = parseScaled($("t-qty").value, QUANTITY_DECIMALS, "Quantity");
        if (quantity > 0n) {
          const leverage = BigInt($("t-lev").value);
          const cents = estimateMarginCents(at, quantity, leverage, quote.decimal);
          margin = `≈ ${formatCents(cents)}`;
          const level = estimateLiquidationPrice(this.side(), at, quantity, cents, quote.decimal);
          liquidation = level > 0n ? `≈ ${formatScaled(level, quote.decimal)}` : "none";
        }
      } catch {
        // an unfinished quantity: no estimate yet
      }
    }
    $("est-price").textContent = price;
    $("est-margin").textContent = margin;
    $("est-liq").textContent = liquidation;
  }

  /** The price the estimate is made at: the quote for a market order, the order's own price otherwise. */
  estimatePrice(type, long, quote) {
    if (!quote) return null;
    if (type === "MARKET") return long ? quote.buyPrice : quote.sellPrice;
    try {
      const price = parseScaled($("t-price").value, quote.decimal, "Order price");
      return price > 0n ? price : null;
    } catch {
      return null;
    }
  }

  async submit() {
    if (this.inFlight) return; // a second click while the first is on its way sends nothing
    const error = $("ticket-error");
    let built;
    try {
      built = this.body();
    } catch (problem) {
      error.textContent = problem.message;
      return;
    }
    error.textContent = "";
    // the key names this order: the same order (ignoring the price it was seen at) keeps it
    const identity = { ...built.body };
    delete identity.tradeOpeningPrice;
    const identityText = JSON.stringify(identity);
    if (this.done && this.done.identity === identityText && Date.now() < this.done.until) return;
    if (!this.pending || this.pending.identity !== identityText) {
      this.pending = { identity: identityText, key: newIdempotencyKey(), body: built.body };
    }
    const { key, body } = this.pending;
    this.inFlight = true;
    const button = $("t-submit");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const path = body.type ? "/orders" : "/trade/create";
      const response = await request("POST", path, { body, headers: { "Idempotency-Key": key } });
      this.pending = null;
      this.done = { identity: identityText, until: Date.now() + DOUBLE_CLICK_MS };
      if (body.type) this.onAccepted(response.order);
      else this.onPlaced(response.trade);
    } catch (problem) {
      if (!UNKNOWN_OUTCOME.has(problem.status)) this.pending = null;
      error.textContent = UNKNOWN_OUTCOME.has(problem.status)
        ? `${problem.message} Submitting again retries the same order (it will not open twice).`
        : problem.message;
    } finally {
      this.inFlight = false;
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}
