#!/usr/bin/env bash
# `make up`: the whole platform on this machine. Reuses or starts Redis, PostgreSQL and a MongoDB-protocol
# server (data under .data/), then runs pooler, engine and gateway as separate processes under honcho
# (prefixed, coloured logs; Ctrl-C stops all of them cleanly). Each service applies its own migrations on
# start-up. Running it again resumes the same data.
set -euo pipefail
cd "$(dirname "$0")/.."
export EXNESS_DATA_DIR=${EXNESS_DATA_DIR:-$PWD/.data}
mkdir -p "$EXNESS_DATA_DIR"

export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
export MONGODB_URL=${MONGODB_URL:-mongodb://127.0.0.1:27017}
export GATEWAY_PORT=${GATEWAY_PORT:-3000}
export ENGINE_GRPC_PORT=${ENGINE_GRPC_PORT:-50051}
export ENGINE_ADDR=${ENGINE_ADDR:-127.0.0.1:$ENGINE_GRPC_PORT}
export POOLER_HTTP_PORT=${POOLER_HTTP_PORT:-9102}
export ENGINE_METRICS_PORT=${ENGINE_METRICS_PORT:-9101}
export FEED=${FEED:-auto}
# FEED=fake: run the local fake Backpack server (pooler/fake_backpack) too, and point the pooler at it
export FAKE_BACKPACK_PORT=${FAKE_BACKPACK_PORT:-9103}
processes="pooler engine gateway"
if [ "$FEED" = fake ]; then
  export BACKPACK_WS_URL=${BACKPACK_WS_URL:-ws://127.0.0.1:$FAKE_BACKPACK_PORT}
  processes="fake $processes"
fi
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

bash scripts/services.sh all

cat <<MSG

  Exness V3 is starting (feed: $FEED). Ctrl-C stops everything.
    Terminal   http://127.0.0.1:$GATEWAY_PORT/              (the web trading terminal)
    REST       http://127.0.0.1:$GATEWAY_PORT/api/v1        (try: curl http://127.0.0.1:$GATEWAY_PORT/api/v1/prices)
    API docs   http://127.0.0.1:$GATEWAY_PORT/docs
    WebSocket  ws://127.0.0.1:$GATEWAY_PORT/ws/prices
    gRPC       127.0.0.1:$ENGINE_GRPC_PORT                 (grpcurl -plaintext 127.0.0.1:$ENGINE_GRPC_PORT list)
    metrics    gateway :$GATEWAY_PORT/metrics  engine :$ENGINE_METRICS_PORT/metrics  pooler :$POOLER_HTTP_PORT/metrics

MSG
status=0
# shellcheck disable=SC2086
.venv/bin/honcho --procfile Procfile start $processes || status=$?
# Ctrl-C (honcho's 130) is the normal way to stop the platform, not a failure
[ "$status" = 130 ] && status=0
exit "$status"
