# Two commands do all the set-up: `make run` and `make test` (README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint unit test-sqlite test-postgres translations clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/jejak up --demo

lint: install
	$(BIN)/ruff check .

# The suite runs twice: on SQLite with an embedded Redis (the default a centre runs),
# and the database-touching tests again on PostgreSQL with the system Redis, the two side
# by side (most of a test's time is waiting on servers, browsers and workers; each pass
# has its own database, Redis and free ports). Each pass's output is printed whole when it
# ends. tests/faults start private Redis and PostgreSQL servers of their own, which they
# stop and restart.
test: lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-sqlite: install
	JEJAK_TEST_DB=sqlite $(BIN)/pytest -q -p no:cacheprovider

test-postgres: install
	JEJAK_TEST_DB=postgresql $(BIN)/pytest -q -p no:cacheprovider tests/integration tests/faults tests/e2e tests/fuzz

translations: install
	$(BIN)/pybabel extract -F babel.cfg -o shared/translations/messages.pot .
	$(BIN)/pybabel update -i shared/translations/messages.pot -d shared/translations
	$(BIN)/pybabel compile -d shared/translations

clean:
	rm -rf $(VENV) var .pytest_cache
