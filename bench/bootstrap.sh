#!/usr/bin/env bash
# What `make bench` needs beyond scripts/bootstrap.sh: the wrk load generator (Debian package). Its Python
# packages (psutil, matplotlib, py-spy) are in the dev set pinned in requirements/dev.lock, installed by
# scripts/bootstrap.sh. Idempotent and quick when wrk is present.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

if ! command -v wrk >/dev/null; then
  echo "bench: installing Debian package: wrk" >&2
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq wrk >/dev/null
fi
.venv/bin/python -c 'import psutil, matplotlib'  # from requirements/dev.lock (scripts/bootstrap.sh)
