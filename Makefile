# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE := data/samples/paris
SHIFT  := 2026-11-30T19:00

.PHONY: demo test fuzz lint format bench clean notebooks

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## Plan the bundled Paris sample and show it
	$(BIN)/rebalance validate $(SAMPLE) --shift-start $(SHIFT)
	$(BIN)/rebalance plan $(SAMPLE) --shift-start $(SHIFT) --out out/paris

test: $(STAMP) lint  ## Lint, type-check, then the whole test suite (notebooks included)
	$(BIN)/python -m pytest -q -n 2

fuzz: $(STAMP)  ## The CLI on damaged files, plan folders and configs (FUZZ_RUNS=40 per test)
	$(BIN)/python -m pytest -q -n 2 -m fuzz tests/test_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check rebalance tests benchmarks data/samples
	$(BIN)/ruff format --check rebalance tests benchmarks data/samples
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix rebalance tests benchmarks data/samples
	$(BIN)/ruff format rebalance tests benchmarks data/samples

$(VENV)/.notebooks: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	touch $(VENV)/.notebooks

notebooks: $(VENV)/.notebooks  ## JupyterLab on notebooks/, with this checkout's rebalance
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)  ## Speed and memory tables (benchmarks/README.md): one city, then 50 on Dask
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/batch_bench.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
