# Two entry points that work on a fresh machine with Python 3.11+:
#   make demo   -- a real pipeline, end to end
#   make test   -- lint, strict type checks and the whole test suite
# and, for CI (.ci/run runs all three tests):
#   make test-lowest -- the test suite against the lowest versions pyproject.toml allows
#   make test-noextras -- sluiceway without any extra: imports and install hints
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOWEST_VENV ?= .venv-lowest
LOWEST_BIN := $(LOWEST_VENV)/bin
SOURCES := src tests benchmarks

.PHONY: demo test test-lowest lint typecheck pytest bench clean services

$(BIN)/python $(LOWEST_BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sluiceway needs Python 3.11 or newer (try: make PYTHON=python3.11 ...)")'
	$(PYTHON) -m venv $(@D:/bin=)
	$(@D)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	scripts/install $(BIN)/python $*
	@touch $@

# Every direct dependency at its lower bound (lowest-direct resolution): the
# constraints file pins them, for uv and pip alike.
$(LOWEST_VENV)/.installed-%: pyproject.toml scripts/lowest-constraints | $(LOWEST_BIN)/python
	scripts/lowest-constraints $* > $(LOWEST_VENV)/constraints-$*.txt
	scripts/install $(LOWEST_BIN)/python $* $(LOWEST_VENV)/constraints-$*.txt
	@touch $@

demo: $(VENV)/.installed-dev
	$(BIN)/sluiceway demo

test: lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

# --verifytypes: every public name's type is known (100%, or it fails). It reads
# the package from src/, which the editable install's hook hides from pyright.
typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy
	$(BIN)/pyright --pythonpath $(BIN)/python
	PYTHONPATH=src $(BIN)/pyright --pythonpath $(BIN)/python --verifytypes sluiceway --ignoreexternal

# Branch coverage of src/ (pyproject's [tool.coverage.*]: subprocesses too, a floor
# under which it fails). Only here: a plain `pytest tests/x` stays fast. For a part
# of the suite without the floor: make pytest COV_ARGS= PYTEST_ARGS=tests/ops
COV_ARGS ?= --cov --cov-report=term-missing:skip-covered
# Two workers (pytest-xdist), one per core, each in development mode (-X dev does
# not pass from this process to the workers). Every test names its own slots,
# tables, channels and ports, so they share the services safely. WORKERS=
# runs it in one process.
WORKERS ?= -d --tx "2*popen//python=$(BIN)/python -X dev"
pytest: $(VENV)/.installed-dev
	$(BIN)/python -X dev -m pytest $(WORKERS) $(COV_ARGS) $(PYTEST_ARGS)

# Only the tests: old linters and type checkers would judge the code differently.
test-lowest: $(LOWEST_VENV)/.installed-test
	$(LOWEST_BIN)/python -X dev -m pytest $(PYTEST_ARGS)

# Opt-in, for developers: install wal2json and set wal_level = logical on the
# local PostgreSQL (restarts it once). `make test` never touches the server.
services:
	scripts/services

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(LOWEST_VENV) $(NOEXTRAS_VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis

# sluiceway installed without any extra (and pytest): every subpackage imports, and
# each missing extra is named with its pip command (tests/noextras, and only those).
NOEXTRAS_VENV ?= .venv-noextras
NOEXTRAS_BIN := $(NOEXTRAS_VENV)/bin

.PHONY: test-noextras

$(NOEXTRAS_VENV)/.installed: pyproject.toml scripts/install-noextras
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sluiceway needs Python 3.11 or newer (try: make PYTHON=python3.11 ...)")'
	$(PYTHON) -m venv $(NOEXTRAS_VENV)
	scripts/install-noextras $(NOEXTRAS_BIN)/python
	@touch $@

test-noextras: $(NOEXTRAS_VENV)/.installed
	SLUICEWAY_NOEXTRAS=1 $(NOEXTRAS_BIN)/python -X dev -m pytest tests/noextras
