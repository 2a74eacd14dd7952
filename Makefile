# The README's two commands, `make demo` and `make test`, each set themselves up on a
# fresh machine: they create .venv and install the project into it first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export KEDRO_DISABLE_TELEMETRY := 1

.PHONY: install test lint demo bench clean system-deps

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

lint: install
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo
	$(BIN)/mypy

# strace lets a test see the fsync calls git's core.fsync asks for, chromium runs the
# report's browser tests (Debian's packages; each test is skipped, and says why, where its
# package cannot be installed).
system-deps:
	@command -v strace >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq strace >/dev/null; } || echo "strace could not be installed: the fsync test will be skipped"
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "chromium could not be installed: the report's browser tests will be skipped"

test: lint system-deps
	$(BIN)/pytest -n 2 -q

demo: install
	$(BIN)/python demo/demo.py

bench: install
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/bench_sync.py
	$(BIN)/python bench/bench_hooks.py
	$(BIN)/python bench/bench_digest.py
	$(BIN)/python bench/bench_which.py
	$(BIN)/python bench/bench_query.py
	$(BIN)/python bench/bench_report.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
