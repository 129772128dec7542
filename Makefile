# Two entry points for a fresh machine with Python 3.11+ and make:
#   make run   -> virtualenv, install, backtest the shipped SPY data, write reports/<run>/
#   make test  -> virtualenv, install, ruff + mypy --strict on toolkit/ + pytest
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= research/configs/spy_sma_cross.toml

.PHONY: install run test lint typecheck pytest bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,live,scale]"
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m toolkit backtest --config $(CONFIG)

lint: install
	$(PY) -m ruff check toolkit tests research

typecheck: install
	$(PY) -m mypy --strict toolkit

pytest: install
	$(PY) -m pytest -q

test: lint typecheck pytest

bench: install
	$(PY) research/benchmarks/run_all.py

clean:
	rm -rf $(VENV) data/.cache .mypy_cache .ruff_cache .pytest_cache
