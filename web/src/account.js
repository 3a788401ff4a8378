// The trader's own state from the server: the account bar (/balance), open positions (/trade/open)
// and closed trades (/trade/closed, paged by cursor). Every number shown is the server's; the one
// derived figure is the margin level, equity / used margin, from the server's two numbers.
//
// Refresh policy: /trade/open and /balance are re-read after every price update of an asset with an
// open position (at most one read in flight, at least 500 ms apart), after every trade action, and
// every 10 s otherwise; so the price and PnL shown are never older than the last quote by much more
// than one round trip.

import { newIdempotencyKey, request } from "./api.js";
import { $, formatTime, h, toast } from "./dom.js";
import { formatCents, formatScaled, marginLevelText } from "./money.js";

const PAGE = 20;
const MIN_GAP_MS = 500;
const IDLE_MS = 10000;

const price = (value, decimal) => (value === null || value === undefined ? "—" : formatScaled(value, decimal));
const signedCents = (cents) => (cents === null || cents === undefined ? "—" : formatCents(cents));
const pnlClass = (cents) => (cents === null || cents === undefined ? "" : cents > 0 ? "up" : cents < 0 ? "down" : "");

const closedRow = (t) =>
  h("tr", { dataset: { tradeId: t.id } },
    h("td", {}, formatTime(t.closedAt)),
    h("td", {}, t.asset),
    h("td", { class: t.side === "LONG" ? "up" : "down" }, t.side),
    h("td", { class: "num" }, t.quantity),
    h("td", { class: "num" }, price(t.entryPrice, t.decimal)),
    h("td", { class: "num" }, price(t.closePrice, t.decimal)),
    h("td", { class: `num ${pnlClass(t.pnl)}`, dataset: { field: "pnl" } }, formatCents(t.pnl)),
    h("td", { class: "num" }, formatCents(t.credited)),
    h("td", {}, t.reason.replace("_", " ").toLowerCase()));

export class Account {
  constructor({ onEdit } = {}) {
    this.onEdit = onEdit ?? (() => {});
    this.positions = [];
    this.closeKeys = new Map(); // position id -> Idempotency-Key of its close, kept across retries
    this.inFlight = null;
    this.again = false;
    this.lastRead = 0;
    this.timer = null;
    this.idle = null;
    this.cursor = null;
    this.closedReads = Promise.resolve(); // the closed-trade reads, one after another
    this.queuedFirst = null; // a newest-page read waiting behind the running one, if any
    this.active = false;
    $("closed-more").addEventListener("click", () => this.loadClosed(false));
  }

  start() {
    this.active = true;
    this.refresh();
    this.loadClosed(true);
  }

  stop() {
    this.active = false;
    clearTimeout(this.timer);
    clearTimeout(this.idle);
    this.positions = [];
    this.closeKeys.clear();
    $("positions").tBodies[0].replaceChildren();
    $("closed").tBodies[0].replaceChildren();
  }

  /** A price update for these symbols: re-read if any open position is on one of them. */
  pricesChanged(symbols) {
    if (this.positions.some((p) => symbols.includes(p.asset))) this.refreshSoon();
  }

