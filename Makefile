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

UV_VERSION := 0.13.9
# what `make lock` passes to uv: one platform and Python, so the lock does not depend on the machine running it
LOCK_FLAGS := --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	--no-emit-package rfc3987-syntax --custom-compile-command "make lock"

.PHONY: setup repro test lab validate verify bench lock clean-reports help

help:
	@echo "make repro    run the whole pipeline (sets up .venv first); reports land in reports/"
	@echo "make test     run every test (sets up .venv first)"
	@echo "make lab      JupyterLab on the project kernel"
	@echo "make validate the simulation study (Dask), reports/validation.html, validation/results/ (commit it)"
	@echo "make verify   check the reports against this clone's data, code and params"
	@echo "make bench    run the benchmarks (bench_pipeline.py: the users' dvc commands on a fresh clone)"
	@echo "make lock     regenerate requirements.lock from requirements.in (uv, hashes)"
	@echo "dvc, jupyter: source .venv/bin/activate first (then dvc repro, dvc exp run -S ..., dvc exp show)"

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip==26.3"
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name instep --display-name "In Step (.venv)" \
		--env PYTHONHASHSEED 0 --env MPLBACKEND Agg >/dev/null
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

# requirements.in -> requirements.lock (uv, hashes; keeps the versions already locked unless requirements.in
# needs others). Line 1 records requirements.in's sha256 for tests/test_foundation.py; environment.yml follows.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv && $(BIN)/uv --version | grep -q " $(UV_VERSION)" || \
		$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile requirements.in $(LOCK_FLAGS) --quiet -o requirements.lock
	$(BIN)/python tools/lockfile.py stamp
	$(BIN)/python tools/lockfile.py env
	@echo "requirements.lock regenerated from requirements.in; commit both"

bench: setup
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_reports.py
	$(BIN)/python benchmarks/bench_validation.py
