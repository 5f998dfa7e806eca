# sn_lake: `make run` and `make test` are the two quick-start commands; both set up first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-stamp
export DAGSTER_HOME := $(CURDIR)/dagster_home
export GX_ANALYTICS_ENABLED := false

.PHONY: setup run test lint ui bench clean browser

setup: $(STAMP)

# Rebuilt only when the dependency pins change, so a second `make setup` takes seconds.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: setup
	$(BIN)/sn-lake run

# The formatter and the linter first (configured in pyproject.toml): a tree they do not pass fails the test.
test: setup browser lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# Debian's chromium for tests/test_ui_lineage.py, installed once (needs root and apt-get); when it
# cannot be installed, that test skips its browser check and says so in the test summary.
browser:
	@command -v chromium >/dev/null 2>&1 \
	|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	     && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
	|| echo "WARNING: could not install chromium: tests/test_ui_lineage.py will skip the browser check"

ui: setup
	$(BIN)/sn-lake ui

bench: setup
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,bench]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps torchattacks==3.5.1
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) lake_home
