# revisit — developer and operator entry points.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_VEHICLES ?= 20000
DEMO_SEED ?= 7
DEMO_AS_OF ?= $(shell date +%F)
DEMO_DB ?= revisit.db
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: install demo test lint format bench bench-import clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/revisit demo-data $(DEMO_DIR) --vehicles $(DEMO_VEHICLES) --seed $(DEMO_SEED) --as-of $(DEMO_AS_OF)
	REVISIT_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/revisit import $(DEMO_DIR)
	REVISIT_DATABASE_URL=sqlite:///$(DEMO_DB) $(BIN)/revisit demo-report --as-of $(DEMO_AS_OF)

lint: install
	$(BIN)/ruff check revisit flows tests bench
	$(BIN)/ruff format --check revisit flows tests bench
	$(BIN)/mypy revisit flows bench

format: install
	$(BIN)/ruff format revisit flows tests bench
	$(BIN)/ruff check --fix revisit flows tests bench

test: lint
	$(BIN)/pytest

bench: bench-import

bench-import: install
	$(BIN)/python -m bench.import_bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
