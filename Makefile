# kstore: `make up` runs the platform on the embedded default; `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
KSTORE := $(VENV)/bin/kstore
SQL_PATHS := $(wildcard migrations sql policies tests/pgtap)

.DEFAULT_GOAL := help
.PHONY: help setup lint pytest pgtap test up down status docs reset clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: $(VENV)/.installed ## system packages (only missing ones), virtualenv, pinned Python deps
	@scripts/install-system-packages.sh

$(VENV)/.installed: requirements.lock pyproject.toml
	@scripts/install-system-packages.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

lint: setup ## sqlfluff over every SQL file (dbt models from dbt_project/, for its templater)
	$(VENV)/bin/sqlfluff lint $(SQL_PATHS)
	cd dbt_project && ../$(VENV)/bin/sqlfluff lint models

pgtap: setup ## pg_prove over tests/pgtap/ on freshly migrated databases (each storage path here)
	$(PY) -m kstore.testing pgtap

pytest: setup ## unit and integration tests on real PostgreSQL clusters
	$(PY) -m pytest

test: setup lint pgtap pytest ## everything: lint, pgTAP, pytest

up: setup ## the platform on the embedded default (simulator, 3 gatherers, dedup) until Ctrl-C
	$(KSTORE) up

down: ## stop the embedded clusters
	$(KSTORE) db down

status: ## every database, its DSN and storage path
	$(KSTORE) db status

# The databases are started and migrated first (both idempotent), so it needs no variables.
docs: setup ## dbt docs generate against the local production (then open .kstore/dbt/target/index.html)
	$(KSTORE) db up > /dev/null
	$(KSTORE) migrate > /dev/null
	$(KSTORE) transform --docs

reset: setup ## empty the local databases and lake, migrated again (the clusters stay)
	$(KSTORE) db reset --yes

# The clusters are stopped before their data directories go (never deleted under a running
# server); without .venv/bin/kstore to stop them, nothing is deleted. .venv stays: `rm -rf .venv`.
clean: ## stop the embedded clusters, delete .kstore/ and build leftovers (keeps .venv)
	@if [ -d .kstore ]; then \
		test -x $(KSTORE) || { echo "make clean: no $(KSTORE) to stop the clusters in .kstore/ (make setup)" >&2; exit 1; }; \
		KSTORE_HOME=.kstore $(KSTORE) db down; \
	fi
	rm -rf .kstore build dist glue/*.egg-info .pytest_cache
	rm -rf dbt_project/target dbt_project/logs dbt_project/dbt_packages
	find . -path ./.venv -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
