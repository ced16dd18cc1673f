# vaekit: `make demo` and `make test` work on a fresh machine with Python 3.11 and the package registries.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BACKENDS ?= jax tensorflow torch
export VAEKIT_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: demo test lint docs unit install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo needs only the default backend (JAX).
$(VENV)/.demo-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[jax]"
	touch $@

# Tests need all three backends, the test tools, the docs tools, the table formats, the server and
# the exporters.
$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[jax,tensorflow,torch,test,docs,tables,serve,export,metrics]"
	touch $@ $(VENV)/.demo-installed

install: $(VENV)/.demo-installed
install-dev: $(VENV)/.dev-installed

demo: $(VENV)/.demo-installed
	$(BIN)/vaekit train --dataset shapes --model seed --epochs 30 --out runs/demo --overwrite --verbose 2
	$(BIN)/vaekit sample runs/demo --num 64 --seed 1 --out runs/demo/demo-samples.png --overwrite
	@echo "Demo done: open runs/demo/samples.png (and runs/demo/demo-samples.png)"

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check --no-cache src tests benchmarks
	$(BIN)/ruff format --no-cache --check src tests benchmarks

# The whole suite once per backend; each run is independent (KERAS_BACKEND is read at import).
unit: $(VENV)/.dev-installed
	@set -e; for b in $(BACKENDS); do \
		echo "=== tests on $$b ==="; \
		KERAS_BACKEND=$$b $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS); \
	done

# The API reference from the docstrings, offline; strict: a docstring or link that warns fails the build.
# No --quiet or --verbose: in mkdocs 1.6 either one lets warnings through strict mode (mkdocs#4126, #3991).
docs: $(VENV)/.dev-installed
	$(BIN)/mkdocs build --strict --site-dir build/site
	@echo "API reference: build/site/index.html"

test: lint docs unit

clean:
	rm -rf $(VENV) runs build src/*.egg-info .pytest_cache
