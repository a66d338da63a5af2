# Chatgate: `make run` serves the gateway on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install whenever pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,whatsapp-web]'
	rm -f $(VENV)/.installed-*
	touch $@

# The local demo lets channels reach loopback, where `chatgate emulate` listens (and says so).
run: export CHATGATE_ALLOW_PRIVATE_API_BASE ?= 1
run: $(STAMP)
	$(BIN)/chatgate serve --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test: lint typecheck pytest

# Measured benchmarks (SQLite, and PostgreSQL when reachable); writes bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
