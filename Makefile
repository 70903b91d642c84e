# The README's two commands. Each installs into ./.venv what it needs, then runs.
#   make demo   install the runtime, run every day's ORCHESTRATOR once with --demo
#   make test   install the test extras too, lint with ruff, run the whole suite
#   make airflow   Airflow 3 standalone with the four day DAGs (its own venv in ~/.cache), UI on 127.0.0.1:27080
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test lint airflow clean

demo: $(VENV)/.runtime-installed
	$(PY) scripts/run_demos.py

test: lint
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .

airflow: $(VENV)/.runtime-installed
	bash scripts/airflow_standalone.sh

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
