"""A copy of the repo as a clone holds it, for tests that run the pipeline the way a user does (`dvc repro`).

Tracked plus untracked-not-ignored files of the working tree, made a git repository of its own (DVC reads git),
so nothing from this checkout's data/processed, reports or .dvc/cache leaks in.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline import paths

BIN = Path(sys.executable).parent


def copy_repo(dest: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=paths.ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = paths.ROOT / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    git = ["git", "-c", "user.name=In Step test", "-c", "user.email=test@example.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(git + ["add", "-A"], cwd=dest, check=True)
    subprocess.run(git + ["commit", "-qm", "copy for a pipeline test"], cwd=dest, check=True)
    return dest


def repo_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment `make repro` gives the stages (the venv first on PATH, fixed hash seed, Agg backend)."""
    env = dict(os.environ)
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", INSTEP_ROOT=str(root), PYTHONPATH=str(root),
               PYTHONHASHSEED="0", MPLBACKEND="Agg")
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env.update(extra)
    return env


def run_in(root: Path, args: list[str], timeout: int = 900, env: dict | None = None,
           check: bool = True) -> subprocess.CompletedProcess:
    """Run ``args`` in the copy; with ``check`` a non-zero exit fails with the tail of both streams."""
    result = subprocess.run(args, cwd=root, env={**repo_env(root), **(env or {})}, capture_output=True, text=True,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-6000:]}")
    return result


def dvc(root: Path, *args: str, timeout: int = 1800, env: dict | None = None,
        check: bool = True) -> subprocess.CompletedProcess:
    return run_in(root, [str(BIN / "dvc"), *args], timeout=timeout, env=env, check=check)
