# The two commands a new user needs: `make up` (the main job) and `make test`.
# Both create .venv and install the project into it first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install up test lint bench

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

install: $(BIN)/.installed

up: install
	$(BIN)/dlr up

lint: install
	$(BIN)/ruff check streams tests examples
	$(BIN)/mypy

# Every tier (unit, integration, e2e, reliability), property tests at full depth.
test: lint
	DLR_TESTS=thorough $(BIN)/python -m pytest tests
