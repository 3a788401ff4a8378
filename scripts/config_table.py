"""Print the README's configuration table from the services' settings classes, so the table lists every
environment variable with its real default. `tests/unit/scripts/test_config_table.py` fails when the README and
the code disagree; run `python scripts/config_table.py` and paste its output between the markers."""

from __future__ import annotations

from pydantic_settings import BaseSettings

from candles.config import CandleSettings
from engine.config import EngineSettings
from gateway.config import GatewaySettings
from mesh.settings import CommonSettings
from pooler.config import PoolerSettings

BEGIN = "<!-- config-table:begin -->"
END = "<!-- config-table:end -->"

MEANING = {
    "REDIS_URL": "Redis holding the command stream, the price channel and the engine lease",
    "STREAM_KEY": "Redis stream of commands and price updates (the engine's log)",
    "PRICE_CHANNEL": "pub/sub channel of serialized PriceUpdate messages",
    "ASSETS": "traded assets as SYMBOL:DECIMAL:STEP (price scale, quantity step)",
    "LOG_LEVEL": "DEBUG, INFO, WARNING, ERROR",
    "LOG_FORMAT": "`json` (one object per line) or `text`",
    "SHUTDOWN_GRACE_SECONDS": "how long SIGTERM waits for in-flight work",
    "ENGINE_GRPC_PORT": "gRPC port (EngineService, EngineAdminService, health, reflection)",
    "ENGINE_BIND_HOST": "interface the engine's gRPC and metrics servers bind to",
    "ENGINE_INSTANCE_NAME": "consumer name in the group and lease holder name",
    "DATABASE_URL": "PostgreSQL (engine: closed trades and the order history; gateway: users; candles: candles and "
    "the builder's cursor), plain postgresql:// URL",
    "MONGODB_URL": "MongoDB holding the engine snapshots",
    "MONGODB_DATABASE": "database of the snapshot collections",
    "SNAPSHOT_INTERVAL_SECONDS": "how often the engine writes a snapshot",
    "SNAPSHOT_KEEP": "snapshots kept; the stream is trimmed below the oldest",
    "MAX_LEVERAGE": "highest leverage an order may ask for",
    "MAINTENANCE_MARGIN_RATE": "maintenance requirement as a fraction of notional (exact decimal text)",
    "PRICE_STALE_AFTER_MS": "a quote confirmed by its feed longer ago than this (in stream time) cannot open or close",
    "MAX_OPEN_POSITIONS_PER_ACCOUNT": "open positions one account may hold (422 `TOO_MANY_POSITIONS` beyond); bounds "
    "each account read's time on the engine loop",
    "MAX_PENDING_ORDERS_PER_ACCOUNT": "pending LIMIT/STOP orders one account may hold (422 `TOO_MANY_ORDERS` beyond; "
    "0..10,000, 0 = none); `GET /orders` returns them all in one page",
    "ENGINE_METRICS_PORT": "Prometheus /metrics of the engine",
    "LEASE_TTL_MS": "single-writer lease lifetime; a standby takes over after it lapses",
    "DEAD_LETTER_STREAM": "where malformed stream entries are copied",
    "CONSUMER_GROUP": "the engine's consumer group on STREAM_KEY",
    "READ_BATCH_SIZE": "entries per XREADGROUP (one PostgreSQL transaction per batch)",
    "ENGINE_ACCEPT_LOG_GAP": "dangerous override: lead despite a gap in the stream (entries trimmed before they were "
    "applied); the state then silently lacks them",
    "GATEWAY_PORT": "HTTP port of the REST API, WebSocket, /healthz, /readyz, /metrics",
    "GATEWAY_HOST": "interface the gateway binds to",
    "ENGINE_ADDR": "the engine's gRPC address, host:port",
    "JWT_SECRET": "HS256 signing secret; required unless DEV_MODE",
    "DEV_MODE": "allow starting without JWT_SECRET (random per-process secret)",
    "JWT_TTL_SECONDS": "token lifetime",
    "STARTING_BALANCE_CENTS": "balance of a new account, in cents",
    "ENGINE_REPLY_TIMEOUT_MS": "how long a write waits for the engine before 504",
    "GATEWAY_ID": "this gateway's name in reply_to (unique per instance; with GATEWAY_WORKERS > 1 each worker "
    "adds `-<pid>`)",
    "CORS_ORIGINS": "comma-separated allowed origins (empty: none)",
    "MAX_BODY_BYTES": "largest accepted request body (413 beyond)",
    "AUTH_RATE_LIMIT": "signup/signin requests per client IP (an IPv6 client by its /64), e.g. `10/minute` (429 "
    "beyond), for the whole platform (one Redis bucket per client shared by all gateway processes; without Redis "
    "each process counts alone, so N processes allow N x)",
    "SIGNIN_EMAIL_RATE_LIMIT": "failed signin attempts per e-mail address from any client address, e.g. `20/hour` "
    "(then 429 with `Retry-After`, even for the right password, until the window passes; successful signins do not "
    "count; `off` = none), for the whole platform like AUTH_RATE_LIMIT: rotating addresses buys no more guesses at "
    "one account (a guesser can also keep its owner out that long)",
    "GATEWAY_WORKERS": "uvicorn worker processes; each is a gateway of its own (id `GATEWAY_ID-<pid>`, own reply "
    "stream, loop-lag bound and /metrics; they share GATEWAY_MAX_IN_FLIGHT)",
    "GATEWAY_MAX_IN_FLIGHT": "writes waiting for an engine reply, at most, **for the whole platform** (503 "
    "`ENGINE_BUSY` with `Retry-After`, not sent, beyond; 0 = no admission at all): each gateway process publishes "
    "its count to Redis every 100 ms (expiring 1.5 s after its last refresh, so a crashed one stops counting) "
    "and admits while the others' last counts plus its own stay below it, so a burst on every gateway at once "
    "can overshoot by up to 100 ms of the others' admissions; without Redis each process counts alone; keep it "
    "under the engine's 10,000 queued replies per gateway",
    "GATEWAY_MAX_LOOP_LAG_MS": "while this process's event loop runs timers later than this, its own writes in "
    "flight are bounded by a sixteenth of GATEWAY_MAX_IN_FLIGHT (503 `OVERLOADED`, not sent, beyond), **per gateway "
    "process** (0 = off)",
    "MAX_ACCOUNT_SOCKETS_PER_CLIENT": "`/ws/account` sockets one client address (an IPv6 client by its /64) may hold "
    "open on one gateway process, authenticated or not (beyond: closed with 4429); with the 8 sockets "
    "per user it bounds what one address can make the gateway read",
    "FORWARDED_ALLOW_IPS": "comma-separated proxy addresses/CIDRs whose `X-Forwarded-For` gives the client IP "
    "(the ingress controller's pods; `*` = any)",
    "FEED": "`auto` (live, sim fallback), `backpack`, `fake` (local fake server), `sim`",
    "BACKPACK_WS_URL": "the venue's websocket (or the fake's ws:// URL)",
    "PUBLISH_INTERVAL_MS": "publish cadence of the latest quotes",
    "SPREAD_BPS": "platform spread on the ask, in basis points",
    "QUOTE_MAX_AGE_MS": "a quote older than this is not published",
    "POOLER_HTTP_PORT": "pooler /healthz and /metrics",
    "POOLER_HTTP_HOST": "interface the pooler's HTTP server binds to",
    "SIM_SEED": "seed of the simulated feed (empty: random)",
    "SIM_INTERVAL_MS": "step interval of the simulated feed",
    "FEED_BACKOFF_INITIAL_MS": "first reconnect delay (then exponential, with jitter)",
    "FEED_BACKOFF_MAX_MS": "longest reconnect delay",
    "FEED_STABLE_SECONDS": "a connection delivering this long resets the backoff",
    "FEED_WATCHDOG_SECONDS": "no frame this long: drop and reconnect",
    "FEED_SUBSCRIBE_TIMEOUT_SECONDS": "warn when a subscribed symbol stays silent this long",
    "FEED_FALLBACK_AFTER_SECONDS": "`auto`: live down this long switches to sim",
    "FEED_OPEN_TIMEOUT_SECONDS": "websocket connect timeout",
    "FEED_QUEUE_SIZE": "bounded queue between feed and publisher (oldest dropped)",
    "CANDLES_ADDR": "the candle builder's gRPC address (CandleService), host:port",
    "CANDLE_CHANNEL": "pub/sub channel of the live candles (serialized CandleUpdates) after each commit",
    "CANDLES_GRPC_PORT": "gRPC port of the candle builder (CandleService, health, reflection)",
    "CANDLES_METRICS_PORT": "Prometheus /metrics of the candle builder",
    "CANDLES_BIND_HOST": "interface the candle builder's gRPC and metrics servers bind to",
    "CANDLES_BATCH_SIZE": "stream entries per read and per PostgreSQL transaction of the candle builder",
    "CANDLES_BACKFILL_URL": "the venue's REST base whose /api/v1/klines backfills candle history on start and "
    "after a gap (empty: no backfill, e.g. with the simulated feed)",
    "CANDLES_BACKFILL_BUCKETS": "buckets of history asked per asset and interval on start",
}

