# The book's two commands are `make book` and `make test` (see README.md).
# Each one creates .venv on a fresh machine and installs the pinned environment first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AEGAN_PROFILE ?= quick
# No MPLBACKEND here: the kernels need their inline backend for figures to reach the
# notebooks, and without a display matplotlib already falls back to Agg in plain Python.
export PYDEVD_DISABLE_FILE_VALIDATION := 1

NOTEBOOKS := $(sort $(wildcard chapters/*.ipynb))
BOOK_FLAGS := --all -W -n --keep-going

.PHONY: venv book test unit nbval notebooks bench clean

venv: $(STAMP)

$(STAMP): requirements-lock.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

## book: build the HTML book into _build/html from the committed notebook outputs
book: $(STAMP)
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)
	@echo "Open _build/html/index.html in a browser."

## test: unit tests, nbval over every chapter, and the book build with warnings as errors
test: unit nbval
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

nbval: $(STAMP)
	$(BIN)/python -m pytest -q --nbval --nbval-current-env \
		--nbval-sanitize-with .ci/nbval_sanitize.cfg $(NOTEBOOKS)

## notebooks: re-execute every chapter in place (quick profile, CPU) and store its outputs
notebooks: $(STAMP)
	$(BIN)/python .ci/execute_notebooks.py $(NOTEBOOKS)

## bench: performance benchmarks (ratios against a reference run in the same process)
bench: $(STAMP)
	$(BIN)/python bench/bench_gan_loop.py
	$(BIN)/python bench/bench_sweeps.py cores

clean:
	rm -rf _build
