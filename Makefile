# Counting House — the two commands a person needs.
#   make run    set up .venv, seed the demo data if the database is empty, start the Streamlit app
#   make test   set up .venv and the Debian packages, start a throwaway PostgreSQL, run pytest over tests/
# CI runs `make test` (see .ci/run). Extra pytest arguments: make test PYTEST_ARGS="-k invoice -x"
# Extra Streamlit arguments: make run RUN_ARGS="--server.port 8600"

SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
PYTEST_ARGS ?=
RUN_ARGS ?=

.PHONY: help venv sysdeps run test test-sqlite api

help:
	@echo "make run          start the app (creates .venv, seeds demo data when the database is empty)"
	@echo "make test         full test suite on SQLite and a throwaway PostgreSQL"
	@echo "make api          start the REST API (usage ingestion) on 127.0.0.1:8000"
	@echo "make test-sqlite  test suite without PostgreSQL (the postgres cases are skipped)"

venv:
	@bash scripts/setup_venv.sh

sysdeps:
	@bash scripts/install_system_deps.sh

run: venv
	$(PY) -m cli seed-demo --if-empty
	$(PY) -m ui.serve $(RUN_ARGS)

api: venv
	$(PY) -m uvicorn api.main:app --host 127.0.0.1 --port $${API_PORT:-8000} --loop uvloop --http httptools \
		--workers $${API_WORKERS:-2}

test: venv sysdeps
	@bash scripts/with_postgres.sh bash scripts/with_mariadb.sh bash scripts/run_pytest.sh $(PYTEST_ARGS)

test-sqlite: venv
	@env -u TEST_POSTGRES_URL bash scripts/run_pytest.sh $(PYTEST_ARGS)
