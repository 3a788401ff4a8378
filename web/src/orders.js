// Pending LIMIT/STOP orders (GET /orders, cancel with DELETE /orders/{id}) and the order history
// (GET /orders/history, paged by cursor, newest first). Shown only where the server has /orders.
// Every figure is the server's; pending orders are re-read after each change, on account events, and
// every 3 s while any is pending (a fill happens on a tick).

import { newIdempotencyKey, request } from "./api.js";
import { $, formatTime, h } from "./dom.js";
import { formatCents, formatScaled } from "./money.js";

const PAGE = 20;
const PENDING_POLL_MS = 3000;

const price = (value, decimal) => (value ? formatScaled(value, decimal) : "—");
const words = (text) => String(text ?? "").replaceAll("_", " ").toLowerCase();

/** What became of a finished order: its fill, or why it was refused. */
function detail(o) {
  if (o.status === "FILLED") {
    const at = o.fillPrice ? ` at ${formatScaled(o.fillPrice, o.decimal)}` : "";
    return `opened position ${o.positionId ?? ""}${at}`.trim();
  }
  if (o.status === "REJECTED") return o.reasonMessage || words(o.reason);
  return "";
}

export class Orders {
  constructor({ onChanged, onCancelled }) {
    this.onChanged = onChanged; // a pending order filled or went away: the account changed
    this.onCancelled = onCancelled;
    this.active = false;
    this.cursor = null;
    this.timer = null;
    this.pendingIds = new Set();
    $("history-more").addEventListener("click", () => this.loadHistory(false));
  }

  start() {
    this.active = true;
    this.refresh();
    this.loadHistory(true);
  }

  stop() {
    this.active = false;
    clearTimeout(this.timer);
    this.pendingIds.clear();
    $("orders").tBodies[0].replaceChildren();
    $("history").tBodies[0].replaceChildren();
  }

  async refresh() {
    if (!this.active) return;
    clearTimeout(this.timer);
    let body;
    try {
      body = await request("GET", "/orders");
    } catch (problem) {
      if (problem.status !== 401) $("orders-error").textContent = problem.message;
      return;
    } finally {
      if (this.active) this.timer = setTimeout(() => this.refresh(), PENDING_POLL_MS);
    }
    if (!this.active) return;
    $("orders-error").textContent = "";
    const orders = body.orders ?? [];
    const gone = [...this.pendingIds].some((id) => !orders.some((o) => o.id === id));
    this.pendingIds = new Set(orders.map((o) => o.id));
    this.render(orders);
    if (gone) {
      this.loadHistory(true);
      this.onChanged();
    }
  }

  render(orders) {
    $("orders-count").textContent = orders.length ? `(${orders.length})` : "";
    $("orders-empty").hidden = orders.length > 0;
    $("orders").tBodies[0].replaceChildren(...orders.map((o) => {
      const cancel = h("button", {
        type: "button", class: "close-btn", "aria-label": `Cancel ${o.type} ${o.side} ${o.asset} order ${o.id}`,
        onclick: (event) => this.cancel(o, event.currentTarget),
      }, "Cancel");
      return h("tr", { dataset: { orderId: o.id } },
        h("td", {}, formatTime(o.createdAt)),
        h("td", {}, o.asset),
        h("td", { class: o.side === "LONG" ? "up" : "down" }, o.side),
        h("td", {}, words(o.type)),
        h("td", { class: "num", dataset: { field: "price" } }, price(o.price, o.decimal)),
        h("td", { class: "num" }, o.quantity),
        h("td", { class: "num" }, `${o.leverage}×`),
        h("td", { class: "num" }, price(o.stopLoss, o.decimal)),
        h("td", { class: "num" }, price(o.takeProfit, o.decimal)),
        h("td", { class: "num", dataset: { field: "reserved" } }, formatCents(o.reservedMargin)),
        h("td", {}, o.expiresAt ? formatTime(o.expiresAt) : "when cancelled"),
        h("td", {}, cancel));
    }));
  }

  async cancel(order, button) {
    if (button.disabled) return;
    button.disabled = true;
    try {
      const response = await request("DELETE", `/orders/${encodeURIComponent(order.id)}`, {
        headers: { "Idempotency-Key": newIdempotencyKey() },
      });
      this.onCancelled(response.order ?? order);
    } catch (problem) {
      $("orders-error").textContent = problem.message;
      button.disabled = false;
    }
    await this.refresh();
    await this.loadHistory(true);
    this.onChanged();
  }

  async loadHistory(first) {
    if (!this.active) return;
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (!first && this.cursor) query.set("cursor", this.cursor);
    let page;
    try {
      page = await request("GET", `/orders/history?${query}`);
    } catch (problem) {
      if (problem.status !== 401) $("orders-error").textContent = problem.message;
      return;
    }
    if (!this.active) return;
    this.cursor = page.nextCursor ?? null;
    const rows = (page.orders ?? []).map((o) =>
      h("tr", { dataset: { orderId: o.id } },
        h("td", {}, formatTime(o.finishedAt ?? o.createdAt)),
        h("td", {}, o.asset),
        h("td", { class: o.side === "LONG" ? "up" : "down" }, o.side),
        h("td", {}, words(o.type)),
        h("td", { class: "num" }, price(o.price, o.decimal)),
        h("td", { class: "num" }, o.quantity),
        h("td", { dataset: { field: "status" } }, words(o.status)),
        h("td", { dataset: { field: "detail" } }, detail(o))));
    const body = $("history").tBodies[0];
    if (first) body.replaceChildren(...rows);
    else body.append(...rows);
    $("history-empty").hidden = body.rows.length > 0;
    $("history-more").hidden = !this.cursor;
  }
}
