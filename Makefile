# paybao: `make run` serves the platform with demo data on SQLite; `make test` runs everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PAYBAO_DATA_DIR ?= $(CURDIR)/var

.PHONY: install run test lint bench clean help

help:
	@echo "make run    - install, migrate a SQLite database, seed demo data, serve on :8000"
	@echo "make test   - install, lint, type-check, run the suite on SQLite and PostgreSQL"
	@echo "make bench  - ledger benchmarks on SQLite and PostgreSQL (writes bench/results/)"

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	PAYBAO_SANDBOX=1 $(BIN)/paybao db upgrade
	PAYBAO_SANDBOX=1 $(BIN)/paybao demo
	PAYBAO_SANDBOX=1 PAYBAO_ADMIN_TOKEN=$${PAYBAO_ADMIN_TOKEN:-sandbox-admin-token} \
		$(BIN)/paybao serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install
	bash scripts/test

bench: install
	bash bench/ledger.sh

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
