# Two commands do everything on a fresh clone: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JB := $(VENV)/bin/jupyter-book
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# Unit tests + claims + strict nbval of every notebook, two workers, one file per worker at a time.
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder
# Each claim test appends its numbers per seed here (fourpapers.claims.report); printed at the end of the tests.
CLAIMS_LOG := $(CURDIR)/_build/claims.log
NBVAL_ARGS := --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg

.PHONY: help venv lock book test unit nbval book-strict browser notebooks clean bench

help:
	@echo "make book       build the HTML book into _build/html (sets up .venv first)"
	@echo "make test       unit tests, claims, strict nbval of every notebook, strict book build"
	@echo "make notebooks  re-execute every notebook in place (after any change to src/)"
	@echo "make lock       refresh the lock requirements.txt from requirements.in (UPGRADE=1: newest versions)"
	@echo "make bench      regenerate the compute-budget appendix (book/compute.md)"
	@echo "make clean      remove _build and caches (keeps .venv)"

# requirements.txt is the lock: every package at one version (made from requirements.in by `make lock`).
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	$(PY) -m pip check
	touch $@

venv: $(STAMP)

# Refresh the lock from requirements.in with uv (installed into _build/lock-tool). One lock for Python 3.10-3.12:
# where they need different versions, the lock says so with markers. UPGRADE=1 takes the newest versions that
# requirements.in allows; without it, every pin that still fits is kept.
UV_VERSION := 0.13.8
UV := _build/lock-tool/bin/uv
lock:
	test -x $(UV) || ($(PYTHON) -m venv _build/lock-tool && _build/lock-tool/bin/pip install -q uv==$(UV_VERSION))
	$(UV) pip compile requirements.in -o requirements.txt --universal --python-version 3.10 \
	  --excludes requirements-cuda.txt --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

book: $(STAMP)
	$(JB) build . --keep-going
	@echo
	@echo "Open: file://$(CURDIR)/_build/html/index.html"

# The build the tests use: warnings are errors (-W), nitpicky references (-n).
book-strict: $(STAMP)
	rm -rf _build/html _build/.doctrees
	$(JB) build . -W -n --keep-going

test: $(STAMP)
	@mkdir -p _build && rm -f $(CLAIMS_LOG)
	status=0; FOURPAPERS_CLAIMS_LOG=$(CLAIMS_LOG) $(PY) -m pytest $(PYTEST_ARGS) tests --ignore=tests/browser \
	  $(NBVAL_ARGS) $(NOTEBOOKS) || status=$$?; \
	echo "Every claim's numbers per seed ($(CLAIMS_LOG)):"; sort $(CLAIMS_LOG) 2>/dev/null; exit $$status
	$(MAKE) --no-print-directory book-strict
	$(MAKE) --no-print-directory browser

# Open every page of the built book in headless Chromium (Debian packages chromium, chromium-driver).
browser: $(STAMP)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
	  $(PY) -m pytest -p no:cacheprovider -q -s tests/browser; \
	else \
	  echo "SKIPPED: browser test of the book (no chromium/chromedriver; apt-get install chromium chromium-driver)"; \
	fi

unit: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) tests --ignore=tests/browser -m "not claims"

nbval: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) $(NBVAL_ARGS) $(NOTEBOOKS)

# Re-execute notebooks in place with nbclient, recording per-cell timestamps (NB=notebooks/01_x.ipynb for one).
NB ?= $(NOTEBOOKS)
notebooks: $(STAMP)
	@for nb in $(NB); do \
	  echo "executing $$nb"; \
	  start=$$(date +%s); \
	  $(VENV)/bin/jupyter execute --inplace --kernel_name=python3 "$$nb" || exit 1; \
	  echo "  $$(( $$(date +%s) - start )) s"; \
	done

# The compute-budget appendix (book/compute.md): notebook seconds + attention and norm timings, one run.
bench: $(STAMP)
	$(PY) benchmarks/appendix.py

clean:
	rm -rf _build .pytest_cache src/*.egg-info
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
