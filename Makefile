# The README's commands. Each target installs what it needs into .venv from the exact lock.
#   make conformance   the main job: lint both specs, then fuzz both APIs of the reference backend
#   make test          the project's own tests
#   make lint          ruff, mypy, and the spec linter on both specs
#   make bench         load on the reference backend (writes reports/bench-reference.json), then
#                      the suite against st run (writes reports/bench-suite.json; minutes)
#   make lock          re-resolve requirements/lock.txt after changing pyproject.toml

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SPECS  := $(wildcard specs/*.openapi.yaml)
# Quiet installs; the machine's pip config may name index folders that do not exist.
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check

.PHONY: install conformance test lint format bench lock clean

install: $(STAMP)

$(STAMP): requirements/lock.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: no python3.11 or python3 found; install Python 3.11+ or pass PYTHON=/path/to/python" >&2; exit 3; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "make: $(PYTHON) is Python %d.%d; conformance needs 3.11 or newer (pass PYTHON=/path/to/python3.11)" % sys.version_info[:2])'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r requirements/lock.txt
	$(PIP) install --no-deps --no-build-isolation --editable .
	$(BIN)/python -m pip check --disable-pip-version-check
	@touch $@

conformance: install
	$(BIN)/conformance lint $(SPECS)
	$(BIN)/conformance run

# Two workers: the end-to-end tests mostly wait on their backends and on rate-limit windows.
test: install
	$(BIN)/python -m pytest -n 2

lint: install
	$(BIN)/ruff check conformance tests bench
	$(BIN)/ruff format --check conformance tests bench
	$(BIN)/mypy
	$(BIN)/conformance lint $(SPECS)

format: install
	$(BIN)/ruff check --fix conformance tests bench
	$(BIN)/ruff format conformance tests bench

bench: install
	$(BIN)/python bench/reference_load.py
	$(BIN)/python bench/suite_vs_st.py

lock: install
	$(PIP) install uv==0.13.9
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --no-header --quiet -o requirements/lock.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache reports/allure-results reports/allure-report
