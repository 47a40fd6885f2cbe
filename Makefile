# trainlab — set-up, demo, tests and benchmarks. Every target installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYS_STAMP := .cache/system-deps
SYSTEM_PACKAGES := dataset-fashion-mnist postgresql chromium
export MPLBACKEND := Agg

.PHONY: install system-deps demo test bench bench-suite lint docs clean

install: $(STAMP)

# torch==2.13.0 is the CPU build on this kind of machine; never ask for another spec.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,data,sweep,browser,interactive]"
	touch $(STAMP)

# Debian packages the tests use (real Fashion-MNIST files, PostgreSQL, Chromium).
# Installed when running as root; otherwise they must already be there.
system-deps: $(SYS_STAMP)

$(SYS_STAMP):
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages:$$missing (run make as root to install)"; fi; \
	fi
	@mkdir -p $(dir $(SYS_STAMP)) && touch $(SYS_STAMP)

demo: install
	$(VENV)/bin/trainlab suite --preset quick --workers 2

test: install system-deps
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15

# JAX is optional: without it bench/ensemble.py prints its other numbers and says so.
bench: install
	$(PY) -m pip install -q -e ".[jax]" || echo "JAX not installed: no JAX comparison"
	$(PY) bench/run_all.py

# wall time of `trainlab suite --preset full --workers 2`, per experiment and in all (about 15 min)
bench-suite: install
	$(PY) bench/suite_cost.py --preset full --workers 2

lint: install
	$(VENV)/bin/ruff check src tests bench

# every generated file: docs/api.md, docs/experiments/*.md and the README's table
docs: install
	$(PY) -m trainlab.docs

clean:
	rm -rf $(VENV) .cache runs .pytest_cache
