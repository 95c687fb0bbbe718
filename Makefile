# The book's entry points. Each target creates .venv from requirements.txt on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book test lab bench execute clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23"
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## make book: render the HTML book into _build/html (notebooks are committed executed)
book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going

## make test: unit tests, every notebook under nbval, and the book build with warnings as errors
test: $(STAMP)
	$(PY) -m pytest

## make lab: open the notebooks in JupyterLab
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

## make bench: execute every notebook in a fresh kernel and print its wall time
bench: $(STAMP)
	$(PY) scripts/bench_notebooks.py

## make execute: re-run every notebook top to bottom in a fresh kernel and save its outputs in place
execute: $(STAMP)
	$(PY) scripts/bench_notebooks.py --write

clean:
	rm -rf _build
