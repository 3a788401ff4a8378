// The candlestick chart of the selected asset: bid candles from GET /candles (oldest first, prices
// scaled by 10^decimal, `time` the bucket start in UTC ms) with interval buttons. Live, the server's
// CANDLE messages on /ws/prices replace the current bucket as it stands; until one arrives, the bucket
// follows every bid from /ws/prices. The candles are re-read every 15 s and on each interval or asset
// change, so the chart converges on the server's history. Prices become
// floats only to be drawn; no money is computed from them.

import { CandlestickSeries, createChart } from "lightweight-charts";
import { request } from "./api.js";
import { $ } from "./dom.js";

export const INTERVALS = { "1m": 60e3, "5m": 300e3, "15m": 900e3, "1h": 3600e3, "4h": 14400e3, "1d": 86400e3 };
const LIMIT = 300;
const REREAD_MS = 15000;

const drawn = (value, decimal) => Number(value) / 10 ** decimal;

export class CandleChart {
  constructor(element, feed) {
    this.feed = feed;
    this.serverLive = false; // a CANDLE message of the followed series has arrived
    feed.onCandle((message) => this.candle(message));
    this.chart = createChart(element, {
      autoSize: true,
      // the attribution logo (a link to TradingView) is what the library's licence asks for
      layout: { background: { color: "transparent" }, textColor: "#c9d1d9", attributionLogo: true },
      grid: { vertLines: { color: "#21262d" }, horzLines: { color: "#21262d" } },
      timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 4 },
    });
    this.series = this.chart.addSeries(CandlestickSeries, {
      upColor: "#3fb950", downColor: "#f85149", borderVisible: false, wickUpColor: "#3fb950", wickDownColor: "#f85149",
    });
    this.asset = null;
    this.interval = "1m";
    this.last = null; // the newest bar drawn: {time (s), open, high, low, close}
    this.generation = 0;
    this.timer = null;
    const group = $("intervals");
    group.hidden = false;
    for (const button of group.querySelectorAll("button")) {
      button.addEventListener("click", () => this.setInterval(button.dataset.interval));
    }
    this.markInterval();
  }

  markInterval() {
    for (const button of $("intervals").querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.interval === this.interval));
    }
    $("chart").dataset.interval = this.interval;
  }

  setInterval(interval) {
    if (!INTERVALS[interval] || interval === this.interval) return;
    this.interval = interval;
    this.markInterval();
    this.follow();
  }

  select(asset) {
    if (asset === this.asset) return;
    this.asset = asset;
    this.follow();
  }

  follow() {
    this.serverLive = false;
    this.last = null;
    this.series.setData([]);
    this.feed.followCandles(this.asset, this.interval);
    this.load();
  }

  /** The server's live bucket of the followed series. */
  candle(message) {
    if (message.asset !== this.asset || message.interval !== this.interval) return;
    this.serverLive = true;
    const c = message.candle;
    const bar = {
      time: Math.floor(c.time / 1000),
      open: drawn(c.open, message.decimal),
      high: drawn(c.high, message.decimal),
      low: drawn(c.low, message.decimal),
      close: drawn(c.close, message.decimal),
    };
    if (this.last && bar.time < this.last.time) return;
    this.last = bar;
    this.series.update(bar);
    $("chart").dataset.close = String(c.close);
  }

  async load() {
    clearTimeout(this.timer);
    const generation = ++this.generation;
    const { asset, interval } = this;
    if (!asset) return;
    let body;
    try {
      body = await request("GET", `/candles?${new URLSearchParams({ asset, interval, limit: String(LIMIT) })}`);
    } catch (problem) {
      $("chart-error").textContent = problem.status === 401 ? "" : problem.message;
      body = null;
    }
    if (generation !== this.generation) return; // another asset or interval was chosen meanwhile
    this.timer = setTimeout(() => this.load(), REREAD_MS);
    if (!body) return;
    $("chart-error").textContent = "";
    const bars = body.candles.map((c) => ({
      time: Math.floor(c.time / 1000),
      open: drawn(c.open, body.decimal),
      high: drawn(c.high, body.decimal),
      low: drawn(c.low, body.decimal),
      close: drawn(c.close, body.decimal),
    }));
    this.series.setData(bars);
    this.last = bars.at(-1) ?? null;
    $("chart").dataset.candles = String(bars.length);
  }

  /** A live quote: the bid moves the current bucket (or opens the next one). */
  add(asset, quote) {
    if (asset !== this.asset || this.serverLive) return;
    const bid = drawn(quote.sellPrice, quote.decimal);
    const bucket = Math.floor(quote.ts / INTERVALS[this.interval]) * (INTERVALS[this.interval] / 1000);
    if (this.last && bucket < this.last.time) return;
    const bar = this.last && bucket === this.last.time
      ? { ...this.last, high: Math.max(this.last.high, bid), low: Math.min(this.last.low, bid), close: bid }
      : { time: bucket, open: bid, high: bid, low: bid, close: bid };
    this.last = bar;
    this.series.update(bar);
    $("chart").dataset.close = String(quote.sellPrice);
  }

  stop() {
    clearTimeout(this.timer);
    this.generation++;
  }
}
