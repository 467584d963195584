# The two commands: `make run` (ingest corpus/ and serve) and `make test` (the whole suite).
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON ?= python3

.PHONY: run test install ingest lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU build, so nothing pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/policyqa ingest
	$(VENV)/bin/policyqa documents
	$(VENV)/bin/policyqa serve

ingest: install
	$(VENV)/bin/policyqa ingest --json

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check ingest rag api ui evals tests

clean:
	rm -rf data reports .pytest_cache
