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
# The same as JSON lines with each claims test's outcome (fourpapers.claims.read_results).
CLAIMS_JSONL := $(CURDIR)/_build/claims.jsonl
# Every glued number of a notebook run, with its tolerance (fourpapers.book.glue, check_glue).
GLUE_LOG := $(CURDIR)/_build/glue.jsonl
# nbval never waits forever: a cell over CELL_LIMIT seconds fails, naming the cell.
CELL_LIMIT ?= 900
NBVAL_COMMON := --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout $(CELL_LIMIT)
# strict: every text output compared (the notebooks were executed on this float path);
# portable: only cells tagged nbval-check-output, plus every glued number within its tolerance (check-glue).
NBVAL_strict := --nbval $(NBVAL_COMMON)
NBVAL_portable := --nbval-lax $(NBVAL_COMMON)
# Another float path on this machine (ATen's scalar kernels, oneDNN at SSE4.1): fourpapers.book.ALT_FLOAT_PATH.
ALT_FLOAT_PATH := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41

.PHONY: help venv lock book test lint format unit nbval book-strict browser notebooks clean bench claims-portable calibrate ledger

help:
	@echo "make book       build the HTML book into _build/html (sets up .venv first)"
	@echo "make test       unit tests, claims, nbval of every notebook (strict or portable), strict book build"
	@echo "make lint       ruff: format check and lint at 88 columns (src, tests, benchmarks, notebooks)"
	@echo "make format     ruff: format and fix what it can, in place"
	@echo "make claims-portable  every claim again on another float path (ATen scalar kernels, oneDNN SSE4.1)"
	@echo "make notebooks  re-execute every notebook in place (after any change to src/)"
	@echo "make lock       refresh the lock requirements.txt from requirements.in (UPGRADE=1: newest versions)"
	@echo "make bench      regenerate the compute-budget appendix (book/compute.md)"
	@echo "make ledger     render the claims ledger (book/claims.md) from the last make test; with"
	@echo "                FOURPAPERS_SEEDS=11,12,13: run every claim on those seeds, page in _build/ledger-11-12-13/"
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

# ruff at 88 columns over the code and the notebooks' code cells (pyproject.toml, [tool.ruff]).
LINT_PATHS := src tests benchmarks book/_ext notebooks
lint: $(STAMP)
	$(VENV)/bin/ruff format --check --quiet $(LINT_PATHS) || { echo "make format fixes the layout"; exit 1; }
	$(VENV)/bin/ruff check --quiet $(LINT_PATHS)

format: $(STAMP)
	$(VENV)/bin/ruff format $(LINT_PATHS)
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)

test: $(STAMP)
	$(MAKE) --no-print-directory lint
	@mkdir -p _build && rm -f $(CLAIMS_LOG) $(CLAIMS_JSONL) $(GLUE_LOG)
	@$(PY) -m fourpapers nbval-mode $(NOTEBOOKS) > _build/nbval-mode.txt
	@echo "nbval mode: $$(sed -n 1p _build/nbval-mode.txt) ($$(sed -n 2p _build/nbval-mode.txt))"
	mode=$$(sed -n 1p _build/nbval-mode.txt); status=0; \
	if [ "$$mode" = strict ]; then nbval="$(NBVAL_strict)"; else nbval="$(NBVAL_portable)"; fi; \
	FOURPAPERS_PROGRESS=off FOURPAPERS_CLAIMS_LOG=$(CLAIMS_LOG) FOURPAPERS_CLAIMS_JSONL=$(CLAIMS_JSONL) FOURPAPERS_GLUE_LOG=$(GLUE_LOG) \
	  $(PY) -m pytest $(PYTEST_ARGS) tests --ignore=tests/browser $$nbval $(NOTEBOOKS) || status=$$?; \
	echo "Every claim's numbers per seed ($(CLAIMS_LOG)):"; sort $(CLAIMS_LOG) 2>/dev/null; \
	if [ "$$mode" = portable ]; then \
	  echo "Glued numbers against the stored notebooks (portable mode):"; \
	  $(PY) -m fourpapers check-glue $(GLUE_LOG) $(NOTEBOOKS) || status=1; \
	fi; \
	echo "The claims ledger (book/claims.md) against this run:"; \
	$(PY) -m fourpapers.ledger check $(CLAIMS_JSONL) || status=1; \
	echo "nbval mode: $$mode"; exit $$status
	$(MAKE) --no-print-directory book-strict
	$(MAKE) --no-print-directory browser

