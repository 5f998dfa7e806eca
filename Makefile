# sn_lake: `make run` and `make test` are the two quick-start commands; both set up first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-stamp
export DAGSTER_HOME := $(CURDIR)/dagster_home
export GX_ANALYTICS_ENABLED := false

.PHONY: setup run test ui bench clean

setup: $(STAMP)

# Rebuilt only when the dependency pins change, so a second `make setup` takes seconds.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: setup
	$(BIN)/sn-lake run

test: setup
	$(BIN)/python -m pytest

ui: setup
	$(BIN)/sn-lake ui

bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) lake_home
