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

# The suite in two parts: everything but the `solo` tests on PYTEST_WORKERS workers (pytest-xdist: much of the
# suite waits rather than computes; tests sharing a package's server or Chromium stay on one worker), then the
# `solo` tests (they measure latency or CPU) alone. Both parts always run; either failing fails `make test`.
# PYTEST_ARGS goes to both parts (paths, -k, -x; not -m). PYTEST_WORKERS=0: the first part in one process.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

test: $(BIN)/.installed
	$(BIN)/mypy
	@a=0; b=0; \
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not solo" $(PYTEST_ARGS) || a=$$?; \
	$(BIN)/pytest -m solo $(PYTEST_ARGS) || b=$$?; \
	if [ $$a -eq 5 ] && [ $$b -eq 5 ]; then exit 5; fi; \
	[ $$a -eq 5 ] && a=0; [ $$b -eq 5 ] && b=0; \
	exit $$(( a ? a : b ))

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
