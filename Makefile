# The two commands of the README: `make up` runs the platform, `make test` runs every test.
# Both bootstrap what they need (virtualenv, packages, buf, Redis/PostgreSQL/MongoDB-protocol servers).
.PHONY: bootstrap services test lint proto proto-check web up bench clean

VENV_BIN := .venv/bin
BUF := node_modules/.bin/buf

bootstrap:
	@bash scripts/bootstrap.sh

services: bootstrap
	@bash scripts/services.sh ensure

test: bootstrap services
	$(BUF) lint
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/mypy
	$(VENV_BIN)/python -m pytest -q -p no:cacheprovider

lint: bootstrap
	$(BUF) lint
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/mypy

proto: bootstrap
	$(VENV_BIN)/python scripts/gen_proto.py

proto-check: bootstrap
	$(VENV_BIN)/python scripts/gen_proto.py --check

web: bootstrap
	npm run --silent build:web

up: bootstrap
	@bash scripts/up.sh

clean:
	rm -rf .venv node_modules .pytest_cache .mypy_cache .ruff_cache
