# Two commands: `make demo` and `make test`. Both create .venv and install pairmill first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The CPU wheel of torch, installed before the project so pip never pulls a CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install demo test lint bench

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pairmill demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[all,dev,bench]"
	$(BIN)/python benchmarks/bench_code_extraction.py
	$(BIN)/python benchmarks/bench_dedup.py
	$(BIN)/python benchmarks/bench_trainer.py --texts full
	$(BIN)/python benchmarks/bench_trainer.py --texts code
	$(BIN)/python benchmarks/bench_text_sources.py
	sh benchmarks/fetch_code_repos.sh && $(BIN)/python benchmarks/bench_code_recall.py --before 197bb1e^
	$(BIN)/python benchmarks/bench_removed.py
	$(BIN)/python benchmarks/bench_negatives.py --runs minilm:2000 tiny:10000 tiny:100000
	$(BIN)/python benchmarks/bench_stages.py
