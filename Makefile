# sspr-review — two commands: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KUSTO  := tests/kusto/node_modules/@kusto/language-service-next/package.json
AZURITE := tests/azurite/node_modules/azurite/package.json

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast bench check format lab browser kql azurite clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "sspr-review needs Python 3.11 or newer ($(PYTHON) is older)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
	  { echo "Could not create a virtual environment. On Debian/Ubuntu: sudo apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## Create .venv and install the kit with its test tools

demo: $(STAMP)  ## Build the demo tenant and its weekly reports in reports/, and print where they are
	$(BIN)/sspr-review run --source demo

test: $(STAMP) browser kql azurite  ## Run the whole test suite (what CI runs; about 27 minutes on 2 cores)
	$(BIN)/python -m pytest

test-fast: $(STAMP) kql  ## Unit tests and the quick integration tests (under 2 minutes): no slow, notebook, browser or install test
	$(BIN)/python -m pytest -m "not (slow or notebook or browser or install)"

bench: $(STAMP)  ## Run the benchmarks (about 30 minutes) and write docs/benchmarks.md
	# the package's bytecode compiled first, as an installed wheel has it (PYTHONDONTWRITEBYTECODE may be set)
	$(BIN)/python -m compileall -q sspr_review
	$(BIN)/python benchmarks/bench_fetch.py
	$(BIN)/python benchmarks/bench_analysis.py
	$(BIN)/python benchmarks/bench_run.py
	$(BIN)/python benchmarks/bench_lean.py
	$(BIN)/python benchmarks/bench_log_analytics.py
	$(BIN)/python benchmarks/bench_history.py
	$(BIN)/python benchmarks/bench_spikes.py
	$(BIN)/python benchmarks/bench_first_contact.py
	$(BIN)/python benchmarks/bench_tenants.py
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_archive.py
	$(BIN)/python benchmarks/render.py

lab: $(STAMP)  ## Open JupyterLab on private copies of the notebooks in lab/ (LAB_OPTIONS="--no-browser --port 8899")
	$(BIN)/sspr-review lab $(LAB_OPTIONS)

browser:  ## Install Debian's Chromium and chromium-driver for the browser tests when missing (needs root)
	@{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } && \
	  command -v chromedriver >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Chromium and chromium-driver for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else echo "Chromium or chromedriver is missing: the browser tests will be skipped (sudo apt-get install chromium chromium-driver)"; fi; }

kql:  ## Install Microsoft's Kusto parser for the KQL check (npm ci in tests/kusto) when missing
	$(call npm_ci,tests/kusto,$(KUSTO),@kusto/language-service-next,the KQL check,the KQL check)

azurite:  ## Install Microsoft's storage emulator for the archive tests (npm ci in tests/azurite) when missing
	$(call npm_ci,tests/azurite,$(AZURITE),azurite,the archive tests,the Azurite tests)

# npm ci in $(1) when $(2) (a file npm installs) is missing or older than $(1)/package-lock.json; Debian's nodejs
# and npm first when root and npm is missing. $(3) the package, $(4) what needs it, $(5) what is skipped without.
define npm_ci
@{ [ -f $(2) ] && [ $(2) -nt $(1)/package-lock.json ]; } || { \
  if ! command -v npm >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    echo "Installing Debian's nodejs and npm for $(4)"; \
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; fi; \
  if command -v npm >/dev/null 2>&1; then \
    echo "Installing $(3) ($(1)/package-lock.json) for $(4)"; \
    (cd $(1) && npm ci --no-audit --no-fund --loglevel=error) && touch $(2); \
  else echo "node or npm is missing: $(5) will be skipped (sudo apt-get install nodejs npm)"; fi; }
endef

check: $(STAMP)  ## ruff (lint and format) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)  ## Apply ruff's formatting and fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:  ## Remove the virtual environment and caches (keeps the store and reports)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
