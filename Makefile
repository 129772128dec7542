# Two entry points for a fresh machine with Python 3.11+ and make:
#   make run   -> virtualenv, install, backtest the shipped SPY data, write reports/<run>/
#   make test  -> virtualenv, install, ruff + mypy --strict on toolkit/ + pytest
#   make lab   -> virtualenv, install (JupyterLab included), JupyterLab on notebooks/
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= research/configs/spy_sma_cross.toml
EXTRAS := dev,live,scale,web,lab,ml

.PHONY: install run test lint typecheck pytest warm chromium systemd-analyze test-suite test-insync bench clean docs lab

# A venv and its packages: uv (from PyPI, into the venv) installs the ~230 packages in ~35 s where
# pip takes ~2 min on a fresh machine (measured: 33 s vs 1 min 56 s, the same versions); pip is the
# fallback when uv cannot be had or fails. Bytecode is compiled at install, as pip does: without
# it every test process compiled the .pyc files it imported (pytest took 2 minutes longer).
# $(1) = venv directory, $(2) = what to install.
define venv_install
$(PYTHON) -m venv $(1)
$(1)/bin/python -m pip install --quiet "uv>=0.5" && \
  $(1)/bin/python -m uv pip install --quiet --compile-bytecode --python $(1)/bin/python $(2) || \
  { echo "uv could not install into $(1): installing with pip instead"; \
    $(1)/bin/python -m pip install --quiet --upgrade pip && $(1)/bin/python -m pip install --quiet $(2); }
endef

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(call venv_install,$(VENV),-e ".[$(EXTRAS)]")
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m toolkit backtest --config $(CONFIG)

# JupyterLab (the lab extra, part of every install) on the notebooks, served from the project
# root so reports/ and research/ are one click away; e.g. make lab LAB_ARGS="--no-browser".
# Jupyter refuses to run as root unless told (containers, CI machines).
LAB_ARGS ?=
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: install
	$(PY) -m jupyterlab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
		$(LAB_ROOT) $(LAB_ARGS)

lint: install
	$(PY) -m ruff check toolkit tests research

typecheck: install
	$(PY) -m mypy --strict toolkit

# pytest-xdist: one worker per core (PYTEST_WORKERS=0 runs in this process); --dist loadgroup
# keeps tests marked with one xdist_group on one worker (the dask clusters). A third worker on
# 2 cores saved under a minute (the suite is CPU-bound) and raised the load timing-sensitive
# rehearsals run under: not worth it.
PYTEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup
WARM   := research/configs/spy_sma_cross.toml

pytest: install
	$(PYTEST)

# Compile the numba kernels most tests share once, beside ruff and mypy (numba caches them in
# ~/.cache/ibkr-toolkit/numba/<source version>/): on a fresh clone the pytest workers otherwise
# compile the same engine, sweep, walk-forward and Monte Carlo kernels at once (~90 s CPU each,
# measured cold). The backtest compiles the engine they share; the other three compile their
# own kernels, side by side.
warm: install
	$(PY) -m toolkit backtest --config $(WARM) --reports $(VENV)/.warm --no-tearsheet >/dev/null
	$(PY) -m toolkit walkforward --config $(WARM) --reports $(VENV)/.warm/wf >/dev/null & wf=$$!; \
	$(PY) -m toolkit montecarlo --config $(WARM) --reports $(VENV)/.warm/mc >/dev/null & mc=$$!; \
	$(PY) -m toolkit sensitivity --config $(WARM) --reports $(VENV)/.warm/se >/dev/null && \
	wait $$wf && wait $$mc
	rm -rf $(VENV)/.warm

# The web app's browser tests drive Debian's chromium through playwright (no browser download);
# installed here when missing and run as root (CI), else the tests fail saying how to get it.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium is missing: apt-get install chromium (tests/web/test_browser.py needs it)"

# tests/test_deploy.py checks the systemd units with systemd-analyze verify (Debian: systemd)
systemd-analyze:
	@command -v systemd-analyze >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq systemd >/dev/null; } || \
	  echo "systemd-analyze is missing: apt-get install systemd (tests/test_deploy.py needs it)"

test-suite: warm chromium systemd-analyze
	$(PYTEST)

# ib_insync and ib_async share the eventkit package directory, so the gateway's ib_insync
# tests run in a venv of their own.
$(VENV)-insync/.installed: pyproject.toml
	$(call venv_install,$(VENV)-insync,-e . "ib_insync==0.9.86" "pytest>=8")
	touch $@

test-insync: $(VENV)-insync/.installed
	$(VENV)-insync/bin/python -m pytest -q -p no:cacheprovider tests/gateway/test_ib_insync.py

# The checks run beside the test suite (-j): ruff, mypy and the ib_insync venv's install
# mostly use one core, which pytest's second worker would otherwise wait for; each target's
# output is printed whole when it ends.
test: install
	$(MAKE) --no-print-directory -j4 --output-sync=target lint typecheck test-insync test-suite

# The level-2 replay is measured in the same process as hftbacktest, which pins numpy < 2.3 (and
# so pandas < 3): it gets a venv of its own rather than downgrading the one the tests run in.
$(VENV)-bench/.installed: pyproject.toml
	$(call venv_install,$(VENV)-bench,-e . "hftbacktest>=2.1")
	touch $@

bench: install $(VENV)-bench/.installed
	$(PY) research/benchmarks/run_all.py
	$(VENV)-bench/bin/python research/benchmarks/orderbook.py

# API reference from the docstrings (pdoc) into docs/api/ (not in git; open docs/api/index.html).
# `toolkit` documents its re-exports and the subpackages its __all__ names; the others are
# listed. Any warning (an annotation pdoc cannot resolve, a missing module) fails the build;
# tests/test_api_docs.py runs this target.
API_MODULES := toolkit toolkit.config toolkit.data toolkit.engine toolkit.errors toolkit.gateway \
	toolkit.notify toolkit.report toolkit.risk toolkit.strategies toolkit.web
API_DIR ?= docs/api
docs: install
	rm -rf $(API_DIR)
	$(PY) -W error -m pdoc --docformat restructuredtext -o $(API_DIR) $(API_MODULES)
	@echo "API reference: $(API_DIR)/index.html"

clean:
	rm -rf $(VENV) $(VENV)-insync data/.cache .mypy_cache .ruff_cache .pytest_cache $(API_DIR)
