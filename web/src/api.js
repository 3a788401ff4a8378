// The REST client: one place that adds the token, turns every error body into a sentence, clears the
// session on 401 and feature-detects endpoints that later releases add.

const TOKEN_KEY = "exness.token";
const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? [];
  }
}

let onUnauthorized = () => {};

export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

const words = (value) => (typeof value === "string" && value.trim() ? value.trim() : "");

/** The sentence to show for an error body `{error: {code, message, details}}` (or anything else):
 * only strings are shown, so an odd body never reads as "[object Object]". */
export function errorText(status, body) {
  const error = body && typeof body === "object" ? body.error : null;
  let text = "";
  if (error && typeof error === "object") {
    text = words(error.message) || words(error.code);
    const details = Array.isArray(error.details)
      ? error.details.map((d) => (d && typeof d === "object" ? [words(d.field), words(d.message)].filter(Boolean).join(" ") : words(d)))
          .filter(Boolean)
      : [];
    if (text && details.length) text += ": " + details.join("; ");
  } else {
    text = words(error);
  }
  return text || `Request failed (HTTP ${status})`;
}

/** fetch + JSON; resolves to the parsed body, rejects with ApiError whose message is readable. */
export async function request(method, path, { body, headers = {}, auth = true } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const token = getToken();
  if (auth && token) init.headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(API + path, init);
  } catch {
    throw new ApiError(0, "NETWORK", "The server could not be reached; check your connection and retry.");
  }
  let parsed = null;
  const text = await response.text();
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    const code = parsed?.error?.code ?? `HTTP_${response.status}`;
    const error = new ApiError(response.status, code, errorText(response.status, parsed), parsed?.error?.details);
    if (response.status === 401 && auth && token) {
      setToken(null);
      onUnauthorized(error);
    }
    throw error;
  }
  return parsed;
}

const features = new Map();

/** Whether an endpoint of a later release exists here: a 404/405 hides its panel, anything else
 * (200, 401, 422, ...) means the route is there. Asked once per path. */
export function hasEndpoint(path) {
  if (!features.has(path)) {
    const headers = { Accept: "application/json" };
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    features.set(
      path,
      fetch(API + path, { headers }).then(
        (r) => r.status !== 404 && r.status !== 405,
        () => false,
      ),
    );
  }
  return features.get(path);
}

/** A fresh Idempotency-Key for one ticket submission. */
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
