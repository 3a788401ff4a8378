// The market order ticket: validates the form exactly (quantity a multiple of the asset's step, prices
// within the asset's scale), shows the pre-trade estimate, and sends /trade/create with one
// Idempotency-Key per submission: the key is kept while the same order is retried after an unknown
// outcome (network error, 502/503/504), so a double click or a retry never opens twice.

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

export class Ticket {
  constructor({ assets, feed, onPlaced }) {
    this.assets = assets; // symbol -> {decimal, step: "0.00001"}
    this.feed = feed;
    this.onPlaced = onPlaced;
    this.form = $("ticket");
    this.pending = null; // {body: JSON text, key}
    this.inFlight = false;
    const select = $("t-asset");
    select.replaceChildren(...Object.keys(assets).map((symbol) => new Option(symbol, symbol)));
    this.form.addEventListener("input", () => this.refresh());
    this.form.addEventListener("change", () => this.refresh());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
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

  /** The request body, or throws Error with the sentence to show. */
  body() {
    const spec = this.assets[this.asset];
    if (!spec) throw new Error("Choose an asset");
    const quantityText = $("t-qty").value.trim();
    const quantity = parseScaled(quantityText, QUANTITY_DECIMALS, "Quantity");
    const step = parseScaled(spec.step, QUANTITY_DECIMALS, "step");
    if (quantity <= 0n) throw new Error("Quantity must be more than 0");
    if (quantity % step !== 0n) throw new Error(`Quantity must be a multiple of ${spec.step}`);
    const body = {
      asset: this.asset,
      side: this.side(),
      quantity: quantityText,
      leverage: Number($("t-lev").value),
      slippage: $("t-slip").value.trim() || "1",
    };
    parseScaled(body.slippage, 2, "Slippage");
    for (const [field, id, label] of [["stopLoss", "t-sl", "Stop loss"], ["takeProfit", "t-tp", "Take profit"]]) {
      const text = $(id).value.trim();
      if (text) {
        parseScaled(text, spec.decimal, label);
        body[field] = text;
      }
    }
    const quote = this.feed.quotes.get(this.asset);
    if (quote) {
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
    $("t-submit").textContent = `${long ? "Buy" : "Sell"} ${this.asset}`;
    $("t-submit").className = `primary ${long ? "long" : "short"}`;
    const quote = this.feed.quotes.get(this.asset);
    let price = "—";
    let margin = "—";
    let liquidation = "—";
    if (quote) {
      const at = long ? quote.buyPrice : quote.sellPrice;
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
    if (!this.pending || this.pending.identity !== identityText) {
      this.pending = { identity: identityText, key: newIdempotencyKey(), body: built.body };
    }
    const { key, body } = this.pending;
    this.inFlight = true;
    const button = $("t-submit");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const response = await request("POST", "/trade/create", { body, headers: { "Idempotency-Key": key } });
      this.pending = null;
      this.onPlaced(response.trade);
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
