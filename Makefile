# Two entry points that work on a fresh machine with Python 3.11+:
#   make demo   -- a real pipeline, end to end
#   make test   -- lint, strict type checks and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SOURCES := src tests benchmarks

.PHONY: demo test lint typecheck pytest bench clean services

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sluiceway needs Python 3.11 or newer (try: make PYTHON=python3.11 ...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	scripts/install $(BIN)/python $*
	@touch $@

demo: $(VENV)/.installed-dev
	$(BIN)/sluiceway demo

test: lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy
	$(BIN)/pyright --pythonpath $(BIN)/python

pytest: $(VENV)/.installed-dev
	$(BIN)/python -X dev -m pytest $(PYTEST_ARGS)

# Opt-in, for developers: install wal2json and set wal_level = logical on the
# local PostgreSQL (restarts it once). `make test` never touches the server.
services:
	scripts/services

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
