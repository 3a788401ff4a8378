#!/usr/bin/env bash
# `make up`: the whole platform on this machine. Reuses or starts Redis and PostgreSQL, starts this
# checkout's own MongoDB-protocol server (data under .data/), then runs pooler, engine, candles and gateway as
# separate processes under honcho (prefixed, coloured logs). Each service applies its own migrations on
# start-up. Running it again resumes the same data.
#
# A checkout's state is its own (scripts/local_state.py): its stream, dead letters, price channel and lease
# live under the Redis prefix exness:<id>:, its users and trades in the PostgreSQL database exness_<id>, its
# snapshots in the MongoDB database exness_<id> of its own SecantusDB, with <id> kept in .data/checkout_id;
# another clone on the same machine never sees them. Whatever this script starts it stops again when it
# ends, on Ctrl-C, SIGTERM or a failure alike (a SIGKILLed run's leftovers are stopped by the next run).
set -euo pipefail
cd "$(dirname "$0")/.."
export EXNESS_DATA_DIR=${EXNESS_DATA_DIR:-$PWD/.data}
RUN_DIR=$EXNESS_DATA_DIR/run
mkdir -p "$RUN_DIR"

if [ -s "$RUN_DIR/up.pid" ] && kill -0 "$(cat "$RUN_DIR/up.pid")" 2>/dev/null; then
  echo "up: this checkout's platform is already running (pid $(cat "$RUN_DIR/up.pid")); stop it first" >&2
  exit 1
fi
bash scripts/services.sh stop-recorded "$RUN_DIR/started"
echo $$ >"$RUN_DIR/up.pid"
export SERVICES_STARTED_FILE=$RUN_DIR/started
honcho_pid=""
stop_all() {
  trap - EXIT INT TERM
  if [ -n "$honcho_pid" ]; then
    kill -TERM "$honcho_pid" 2>/dev/null || true
    wait "$honcho_pid" 2>/dev/null || true
  fi
  bash scripts/services.sh stop-recorded "$SERVICES_STARTED_FILE" || true
  rm -f "$RUN_DIR/up.pid"
}
trap stop_all EXIT
# Ctrl-C once the platform runs is the normal way to stop it, not a failure
trap 'if [ -n "$honcho_pid" ]; then exit 0; else exit 130; fi' INT
trap 'exit 143' TERM

eval "$(.venv/bin/python scripts/local_state.py env)"
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
# MONGODB_URL given: use that server (this checkout's database in it). Otherwise: a SecantusDB of this
# checkout's own, on LOCAL_MONGO_PORT or a free port.
own_mongo=0
if [ -z "${MONGODB_URL:-}" ]; then
  own_mongo=1
  LOCAL_MONGO_PORT=${LOCAL_MONGO_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  export MONGODB_URL=mongodb://127.0.0.1:$LOCAL_MONGO_PORT
fi
# a local platform listens on loopback only
export GATEWAY_HOST=${GATEWAY_HOST:-127.0.0.1}
export ENGINE_BIND_HOST=${ENGINE_BIND_HOST:-127.0.0.1}
export POOLER_HTTP_HOST=${POOLER_HTTP_HOST:-127.0.0.1}
export GATEWAY_PORT=${GATEWAY_PORT:-3000}
export ENGINE_GRPC_PORT=${ENGINE_GRPC_PORT:-50051}
export ENGINE_ADDR=${ENGINE_ADDR:-127.0.0.1:$ENGINE_GRPC_PORT}
export POOLER_HTTP_PORT=${POOLER_HTTP_PORT:-9102}
export ENGINE_METRICS_PORT=${ENGINE_METRICS_PORT:-9101}
export CANDLES_BIND_HOST=${CANDLES_BIND_HOST:-127.0.0.1}
export CANDLES_GRPC_PORT=${CANDLES_GRPC_PORT:-50061}
export CANDLES_ADDR=${CANDLES_ADDR:-127.0.0.1:$CANDLES_GRPC_PORT}
export CANDLES_METRICS_PORT=${CANDLES_METRICS_PORT:-9104}
export FEED=${FEED:-auto}
# FEED=fake: run the local fake Backpack server (pooler/fake_backpack) too, and point the pooler at it
export FAKE_BACKPACK_PORT=${FAKE_BACKPACK_PORT:-9103}
processes="pooler engine candles gateway"
if [ "$FEED" = fake ]; then
  export BACKPACK_WS_URL=${BACKPACK_WS_URL:-ws://127.0.0.1:$FAKE_BACKPACK_PORT}
  processes="fake $processes"
fi
# candle history comes from the venue the prices come from: the fake's klines with FEED=fake, none with
# the simulation (its prices are not the venue's), Backpack's own otherwise
case "$FEED" in
  fake) export CANDLES_BACKFILL_URL=${CANDLES_BACKFILL_URL-http://127.0.0.1:$FAKE_BACKPACK_PORT} ;;
  sim) export CANDLES_BACKFILL_URL=${CANDLES_BACKFILL_URL-} ;;
esac
export LOG_FORMAT=${LOG_FORMAT:-text}
export ENGINE_INSTANCE_NAME=${ENGINE_INSTANCE_NAME:-engine-local}
export GATEWAY_ID=${GATEWAY_ID:-gateway-local}
# A local secret that survives restarts, so tokens stay valid across `make up` runs. Production sets
# JWT_SECRET from a Secret and never uses this file.
if [ -z "${JWT_SECRET:-}" ]; then
  [ -s "$EXNESS_DATA_DIR/jwt_secret" ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))' >"$EXNESS_DATA_DIR/jwt_secret"
  JWT_SECRET=$(cat "$EXNESS_DATA_DIR/jwt_secret")
  export JWT_SECRET
fi

bash scripts/services.sh ensure
.venv/bin/python scripts/local_state.py ensure-db
[ "$own_mongo" = 0 ] || bash scripts/services.sh mongo

cat <<MSG

  Exness V3 is starting (feed: $FEED). Ctrl-C stops everything.
    Terminal   http://127.0.0.1:$GATEWAY_PORT/              (the web trading terminal)
    REST       http://127.0.0.1:$GATEWAY_PORT/api/v1        (try: curl http://127.0.0.1:$GATEWAY_PORT/api/v1/prices)
    API docs   http://127.0.0.1:$GATEWAY_PORT/docs
    WebSocket  ws://127.0.0.1:$GATEWAY_PORT/ws/prices
    gRPC       127.0.0.1:$ENGINE_GRPC_PORT                 (reflection and grpc.health.v1: grpcurl, or grpcio-reflection's client)
    candles    http://127.0.0.1:$GATEWAY_PORT/api/v1/candles?asset=BTC_USDC&interval=1m  (gRPC :$CANDLES_GRPC_PORT)
    metrics    gateway :$GATEWAY_PORT/metrics  engine :$ENGINE_METRICS_PORT/metrics  pooler :$POOLER_HTTP_PORT/metrics  candles :$CANDLES_METRICS_PORT/metrics
    state      checkout $CHECKOUT_ID: stream $STREAM_KEY on $REDIS_URL, database $DATABASE_URL,
               snapshots in database $MONGODB_DATABASE on $MONGODB_URL (\`make reset\` wipes them)

MSG
status=0
# honcho runs in the background so that a signal reaches the traps above at once; they stop it
# shellcheck disable=SC2086
.venv/bin/honcho --procfile Procfile start $processes &
honcho_pid=$!
wait "$honcho_pid" || status=$?
honcho_pid=""
# one service exiting makes honcho stop the others; that is a failure unless they were asked to stop
exit "$status"
