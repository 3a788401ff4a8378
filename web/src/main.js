// The terminal's entry point: loads the asset configuration, starts the price feed and ticker, and
// switches between the sign-in screen and the trading screen (token in sessionStorage, cleared on any
// 401). Panels of later server releases (pending orders, candles, account events, the statement) are
// shown only when their endpoint exists on this server.

import "./style.css";
import { Account } from "./account.js";
import { getToken, hasEndpoint, request, setToken, setUnauthorizedHandler } from "./api.js";
import { CandleChart } from "./candles.js";
import { MidChart } from "./chart.js";
import { AccountEvents } from "./events.js";
import { PositionEditor } from "./manage.js";
import { Orders } from "./orders.js";
import { $, h, toast } from "./dom.js";
import { formatCents, formatScaled } from "./money.js";
import { PriceFeed } from "./prices.js";
import { Statement } from "./statement.js";
import { Ticket } from "./ticket.js";

const FEED_TEXT = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…" };
const EVENTS_TEXT = {
  connecting: "Account: connecting…", live: "Account: live", reconnecting: "Account: reconnecting…", refused: "Account: refused",
};

const feed = new PriceFeed();
let editor = null;
const orders = new Orders({
  onChanged: () => account.refresh(),
  onCancelled: (order) => toast(`Cancelled the ${order.type.toLowerCase()} ${order.side} ${order.asset} order`),
});
const account = new Account({ onEdit: (position) => editor?.open(position) });
const statement = new Statement();
const events = new AccountEvents({
  onEvent: (event, words) => {
    if (words) toast(words, words.endsWith("liquidated") ? "error" : "info");
    reloadAccount();
  },
  onResync: () => reloadAccount(),
  onState: (state) => {
    const status = $("events-status");
    status.dataset.state = state;
    status.textContent = EVENTS_TEXT[state] ?? state;
  },
  onRefused: (why) => toast(`Live account updates stopped: ${why}`, "error"),
});
let ticket = null;
let chart = null;

/** Everything the account shows, read again (after an event or a resync). */
function reloadAccount() {
  account.refresh();
  account.loadClosed(true);
  if (!$("orders-panel").hidden) orders.refresh();
  if (!$("statement-panel").hidden) statement.load(true);
}
let selected = null;

function renderTicker(symbols) {
  const list = $("ticker-list");
  for (const symbol of symbols) {
    const quote = feed.quotes.get(symbol);
    let item = list.querySelector(`[data-symbol="${symbol}"]`);
    if (!item) {
      item = h("li", { dataset: { symbol } },
        h("button", { type: "button", "aria-pressed": "false", onclick: () => select(symbol) },
          h("span", { class: "sym" }, symbol),
          h("span", { class: "bid" }),
          h("span", { class: "ask" })));
      list.append(item);
    }
    const bid = formatScaled(quote.sellPrice, quote.decimal);
    const ask = formatScaled(quote.buyPrice, quote.decimal);
    item.querySelector(".bid").textContent = bid;
    item.querySelector(".ask").textContent = ask;
    // the button's spoken name says which number is which
    item.firstElementChild.setAttribute("aria-label", `${symbol}: bid ${bid}, ask ${ask}`);
    const previous = quote.previousSell;
    item.dataset.move = previous === null ? "" : quote.sellPrice > previous ? "up" : quote.sellPrice < previous ? "down" : item.dataset.move;
  }
  for (const item of list.children) {
    item.firstElementChild.setAttribute("aria-pressed", String(item.dataset.symbol === selected));
  }
}

function select(symbol) {
  selected = symbol;
  $("chart-asset").textContent = symbol;
  chart?.select(symbol);
  ticket?.selectAsset(symbol);
  renderTicker([...feed.quotes.keys()]);
}

function showFeedState(state) {
  const status = $("feed-status");
  status.dataset.state = state;
  status.textContent = FEED_TEXT[state] ?? state;
}

async function showOptionalPanels() {
  // later releases add these endpoints; a 404 here hides the panel instead of faking its content
  const hasOrders = await hasEndpoint("/orders");
  $("orders-panel").hidden = !hasOrders;
  ticket?.enableOrderTypes(hasOrders);
  if (hasOrders && getToken()) orders.start();
  // the statement and the account stream come in the same release: one probe for both
  const hasStatement = await hasEndpoint("/account/statement");
  $("statement-panel").hidden = !hasStatement;
  $("events-status").hidden = !hasStatement;
  if (hasStatement && getToken()) {
    statement.start();
    events.start();
  }
}

