# 码上议 Mashangyi. `make run` serves the product; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test bench lint setup clean migration

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: setup
	$(BIN)/mashangyi migrate
	$(BIN)/mashangyi demo
	$(BIN)/mashangyi serve

lint: setup
	$(BIN)/ruff check server signaling tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# The dispatch benchmark drops and recreates the schema of its PostgreSQL database
# (default msy_bench: createdb -h 127.0.0.1 -U postgres msy_bench); DISPATCH_ARGS=--sqlite
# runs it on a temporary SQLite file instead. See benchmarks/README.md.
DISPATCH_ARGS ?=
# The live-room benchmark needs PostgreSQL too (default msy_bench_live, schema dropped).
LIVE_ARGS ?=
# The media benchmark: PostgreSQL msy_bench_media (made if missing, schema dropped).
MEDIA_ARGS ?=
# The report benchmark: PostgreSQL msy_bench_reports (schema dropped); REPORTS_ARGS=--sqlite for SQLite.
REPORTS_ARGS ?=

bench: setup
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/dispatch.py $(DISPATCH_ARGS)
	$(BIN)/python benchmarks/live_fanout.py $(LIVE_ARGS)
	$(BIN)/python benchmarks/media.py $(MEDIA_ARGS)
	$(BIN)/python benchmarks/reports.py $(REPORTS_ARGS)

# Developers: autogenerate a migration from the models, e.g. make migration m="add votes"
migration: setup
	MASHANGYI_DATA_DIR=$$(mktemp -d) sh -c '$(BIN)/mashangyi migrate && $(BIN)/mashangyi revision -m "$(m)"'

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
