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
WHEEL_DIR := _build/wheel
SITE := _build/standalone/site
MIN := .venv-min

.PHONY: venv book test unit nbval standalone mincheck wheel notebooks bench clean

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

## test: unit tests, nbval over every chapter, every chapter alone against the built wheel,
## the minimum supported versions, and the book build with warnings as errors
test: unit nbval standalone mincheck
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

nbval: $(STAMP)
	$(BIN)/python -m pytest -q --nbval --nbval-current-env \
		--nbval-sanitize-with .ci/nbval_sanitize.cfg $(NOTEBOOKS)

## wheel: build the package as pip would install it from the repository (into _build/wheel)
wheel: $(STAMP)
	rm -rf $(WHEEL_DIR)
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w $(WHEEL_DIR) .
	rm -rf build  # setuptools' in-tree scratch folder

## standalone: each chapter copied alone into an empty folder (as Colab opens it) and run
## against the installed wheel, never the checkout
standalone: wheel
	rm -rf $(SITE)
	$(BIN)/python -m pip install --quiet --no-deps --target $(SITE) $(WHEEL_DIR)/*.whl
	$(BIN)/python .ci/standalone.py --site $(SITE) $(NOTEBOOKS)

## mincheck: pyproject's minimum versions (requirements-min.txt) in .venv-min: the unit tests
## and chapter 1, against the installed wheel
$(MIN)/.installed: requirements-min.txt .ci/requirements-min-tools.txt
	test -x $(MIN)/bin/python || $(PYTHON) -m venv $(MIN)
	$(MIN)/bin/python -m pip install --quiet -r requirements-min.txt -r .ci/requirements-min-tools.txt
	touch $@

mincheck: $(MIN)/.installed wheel
	$(MIN)/bin/python -m pip install --quiet --no-deps --force-reinstall $(WHEEL_DIR)/*.whl
	$(MIN)/bin/python -m pip list 2>/dev/null | grep -E "^(torch|numpy|matplotlib|scikit-learn|tqdm|ipywidgets) "
	$(MIN)/bin/pytest tests -q -p no:cacheprovider
	$(MIN)/bin/python .ci/standalone.py chapters/01_autoencoders.ipynb

## notebooks: re-execute every chapter in place (quick profile, CPU) and store its outputs
notebooks: $(STAMP)
	$(BIN)/python .ci/execute_notebooks.py $(NOTEBOOKS)

## bench: performance benchmarks (ratios against a reference run in the same process)
bench: $(STAMP)
	$(BIN)/python bench/bench_gan_loop.py
	$(BIN)/python bench/bench_sweeps.py cores

clean:
	rm -rf _build build
