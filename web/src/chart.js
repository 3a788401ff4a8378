// The live line of the selected asset's mid price from /ws/prices, drawn with lightweight-charts.
// It stands in for the candlestick chart until the server serves /api/v1/candles; the mid is a float
// here because a chart only draws it (no money is computed from it).

import { createChart, LineSeries } from "lightweight-charts";

export class MidChart {
  constructor(element) {
    this.element = element;
    this.chart = createChart(element, {
      autoSize: true,
      // the attribution logo (a link to TradingView) is what the library's licence asks for
      layout: { background: { color: "transparent" }, textColor: "#c9d1d9", attributionLogo: true },
      grid: { vertLines: { color: "#21262d" }, horzLines: { color: "#21262d" } },
      timeScale: { timeVisible: true, secondsVisible: true },
    });
    this.series = this.chart.addSeries(LineSeries, { color: "#e3b341", lineWidth: 2 });
    this.asset = null;
    this.lastTime = 0;
  }

  select(asset) {
    if (asset === this.asset) return;
    this.asset = asset;
    this.lastTime = 0;
    this.series.setData([]);
  }

  add(asset, quote) {
    if (asset !== this.asset) return;
    const mid = Number(quote.buyPrice + quote.sellPrice) / 2 / 10 ** quote.decimal;
    // one point per second: a second quote within the same second replaces the point
    const time = Math.max(Math.floor(quote.ts / 1000), this.lastTime);
    this.lastTime = time;
    this.series.update({ time, value: mid });
  }
}
