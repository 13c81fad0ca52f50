# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 3000

.PHONY: run test install install-test bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: install it, or name it with make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Installs run again only when pyproject.toml changed (the stamp files are older than it).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[sandbox]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,sandbox]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/dre-bot serve --host 127.0.0.1 --port $(PORT)

# The layers first (seconds), then the runbooks, then every test in its tier.
test: install-test
	$(BIN)/lint-imports
	$(BIN)/dre-bot runbooks check
	$(BIN)/python -m pytest -q -n 4 --dist loadfile

bench: install-test
	$(BIN)/python bench/storm.py

clean:
	rm -rf $(VENV) dre-bot.db dre-bot.db-* dre-bot.sandbox.db*
