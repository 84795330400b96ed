# Two commands: `make demo` and `make test`. Both create .venv and install pairmill first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The CPU wheel of torch, installed before the project so pip never pulls a CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install demo test lint bench engines flink-up spark-up engines-down

# PYTHONWARNINGS: setuptools warns about every editable install of a package whose folders are
# mapped (pyproject's package-dir); the mapping is deliberate, the warning is noise
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pairmill demo

# the suite runs mine and dedup on real Flink and Spark clusters: their engines first
test: $(STAMP) engines
	$(BIN)/python -m pytest -q

# Flink, Spark and Beam's job servers, pinned, into ~/.cache/pairmill/engines (PAIRMILL_ENGINES);
# fetched here at build time, never by a run
engines: $(STAMP)
	PYTHON=$(BIN)/python engines/engines.sh fetch

flink-up: engines
	PYTHON=$(BIN)/python engines/engines.sh flink-up

spark-up: engines
	PYTHON=$(BIN)/python engines/engines.sh spark-up

engines-down:
	engines/engines.sh down

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP) engines
	$(BIN)/python -m pip install --quiet -e ".[all,dev,bench]"
	$(BIN)/python benchmarks/bench_code_extraction.py
	$(BIN)/python benchmarks/bench_dedup.py
	$(BIN)/python benchmarks/bench_trainer.py --texts full
	$(BIN)/python benchmarks/bench_trainer.py --texts code
	$(BIN)/python benchmarks/bench_text_sources.py
	sh benchmarks/fetch_code_repos.sh && $(BIN)/python benchmarks/bench_code_recall.py --before 197bb1e^
	$(BIN)/python benchmarks/bench_removed.py
	$(BIN)/python benchmarks/bench_throughput.py
	$(BIN)/python benchmarks/bench_negatives.py --runs minilm:2000 tiny:10000 tiny:100000
	$(BIN)/python benchmarks/bench_stages.py
	$(BIN)/python benchmarks/bench_engines.py
