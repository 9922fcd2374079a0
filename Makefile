# Cocreate: two commands.
#   make run    set up a fresh machine and serve the site on http://127.0.0.1:5000
#   make test   install the test tools and run the whole suite on SQLite, then on PostgreSQL
# `make help` lists the other targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

# Stamps: pip runs again only when pyproject.toml is newer than the last install.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: help run test lint format assets install install-dev db seed clean bench

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: install assets db seed ## Set up everything that is missing, then serve on http://127.0.0.1:5000
	@echo "Serving on http://$(HOST):$(PORT) (Ctrl+C stops)"
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install-dev assets ## Install the test tools and system services, then run the suite on SQLite and PostgreSQL
	scripts/ensure-system-deps.sh
	scripts/run-tests.sh

lint: install-dev ## Check style: ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev ## Rewrite files with ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

assets: ## Install the front-end libraries (npm ci) into app/static/vendor
	scripts/build-assets.sh

install: $(RUN_STAMP) ## Create .venv and install the site

install-dev: $(DEV_STAMP) ## Create .venv and install the site with the test and lint tools

db: install ## Apply the migrations (DATABASE_URL, or the SQLite file in instance/)
	$(FLASK) db upgrade

seed: install ## Add the demo community when the database has no people; prints the demo logins
	$(FLASK) seed-demo

# make bench TIER=T1|T2|T3 DB=sqlite|postgres (see docs/performance.md)
TIER ?= T2
DB ?= sqlite

bench: install-dev assets ## Load the site and a plain baseline with wrk (TIER=T1|T2|T3, DB=sqlite|postgres)
	@command -v wrk >/dev/null || { echo "make bench: installing wrk from Debian's packages"; \
	  if [ "$$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk; fi; }
	@$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run --tier $(TIER) --db $(DB)

clean: ## Remove the virtualenv, installed front-end files, caches and test artifacts (keeps instance/)
	rm -rf $(VENV) node_modules app/static/vendor test-artifacts .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -not -path './node_modules/*' -prune -exec rm -rf {} +
	rm -rf *.egg-info build

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "'$(PYTHON) -m venv' failed; on Debian: apt-get install python3-venv" >&2; exit 1; }

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The dev extra includes everything the site needs, so it satisfies `install` too.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)
