// The live price feed: one WebSocket to /ws/prices, reconnected with backoff (0.5 s doubling to 8 s)
// whenever it closes; listeners get every quote and the connection state ("connecting", "live",
// "reconnecting") to show it. The chart's live candle subscription is (re)sent on every connection;
// the server's CANDLE messages go to the candle listeners (a server without live candles ignores it).

export class PriceFeed {
  constructor() {
    this.quotes = new Map(); // symbol -> {buyPrice: BigInt, sellPrice: BigInt, decimal, ts}
    this.state = "connecting";
    this.quoteListeners = new Set();
    this.stateListeners = new Set();
    this.candleListeners = new Set();
    this.candles = null; // {asset, interval} the chart follows
    this.delay = 500;
    this.socket = null;
    this.stopped = false;
    this.timer = null;
  }

  onQuotes(listener) {
    this.quoteListeners.add(listener);
  }

  onCandle(listener) {
    this.candleListeners.add(listener);
  }

  /** Follow one (asset, interval) series live, instead of the one followed so far. */
  followCandles(asset, interval) {
    const previous = this.candles;
    this.candles = { asset, interval };
    if (previous) this.send({ type: "unsubscribe", candles: [previous] });
    this.send({ type: "subscribe", candles: [this.candles] });
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  onState(listener) {
    this.stateListeners.add(listener);
    listener(this.state);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/prices`);
    this.socket = socket;
    socket.onopen = () => {
      this.delay = 500;
      if (this.candles) this.send({ type: "subscribe", candles: [this.candles] });
      this.setState("live");
    };
    socket.onmessage = (event) => this.handle(event.data);
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this.setState("reconnecting");
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 8000);
    };
    socket.onerror = () => socket.close();
  }

  handle(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message?.type === "CANDLE" && message.candle) {
      for (const listener of this.candleListeners) listener(message);
      return;
    }
    if (message?.type !== "PRICE_UPDATE" || typeof message.prices !== "object") return;
    const changed = [];
    for (const [symbol, q] of Object.entries(message.prices)) {
      // prices arrive as JSON integers below 2^53 (scaled by 10^4); BigInt keeps the arithmetic exact
      const quote = { buyPrice: BigInt(q.buyPrice), sellPrice: BigInt(q.sellPrice), decimal: q.decimal, ts: q.ts };
      // the previous bid, for the ticker's up/down mark (kept flat: no chain of old quotes)
      quote.previousSell = this.quotes.get(symbol)?.sellPrice ?? null;
      this.quotes.set(symbol, quote);
      changed.push(symbol);
    }
    for (const listener of this.quoteListeners) listener(changed);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }
}
