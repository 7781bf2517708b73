"""Bytes that travel: the features and estimate stages give byte-identical processed files and metrics
whatever the BLAS/OpenMP thread count (1 vs 2).

Runs in a copy of the repo (what a clone holds). The stage commands are read from dvc.yaml, not hard-coded:
first the stages the two depend on (clean_*, plan), once; then features and estimate with every thread
variable at 1, then at 2; every file under data/processed and reports/metrics.json is compared byte for byte.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import paths

pytestmark = [pytest.mark.slow]

BIN = Path(sys.executable).parent
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "BLIS_NUM_THREADS")
UPSTREAM = ("clean_survey", "clean_fieldwork", "clean_outcomes", "clean_covariates", "plan")
UNDER_TEST = ("features", "estimate")


def copy_repo(dest: Path) -> Path:
    """Tracked + untracked-not-ignored files of the working tree (no data/processed, no reports)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=paths.ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = paths.ROOT / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def stage_commands(root: Path, names) -> list[str]:
    """The ``cmd`` of each named stage as dvc.yaml declares it (a list of commands is run in order)."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    out = []
    for name in names:
        if name not in stages:
            continue  # a stage another branch renamed or split: the test covers what dvc.yaml declares
        cmd = stages[name]["cmd"]
        out.extend(cmd if isinstance(cmd, list) else [cmd])
    return out


def run_commands(commands, root: Path, threads: int | None = None) -> None:
    env = dict(os.environ)
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", INSTEP_ROOT=str(root), PYTHONPATH=str(root),
               PYTHONHASHSEED="0", MPLBACKEND="Agg")
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    if threads is not None:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    for cmd in commands:
        result = subprocess.run(cmd, shell=True, cwd=root, env=env, capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"


def digests(root: Path) -> dict[str, str]:
    files = sorted((root / "data" / "processed").rglob("*")) + [root / "reports" / "metrics.json"]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def test_features_and_estimate_identical_with_one_and_two_threads(tmp_path):
    root = copy_repo(tmp_path / "instep")
    run_commands(stage_commands(root, UPSTREAM), root)
    commands = stage_commands(root, UNDER_TEST)
    assert commands, "dvc.yaml declares neither a features nor an estimate stage"
    runs = {}
    for threads in (1, 2):
        run_commands(commands, root, threads)
        runs[threads] = digests(root)
    assert runs[1].keys() == runs[2].keys()
    differ = sorted(name for name in runs[1] if runs[1][name] != runs[2][name])
    print(f"\n{len(runs[1])} files compared (data/processed/** and reports/metrics.json); {len(differ)} differ")
    assert len(runs[1]) >= 10 and "reports/metrics.json" in runs[1]
    assert not differ, f"bytes differ between 1 and 2 BLAS/OpenMP threads: {differ}"
