# The license server's everyday commands. `make` alone lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Test tiers, run in this order; only those that exist. PYTEST_ARGS adds options.
TIERS       := $(wildcard tests/unit tests/integration tests/security tests/e2e)
PYTEST_ARGS ?=

# Run pytest; exit code 5 (no tests collected) is a failure, not a pass.
define pytest
	@echo "pytest -q $(PYTEST_ARGS) $(1)"; \
	rc=0; $(PY) -m pytest -q $(PYTEST_ARGS) $(1) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make: pytest collected no tests in: $(1)" >&2; fi; \
	exit $$rc
endef

.PHONY: help install services up demo lint openapi test test-unit test-integration test-security test-e2e bench clean

help:  ## list the targets
	@echo "Targets:"
	@awk -F':.*## ' '/^[a-z0-9-]+:.*## / { printf "  make %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo "Variables: PYTHON=$(PYTHON) (creates $(VENV)), PYTEST_ARGS='...' (extra pytest options)"

install: $(STAMP)  ## create .venv and install the project with its test extras

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "make: $(PYTHON) is older than 3.11; run make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml is newer than the last successful install.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test]'
	touch $@

services:  ## make sure RabbitMQ and PostgreSQL answer (starts local ones)
	scripts/ensure-services.sh

up: install services  ## run a primary, a backup and the watchdog on this machine
	$(VENV)/bin/licensing up

demo: install  ## product traffic against the pair of make up (another terminal) until Ctrl-C
	$(VENV)/bin/licensing demo

lint: install  ## the gates: ruff, the import contracts (import-linter), mypy on the contract and domain
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

openapi: install  ## regenerate docs/openapi.json from the API's models (a unit test compares)
	$(PY) -m services.node.openapi docs/openapi.json

test: install lint services  ## the gates (make lint), then every test tier that exists
	scripts/ensure-browser.sh
	$(call pytest,$(or $(TIERS),tests))

test-unit: install  ## unit tests only (no services needed)
	$(call pytest,tests/unit)

test-integration: install services  ## integration tests only
	$(call pytest,tests/integration)

test-security: install services  ## the trust boundary: what a product's broker user may not do
	$(call pytest,tests/security)

test-e2e: install services  ## end-to-end tests only
	$(call pytest,tests/e2e)

bench: install services  ## the benchmark (python -m bench)
	$(PY) -m bench

clean:  ## remove .venv, caches and build output
	rm -rf $(VENV) .pytest_cache .hypothesis build dist *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
