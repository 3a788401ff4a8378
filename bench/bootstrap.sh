#!/usr/bin/env bash
# What `make bench` needs beyond scripts/bootstrap.sh: the wrk load generator (Debian package) and the
# `bench` extras (psutil for per-process CPU/RSS, matplotlib for the chart, py-spy for profiles) in .venv.
# Idempotent and quick when both are present.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

if ! command -v wrk >/dev/null; then
  echo "bench: installing Debian package: wrk" >&2
  as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk >/dev/null
fi
if ! .venv/bin/python -c 'import psutil, matplotlib' 2>/dev/null || [ ! -x .venv/bin/py-spy ]; then
  echo "bench: installing the bench extras (psutil, matplotlib, py-spy)" >&2
  .venv/bin/python -m pip install -q -e '.[dev,bench]' 2>&1 | grep -v "is ignored: it is neither" || true
  .venv/bin/python -c 'import psutil, matplotlib'
fi
