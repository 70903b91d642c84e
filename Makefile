# The README's two commands. Each installs into ./.venv what it needs, then runs.
#   make demo   install the runtime, run every day's ORCHESTRATOR once with --demo
#   make test   install the test extras too, lint with ruff, run the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test lint clean

demo: $(VENV)/.runtime-installed
	$(PY) scripts/run_demos.py

test: lint
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .

$(VENV)/.runtime-installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache
