# The two set-up commands of the README: `make app` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: app test benchmark chromium

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test: $(VENV)/.runtime requirements-test.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

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
	$(PY) benchmarks/benchmark_app.py
	$(PY) benchmarks/load_test.py
