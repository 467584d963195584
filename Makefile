# The two commands: `make run` (ingest corpus/ and serve) and `make test` (the whole suite).
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LLM_STAMP := $(VENV)/.installed-llamacpp
PYTHON ?= python3

.PHONY: run test test-fast install install-llm ingest lint clean browser ocr

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU build, so nothing pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ocr

# OCR of scans (PDF pages without text, PNG/JPEG/TIFF) runs Debian's Tesseract with its Vietnamese model:
# installed here when missing (as root), else the one command to run is printed.
ocr:
	@{ command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx vie \
	    && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; } \
	  || { [ "$$(id -u)" = 0 ] && apt-get update -qq \
	       && apt-get install -y -qq tesseract-ocr tesseract-ocr-vie fonts-dejavu-core; } \
	  || { echo "Tesseract (vie) or the DejaVu fonts (PDF export) are missing: run 'sudo apt-get install -y tesseract-ocr tesseract-ocr-vie fonts-dejavu-core', then make again"; exit 1; }

# The optional local LLM for the tests and POLICYQA_ANSWER_MODE=llamacpp, never needed by `make run`:
# llama-cpp-python builds llama.cpp from source (minutes on 2 cores); GGML_NATIVE=OFF keeps it portable.
$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PY) -m pip install --quiet -e '.[dev,llamacpp]'
	touch $(LLM_STAMP)

install-llm: $(LLM_STAMP)

run: install
	$(VENV)/bin/policyqa ingest
	$(VENV)/bin/policyqa documents
	$(VENV)/bin/policyqa serve

ingest: install
	$(VENV)/bin/policyqa ingest --json

# The browser tests drive Debian's chromium (never a Playwright-downloaded browser): installed here when
# missing and running as root, otherwise the one command to run is printed.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium; } \
	  || { echo "chromium is missing: run 'sudo apt-get install -y chromium', then make test again"; exit 1; }

test: install $(LLM_STAMP) browser
	$(PY) -m pytest

# The inner loop: everything not marked slow (no full-corpus ingest, no training, no browser).
test-fast: install
	$(PY) -m pytest -m "not slow" -p no:cacheprovider -q

# Style, and the layers (policyqa > api | ui | evals > ingest > rag): import-linter's contracts in pyproject.toml
# and the plain AST walk of tests/check_layers.py (tests/system/test_layers.py runs both inside `make test` too).
lint: install
	$(VENV)/bin/ruff check ingest rag api ui evals policyqa tests
	$(VENV)/bin/lint-imports
	$(PY) tests/check_layers.py

clean:
	rm -rf data reports .pytest_cache
