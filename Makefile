# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install migrate run lint format typecheck openapi openapi-check test bench bench-smoke wrk clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install  ## create or upgrade the database (SQLite file ./lhs.db unless LHS_DATABASE_URL)
	$(BIN)/alembic upgrade head

run: migrate  ## serve the API on http://$(HOST):$(PORT) (docs at /docs); a local admin key in .lhs-admin-key
	$(BIN)/lhs-map local-admin-key --file .lhs-admin-key
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) --proxy-headers --no-access-log --no-server-header

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

openapi: install  ## regenerate the committed OpenAPI document
	$(BIN)/python -m app.http.openapi write openapi/openapi.json

openapi-check: install  ## fail when the committed document differs from the app's
	$(BIN)/python -m app.http.openapi check openapi/openapi.json

test: lint typecheck openapi-check bench-smoke  ## everything CI runs; PostgreSQL too when LHS_TEST_DATABASE_URL is set
	$(BIN)/pytest

wrk:  ## the load generator the benchmark drives the server with (Debian's package)
	@command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null \
	  || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }

bench: install wrk  ## several minutes: the service vs the references (PostgreSQL too with LHS_BENCH_DATABASE_URL)
	$(BIN)/python -m bench

bench-smoke: install  ## a few seconds: tiny data, SQLite, 1 worker, so the harness cannot rot
	$(BIN)/python -m bench --smoke

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
