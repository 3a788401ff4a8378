// The account event stream: one WebSocket to /api/v1/ws/account, authenticated by its first message
// {"type": "auth", "token", "since"} (the token never goes into a URL); the server answers SUBSCRIBED
// (or RESYNC) with the seq the live events follow. Events carry a per-account `seq` without gaps; the
// last one seen is kept for the session, so a reconnect (backoff 0.5 s doubling to 8 s, shown as
// "Reconnecting…") resumes with `since` and nothing is missed or shown twice. RESYNC (the server no
// longer holds what came after `since`) reloads everything through REST. A close code 4400-4499 is a
// refused session: no reconnect.

import { getToken } from "./api.js";

const SEQ_KEY = "exness.events.seq";
const CLOSE_WORDS = {
  LIQUIDATION: "was liquidated",
  STOP_LOSS: "was stopped out",
  TAKE_PROFIT: "took profit",
  MANUAL: "was closed",
};

export class AccountEvents {
  constructor({ onEvent, onResync, onState, onRefused }) {
    this.onEvent = onEvent; // (event, words or null)
    this.onResync = onResync;
    this.onState = onState;
    this.onRefused = onRefused;
    this.socket = null;
    this.delay = 500;
    this.timer = null;
    this.active = false;
  }

  get since() {
    const stored = Number(sessionStorage.getItem(SEQ_KEY));
    return Number.isSafeInteger(stored) && stored > 0 ? stored : null;
  }

  set since(seq) {
    if (seq === null) sessionStorage.removeItem(SEQ_KEY);
    else sessionStorage.setItem(SEQ_KEY, String(seq));
  }

  start() {
    if (this.active) return;
    this.active = true;
    this.connect();
  }

  stop() {
    this.active = false;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    this.since = null;
  }

  connect() {
    const token = getToken();
    if (!this.active || !token) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/ws/account`);
    this.socket = socket;
    this.onState(this.delay === 500 ? "connecting" : "reconnecting");
    socket.onopen = () => {
      const auth = { type: "auth", token };
      if (this.since !== null) auth.since = this.since;
      socket.send(JSON.stringify(auth));
      this.delay = 500;
      this.onState("live");
    };
    socket.onmessage = (event) => this.handle(event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.active) return;
      if (event.code >= 4400 && event.code < 4500) {
        // the server refused the token: REST's 401 handling ends the session
        this.onState("refused");
        this.onRefused(event.reason || "the account stream refused the session");
        return;
      }
      this.onState("reconnecting");
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 8000);
    };
    socket.onerror = () => socket.close();
  }

  handle(text) {
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (!event || typeof event !== "object") return;
    if (event.type === "SUBSCRIBED" || event.type === "RESYNC") {
      // where the live events start: {"type": "SUBSCRIBED", "seq": N} resumes after N; RESYNC means the
      // events after `since` are no longer kept, so everything is read again through REST
      if (Number.isSafeInteger(event.seq)) this.since = event.seq;
      if (event.type === "RESYNC") this.onResync();
      return;
    }
    if (!Number.isSafeInteger(event.seq)) return;
    const since = this.since;
    if (since !== null && event.seq <= since) return; // already seen (a resume overlapping)
    this.since = event.seq;
    this.onEvent(event, describe(event));
  }
}

/** The toast for an event, or null for one that needs none (balance lines, openings the trader made). */
export function describe(event) {
  const body = event.trade ?? event.order ?? event.position ?? event;
  const what = [body.side, body.quantity, body.asset].filter(Boolean).join(" ");
  if (event.type === "POSITION_CLOSED") {
    const reason = body.reason ?? event.reason;
    if (reason === "MANUAL") return null; // the trader's own click already said so
    return `Position ${what} ${CLOSE_WORDS[reason] ?? "was closed"}`;
  }
  if (event.type === "ORDER_FILLED") return `${titleCase(body.type)} order ${what} filled`;
  if (event.type === "ORDER_EXPIRED") return `${titleCase(body.type)} order ${what} expired`;
  if (event.type === "ORDER_REJECTED") {
    const reason = body.reason ?? event.reason;
    return `${titleCase(body.type)} order ${what} could not fill${reason ? `: ${String(reason).replaceAll("_", " ").toLowerCase()}` : ""}`;
  }
  return null;
}

function titleCase(text) {
  const word = String(text ?? "pending").toLowerCase();
  return word.charAt(0).toUpperCase() + word.slice(1);
}
