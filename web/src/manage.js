// The position editor: a dialog opened from a row of open positions that moves its stop-loss and
// take-profit (PATCH /trade/{id}; an empty field removes the level) and closes part of it
// (POST /trade/close with `quantity`, a multiple of the asset's step below the position's). Each action
// carries an Idempotency-Key kept, with its exact body, while the outcome is unknown (network error,
// 502/503/504), so retrying never applies it twice.

import { newIdempotencyKey, request } from "./api.js";
import { $ } from "./dom.js";
import { formatCents, formatScaled, parseScaled, QUANTITY_DECIMALS } from "./money.js";

const UNKNOWN_OUTCOME = new Set([0, 502, 503, 504]);

const levelText = (value, decimal) => (value ? formatScaled(value, decimal, { group: false }) : "");

export class PositionEditor {
  constructor({ assets, onChanged }) {
    this.assets = assets;
    this.onChanged = onChanged;
    this.position = null;
    this.pending = new Map(); // action -> {identity, key}
    this.busy = false;
    this.dialog = $("manage");
    $("m-levels").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveLevels();
    });
    $("m-part").addEventListener("submit", (event) => {
      event.preventDefault();
      this.closePart();
    });
    $("m-done").addEventListener("click", () => this.dialog.close());
  }

  open(position) {
    this.position = position;
    this.pending.clear();
    const step = this.assets[position.asset]?.step ?? "";
    $("m-title-position").textContent = `${position.side} ${position.quantity} ${position.asset}`;
    $("m-sl").value = levelText(position.stopLoss, position.decimal);
    $("m-tp").value = levelText(position.takeProfit, position.decimal);
    $("m-qty").value = "";
    $("m-qty-hint").textContent = step ? `(step ${step}, below ${position.quantity})` : "";
    $("m-error").textContent = "";
    this.dialog.showModal();
    $("m-sl").focus();
  }

  /** A key for this action and body: the same body after an unknown outcome keeps its key. */
  keyFor(action, body) {
    const identity = JSON.stringify(body);
    const known = this.pending.get(action);
    if (known && known.identity === identity) return known.key;
    const key = newIdempotencyKey();
    this.pending.set(action, { identity, key });
    return key;
  }

  async send(action, method, path, body, describe) {
    if (this.busy) return;
    this.busy = true;
    const error = $("m-error");
    error.textContent = "";
    const buttons = this.dialog.querySelectorAll("button");
    for (const button of buttons) button.disabled = true;
    try {
      const response = await request(method, path, { body, headers: { "Idempotency-Key": this.keyFor(action, body) } });
      this.pending.delete(action);
      this.dialog.close();
      this.onChanged(describe(response));
    } catch (problem) {
      if (!UNKNOWN_OUTCOME.has(problem.status)) this.pending.delete(action);
      error.textContent = UNKNOWN_OUTCOME.has(problem.status)
        ? `${problem.message} Trying again repeats the same change (it is applied once).`
        : problem.message;
    } finally {
      this.busy = false;
      for (const button of buttons) button.disabled = false;
    }
  }

  saveLevels() {
    const p = this.position;
    const body = {};
    try {
      for (const [field, id, label] of [["stopLoss", "m-sl", "Stop loss"], ["takeProfit", "m-tp", "Take profit"]]) {
        const text = $(id).value.trim();
        if (text) parseScaled(text, p.decimal, label);
        body[field] = text || null;
      }
    } catch (problem) {
      $("m-error").textContent = problem.message;
      return;
    }
    return this.send("levels", "PATCH", `/trade/${encodeURIComponent(p.id)}`, body, (response) => {
      const t = response.trade;
      const sl = t.stopLoss ? formatScaled(t.stopLoss, t.decimal) : "off";
      const tp = t.takeProfit ? formatScaled(t.takeProfit, t.decimal) : "off";
      return `${t.asset} ${t.side}: stop loss ${sl}, take profit ${tp}`;
    });
  }

  closePart() {
    const p = this.position;
    const text = $("m-qty").value.trim();
    try {
      const quantity = parseScaled(text, QUANTITY_DECIMALS, "Part to close");
      const step = parseScaled(this.assets[p.asset]?.step ?? "0.00000001", QUANTITY_DECIMALS, "step");
      if (quantity <= 0n) throw new Error("Part to close must be more than 0");
      if (quantity % step !== 0n) throw new Error(`Part to close must be a multiple of ${this.assets[p.asset].step}`);
      if (quantity >= parseScaled(p.quantity, QUANTITY_DECIMALS, "quantity")) {
        throw new Error(`Part to close must be below the position's ${p.quantity}; use Close for all of it`);
      }
    } catch (problem) {
      $("m-error").textContent = problem.message;
      return;
    }
    const body = { orderId: p.id, quantity: text };
    return this.send("part", "POST", "/trade/close", body, (response) => {
      const left = response.remaining ? `, ${response.remaining.quantity} left open` : "";
      return `Closed ${response.trade.quantity} of ${p.asset} ${p.side}: PnL ${formatCents(response.trade.pnl)}${left}`;
    });
  }
}