# Every claim on another float path of this machine (seeds: FOURPAPERS_SEEDS, else each claim's defaults).
claims-portable: $(STAMP)
	@mkdir -p _build && rm -f _build/claims-portable.log
	@test "$$(env $(ALT_FLOAT_PATH) $(PY) -m fourpapers float-path)" != "$$($(PY) -m fourpapers float-path)" \
	  || { echo "claims-portable: $(ALT_FLOAT_PATH) does not change this machine's float path"; exit 1; }
	@echo "claims on float path: $$(env $(ALT_FLOAT_PATH) $(PY) -m fourpapers float-path)"
	status=0; env $(ALT_FLOAT_PATH) FOURPAPERS_CLAIMS_LOG=$(CURDIR)/_build/claims-portable.log \
	  $(PY) -m pytest $(PYTEST_ARGS) -m claims tests --ignore=tests/browser || status=$$?; \
	echo "Every claim's numbers per seed on the other float path (_build/claims-portable.log):"; \
	sort _build/claims-portable.log 2>/dev/null; exit $$status

# Calibrate the claims on many seeds and two float paths (numbers in _build/calibration/; about an hour).
CALIBRATE ?= native@0,1,2,3,4,5,6,7,8,9 alt@0,1,2,3,4
calibrate: $(STAMP)
	PY=$(PY) benchmarks/calibrate_claims.sh $(CALIBRATE)

# The claims ledger, book/claims.md: every claims test per chapter with its numbers per seed (fourpapers.ledger,
# book/claims.yml). Rendered from the last `make test` (LEDGER_RUN; LEDGER_SEEDS picks the seeds it shows). With
# FOURPAPERS_SEEDS set it first runs every claims test on those seeds and writes the page to _build/ledger-<seeds>/,
# leaving the committed page alone.
LEDGER_RUN ?= $(CLAIMS_JSONL)
LEDGER_SEEDS ?=
ledger: $(STAMP)
	@if [ -n "$$FOURPAPERS_SEEDS" ]; then \
	  out=_build/ledger-$$(echo "$$FOURPAPERS_SEEDS" | tr -d ' ' | tr ',' '-'); mkdir -p $$out; \
	  rm -f $$out/claims.jsonl; status=0; \
	  FOURPAPERS_CLAIMS_JSONL=$(CURDIR)/$$out/claims.jsonl \
	    $(PY) -m pytest $(PYTEST_ARGS) -p no:cacheprovider -q -m claims tests --ignore=tests/browser || status=$$?; \
	  $(PY) -m fourpapers.ledger render $$out/claims.jsonl --out $$out/claims.md \
	    --source "every claims test run on seeds $$FOURPAPERS_SEEDS" || status=1; exit $$status; \
	else \
	  $(PY) -m fourpapers.ledger render $(LEDGER_RUN) $(if $(LEDGER_SEEDS),--seeds $(LEDGER_SEEDS)) --out book/claims.md; \
	fi

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
	$(PY) -m pytest $(PYTEST_ARGS) $(NBVAL_strict) $(NOTEBOOKS)

# Re-execute notebooks in place (NB=notebooks/01_x.ipynb for one), recording per-cell timestamps and the float path
# (benchmarks/execute_notebooks.py: a cell over CELL_LIMIT seconds stops the run with an error naming it).
NB ?= $(NOTEBOOKS)
notebooks: $(STAMP)
	$(PY) benchmarks/execute_notebooks.py --cell-limit $(CELL_LIMIT) $(NB)

# The compute-budget appendix (book/compute.md): notebook seconds + attention and norm timings, one run.
bench: $(STAMP)
	$(PY) benchmarks/appendix.py

clean:
	rm -rf _build .pytest_cache src/*.egg-info
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
