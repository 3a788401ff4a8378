#!/usr/bin/env bash
# Bootstraps the build on a fresh Debian machine: Python venv with the project installed (editable, with
# dev extras), the npm packages (buf; esbuild and lightweight-charts for the web terminal) and Debian's
# chromium for the browser tests. Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
apt_install() {
  echo "bootstrap: installing Debian packages: $*" >&2
  as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
[ -n "$PY" ] || { apt_install python3 python3-venv; PY=python3; }

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv 2>/dev/null || { apt_install python3-venv; rm -rf .venv; "$PY" -m venv .venv; }
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" || true
  .venv/bin/python -c 'import grpc, fastapi, secantus' # fails loudly if the install did not work
  touch "$stamp"
fi

npm_stamp=node_modules/.installed
if [ ! -f "$npm_stamp" ] || [ package.json -nt "$npm_stamp" ] || [ package-lock.json -nt "$npm_stamp" ]; then
  command -v npm >/dev/null || apt_install npm
  npm ci --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown user config' || true
  for tool in buf esbuild; do
    [ -x "node_modules/.bin/$tool" ] || { echo "bootstrap: $tool did not install" >&2; exit 1; }
  done
  touch "$npm_stamp"
fi

# The browser tests (tests/e2e/ui) drive Debian's chromium through Playwright: `playwright install`
# would download a browser build of its own, which this machine cannot fetch.
command -v chromium >/dev/null || apt_install chromium
