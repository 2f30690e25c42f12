# One command each: `make test` and `make book` create the virtual environment when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
BOOK_ARGS ?=
LINT_PATHS := notebooks/fmnist_rnn tests $(wildcard benchmarks)

# Offline machines keep the official files beside the repository; use them when present.
SHARED_DATA := $(abspath ../shared/fashion-mnist)
ifneq ($(wildcard $(SHARED_DATA)/MD5SUMS),)
export FASHION_MNIST_DIR ?= $(SHARED_DATA)
endif

.PHONY: setup test lint book book-smoke lab clean

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed

## Unit tests, then every notebook executed by nbmake, in the quick smoke profile.
test: setup
	FMNIST_PROFILE=smoke $(BIN)/python -m pytest tests notebooks --nbmake --nbmake-timeout=900 $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

## The book, every notebook executed (profile from FMNIST_PROFILE, default full).
book: setup
	$(BIN)/jupyter-book build . -W -n --keep-going

book-smoke: setup
	FMNIST_PROFILE=smoke $(BIN)/jupyter-book build . -W -n --keep-going $(BOOK_ARGS)

lab: setup
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf _build .pytest_cache
