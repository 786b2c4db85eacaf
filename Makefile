# The few commands people type. On a fresh machine with Python 3.11+:
#   make run    install everything, run the daily job on DuckDB against the local server
#   make test   install everything, lint, run every test suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MELTANO := $(BIN)/meltano

# The quick-start window (dev). `make run START=... END=...` or `make backfill ...` move it.
START ?= 2024-11-25
END ?= 2024-12-01
JOB ?= daily

export BNPL_DUCKDB_PATH ?= $(CURDIR)/output/bnpl.duckdb
export MELTANO_CLI_DISABLE_VERSION_CHECK := true
export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Every venv (this one, Meltano's plugin venvs, the test runners added to them) is installed
# with its bytecode compiled, which uv skips by default: where PYTHONDONTWRITEBYTECODE is set,
# every process would otherwise compile what it imports again, each time it starts.
export UV_COMPILE_BYTECODE := 1

# What the project venv holds: Meltano itself, the linters and test runner, the tap (for
# its own tests) and the local simtom-compatible server `simtom-local` (simtom-local/).
# Plugins get their own venvs.
DEV_REQUIREMENTS := meltano==4.4.1 ruff==0.17.6 "pytest>=8,<10" pytest-xdist==3.8.0 duckdb==1.5.5 \
	-e "./tap-simtom-bnpl[test]" -e "./simtom-local[test]"
# Re-install when any of these change; otherwise `make install` takes a few seconds.
INSTALL_INPUTS := Makefile meltano.yml $(wildcard plugins/*.meltano.yml) \
	tap-simtom-bnpl/pyproject.toml simtom-local/pyproject.toml plugins/quality/pyproject.toml \
	plugins/target_duckdb_append/pyproject.toml plugins/load_check/pyproject.toml \
	plugins/ml/pyproject.toml

STATE_ID_DEV := dev:tap-simtom-bnpl-to-target-duckdb-append
# The same pipeline's state id while the loader was the Meltano plugin `target-duckdb`:
# `make migrate-state` moves it, `make reset` clears it too.
STATE_ID_DEV_BEFORE_RENAME := dev:tap-simtom-bnpl-to-target-duckdb

.PHONY: help
help: ## Show the commands
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv (which Meltano uses for the plugin venvs too) resolves and installs in a fraction of
# pip's time from an empty cache; its cache (~/.cache/uv) makes reinstalls quick.
$(VENV)/.dev-installed: $(BIN)/python Makefile tap-simtom-bnpl/pyproject.toml \
		simtom-local/pyproject.toml
	$(BIN)/python -m pip install --quiet "uv>=0.9,<1"
	$(BIN)/uv pip install --quiet --python $(BIN)/python $(DEV_REQUIREMENTS)
	touch $@

.meltano/.plugins-installed: $(VENV)/.dev-installed $(INSTALL_INPUTS)
	$(MELTANO) install
	touch $@

.PHONY: install
install: .meltano/.plugins-installed ## Create .venv, install Meltano and every plugin (idempotent)
	@mkdir -p output

.PHONY: run
run: install ## Run the daily job on DuckDB for START..END against the local server, then summarise
	START=$(START) END=$(END) JOB=$(JOB) bash scripts/run_local.sh

# Sixteen windows in flight: simtom pauses between the days of one request, and concurrent
# requests overlap those pauses (docs/tuning.md). bench/backfill.py measures a year against a
# server paced like simtom, bench/backfill_memory.py the tap's peak memory with 16 windows
# in flight against 1 (the windows after the first hold their bodies on disk): see
# docs/benchmarks.md.
.PHONY: backfill
backfill: install ## Backfill START..END on DuckDB (same state as the daily job), e.g. START=2024-01-01 END=2024-11-24
	TAP_SIMTOM_BNPL_MAX_PARALLEL_REQUESTS=$${TAP_SIMTOM_BNPL_MAX_PARALLEL_REQUESTS:-16} \
		START=$(START) END=$(END) JOB=backfill bash scripts/run_local.sh

.PHONY: summary
summary: ## Print the summary of the DuckDB warehouse again
	$(BIN)/python scripts/summary.py

.PHONY: state
state: install ## Show the pipeline state (the bookmark the next run continues from)
	$(MELTANO) --environment=dev state list
	$(MELTANO) --environment=dev state get $(STATE_ID_DEV)

.PHONY: migrate-state
migrate-state: install ## Once after upgrading: move the dev state saved under the loader's old name
	$(BIN)/python orchestrate/migrate_state.py --environment=dev

.PHONY: schedules
schedules: install ## List the Meltano schedules
	$(MELTANO) schedule list

.PHONY: lint
lint: $(VENV)/.dev-installed ## ruff check + ruff format --check over the repo
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: format
format: $(VENV)/.dev-installed ## Fix lint and formatting where ruff can
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The suites of the server, the tap and the plugins are one process each: two run at a time,
# then the project tests, which keep both cores busy on their own.
UNIT_SUITES := test-simtom-local test-tap test-loader test-quality test-load-check test-ml

.PHONY: test
test: install lint ## Install, lint and run every test suite
	$(MAKE) --no-print-directory -j2 --output-sync=target $(UNIT_SUITES)
	$(MAKE) --no-print-directory test-project

.PHONY: test-simtom-local
test-simtom-local: install ## The local simtom-compatible server's tests (HTTP over loopback)
	$(BIN)/pytest simtom-local/tests

.PHONY: test-tap
test-tap: install ## The tap's tests (unit, SDK standard tests, HTTP against the local server)
	$(BIN)/pytest tap-simtom-bnpl/tests

# The DuckDB loader's tests run it as a subprocess of its own venv (the one `target-duckdb-append`
# uses), with pytest added to it.
LOADER_PYTHON := .meltano/loaders/target-duckdb-append/venv/bin/python

.PHONY: test-loader
test-loader: install ## The DuckDB loader's tests (target_duckdb_append), in the loader's own venv
	$(BIN)/uv pip install --quiet --python $(LOADER_PYTHON) "pytest>=8,<10"
	$(LOADER_PYTHON) -m pytest plugins/target_duckdb_append/tests

# The quality utility's tests import Great Expectations in-process, so they run in the
# utility's own venv (the one `quality:gate` uses), with pytest added to it.
QUALITY_PYTHON := .meltano/utilities/quality/venv/bin/python

.PHONY: test-quality
test-quality: install ## The quality utility's tests, in the quality plugin's own venv
	$(BIN)/uv pip install --quiet --python $(QUALITY_PYTHON) "pytest>=8,<10"
	$(QUALITY_PYTHON) -m pytest plugins/quality/tests

# The load check's tests run its console script, so they run in the utility's own venv
# (the one `load-check:preflight` uses), with pytest added to it.
LOAD_CHECK_PYTHON := .meltano/utilities/load-check/venv/bin/python

.PHONY: test-load-check
test-load-check: install ## The load check utility's tests, in the load-check plugin's own venv
	$(BIN)/uv pip install --quiet --python $(LOAD_CHECK_PYTHON) "pytest>=8,<10"
	$(LOAD_CHECK_PYTHON) -m pytest plugins/load_check/tests

# The ML utility's tests train models in-process, so they run in the utility's own venv
# (the one `ml:train` uses), with pytest added to it.
ML_PYTHON := .meltano/utilities/ml/venv/bin/python

.PHONY: test-ml
test-ml: install ## The ML utility's tests (planted signal, column roles, runs table, model card), in its own venv
	$(BIN)/uv pip install --quiet --python $(ML_PYTHON) "pytest>=8,<10"
	$(ML_PYTHON) -m pytest plugins/ml/tests

# A job run keeps about one core busy (each step is one process, most of it start-up), so the
# project tests run in two pytest-xdist workers, each test sent to whichever is free; what
# several tests start from is built once for both (conftest.built_once); a third worker only
# adds contention (docs/tuning.md). --durations keeps the slowest tests in view, and the CPU
# time printed at the end the least wall time they can take.
TEST_WORKERS ?= 2

.PHONY: test-project
test-project: install ## Project tests (tests/): the jobs end to end on DuckDB and the BigQuery emulator, dbt, Airflow, reliability
	$(BIN)/pytest -n $(TEST_WORKERS) --durations=15 tests

.PHONY: bench
bench: install ## Run the benchmarks one after the other (about an hour) and rewrite docs/benchmarks.md
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	$(BIN)/python -m bench.run_all

.PHONY: reset
reset: $(VENV)/.dev-installed ## Forget the dev pipeline state and delete output/ (the next run starts over)
	-$(MELTANO) --environment=dev state clear --force $(STATE_ID_DEV)
	-$(MELTANO) --environment=dev state clear --force $(STATE_ID_DEV_BEFORE_RENAME)
	rm -rf output

.PHONY: clean
clean: ## Remove the venvs and everything generated (output/, .meltano/, dbt target/)
	rm -rf $(VENV) .meltano transform/target transform/logs
	rm -rf output
