#!/usr/bin/env bash
# Bootstraps the build on a fresh Debian machine: a Python venv holding exactly the versions pinned (with
# hashes) in requirements/dev.lock, the project installed into it (editable, nothing resolved anew), the
# npm packages pinned by package-lock.json (buf; esbuild and lightweight-charts for the web terminal) and
# Debian's chromium for the browser tests. Idempotent and quick when nothing changed.
# `make lock` upgrades the lock files (scripts/lock.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
apt_install() {
  echo "bootstrap: installing Debian packages: $*" >&2
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null
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

# What an install was made from: a stamp holds the digest of these files, so any change to them (an edit,
# a `git pull`, a switched branch) reinstalls, whatever the files' times say.
digest() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }
# pip, quiet unless it fails (then everything it said, and bootstrap stops)
quiet_pip() {
  local out
  out=$(.venv/bin/python -m pip "$@" 2>&1) || { echo "$out" >&2; echo "bootstrap: pip $1 failed" >&2; exit 1; }
}
# A .venv or node_modules that is a symbolic link belongs to another checkout (tests share one that way):
# it is used as it is, never installed into from here.
refuse_shared() {
  echo "bootstrap: $1 links to $(readlink -f "$1"), installed from other dependency files than this" \
    "checkout's; run \`make bootstrap\` where it lives, or remove the link" >&2
  exit 1
}

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv 2>/dev/null || { apt_install python3-venv; rm -rf .venv; "$PY" -m venv .venv; }
fi
stamp=.venv/.installed
lock=requirements/dev.lock
want=$(digest pyproject.toml "$lock")
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  [ ! -L .venv ] || refuse_shared .venv
  # every package at its pinned version, each file checked against its hash; then the project itself,
  # which adds no package (--no-deps) and builds with the locked setuptools (--no-build-isolation)
  echo "bootstrap: installing the Python packages pinned in $lock into .venv (a few minutes on a fresh machine)" >&2
  quiet_pip install --require-hashes -r "$lock"
  quiet_pip install --no-deps --no-build-isolation -e .
  # a package the lock no longer names goes, so the venv holds the lock and nothing else
  extra=$(.venv/bin/python - "$lock" <<'PY'
import re, sys
from importlib.metadata import distributions
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
locked = {norm(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", open(sys.argv[1]).read(), re.M)}
print(" ".join(sorted({norm(d.metadata["Name"]) for d in distributions()} - locked - {"pip", "exness-v3"})))
PY
)
  # shellcheck disable=SC2086
  [ -z "$extra" ] || quiet_pip uninstall -y $extra
  quiet_pip check
  echo "$want" >"$stamp"
fi

npm_stamp=node_modules/.installed
npm_want=$(digest package.json package-lock.json)
if [ ! -x node_modules/.bin/buf ] || [ ! -x node_modules/.bin/esbuild ] || [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_want" ]; then
  [ ! -L node_modules ] || refuse_shared node_modules
  command -v npm >/dev/null || apt_install npm
  npm ci --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown user config' || true
  for tool in buf esbuild; do
    [ -x "node_modules/.bin/$tool" ] || { echo "bootstrap: $tool did not install" >&2; exit 1; }
  done
  echo "$npm_want" >"$npm_stamp"
fi

# The browser tests (tests/e2e/ui) drive Debian's chromium through Playwright: `playwright install`
# would download a browser build of its own, which this machine cannot fetch.
command -v chromium >/dev/null || apt_install chromium
