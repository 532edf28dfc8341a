# Quick start: `make run` installs everything and starts visitlens at http://127.0.0.1:8000;
# `make test` runs the test suite (PostgreSQL and Redis on their standard local ports).
PYTHON ?= python3.11
VENV ?= .venv
BIN = $(VENV)/bin
# torch comes from PyTorch's CPU index: PyPI's own Linux wheel pulls the CUDA build and its nvidia
# packages (GBs). On a GPU machine: make install TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: install run test test-fast lint bench eval clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --retries 1 torch==2.13.0 --index-url $(TORCH_INDEX)
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/visitlens models build
	touch $@

run: install
	$(BIN)/visitlens up

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not integration and not browser"

# ruff (STYLE.md's rules, complexity), mypy (strict but for evals/), the import layers and the
# size of modules and functions
lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy nlp knowledge api workers evals
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit/test_import_graph.py tests/unit/test_code_shape.py

bench: install
	$(BIN)/visitlens bench

eval: install
	$(BIN)/visitlens eval ../shared/corpus

clean:
	rm -rf $(VENV) data models