SERVICES: list[tuple[str, type[BaseSettings]]] = [
    ("all", CommonSettings),
    ("engine", EngineSettings),
    ("gateway", GatewaySettings),
    ("pooler", PoolerSettings),
    ("candles", CandleSettings),
]


def _default(field: object) -> str:
    factory = getattr(field, "default_factory", None)
    if factory is not None:
        return {"gethostname": "the host name"}.get(factory.__name__, "generated per process")
    default = getattr(field, "default", None)
    return "(none)" if default is None or default == "" else f"`{default}`"


def rows() -> dict[str, tuple[list[str], str]]:
    """NAME -> (services reading it, default)."""
    table: dict[str, tuple[list[str], str]] = {}
    common = set(CommonSettings.model_fields)
    for service, cls in SERVICES:
        for name, field in cls.model_fields.items():
            if service != "all" and name in common:
                continue
            env = name.upper()
            services, default = table.get(env, ([], _default(field)))
            table[env] = ([*services, service], default)
    return table


def render() -> str:
    lines = [BEGIN, "| variable | read by | default | meaning |", "|---|---|---|---|"]
    for env, (services, default) in rows().items():
        lines.append(f"| `{env}` | {', '.join(services)} | {default} | {MEANING[env]} |")
    lines.append(END)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
