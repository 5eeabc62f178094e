# Quick start: `make run` (the bot, on SQLite) and `make test` (the whole suite, SQLite + PostgreSQL).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: install compile run demo coba test test-sqlite test-postgres test-browser lint messages bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed compile

# Compiled catalogs are build output (.mo files are not committed); fuzzy entries fail here.
compile: $(BIN)/.installed
	$(BIN)/pybabel compile --domain messages --directory locales --statistics

run: install
	$(BIN)/python run_bot.py run

demo: install
	$(BIN)/python run_bot.py demo

coba: install
	$(BIN)/python run_bot.py coba

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The two databases' runs go side by side (each pytest keeps one core busy; they share no
# files or ports); each run's output is shown whole when it ends.
test: lint
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-sqlite: install
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install
	bash scripts/ensure_postgres.sh "$(TEST_POSTGRES_URL)"
	TEST_DATABASE_URL="$(TEST_POSTGRES_URL)" $(BIN)/pytest $(PYTEST_ARGS)

# The "coba" chat page in headless Chromium (Debian's /usr/bin/chromium: `apt-get install
# chromium`; without it these tests skip); screenshots go to test-artifacts/screenshots/.
test-browser: install
	$(BIN)/pytest tests/tryout $(PYTEST_ARGS)

messages: $(BIN)/.installed
	$(BIN)/python scripts/messages.py

# Every benchmark on SQLite and PostgreSQL; the table goes to bench/RESULTS.md.
bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find locales -name '*.mo' -delete
