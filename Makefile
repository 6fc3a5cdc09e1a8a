# The license server's everyday commands. `make` alone lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
# The virtualenv. By default make creates .venv and installs the project into it. VENV=/path
# takes an existing one as it is (it must hold the dependencies: pip install -e '.[test]' there
# once): make never installs into it, and runs this checkout's code with it (PYTHONPATH), so
# a second clone starts in seconds (tests/e2e/test_new_user.py runs make up in a fresh clone).
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
ifeq ($(abspath $(VENV)),$(abspath .venv))
INSTALL := $(STAMP)
INSTALL_BENCH := $(BENCH_STAMP)
else
INSTALL := check-venv
INSTALL_BENCH := check-venv
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
endif
UP_ARGS ?=

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

.PHONY: help install check-venv services up demo lint openapi test test-unit test-integration test-security test-e2e bench clean

help:  ## list the targets
	@echo "Targets:"
	@awk -F':.*## ' '/^[a-z0-9-]+:.*## / { printf "  make %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo "Variables: PYTHON=$(PYTHON) (creates .venv), VENV=/path (an existing virtualenv, as it is),"
	@echo "  PYTEST_ARGS='...' (extra pytest options), UP_ARGS='...' (licensing up's options,"
	@echo "  e.g. --primary-port 9081 --backup-port 9082 --watchdog-metrics-port 9118)"

install: $(INSTALL)  ## create .venv and install the project with its test extras (VENV=: check it)

check-venv:
	@test -x $(VENV)/bin/licensing || { \
	  echo "make: VENV=$(VENV) has no bin/licensing: name a virtualenv that holds the" \
	    "project's dependencies (pip install -e '.[test]' there once), or leave VENV unset" >&2; \
	  exit 1; }

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "make: $(PYTHON) is older than 3.11; run make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml is newer than the last successful install.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test]'
	touch $@

# The bench's extras (matplotlib for the plot, py-spy for the profiler), on top of the above.
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test,bench]'
	touch $@

services:  ## make sure RabbitMQ and PostgreSQL answer (starts local ones)
	scripts/ensure-services.sh

up: install services  ## run a primary, a backup and the watchdog on this machine
	$(VENV)/bin/licensing up $(UP_ARGS)

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

bench: install $(INSTALL_BENCH) services  ## the benchmark (python -m bench; installs its extras)
	$(PY) -m bench

clean:  ## remove .venv (never another VENV), caches and build output
	rm -rf .venv .pytest_cache .hypothesis build dist *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
