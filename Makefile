# The two set-up commands of the README: `make app` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: app test benchmark chromium mutation

# The package itself is installed editable (pyproject.toml), so every script and test imports attention_demo from
# this folder; --no-deps because its dependencies are requirements.txt, installed on the line before.
$(VENV)/.runtime: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --editable .
	touch $@

$(VENV)/.test: $(VENV)/.runtime requirements-test.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used), at the path the tests use.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

app: $(VENV)/.runtime
	$(PY) app.py

test: $(VENV)/.test chromium
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	OMP_NUM_THREADS=1 $(PY) -m pytest -q --durations=15

# Every benchmark of the README's Performance section (about 4 minutes on 2 cores). DATASET may be a local copy.
DATASET ?= bentrevett/multi30k
benchmark: $(VENV)/.runtime
	$(PY) benchmarks/benchmark_speed.py
	$(PY) benchmarks/benchmark_translation.py --dataset_name $(DATASET)
	$(PY) benchmarks/benchmark_app.py --dataset_name $(DATASET)
	$(PY) benchmarks/load_test.py --dataset_name $(DATASET)

# Mutation testing of the core modules (mutmut, configured under [tool.mutmut] in pyproject.toml): on demand, never
# in CI. CPU-heavy: MUTATION_CHILDREN test runs at a time. Always a fresh run (mutmut would keep the verdicts of
# unchanged functions even after the tests changed); prints the per-module scores at the end. `.venv/bin/mutmut
# browse` then shows the survivors, `.venv/bin/mutmut run NAME...` re-tests chosen mutants.
MUTATION_CHILDREN ?= 2
mutation: $(VENV)/.test
	rm -rf mutants
	OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN)
	$(PY) tests/mutation_scores.py
