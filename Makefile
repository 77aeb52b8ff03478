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
# MathJax is served by the book itself (it must read offline): the pinned npm package,
# fetched by `make book`, checked against its hash, never committed.
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256 := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX := _vendor/mathjax/tex-mml-chtml.js

.PHONY: venv book html browser chromium test unit nbval standalone site smoke mincheck wheel notebooks bench clean

venv: $(STAMP)

$(STAMP): requirements-lock.txt pyproject.toml .ci/requirements-data.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps -r .ci/requirements-data.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

## book: build the HTML book into _build/html from the committed notebook outputs
book: html
	@echo "Open _build/html/index.html in a browser."

html: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)

$(MATHJAX):
	rm -rf _build/npm && mkdir -p _build/npm
	cd _build/npm && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null
	echo "$(MATHJAX_SHA256)  _build/npm/mathjax-$(MATHJAX_VERSION).tgz" | sha256sum --check --quiet
	tar -xzf _build/npm/mathjax-$(MATHJAX_VERSION).tgz -C _build/npm
	rm -rf _vendor/mathjax && mkdir -p _vendor && cp -r _build/npm/package/es5 _vendor/mathjax

## browser: every page of the built book in headless Chromium (report and screenshots in
## _build/browser/); installs Debian's chromium first where it is missing
browser: chromium $(STAMP)
	$(BIN)/python .ci/browser_check.py

chromium:
	test -x /usr/bin/chromium || (apt-get update -q && \
		apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null)

## test: unit tests, nbval over every chapter, every chapter alone against the built wheel
## (quick profile, and the full profile at the smoke budget), the minimum supported versions,
## the book build with warnings as errors, and every page of it checked in a real browser
test: chromium unit nbval standalone smoke mincheck
	$(MAKE) html
	$(MAKE) browser

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
standalone: site
	$(BIN)/python .ci/standalone.py --site $(SITE) $(NOTEBOOKS)

site: wheel
	rm -rf $(SITE)
	$(BIN)/python -m pip install --quiet --no-deps --target $(SITE) $(WHEEL_DIR)/*.whl

## smoke: the `full` profile's code path (MNIST-sized convnets, the 28×28 classifier, every
## figure) on a CPU: each chapter alone against the wheel at AEGAN_BUDGET=smoke, on the offline
## 5,000-digit MNIST subset; the chapters' claim checks (cells tagged `checks`) are left out
smoke: site
	$(BIN)/python .ci/standalone.py --site $(SITE) --profile full --budget smoke \
		--skip-tag checks --keep _build/smoke $(NOTEBOOKS)

## mincheck: pyproject's minimum versions (requirements-min.txt) in .venv-min: the unit tests
## and chapter 1, against the installed wheel. PyPI's torch 2.2.0 is a CUDA build of about 5 GB;
## .ci/install_lean.py installs it one download at a time, without pip's cache
$(MIN)/.installed: requirements-min.txt .ci/requirements-min-tools.txt .ci/requirements-data.txt \
		.ci/install_lean.py
	test -x $(MIN)/bin/python || $(PYTHON) -m venv $(MIN)
	@df -h . | tail -1 | awk '{print "mincheck: " $$4 " free on disk before the install"}'
	$(PYTHON) .ci/install_lean.py $(MIN)/bin/python -r requirements-min.txt \
		-r .ci/requirements-min-tools.txt
	$(MIN)/bin/python -m pip install --quiet --no-deps -r .ci/requirements-data.txt
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
