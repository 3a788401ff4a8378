# The two commands of the README: `make up` runs the platform, `make test` runs every test.
# Both bootstrap what they need (virtualenv, packages, buf, Redis/PostgreSQL/MongoDB-protocol servers).
.PHONY: bootstrap services test chaos lint proto proto-check web up bench clean

VENV_BIN := .venv/bin
BUF := node_modules/.bin/buf

bootstrap:
	@bash scripts/bootstrap.sh

services: bootstrap
	@bash scripts/services.sh ensure

# Two checks report without failing until they are switched to `enforce` (one line each):
#   FORMAT_CHECK  ruff format --check; enforce once the tree has been formatted (`.venv/bin/ruff format .`)
#   SIZE_CHECK    scripts/code_size.py (module, function and complexity limits); enforce once nothing is over
FORMAT_CHECK ?= enforce
SIZE_CHECK ?= enforce
ifeq ($(FORMAT_CHECK),enforce)
FORMAT_CHECK_RUN := $(VENV_BIN)/ruff format --check .
else
FORMAT_CHECK_RUN := $(VENV_BIN)/ruff format --check . | tail -n 1
endif
define LINT_STEPS
	$(BUF) lint
	$(VENV_BIN)/ruff check .
	$(FORMAT_CHECK_RUN)
	$(VENV_BIN)/mypy
	$(VENV_BIN)/lint-imports --no-cache
	$(VENV_BIN)/python scripts/code_size.py $(if $(filter enforce,$(SIZE_CHECK)),--enforce)
endef

# --durations: the slowest tests, printed at the end (what to trim when the suite's time grows)
test: bootstrap services
	$(LINT_STEPS)
	$(VENV_BIN)/python -m pytest -q -p no:cacheprovider --durations=25

# the fault tests alone (tests/chaos, also part of `make test`): each fault under load, figures printed at the end
chaos: bootstrap services
	$(VENV_BIN)/python -m pytest -q -p no:cacheprovider -m chaos tests/chaos

lint: bootstrap
	$(LINT_STEPS)

proto: bootstrap
	$(VENV_BIN)/python scripts/gen_proto.py

proto-check: bootstrap
	$(VENV_BIN)/python scripts/gen_proto.py --check

web: bootstrap
	npm run --silent build:web

up: bootstrap
	@bash scripts/up.sh

# upgrades every pinned dependency (requirements/*.lock) to the newest versions pyproject.toml allows
.PHONY: lock
lock: bootstrap
	@bash scripts/lock.sh

# wipes this checkout's local state (its Redis keys, PostgreSQL database, snapshots and .data), nothing else
.PHONY: reset
reset: bootstrap
	@.venv/bin/python scripts/local_state.py reset

# load benchmark (wrk + the whole platform); options: make bench BENCH_ARGS="--quick --connections 1,64"
bench: bootstrap services
	@bash bench/bootstrap.sh
	$(VENV_BIN)/python -m bench.load $(BENCH_ARGS)

clean:
	rm -rf .venv node_modules .pytest_cache .mypy_cache .ruff_cache
