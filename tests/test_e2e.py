"""End to end, as a new user would: a copy of the repo, the pipeline run as `make repro` runs it, then checks.

Runs once per session (module fixture) in a temporary copy holding exactly the files git would give a clone
(tracked plus untracked-not-ignored), so nothing from the working tree's data/processed or reports leaks in.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import paths

pytestmark = [pytest.mark.slow]

BIN = Path(sys.executable).parent


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", INSTEP_ROOT=str(root), PYTHONPATH=str(root),
               PYTHONHASHSEED="0", MPLBACKEND="Agg")
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    return env


def _run(args: list[str], root: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=root, env=_env(root), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-6000:]}")
    return result


def copy_repo(dest: Path) -> Path:
    """Copy what a clone would hold (tracked + untracked-not-ignored files) and make it a git repo."""
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
    subprocess.run(git + ["commit", "-qm", "copy for end-to-end test"], cwd=dest, check=True)
    return dest


def _digests(root: Path, extra: tuple[Path, ...] | list[Path] = ()) -> dict[str, str]:
    files = sorted((root / "data" / "processed").rglob("*")) + [root / "reports" / "metrics.json", *extra]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()
            and "validation" not in p.parts}


def test_end_to_end_as_a_new_user(tmp_path):
    """One test (not a module fixture) so that parallel workers never build two copies."""
    root = copy_repo(tmp_path / "instep")
    built = _run([str(BIN / "python"), "-m", "pipeline.orchestrate", "--jobs", "2"], root, timeout=1800)
    print("\n".join(built.stdout.strip().splitlines()[-3:]))  # timings, for the CI log
    check_every_report_is_produced_and_linked(root)
    check_second_repro_is_up_to_date_and_status_clean(root)
    check_reports_are_offline_and_labelled_synthetic(root)
    check_report_tests_pass_on_the_built_reports(root)
    check_verify_says_matches(root)
    check_notebooks_run_under_nbval(root)
    check_rerun_is_byte_identical(root)


def check_report_tests_pass_on_the_built_reports(root: Path) -> None:
    """Tests that skip in a clean checkout (no reports yet) run here against the copy's real outputs."""
    result = _run([str(BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                   "tests/test_reports_offline.py", "tests/test_reports_no_names.py", "tests/test_estimation_demo.py",
                   "tests/test_provenance.py::test_every_report_page_carries_the_footer"], root, timeout=900)
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" not in summary and "failed" not in summary, result.stdout[-3000:]


def check_verify_says_matches(root: Path) -> None:
    out = _run([str(BIN / "python"), "-m", "pipeline.provenance", "verify"], root).stdout
    assert "overall: matches" in out, out[-3000:]


def check_every_report_is_produced_and_linked(root: Path) -> None:
    reports = root / "reports"
    index = (reports / "index.html").read_text(encoding="utf-8")
    for name in ["findings.html", "features.html", "estimate.html", "clean_survey.html"]:
        assert (reports / name).is_file(), name
        assert name in index, f"index does not link {name}"
    areas = sorted((reports / "areas").glob("*.html"))
    assert len(areas) == 42
    for page in areas:
        assert f"areas/{page.name}" in index, f"index does not link {page.name}"
    assert (root / "data" / "processed" / "estimates.csv").is_file()


def check_second_repro_is_up_to_date_and_status_clean(root: Path) -> None:
    start = time.perf_counter()
    out = _run([str(BIN / "dvc"), "repro"], root).stdout
    elapsed = time.perf_counter() - start
    assert "up to date" in out.lower() and "Running stage" not in out, out[-2000:]
    # The default pipeline is dvc.yaml; validation/dvc.yaml (the simulation study) runs only with `make validate`.
    status = _run([str(BIN / "dvc"), "status", "dvc.yaml"], root).stdout
    assert "up to date" in status.lower() or status.strip() == "", status
    print(f"no-op dvc repro took {elapsed:.2f} s")


RERUN_STAGES = ["clean_survey", "clean_fieldwork", "clean_outcomes", "clean_covariates", "features", "estimate"]


def check_rerun_is_byte_identical(root: Path) -> None:
    """Upstream stages rerun by `dvc repro` itself (a fresh process and kernel each) give the same processed
    data, metrics and HTML reports as the orchestrator's warm-kernel run did."""
    pages = [root / "reports" / f"{stage}.html" for stage in RERUN_STAGES]
    before = _digests(root, pages)
    assert any(k.endswith("estimates.csv") for k in before)
    for stage in RERUN_STAGES:
        _run([str(BIN / "dvc"), "repro", "--force", "--single-item", stage], root)
    after = _digests(root, pages)
    changed = [k for k in before if before[k] != after.get(k)]
    assert not changed, f"not deterministic: {changed}"


def check_reports_are_offline_and_labelled_synthetic(root: Path) -> None:
    pages = sorted((root / "reports").rglob("*.html"))
    assert pages
    external = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""", re.I)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not external.search(text), f"{page.name} loads something from the network"
        assert "SYNTHETIC DEMONSTRATION DATA" in text, f"{page.name} lacks the synthetic-data banner"


def check_notebooks_run_under_nbval(root: Path) -> None:
    notebooks = [str(p) for p in sorted((root / "notebooks").glob("0[1-5]_*.ipynb"))]
    _run([str(BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--nbval-lax",
          "--nbval-current-env", *notebooks], root, timeout=900)