async function makeChart() {
  if (chart) return;
  // candles where the server has them; the live mid line otherwise
  const candles = await hasEndpoint("/candles");
  if (chart) return;
  chart = candles ? new CandleChart($("chart"), feed) : new MidChart($("chart"));
  $("chart-kind").textContent = candles ? "Bid candles" : "Mid price";
  $("chart").setAttribute("aria-label", candles ? "Candlestick chart of the bid" : "Live mid price line");
  if (selected) chart.select(selected);
}

function enterTerminal(email) {
  $("auth").hidden = true;
  $("terminal").hidden = false;
  $("account-bar").hidden = false;
  $("user-box").hidden = false;
  $("user-email").textContent = email ?? "";
  makeChart();
  account.start();
  showOptionalPanels();
}

function leaveTerminal(message) {
  setToken(null);
  sessionStorage.removeItem("exness.email");
  account.stop();
  orders.stop();
  statement.stop();
  events.stop();
  $("events-status").hidden = true;
  if ($("manage").open) $("manage").close();
  $("terminal").hidden = true;
  $("account-bar").hidden = true;
  $("user-box").hidden = true;
  $("auth").hidden = false;
  $("auth-error").textContent = message ?? "";
  $("auth-email").focus();
}

async function authenticate(kind) {
  const email = $("auth-email").value.trim();
  const password = $("auth-password").value;
  const error = $("auth-error");
  if (!email || !password) {
    error.textContent = "Enter your e-mail and a password.";
    return;
  }
  error.textContent = "";
  const buttons = [$("signin"), $("signup")];
  for (const b of buttons) b.disabled = true;
  try {
    const body = await request("POST", kind === "signup" ? "/signup" : "/signin", {
      body: { email, password }, auth: false,
    });
    setToken(body.token);
    sessionStorage.setItem("exness.email", body.user.email);
    $("auth-password").value = "";
    enterTerminal(body.user.email);
    if (kind === "signup") toast(`Welcome! Your account starts with ${formatCents(body.user.balance)}.`);
  } catch (problem) {
    error.textContent = problem.message;
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

async function main() {
  setUnauthorizedHandler(() => leaveTerminal("Your session ended; please sign in again."));
  $("auth-form").addEventListener("submit", (event) => {
    event.preventDefault();
    authenticate("signin");
  });
  $("signup").addEventListener("click", () => authenticate("signup"));
  $("signout").addEventListener("click", () => leaveTerminal("Signed out."));

  let config;
  try {
    const response = await fetch("/ui/config.json");
    config = await response.json();
  } catch {
    config = { assets: {} };
  }
  ticket = new Ticket({
    assets: config.assets,
    feed,
    onPlaced: (trade) => {
      toast(`Opened ${trade.side} ${trade.quantity} ${trade.asset} at ${formatScaled(trade.entryPrice, trade.decimal)}`);
      account.refresh();
    },
    onAccepted: (order) => {
      toast(`${order.type === "LIMIT" ? "Limit" : "Stop"} ${order.side} ${order.quantity} ${order.asset} at ${formatScaled(order.price, order.decimal)} accepted; ${formatCents(order.reservedMargin)} reserved`);
      orders.refresh();
      account.refresh();
    },
  });
  editor = new PositionEditor({
    assets: config.assets,
    onChanged: (message) => {
      toast(message);
      account.refresh();
      account.loadClosed(true);
    },
  });
  feed.onState(showFeedState);
  feed.onQuotes((symbols) => {
    if (!selected && symbols.length) select(Object.keys(config.assets).find((s) => feed.quotes.has(s)) ?? symbols[0]);
    renderTicker(symbols);
    for (const symbol of symbols) chart?.add(symbol, feed.quotes.get(symbol));
    if (symbols.includes(ticket.asset)) ticket.refresh();
    account.pricesChanged(symbols);
  });
  feed.start();

  if (getToken()) enterTerminal(sessionStorage.getItem("exness.email"));
  else $("auth-email").focus();
}

main();
