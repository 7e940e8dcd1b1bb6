# The README's commands. Each target installs what it needs into .venv from the exact lock.
#   make conformance   the main job: lint both specs, then fuzz both APIs of the reference backend;
#                      the reports, the summary and the HTML report land in reports/
#   make report        the HTML report again from reports/allure-results (the trend grows)
#   make selftest      the suite against the clean reference backend and each defect (the matrix)
#   make soak          20 runs of each clean API and each timing/concurrency defect: the flake rate
#                      (not in CI; about 1.5 hours on 2 cores)
#   make test          the project's own tests
#   make lint          ruff, mypy, and the spec linter on both specs
#   make bench         load on the reference backend, then the suite against st run (also on
#                      defective backends), -n 2, scaling, fail fast: reports/bench.json (~20 min);
#                      then on the zoo's planted apps: reports/bench-zoo.json (~5 min)
#   make lock          re-resolve requirements/lock.txt after changing pyproject.toml
#
# BURN=1 (make soak, selftest or test): beside one busy process per CPU for the whole run, so
# that it shows what holds on a slow machine; they stop with it (conformance.busy)

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SPECS  := $(wildcard specs/*.openapi.yaml)
# Quiet installs; the machine's pip config may name index folders that do not exist.
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check
# Allure 3's report generator, from package-lock.json (Node is needed only for the HTML report)
NODE_STAMP := node_modules/.installed-stamp
NO_NODE    := make: no npm here: the HTML report needs Node.js 20+ (runs still write their results and summary)
# BURN=1: the self-test's own busy processes (--burn), and a command run beside them
BURN_FLAG  := $(if $(BURN),--burn)
BESIDE     := $(if $(BURN),$(BIN)/python -m conformance.busy --)

.PHONY: install bytecode report-tools browser conformance report selftest soak test lint format bench lock clean

install: $(STAMP)

$(STAMP): requirements/lock.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "make: no python3.11 or python3 found; install Python 3.11+ or pass PYTHON=/path/to/python" >&2; exit 3; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "make: $(PYTHON) is Python %d.%d; conformance needs 3.11 or newer (pass PYTHON=/path/to/python3.11)" % sys.version_info[:2])'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r requirements/lock.txt
	$(PIP) install --no-deps --no-build-isolation --editable .
	$(BIN)/python -m pip check --disable-pip-version-check
	@touch $@

# The project's own bytecode, kept up to date (0.2 s when it is): where PYTHONDONTWRITEBYTECODE
# is set (many CI images, this machine) every process compiled our modules again as it started,
# 0.4 s of each run and of each test's subprocess; the installed packages come compiled by pip.
bytecode: install
	@$(BIN)/python -m compileall -q -j 0 conformance tests bench

report-tools: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@ \
		|| echo "make: npm ci failed (above); the HTML report will be missing"; \
	else echo "$(NO_NODE)"; fi

# Headless Chromium, for the tests that open the HTML report (Debian's package, where apt can)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "make: installing chromium (apt-get)"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
			|| { apt-get update -q >/dev/null 2>&1 \
			     && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
		else echo "make: no chromium; the report tests need it (sudo apt-get install chromium)"; fi; }

# The run ends with the HTML report (reports/allure-report/index.html) when Node is here.
conformance: bytecode report-tools
	$(BIN)/conformance lint $(SPECS)
	$(BIN)/conformance run

report: bytecode report-tools
	$(BIN)/conformance report

selftest: bytecode report-tools
	$(BIN)/conformance selftest $(BURN_FLAG)

soak: bytecode report-tools
	$(BIN)/conformance selftest --soak $(BURN_FLAG)

# Two workers: the end-to-end tests mostly wait on their backends and on rate-limit windows.
test: bytecode report-tools browser
	$(BESIDE) $(BIN)/python -m pytest -n 2

lint: install
	$(BIN)/ruff check conformance tests bench
	$(BIN)/ruff format --check conformance tests bench
	$(BIN)/mypy
	$(BIN)/conformance lint $(SPECS)

format: install
	$(BIN)/ruff check --fix conformance tests bench
	$(BIN)/ruff format conformance tests bench

bench: bytecode
	$(BIN)/python bench/reference_load.py
	$(BIN)/python bench/suite_vs_st.py
	$(BIN)/python bench/zoo_vs_st.py
	$(BIN)/python bench/diff_speed.py

# not after `install`: its `pip check` fails while pyproject names a package the lock lacks yet
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install uv==0.13.9
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --no-header --quiet -o requirements/lock.txt

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache reports/allure-results \
		reports/allure-report
