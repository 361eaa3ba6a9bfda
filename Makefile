# revisit — developer and operator entry points.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The dashboard's chart library, from the npm registry at install time (never committed, no CDN).
ECHARTS := node_modules/echarts/dist/echarts.min.js
DEMO_DIR ?= demo
DEMO_VEHICLES ?= 20000
DEMO_SEED ?= 7
DEMO_AS_OF ?= $(shell date +%F)
DEMO_DB ?= revisit.db
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: install demo dashboard-screenshot test lint format bench bench-import bench-cohorts bench-dispatch bench-prefect clean

install: $(STAMP) $(ECHARTS)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(ECHARTS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(ECHARTS)

# The demo runs offline: no Twilio credentials, so SMS go to the console channel (files in out/).
demo: export REVISIT_DATABASE_URL = sqlite:///$(DEMO_DB)
demo: export TWILIO_ACCOUNT_SID =
demo: install
	rm -rf $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm out
	$(BIN)/revisit demo-data $(DEMO_DIR) --vehicles $(DEMO_VEHICLES) --seed $(DEMO_SEED) --as-of $(DEMO_AS_OF)
	$(BIN)/revisit import $(DEMO_DIR) --problems out/import-problems.txt
	$(BIN)/revisit overview --as-of $(DEMO_AS_OF)
	$(BIN)/revisit campaign overview --as-of $(DEMO_AS_OF)
	$(BIN)/revisit campaign daily --as-of $(DEMO_AS_OF) --now $(DEMO_AS_OF)T10:00:00
	$(BIN)/revisit demo-month-after out/month-after --as-of $(DEMO_AS_OF) --seed $(DEMO_SEED)
	$(BIN)/revisit import out/month-after --problems out/month-after-problems.txt
	$(BIN)/revisit report

# docs/dashboard.png: the dashboard of the demo (run `make demo` first), in zh, at a desk's width.
dashboard-screenshot: export REVISIT_DATABASE_URL = sqlite:///$(DEMO_DB)
dashboard-screenshot: install
	$(BIN)/revisit report --format html --lang zh --output out/dashboard.html
	$(BIN)/python -m devtools.screenshot out/dashboard.html docs/dashboard.png

lint: install
	$(BIN)/ruff check revisit flows tests bench devtools
	$(BIN)/ruff format --check revisit flows tests bench devtools
	$(BIN)/mypy revisit flows bench devtools

format: install
	$(BIN)/ruff format revisit flows tests bench devtools
	$(BIN)/ruff check --fix revisit flows tests bench devtools

test: lint
	$(BIN)/pytest

BENCH_VEHICLES ?= 1000000

bench: bench-import bench-cohorts bench-dispatch

bench-import: install
	$(BIN)/python -m bench.import_bench --vehicles $(BENCH_VEHICLES)

bench-cohorts: install
	$(BIN)/python -m bench.cohorts --vehicles $(BENCH_VEHICLES)

bench-dispatch: install
	$(BIN)/python -m bench.dispatch

# Scale-out needs a PostgreSQL database it may wipe: REVISIT_BENCH_PG_URL=postgresql+psycopg://…
bench-prefect: install
	$(BIN)/python -m bench.prefect_overhead

clean:
	rm -rf $(VENV) node_modules $(DEMO_DIR) $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
