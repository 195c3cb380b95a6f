# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Two installs from one lock: what serving needs (`make run`), and that plus the dev extra
# (`make test`). Each has its stamp, so neither is redone while the lock is unchanged.
SERVE_STAMP := $(VENV)/.installed-serve
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
WORKERS ?= 1
# Where the worker processes add up their metrics (emptied at each start; one per port).
METRICS_DIR ?= .metrics/$(PORT)

.PHONY: install install-serve lock migrate run lint format typecheck openapi openapi-check test test-quick bench bench-national bench-smoke wrk clean

# Installs come from uv.lock, never from a fresh resolution: every machine gets the same
# versions. uv is the machine's own if it has one, else bootstrapped with pip into .tools/.
UV_VERSION ?= 0.13.9
UV         ?= $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
# uv never downloads a Python of its own here: it uses $(PYTHON).
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Installed packages are compiled to bytecode once, here: where PYTHONDONTWRITEBYTECODE is set
# (this project's machines set it) nothing else writes .pyc files, and every process (the CLI,
# each uvicorn the tests start) then compiled its imports from source again, 1.5 s of CPU each.
export UV_COMPILE_BYTECODE := 1

.tools/bin/uv:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .tools 'uv==$(UV_VERSION)'

define CHECK_LOCK
@$(UV) lock --check --quiet || { \
  echo "FATAL: uv.lock does not match pyproject.toml. Run 'make lock' and commit uv.lock." >&2; \
  exit 1; }
endef

# --inexact: serving never uninstalls the dev extra a `make test` put there before it.
$(SERVE_STAMP): pyproject.toml uv.lock | $(UV)
	$(CHECK_LOCK)
	$(UV) sync --frozen --inexact --python $(PYTHON)
	touch $(SERVE_STAMP)

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(CHECK_LOCK)
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	touch $(STAMP) $(SERVE_STAMP)

install-serve: $(SERVE_STAMP)  ## the locked versions serving needs (no dev extra), into .venv

install: $(STAMP)  ## the locked versions, with the dev extra, into .venv

lock: | $(UV)  ## after changing dependencies in pyproject.toml: re-resolve and rewrite uv.lock
	$(UV) lock

migrate: install-serve  ## create or upgrade the database (lhs.db under LHS_HOME, this folder, unless LHS_DATABASE_URL)
	$(BIN)/lhs-map migrate

run: migrate  ## serve the API on http://$(HOST):$(PORT) (docs at /docs, metrics at /metrics); a local admin key in .lhs-admin-key
	$(BIN)/lhs-map local-admin-key --file .lhs-admin-key
	$(BIN)/python -m app.http.metrics prepare $(METRICS_DIR)
	PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR) $(BIN)/uvicorn app.main:app --no-proxy-headers --no-access-log --no-server-header --host $(HOST) --port $(PORT) --workers $(WORKERS)

lint: install  ## style, and the layer contracts on imports (pyproject.toml, docs/decisions.md)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

openapi: install  ## regenerate the committed OpenAPI document
	$(BIN)/python -m app.http.openapi write openapi/openapi.json

openapi-check: install  ## fail when the committed document differs from the app's
	$(BIN)/python -m app.http.openapi check openapi/openapi.json

# The suite runs on TEST_WORKERS processes (pytest-xdist), each with a database of its own;
# tests sharing a module-scoped server stay on one worker (--dist loadgroup).
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup
QUICK  := not slow and not browser and not real_server

test: lint typecheck openapi-check bench-smoke  ## everything CI runs; PostgreSQL too when LHS_TEST_DATABASE_URL is set
	$(PYTEST)

test-quick: lint typecheck  ## the inner loop: the suite without the slow, browser and real-server tests
	$(PYTEST) -m "$(QUICK)"

wrk:  ## the load generator the benchmark drives the server with (Debian's package)
	@command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null \
	  || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; }

bench: install wrk  ## several minutes: the service vs the references (PostgreSQL too with LHS_BENCH_DATABASE_URL)
	$(BIN)/python -m bench

# A scratch PostgreSQL database of its own (it makes and drops <name>_copy and <name>_curve too).
NATIONAL_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/bench_national

bench-national: install wrk  ## 15 minutes on a quiet machine: England's shape, loaded by import and by COPY, its reads and growth curve
	LHS_BENCH_DATABASE_URL=$(NATIONAL_DATABASE_URL) $(BIN)/python -m bench national --curve

bench-smoke: install  ## a few seconds: tiny data, SQLite, 1 worker, so the harness cannot rot
	$(BIN)/python -m bench --smoke

clean:
	rm -rf $(VENV) .tools .metrics .mypy_cache .ruff_cache .pytest_cache *.egg-info
