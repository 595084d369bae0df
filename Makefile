# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE := data/samples/paris
SHIFT  := 2026-11-30T19:00
LINTED := rebalance tests benchmarks data/samples

.PHONY: demo test fuzz lint ruff format bench clean notebooks

# uv installs the versions pip would, from the same index, in a third of pip's time (22 s
# against 64 s on a clean clone, 2026-12-07); pip does it where uv cannot be had. Then
# the byte-code on every core (pip compiles on one), leaving out what no command or test
# imports: packages' own test suites, pip, setuptools, mypyc (16 s instead of 29 s).
# Like pip, a file that does not compile is skipped.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	($(BIN)/python -m pip install --quiet uv \
	  && $(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e '.[dev]') \
	|| ($(BIN)/python -m pip install --quiet --upgrade pip \
	  && $(BIN)/python -m pip install --quiet --no-compile -e '.[dev]')
	$(BIN)/python -m compileall -q -j 0 -x '/(tests?|pip|setuptools|mypyc)/' $(VENV)/lib > /dev/null || true
	touch $(STAMP)

demo: $(STAMP)  ## Plan the bundled Paris sample and show it
	$(BIN)/rebalance validate $(SAMPLE) --shift-start $(SHIFT)
	$(BIN)/rebalance plan $(SAMPLE) --shift-start $(SHIFT) --out out/paris

# Three workers on two cores: a third of the suite's time is tests waiting on sockets,
# timers and subprocesses, which a third worker fills (287 -> 260 s, 2026-12-07); mypy
# runs beside them in what is still idle.
test: $(STAMP) ruff  ## Lint, then the whole test suite (notebooks included) with type-checking beside it
	@# the project's byte-code too: the tests start many `rebalance` processes, and with
	@# PYTHONDONTWRITEBYTECODE set (as on this project's machines) each would compile it afresh
	@$(BIN)/python -m compileall -q -j 0 rebalance > /dev/null
	@log=$$(mktemp); $(BIN)/mypy > $$log 2>&1 & mypy=$$!; \
	$(BIN)/python -m pytest -q -n 3 --dist worksteal; tests=$$?; \
	wait $$mypy; types=$$?; echo "$(BIN)/mypy"; cat $$log; rm -f $$log; \
	test $$tests -eq 0 -a $$types -eq 0

fuzz: $(STAMP)  ## The CLI on damaged files, plan folders and configs (FUZZ_RUNS=40 per test)
	$(BIN)/python -m pytest -q -n 2 -m fuzz tests/test_fuzz.py

lint: ruff  ## ruff, then mypy
	$(BIN)/mypy

ruff: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: $(STAMP)
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

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
