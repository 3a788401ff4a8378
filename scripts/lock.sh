#!/usr/bin/env bash
# `make lock`: re-resolves the whole dependency set from pyproject.toml to the newest versions it allows and
# pins it, with every file's hash, in two lock files (bootstrap and the Dockerfile install only from them):
#   requirements/runtime.lock  the services' dependencies (the Docker image)
#   requirements/dev.lock      those, at the same versions, plus the dev extra (make test, make up, CI)
# The resolution is universal (any OS and CPU) for CPython 3.11. `scripts/lock.sh --keep` re-resolves
# after an edit of pyproject.toml but keeps every pin that still fits (no upgrades).
set -euo pipefail
cd "$(dirname "$0")/.."
upgrade=--upgrade
[ "${1:-}" = --keep ] && upgrade=""
compile() {
  # shellcheck disable=SC2086
  .venv/bin/uv pip compile pyproject.toml $upgrade --universal --python-version 3.11 --generate-hashes \
    --no-strip-extras --custom-compile-command "make lock" --quiet "$@"
}
mkdir -p requirements
compile -o requirements/runtime.lock
# constrained by the runtime lock, so the image runs exactly the versions the tests ran
compile --extra dev -c requirements/runtime.lock -o requirements/dev.lock
echo "lock: wrote requirements/runtime.lock and requirements/dev.lock; commit both" >&2
