# One command reproduces everything, one runs the tests; both set themselves up.
#   make reproduce   create .venv (pinned), fetch + verify raw data, run every notebook (in parallel, 99_claims last)
#   make test        same set-up, then pytest (unit tests, parameter files) and nbval (notebooks), on every core
#   make lint        ruff (lint and format check) and mypy over src/helpers
#   make benchmark   timings against floors measured in the same run -> docs/benchmark.md
# Raw files come from $(RAW_DATA_MIRROR) when it is set, otherwise from their URLs.
# JOBS=N runs N notebooks (and N test workers) at once; the default is every core this machine lets us use.
#   make add-sheet FILE=path/to/participatingAgenciesMMDDYYYYam.xlsx [URL=...]
#                    pin a downloaded ICE sheet (check, cache, registry row)

SHELL := /bin/bash
# A failing command in a pipe (pip | filter) fails the recipe.
.SHELLFLAGS := -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Jupyter servers started from .venv scrub notebooks on save (helpers.notebooks.pre_save_hook).
JUPYTER_HOOK := $(VENV)/etc/jupyter/jupyter_server_config.json
KERNEL := python3
NBVAL := --nbval --nbval-kernel-name $(KERNEL) --nbval-sanitize-with tests/nbval_sanitize.cfg
PINNED := $(shell grep -c '==' requirements.lock)
JOBS ?= $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())')
# pytest-xdist: one worker per job; -n 0 (no workers) on one core. Notebooks and the tests that read what they write
# stay on one worker, in order (tests/conftest.py).
XDIST := $(if $(filter 1,$(JOBS)),-n 0,-n $(JOBS) --dist loadgroup)
# Files whose format `make lint` checks (`make format` formats them).
FORMATTED := src tests
# This machine's pip configuration (`pip config list`) names extra index folders that do not exist, and pip warns
# "Location ... is ignored" once per package. Those lines, and only those, are left out (and counted); every other
# warning and every error is shown.
PIP_FILTER := awk '/^WARNING: Location .* is ignored: it is neither a file nor a directory/ {n++; next} {print} \
	END {if (n) print "  (left out " n " pip warnings about index folders in the pip configuration that do not exist)"}'
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# Make a relative mirror path absolute, so notebooks running in notebooks/ see it too (also when it is given as
# `make test RAW_DATA_MIRROR=...`).
ifdef RAW_DATA_MIRROR
override RAW_DATA_MIRROR := $(abspath $(RAW_DATA_MIRROR))
export RAW_DATA_MIRROR
endif
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: reproduce test data lab clean report adapt add-sheet benchmark env lint format

env: $(STAMP) $(JUPYTER_HOOK)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version'
	@if [ -d $(VENV) ]; then echo "Updating the environment in $(VENV)/ (requirements.lock or pyproject.toml changed)"; \
	else echo "Creating the environment in $(VENV)/ with $$($(PYTHON) --version)"; fi
	@$(PYTHON) -m venv $(VENV)
	@echo "Installing $(PINNED) pinned packages from requirements.lock; this takes a few minutes the first time"
	@$(PIP_INSTALL) -r requirements.lock 2>&1 | $(PIP_FILTER)
	@$(PIP_INSTALL) --no-deps --no-build-isolation -e . 2>&1 | $(PIP_FILTER)
	@touch $(STAMP)
	@echo "Environment ready: $(VENV)/"

$(JUPYTER_HOOK): $(STAMP) src/helpers/notebooks.py
	@$(BIN)/python -m helpers.notebooks install-jupyter-config >/dev/null

data: env
	@$(BIN)/python -m helpers.data fetch

reproduce: data
	@$(BIN)/python -m helpers.notebooks run-all -j $(JOBS)

test: data
	@echo "Running the tests ($(JOBS) at a time): unit tests, parameter files and the notebooks under nbval"
	$(BIN)/python -m pytest -p tests.quick_imports $(NBVAL) $(XDIST) tests notebooks

lint: env
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check $(FORMATTED)
	$(BIN)/mypy

# Formats every Python file and applies ruff's safe fixes.
format: env
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

# Students: re-run the analysis with a parameter file, e.g. PARAMS=notebooks/params/wisconsin.yaml
adapt: data
	@test -n "$(PARAMS)" || { echo "usage: make adapt PARAMS=notebooks/params/<name>.yaml"; exit 2; }
	@$(BIN)/python -m helpers.notebooks adapt $(PARAMS) -j $(JOBS)

# Pin a newly downloaded ICE sheet: make add-sheet FILE=output/downloads/participatingAgencies01152026am.xlsx
add-sheet: data
	@test -n "$(FILE)" || { echo "usage: make add-sheet FILE=path/to/participatingAgenciesMMDDYYYYam.xlsx [URL=https://...]"; exit 2; }
	$(BIN)/python -m helpers.data add "$(FILE)" $(if $(URL),--url "$(URL)")

report: env
	$(BIN)/python -m helpers.report

lab: data
	$(BIN)/jupyter lab notebooks/

benchmark: data
	$(BIN)/python tests/benchmark.py

clean:
	rm -rf $(VENV) data/raw data/interim output build .pytest_cache .mypy_cache .ruff_cache
	find figures data/processed -name '.*.partial' -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
