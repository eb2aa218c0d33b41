# Two commands matter: `make run` and `make test`. Everything else is a step they share.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
VENDOR := static/vendor

.PHONY: run test deps browser assets migrate seed serve lint bench bench-tools clean

run: deps migrate seed
	@echo ""
	@echo "  Relay is starting on http://127.0.0.1:8000  (web + Celery worker + Celery beat; Ctrl-C stops all)"
	@echo ""
	$(VENV)/bin/honcho -f Procfile.dev start

test: deps browser
	$(PY) -m pytest $(PYTEST_ARGS)

# The browser walkthroughs (tests/e2e) drive Debian's Chromium; Playwright never downloads one.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get install -y --no-install-recommends chromium || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }; }

deps: $(PIP_STAMP) assets

$(PIP_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Third-party front-end code comes from npm and is copied into static/vendor (git-ignored).
assets: $(NPM_STAMP)
	mkdir -p $(VENDOR)
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js

migrate: deps
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Every speed benchmark at full size, written to var/bench.md with the machine's cores and memory.
# Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL); takes about an hour at the default sizes.
BENCH_CONTACTS ?= 1000000
BENCH_DELIVERIES ?= 10000000
# wrk (Debian's C load generator) drives bench_fakeproviders; a Python client would be the bottleneck.
bench-tools:
	@command -v wrk >/dev/null || { echo "Installing Debian's wrk for bench_fakeproviders"; \
	  $(SUDO) apt-get install -y --no-install-recommends wrk || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends wrk; }; }

bench: deps bench-tools
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || { echo "make bench needs DATABASE_URL and REDIS_URL (PostgreSQL, Redis)"; exit 1; }
	$(PY) manage.py bench_all --contacts $(BENCH_CONTACTS) --deliveries $(BENCH_DELIVERIES) --out var/bench.md

lint: deps
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) node_modules $(VENDOR) staticfiles var
