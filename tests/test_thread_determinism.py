"""Bytes that travel: the features and estimate stages give byte-identical processed files and metrics
whatever the BLAS/OpenMP thread count (1 vs 2).

Runs in a copy of the repo (what a clone holds), through `dvc repro` as a user runs it: everything up to
``estimate`` once, then ``features`` and ``estimate`` forced with every thread variable at 1, then at 2; every file
under data/processed and reports/metrics.json is compared byte for byte.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.builders.repo import copy_repo, dvc

pytestmark = [pytest.mark.slow]

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "BLIS_NUM_THREADS")
UNDER_TEST = ("features", "estimate")


def digests(root: Path) -> dict[str, str]:
    files = sorted((root / "data" / "processed").rglob("*")) + [root / "reports" / "metrics.json"]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def test_features_and_estimate_identical_with_one_and_two_threads(tmp_path):
    root = copy_repo(tmp_path / "instep")
    dvc(root, "repro", "estimate")
    runs = {}
    for threads in (1, 2):
        env = {name: str(threads) for name in THREAD_VARIABLES}
        for stage in UNDER_TEST:
            dvc(root, "repro", "--force", "--single-item", stage, env=env)
        runs[threads] = digests(root)
    assert runs[1].keys() == runs[2].keys()
    differ = sorted(name for name in runs[1] if runs[1][name] != runs[2][name])
    print(f"\n{len(runs[1])} files compared (data/processed/** and reports/metrics.json); {len(differ)} differ")
    assert len(runs[1]) >= 10 and "reports/metrics.json" in runs[1]
    assert not differ, f"bytes differ between 1 and 2 BLAS/OpenMP threads: {differ}"
