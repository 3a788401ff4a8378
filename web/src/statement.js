// The statement: every movement of the free balance, newest first (GET /account/statement, paged by
// cursor), amounts and balances in cents as the server sends them. Shown only where the server has it.

import { request } from "./api.js";
import { $, formatTime, h } from "./dom.js";
import { formatCents } from "./money.js";

const PAGE = 20;

const words = (text) => String(text ?? "").replaceAll("_", " ").toLowerCase();
const entriesOf = (page) => page.entries ?? page.statement ?? page.lines ?? [];

export class Statement {
  constructor() {
    this.active = false;
    this.cursor = null;
    $("statement-more").addEventListener("click", () => this.load(false));
  }

  start() {
    this.active = true;
    this.load(true);
  }

  stop() {
    this.active = false;
    $("statement").tBodies[0].replaceChildren();
  }

  async load(first) {
    if (!this.active) return;
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (!first && this.cursor) query.set("cursor", this.cursor);
    let page;
    try {
      page = await request("GET", `/account/statement?${query}`);
    } catch (problem) {
      if (problem.status !== 401) $("statement-error").textContent = problem.message;
      return;
    }
    if (!this.active) return;
    $("statement-error").textContent = "";
    this.cursor = page.nextCursor ?? null;
    const rows = entriesOf(page).map((e) =>
      h("tr", { dataset: { seq: String(e.seq) } },
        h("td", {}, formatTime(e.time)),
        h("td", {}, words(e.type)),
        h("td", { class: `num ${BigInt(e.amount) < 0n ? "down" : "up"}`, dataset: { field: "amount" } }, formatCents(e.amount)),
        h("td", { class: "num", dataset: { field: "balance" } }, formatCents(e.balanceAfter)),
        h("td", {}, e.positionId ? `position ${e.positionId}` : e.orderId ? `order ${e.orderId}` : "")));
    const body = $("statement").tBodies[0];
    if (first) body.replaceChildren(...rows);
    else body.append(...rows);
    $("statement-empty").hidden = body.rows.length > 0;
    $("statement-more").hidden = !this.cursor;
  }
}
