# One command reproduces everything, one runs the tests; both set themselves up.
#   make reproduce   create .venv (pinned), fetch + verify raw data, run every notebook
#   make test        same set-up, then pytest (unit tests) and nbval (notebooks)
# Raw files come from $(RAW_DATA_MIRROR) when it is set, otherwise from their URLs.
#   make add-sheet FILE=path/to/participatingAgenciesMMDDYYYYam.xlsx [URL=...]
#                    pin a downloaded ICE sheet (check, cache, registry row)

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Jupyter servers started from .venv scrub notebooks on save (helpers.notebooks.pre_save_hook).
JUPYTER_HOOK := $(VENV)/etc/jupyter/jupyter_server_config.json
KERNEL := python3
NBVAL := --nbval --nbval-kernel-name $(KERNEL) --nbval-sanitize-with tests/nbval_sanitize.cfg
# Make a relative mirror path absolute, so notebooks running in notebooks/ see it too.
ifdef RAW_DATA_MIRROR
export RAW_DATA_MIRROR := $(abspath $(RAW_DATA_MIRROR))
endif
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: reproduce test data lab clean report adapt add-sheet benchmark env

env: $(STAMP) $(JUPYTER_HOOK)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

$(JUPYTER_HOOK): $(STAMP) src/helpers/notebooks.py
	$(BIN)/python -m helpers.notebooks install-jupyter-config

data: env
	$(BIN)/python -m helpers.data fetch

reproduce: data
	$(BIN)/python -m helpers.notebooks run-all

test: data
	$(BIN)/python -m pytest $(NBVAL) tests notebooks

# Students: re-run the analysis with a parameter file, e.g. PARAMS=notebooks/params/wisconsin.yaml
adapt: data
	@test -n "$(PARAMS)" || { echo "usage: make adapt PARAMS=notebooks/params/<name>.yaml"; exit 2; }
	$(BIN)/python -m helpers.notebooks adapt $(PARAMS)

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
	rm -rf $(VENV) data/raw output build .pytest_cache
	find figures data/processed -name '.*.partial' -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
