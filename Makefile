# One command each: `make test` and `make book` create the virtual environment when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
BOOK_ARGS ?=
LINT_PATHS := notebooks/fmnist_rnn tests book/_ext scripts $(wildcard benchmarks)
# The book's HTML, from `jupyter-book build book`.
HTML := book/_build/html

# Offline machines keep the official files beside the repository; use them when present.
SHARED_DATA := $(abspath ../shared/fashion-mnist)
ifneq ($(wildcard $(SHARED_DATA)/MD5SUMS),)
export FASHION_MNIST_DIR ?= $(SHARED_DATA)
endif
# Fewer TensorFlow start-up lines in terminals (the notebooks' kernels keep native log
# lines out of cell outputs through book/ipython_kernel_config.json, installed by setup).
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup test test-quick lint book book-smoke check-offline newcomer lock lab clean

# requirements.txt ends with `-e .`: the helper package is installed in editable mode.
$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

setup: $(VENV)/.installed

## The project's test command (CI runs it): unit tests, then every notebook executed by
## nbmake, in the quick smoke profile.
test: setup
	FMNIST_PROFILE=smoke $(BIN)/python -m pytest tests notebooks --nbmake --nbmake-timeout=900 $(PYTEST_ARGS)

## Unit tests only, without the slow ones (multi-process runs, full-test-set evaluations).
test-quick: setup
	FMNIST_PROFILE=smoke $(BIN)/python -m pytest tests -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

## The book into book/_build/html (profile from FMNIST_PROFILE, default full). Notebooks run
## through Jupyter Book's cache: a second build with nothing changed executes nothing.
book: setup
	$(BIN)/jupyter-book build book -W -n --keep-going $(BOOK_ARGS)

book-smoke: setup
	FMNIST_PROFILE=smoke $(BIN)/jupyter-book build book -W -n --keep-going $(BOOK_ARGS)

## The built book read with no network in headless Chromium: equations rendered, nothing
## fetched from the internet (needs `chromium`, e.g. `apt-get install chromium`).
check-offline: setup
	$(BIN)/python scripts/check_offline_book.py $(HTML)

## A newcomer's run: fresh clone of HEAD, no ../shared, FASHION_MNIST_DIR unset, a temporary
## HOME whose Keras cache holds the four files. `make newcomer TARGETS="test book"`.
newcomer:
	scripts/newcomer-check $(TARGETS)

## Regenerate constraints.txt: requirements.txt resolved afresh in a throwaway venv, frozen.
lock:
	scripts/lock-constraints

lab: setup
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf book/_build _build .pytest_cache
