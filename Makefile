# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# What is installed, each reinstalled only when the pins or the metadata change: the runtime
# (all `make demo` needs) and the dev extra on top (tests, linters, type checker, pyspark).
STAMP := $(VENV)/.keel-installed
DEV_STAMP := $(VENV)/.keel-dev-installed
PIP := $(BIN)/python -m pip install --quiet -c constraints.txt

.PHONY: demo test lint typecheck unit install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $(STAMP)

# The dev extra includes the runtime, so it refreshes both stamps.
$(DEV_STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e ".[dev]"
	touch $(STAMP) $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/keel demo --fresh

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

unit: $(DEV_STAMP)
	$(BIN)/python -m pytest tests/unit

clean:
	rm -rf .keel .pytest_cache .mypy_cache .ruff_cache
