# The book's entry points. Each target creates .venv from requirements.txt on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# JavaScript the HTML book serves from its own _static folder (no CDN): MathJax and the ipywidgets HTML
# manager (its standalone embed.js), fetched once from the npm registry with `npm pack` into the git-ignored
# book/assets/npm and checked against the hashes in book/assets/npm.sha256.
MATHJAX_VERSION      := 3.2.2
HTML_MANAGER_VERSION := 1.0.15
# (Not named "vendor": the theme already has a _static/vendor folder.)
VENDOR       := book/assets/npm
VENDOR_STAMP := $(VENDOR)/.installed

# The browser test drives Debian's Chromium with its ChromeDriver.
CHROMIUM     ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver

# `make test-oldtorch`: the package's unit tests in a fresh venv with the oldest torch/torchvision that
# pyproject.toml allows. PyPI's torch for x86_64 is a CUDA build: about 3 GB to download, about 10 minutes.
OLD_VENV  := _build/oldtorch-venv
OLD_PINS  := torch==2.4.1 torchvision==0.19.1 "numpy<2" pytest==9.2.0 torchmetrics==1.9.0 pycocotools==2.0.11

# On x86, every target computes with AVX2 code in torch's kernels, MKL and oneDNN, even on a CPU with AVX-512, so
# that the committed outputs and the records repeat bit for bit on any x86 CPU with AVX2 (cnnbook.env.NUMERICS_PINS).
ifeq ($(shell uname -m),x86_64)
export ATEN_CPU_CAPABILITY := avx2
export MKL_CBWR := AVX2
export ONEDNN_MAX_CPU_ISA := AVX2
endif

.PHONY: book test lab bench execute clean assets browser test-oldtorch record records

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## make assets: fetch MathJax and the widget manager (npm pack, checked against book/assets/npm.sha256)
assets: $(VENDOR_STAMP)

$(VENDOR_STAMP): Makefile book/assets/npm.sha256
	@command -v npm >/dev/null || { echo "npm is needed to fetch MathJax and the widget manager (apt-get install npm)"; exit 1; }
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/tgz
	cd $(VENDOR)/tgz && npm pack --silent mathjax@$(MATHJAX_VERSION) @jupyter-widgets/html-manager@$(HTML_MANAGER_VERSION)
	cd $(VENDOR)/tgz && sha256sum --check --quiet ../../npm.sha256
	mkdir -p $(VENDOR)/mathjax $(VENDOR)/html-manager
	tar -xzf $(VENDOR)/tgz/mathjax-$(MATHJAX_VERSION).tgz -C $(VENDOR)/mathjax --strip-components=2 package/es5
	tar -xzf $(VENDOR)/tgz/mathjax-$(MATHJAX_VERSION).tgz -C $(VENDOR)/mathjax --strip-components=1 package/LICENSE
	tar -xzf $(VENDOR)/tgz/jupyter-widgets-html-manager-$(HTML_MANAGER_VERSION).tgz -C $(VENDOR)/html-manager \
	    --strip-components=2 --wildcards --exclude='*.map' --exclude='*amd.js' 'package/dist/*'
	rm -rf $(VENDOR)/tgz
	touch $@

## make browser: install Debian's chromium and chromium-driver for the browser test (as root, where missing)
browser:
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
	    echo "WARNING: $(CHROMIUM) or $(CHROMEDRIVER) is missing and this is not root with apt-get:"; \
	    echo "         install chromium and chromium-driver, or the browser test fails (CNNBOOK_SKIP_BROWSER=1 skips it)"; \
	fi

## make book: render the HTML book into _build/html, its Korean edition into _build/html/ko (notebooks are committed executed)
book: $(STAMP) $(VENDOR_STAMP)
	$(PY) scripts/build_book.py

## make test: unit tests, every notebook under nbval, the book build, the browser test and the FULL branches
test: $(STAMP) $(VENDOR_STAMP) browser
	$(PY) -m pytest -n 2 --dist loadfile

## make test-oldtorch: build the wheel, install it beside the oldest supported torch in a fresh venv, run the unit tests
test-oldtorch:
	rm -rf $(OLD_VENV) _build/wheel
	$(PYTHON) -m venv $(OLD_VENV)
	$(OLD_VENV)/bin/python -m pip install --quiet --upgrade "pip>=23"
	$(OLD_VENV)/bin/python -m pip wheel --quiet --no-deps --wheel-dir _build/wheel . && rm -rf build
	$(OLD_VENV)/bin/python -m pip install --quiet $(OLD_PINS) _build/wheel/cnnbook-*.whl
	cd _build && ../$(OLD_VENV)/bin/python -c "import torch, torchvision, numpy, cnnbook; \
	    print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'numpy', numpy.__version__, 'cnnbook', cnnbook.__file__)"
	cd _build && ../$(OLD_VENV)/bin/python -m pytest ../tests -p no:cacheprovider -o addopts="" -q \
	    --ignore=../tests/test_book.py --ignore=../tests/test_browser.py --ignore=../tests/test_jupyterlab.py --ignore=../tests/test_full_branches.py --ignore=../tests/test_full_branches_odd.py

## make lab: open the notebooks in JupyterLab
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

## make bench: execute every notebook in a fresh kernel and print its wall time
bench: $(STAMP)
	$(PY) scripts/bench_notebooks.py

## make record NAME=...: run one reference run (5 seeds per arm, one torch thread per run, one run per core)
## and write cnnbook/benchmarks/NAME.json; `$(PY) -m cnnbook.records --list` names them
record: $(STAMP)
	@test -n "$(NAME)" || { echo "usage: make record NAME=<record>; the records:"; $(PY) -m cnnbook.records --list; exit 2; }
	$(PY) -m cnnbook.records $(NAME)

## make records: run every reference run of the book, one after the other
records: $(STAMP)
	$(PY) -m cnnbook.records --all

## make execute: re-run every notebook top to bottom in a fresh kernel and save its outputs in place
execute: $(STAMP)
	$(PY) scripts/bench_notebooks.py --write

clean:
	rm -rf _build
