"""Faults (issue 17 item 5): a run killed with SIGKILL leaves nothing that looks complete and is not, the next
run finishes with `dvc status` clean and outputs byte-identical to an uninterrupted run; read-only raw data
changes nothing.

The kill checks run inside tests/test_e2e.py on its copy of the repo (after a full, uninterrupted `dvc repro`
whose outputs are the reference), so the suite builds the pipeline once. What writes outputs atomically is
checked here directly.
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent

# (what runs, seconds after its start at which the whole process group gets SIGKILL)
KILL_POINTS = [
    (["dvc", "repro", "--force", "--single-item", "clean_responses"], 6.0),   # inside the clean kernels
    (["python", "-m", "pipeline.profiles", "--full"], 15.0),                 # some areas re-rendered, two half-way
    (["python", "-m", "pipeline.profiles", "--full"], 4.0),                  # while the kernels start
    (["dvc", "repro", "--force", "--single-item", "profiles"], 2.0),         # inside DVC, before the command
    (["dvc", "repro", "--force", "--single-item", "features"], 3.0),         # early: imports, kernel start
]


def _kill_after(args: list[str], seconds: float, root: Path, env: dict) -> bool:
    """Start ``args`` in its own process group, SIGKILL the group after ``seconds``; True if it was killed
    (False if it finished first)."""
    exe = [str(BIN / args[0]), *args[1:]]
    proc = subprocess.Popen(exe, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(1.0)  # kernels (their own sessions) notice their parent is gone and exit
        return True


def _half_done(root: Path) -> list[str]:
    """Outputs that look complete and are not: temp files outside DVC's ignore rules, or a page without its
    executed notebook (or the other way round) that the manifest or dvc.lock still records as done."""
    suspicious = []
    for path in (root / "reports").rglob("*"):
        if path.is_file() and path.name.startswith(".") and not path.name.endswith((".tmp", ".running.ipynb")):
            suspicious.append(str(path.relative_to(root)))
    return suspicious


def check_kills_leave_nothing_half_done(root: Path, run, output_digests) -> None:
    from tests.builders.repo import repo_env
    reference = output_digests(root)
    env = repo_env(root)
    killed = []
    for args, seconds in KILL_POINTS:
        if _kill_after(args, seconds, root, env):
            killed.append(f"{' '.join(args)} at {seconds:g} s")
        assert not _half_done(root), _half_done(root)
        run([str(BIN / "dvc"), "repro"], root, timeout=1800)  # what `make repro` runs
        status = run([str(BIN / "dvc"), "status"], root).stdout
        assert "up to date" in status.lower(), (args, status)
        now = output_digests(root)
        assert now == reference, (args, sorted(k for k in reference if reference[k] != now.get(k)))
    assert len(killed) >= 3, f"too few runs were still going at their kill point: {killed}"
    print("killed: " + "; ".join(killed))


def check_read_only_raw_changes_nothing(root: Path, run, output_digests) -> None:
    """data/raw read-only (files and folders): a forced rerun of the clean stages succeeds, same bytes."""
    reference = output_digests(root)
    raw = root / "data" / "raw"
    modes = {}
    for path in sorted(raw.rglob("*"), reverse=True) + [raw]:
        modes[path] = path.stat().st_mode
        path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)
    try:
        for stage in ("clean_responses", "clean_context"):
            run([str(BIN / "dvc"), "repro", "--force", "--single-item", stage], root)
        run([str(BIN / "dvc"), "repro"], root)
    finally:
        for path, mode in modes.items():
            path.chmod(stat.S_IMODE(mode))
    now = output_digests(root)
    assert now == reference, sorted(k for k in reference if reference[k] != now.get(k))


def test_notebook_outputs_are_written_by_rename(tmp_path, monkeypatch):
    """pipeline.io (which writes the pages too) never writes a final output in place: every write goes to a temp file
    in the same folder (ignored by .dvcignore) that os.replace moves over the target."""
    import pandas as pd

    from pipeline import io

    targets = []
    real_replace = os.replace

    def spy(src, dst):
        targets.append((Path(src).name, Path(dst).name))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    io.write_csv(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    io.write_json({"a": 1}, tmp_path / "x.json")
    io.write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "x.parquet")
    io.write_text("<p>x</p>", tmp_path / "x.html")
    assert [dst for _, dst in targets] == ["x.csv", "x.json", "x.parquet", "x.html"]
    ignore = (Path(__file__).resolve().parents[1] / ".dvcignore").read_text().splitlines()
    assert ".*.tmp" in ignore and ".*.running.ipynb" in ignore
    assert all(src.startswith(".") and src.endswith(".tmp") for src, _ in targets)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv", "x.html", "x.json", "x.parquet"]
