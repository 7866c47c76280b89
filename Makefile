# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench-media bench-schedule bench-recorder clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/sanke serve --demo

# PYTEST_ARGS="-n 2" runs the tests on two workers (pytest-xdist): much of the suite waits rather than computes.
# Not the default until a full run on a quiet machine has been green that way.
PYTEST_ARGS ?=

test: $(BIN)/.installed
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

bench-media: $(BIN)/.installed
	$(BIN)/sanke bench media

bench-schedule: $(BIN)/.installed
	$(BIN)/sanke bench schedule

bench-recorder: $(BIN)/.installed
	$(BIN)/sanke bench recorder

clean:
	rm -rf $(VENV) var