  refreshSoon() {
    if (!this.active || this.timer) return;
    const wait = Math.max(0, this.lastRead + MIN_GAP_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh();
    }, wait);
  }

  async refresh() {
    if (!this.active) return;
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    clearTimeout(this.idle);
    this.lastRead = Date.now();
    this.inFlight = Promise.all([request("GET", "/trade/open"), request("GET", "/balance")])
      .then(([open, balance]) => {
        if (!this.active) return; // signed out while the read was on its way
        $("positions-error").textContent = "";
        this.renderPositions(open.orders);
        this.renderBalance(balance);
      })
      .catch((problem) => {
        if (problem.status !== 401) $("positions-error").textContent = problem.message;
      })
      .finally(() => {
        this.inFlight = null;
        if (!this.active) return;
        this.idle = setTimeout(() => this.refresh(), IDLE_MS);
        if (this.again) {
          this.again = false;
          this.refreshSoon();
        }
      });
    return this.inFlight;
  }

  renderBalance(b) {
    $("acct-balance").textContent = formatCents(b.balance);
    $("acct-equity").textContent = formatCents(b.equity);
    $("acct-used").textContent = formatCents(b.usedMargin);
    const reserved = b.reservedMargin;
    $("acct-reserved-box").hidden = reserved === undefined;
    if (reserved !== undefined) $("acct-reserved").textContent = formatCents(reserved);
    const used = BigInt(b.usedMargin) + BigInt(reserved ?? 0);
    $("acct-level").textContent = marginLevelText(b.equity, used) ?? "—";
  }

  renderPositions(orders) {
    this.positions = orders;
    $("positions-count").textContent = orders.length ? `(${orders.length})` : "";
    $("positions-empty").hidden = orders.length > 0;
    const body = $("positions").tBodies[0];
    // rows are updated in place, not rebuilt: a Close button under the pointer stays the same element
    // across refreshes, so a click that straddles a refresh still lands
    const existing = new Map([...body.rows].map((row) => [row.dataset.positionId, row]));
    const rows = orders.map((p) => {
      const row = existing.get(p.id) ?? this.positionRow(p);
      const cells = {
        qty: [p.quantity, "num"],
        price: [price(p.currentPrice, p.decimal), "num"],
        margin: [formatCents(p.margin), "num"],
        pnl: [signedCents(p.pnl), `num ${pnlClass(p.pnl)}`],
        sl: [price(p.stopLoss, p.decimal), "num"],
        tp: [price(p.takeProfit, p.decimal), "num"],
        liq: [p.liquidationPrice ? price(p.liquidationPrice, p.decimal) : "none", "num"],
      };
      for (const [field, [text, className]] of Object.entries(cells)) {
        const cell = row.querySelector(`[data-field="${field}"]`);
        if (cell.textContent !== text) cell.textContent = text;
        if (cell.className !== className) cell.className = className;
      }
      row.closeButton.onclick = (event) => this.close(p, event.currentTarget);
      row.editButton.onclick = () => this.onEdit(p);
      return row;
    });
    for (const [id, row] of existing) if (!orders.some((p) => p.id === id)) row.remove();
    rows.forEach((row, index) => {
      if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] ?? null);
    });
  }

  positionRow(p) {
    const button = h("button", {
      type: "button", class: "close-btn", "aria-label": `Close ${p.side} ${p.asset} position ${p.id}`,
    }, "Close");
    const edit = h("button", {
      type: "button", class: "close-btn", "aria-label": `Edit ${p.side} ${p.asset} position ${p.id}`,
    }, "Edit");
    const row = h("tr", { dataset: { positionId: p.id } },
      h("td", {}, p.asset),
      h("td", { class: p.side === "LONG" ? "up" : "down" }, p.side),
      h("td", { dataset: { field: "qty" } }),
      h("td", { class: "num" }, `${p.leverage}×`),
      h("td", { class: "num" }, price(p.entryPrice, p.decimal)),
      ...["price", "sl", "tp", "liq", "margin", "pnl"].map((field) => h("td", { dataset: { field } })),
      h("td", { class: "actions" }, edit, " ", button));
    row.closeButton = button;
    row.editButton = edit;
    return row;
  }

  async close(position, button) {
    if (button.disabled) return;
    button.disabled = true;
    let key = this.closeKeys.get(position.id);
    if (!key) {
      key = newIdempotencyKey();
      this.closeKeys.set(position.id, key);
    }
    try {
      const response = await request("POST", "/trade/close", {
        body: { orderId: position.id }, headers: { "Idempotency-Key": key },
      });
      this.closeKeys.delete(position.id);
      const t = response.trade;
      toast(`Closed ${t.side} ${t.quantity} ${t.asset}: PnL ${formatCents(t.pnl)}`, "info");
    } catch (problem) {
      if (![0, 502, 503, 504].includes(problem.status)) this.closeKeys.delete(position.id);
      $("positions-error").textContent = problem.message;
      button.disabled = false;
    }
    await this.refresh();
    await this.loadClosed(true);
  }

  /**
   * Read closed trades. `first`: the newest page, merged into what is shown (trades closed since the last
   * read go on top; the older pages the trader loaded stay); otherwise the next older page by cursor.
   * Reads run one after another, so an event's refresh never interleaves with "Load older trades".
   */
  loadClosed(first) {
    // a burst of events queues one newest-page read behind the running one, never one per event
    if (first && this.queuedFirst) return this.queuedFirst;
    const queued = this.closedReads
      .then(() => {
        if (first) this.queuedFirst = null; // it starts now: a later event's refresh queues another
        return this.readClosed(first);
      })
      .catch((error) => console.error(error)); // a read that fails must not stop the ones queued after it
    if (first) this.queuedFirst = queued;
    this.closedReads = queued;
    return queued;
  }

  async readClosed(first) {
    if (!this.active) return;
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (!first && this.cursor) query.set("cursor", this.cursor);
    let page;
    try {
      page = await request("GET", `/trade/closed?${query}`);
    } catch (problem) {
      if (problem.status !== 401) $("closed-error").textContent = problem.message;
      return;
    }
    if (!this.active) return;
    $("closed-error").textContent = "";
    const body = $("closed").tBodies[0];
    const shown = new Set(Array.from(body.rows, (row) => row.dataset.tradeId));
    const fresh = page.orders.filter((t) => !shown.has(t.id));
    if (!first) {
      this.cursor = page.nextCursor;
      body.append(...fresh.map(closedRow));
    } else if (shown.size === 0 || fresh.length === page.orders.length) {
      // nothing shown yet, or more trades closed since the last read than one page holds: start again
      this.cursor = page.nextCursor;
      body.replaceChildren(...page.orders.map(closedRow));
    } else {
      // trades are listed newest first and never change once closed: the new ones go on top
      body.prepend(...fresh.map(closedRow));
    }
    $("closed-empty").hidden = body.rows.length > 0;
    $("closed-more").hidden = !this.cursor;
  }
}
