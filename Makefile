# In Step: `make repro` runs the whole pipeline, `make test` runs every test. Both set up .venv first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.setup-done
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: setup repro test lab validate verify bench clean-reports help

help:
	@echo "make repro    run the whole pipeline (sets up .venv first); reports land in reports/"
	@echo "make test     run every test (sets up .venv first)"
	@echo "make lab      JupyterLab on the project kernel"
	@echo "make validate the simulation study (Dask), reports/validation.html, validation/results/ (commit it)"
	@echo "make verify   check the reports against this clone's data, code and params"
	@echo "make bench    run the benchmarks"

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip==26.3" "setuptools==80.9.0" "wheel==0.45.1"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name instep --display-name "In Step (.venv)" >/dev/null
	@touch $(STAMP)

repro: setup
	$(BIN)/dvc repro

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks

validate: setup
	$(BIN)/python -m pipeline.study run
	$(BIN)/dvc repro

verify: setup
	$(BIN)/python -m pipeline.provenance verify

bench: setup
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_reports.py
	$(BIN)/python benchmarks/bench_validation.py
