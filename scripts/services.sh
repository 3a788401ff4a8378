#!/usr/bin/env bash
# Makes sure Redis and PostgreSQL are reachable: uses the ones at REDIS_URL / DATABASE_URL when they answer,
# otherwise installs (Debian packages) and starts local ones. `services.sh mongo` starts a MongoDB-protocol
# server (SecantusDB) of the checkout's own at MONGODB_URL for `make up` (the test suite starts its own
# throwaway one); it refuses a port that already answers, since that server holds someone else's data.
#
# With SERVICES_STARTED_FILE set (scripts/up.sh sets it), every server started here is recorded in that
# file, and `services.sh stop-recorded FILE` stops exactly those: `make up` leaves nothing running behind
# it that another checkout could pick up. `make test` leaves Redis and PostgreSQL running for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${EXNESS_DATA_DIR:-$PWD/.data}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
MONGODB_URL=${MONGODB_URL:-mongodb://127.0.0.1:27017}
# servers every checkout may share (a Redis on a machine port) keep their data here, never in a checkout
SHARED_SERVERS_DIR=${EXNESS_SHARED_SERVERS_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/exness-v3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
apt_install() {
  echo "services: installing Debian packages: $*" >&2
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null
}
# host and port of a URL
hostport() { .venv/bin/python -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(p.hostname or "127.0.0.1", p.port or int(sys.argv[2]))' "$1" "$2"; }
reachable() { .venv/bin/python -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' "$1" "$2" 2>/dev/null; }
# record "KIND ARG" for stop-recorded, when the caller asked for a record
record() { if [ -n "${SERVICES_STARTED_FILE:-}" ]; then mkdir -p "$(dirname "$SERVICES_STARTED_FILE")"; echo "$*" >>"$SERVICES_STARTED_FILE"; fi; }
wait_for() { for _ in $(seq 1 60); do reachable "$1" "$2" && return 0; sleep 0.5; done; echo "services: $3 did not come up on $1:$2" >&2; return 1; }

ensure_redis() {
  read -r host port < <(hostport "$REDIS_URL" 6379)
  reachable "$host" "$port" && return 0
  command -v redis-server >/dev/null || apt_install redis-server
  # A Redis at a machine address serves every checkout (each in its own key namespace), so its data lives
  # outside any checkout: `make reset` of one checkout deletes that checkout's .data and must never take the
  # log of the others with it. Keyed by port, so a restart finds the same append-only file again.
  local dir="$SHARED_SERVERS_DIR/redis-$port"
  mkdir -p "$dir"
  echo "services: starting redis-server on $host:$port (data in $dir)" >&2
  redis-server --daemonize yes --bind "$host" --port "$port" --dir "$dir" \
    --appendonly yes --appendfsync always --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
  wait_for "$host" "$port" Redis
  record pid "$(cat "$dir/redis.pid")" redis-server
}

ensure_postgres() {
  read -r host port < <(hostport "$DATABASE_URL" 5432)
  reachable "$host" "$port" && return 0
  ls /etc/postgresql/*/main >/dev/null 2>&1 || apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  conf=/etc/postgresql/$version/main
  # local development only: trust loopback connections so DATABASE_URL needs no password
  if ! grep -q "exness-v3 local trust" "$conf/pg_hba.conf"; then
    as_root sed -i "1i host all all 127.0.0.1/32 trust # exness-v3 local trust\nhost all all ::1/128 trust # exness-v3 local trust" "$conf/pg_hba.conf"
  fi
  echo "services: starting PostgreSQL $version on port $port" >&2
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  record postgres "$version"
  wait_for "$host" "$port" PostgreSQL
}

start_mongo() {
  read -r host port < <(hostport "$MONGODB_URL" 27017)
  if reachable "$host" "$port"; then
    echo "services: $host:$port already answers: another server (maybe another checkout's) holds it;" \
      "set MONGODB_URL to use it on purpose, or LOCAL_MONGO_PORT to start this checkout's elsewhere" >&2
    return 1
  fi
  mkdir -p "$DATA/mongo"
  echo "services: starting SecantusDB (MongoDB protocol) on $host:$port (data in $DATA/mongo)" >&2
  # its own session: a Ctrl-C at the terminal must not stop it under the engine's final snapshot; up.sh
  # stops it once the services have stopped
  setsid nohup .venv/bin/secantusd-py --host "$host" --port "$port" --storage-path "$DATA/mongo/db" \
    --log-level WARNING >"$DATA/mongo/secantus.log" 2>&1 &
  record pid "$!" secantusd
  wait_for "$host" "$port" SecantusDB
}

# alive, and not a zombie (one whose parent has not reaped it yet has stopped all the same)
running() { [ -r "/proc/$1/stat" ] && [ "$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat")" != Z ]; }

# Stops what a run recorded, newest first, and empties the record. A pid is signalled only while it is
# still the program that was started (its command line names it), never a process that reused the number.
stop_recorded() {
  local file=$1 kind arg name i
  [ -s "$file" ] || { rm -f "$file"; return 0; }
  tac "$file" | while read -r kind arg name; do
    case "$kind" in
      pid)
        grep -qa -- "$name" "/proc/$arg/cmdline" 2>/dev/null || continue
        echo "services: stopping $name (pid $arg)" >&2
        kill -TERM "$arg" 2>/dev/null || continue
        for i in $(seq 1 100); do running "$arg" || break; sleep 0.1; done
        ! running "$arg" || kill -KILL "$arg" 2>/dev/null || true ;;
      postgres)
        echo "services: stopping PostgreSQL $arg" >&2
        as_root pg_ctlcluster --skip-systemctl-redirect "$arg" main stop || true ;;
    esac
  done
  rm -f "$file"
}

case "${1:-ensure}" in
  ensure) ensure_redis; ensure_postgres ;;
  mongo) start_mongo ;;
  stop-recorded) stop_recorded "${2:?usage: $0 stop-recorded FILE}" ;;
  *) echo "usage: $0 [ensure|mongo|stop-recorded FILE]" >&2; exit 2 ;;
esac
