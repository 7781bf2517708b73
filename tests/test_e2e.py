"""End to end, as a new user would: a copy of the repo, the pipeline run as `make repro` runs it (`dvc repro`),
then checks, then faults (SIGKILL at several points, read-only raw data) in the same copy.

Runs once per session (module fixture) in a temporary copy holding exactly the files git would give a clone
(tracked plus untracked-not-ignored), so nothing from the working tree's data/processed or reports leaks in.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.builders.repo import BIN, copy_repo, run_in

pytestmark = [pytest.mark.slow]



def _run(args: list[str], root: Path, timeout: int = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_in(root, args, timeout=timeout, env=env)


def _digests(root: Path, extra: tuple[Path, ...] | list[Path] = ()) -> dict[str, str]:
    files = sorted((root / "data" / "processed").rglob("*")) + [root / "reports" / "metrics.json",
                                                                 root / "reports" / "estimate_provenance.json", *extra]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()
            and "validation" not in p.parts}


def test_end_to_end_as_a_new_user(tmp_path):
    """One test (not a module fixture) so that parallel workers never build two copies."""
    root = copy_repo(tmp_path / "instep")
    start = time.perf_counter()
    _run([str(BIN / "dvc"), "repro"], root, timeout=1800)
    print(f"dvc repro from nothing took {time.perf_counter() - start:.1f} s")
    check_every_report_is_produced_and_linked(root)
    check_second_repro_is_up_to_date_and_status_clean(root)
    check_reports_are_offline_and_labelled_synthetic(root)
    check_report_tests_pass_on_the_built_reports(root)
    check_verify_says_matches(root)
    check_notebooks_run_under_nbval(root)
    check_rerun_is_byte_identical(root)
    check_one_area_change_rerenders_only_that_area(root)
    check_readme_commands(root)
    from tests.test_faults import check_kills_leave_nothing_half_done, check_read_only_raw_changes_nothing
    check_kills_leave_nothing_half_done(root, _run, output_digests)
    check_read_only_raw_changes_nothing(root, _run, output_digests)


def check_report_tests_pass_on_the_built_reports(root: Path) -> None:
    """Tests that skip in a clean checkout (no reports yet) run here against the copy's real outputs."""
    from pipeline.publish import checks
    # the page tests of issue 15 (raw names, weights, titles; axe-core, first screen, print) on the built pages;
    # the browser ones only where Chromium and its driver are installed (.ci/run installs them)
    browser = [] if checks.axe_unavailable_reason() else ["tests/test_accessibility.py"]
    result = _run([str(BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                   "tests/test_reports_offline.py", "tests/test_reports_no_names.py", "tests/test_estimation_demo.py",
                   "tests/test_publish_pages.py", *browser,
                   "tests/test_provenance.py::test_every_report_page_carries_the_footer"], root, timeout=900)
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" not in summary and "failed" not in summary, result.stdout[-3000:]


def check_verify_says_matches(root: Path) -> None:
    out = _run([str(BIN / "python"), "-m", "pipeline.provenance", "verify"], root).stdout
    assert "overall: matches" in out, out[-3000:]
    assert "reports/estimate_provenance.json: matches" in out, out[-3000:]  # the metrics' record is checked too


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
    # plain `dvc status`, as the README shows it: the simulation study is not a DVC stage (validation/study.yaml)
    status = _run([str(BIN / "dvc"), "status"], root).stdout
    assert "up to date" in status.lower(), status
    print(f"no-op dvc repro took {elapsed:.2f} s")


RERUN_STAGES = ["clean_responses", "clean_context", "features", "estimate"]
CLEAN_PAGES = ["clean_survey", "clean_fieldwork", "clean_outcomes", "clean_covariates", "features", "estimate"]


def output_digests(root: Path) -> dict[str, str]:
    """sha256 of every output: processed data, metrics, every HTML page and executed notebook under reports/."""
    # dot-files are the temporary files of atomic writes (.dvcignore'd, never an output; tests/test_faults.py checks
    # that none is left where an output should be)
    pages = sorted(p for p in (root / "reports").rglob("*") if p.suffix in (".html", ".ipynb", ".json", ".csv")
                   and not p.name.startswith("."))
    return _digests(root, pages)


def check_rerun_is_byte_identical(root: Path) -> None:
    """Upstream stages rerun by `dvc repro --force` (a fresh process and kernels) and every area rendered again
    (`pipeline.profiles --full`, other kernels, other areas before each) give the same processed data,
    metrics, HTML pages and executed notebooks."""
    before = output_digests(root)
    assert any(k.endswith("estimates.csv") for k in before)
    assert sum(k.startswith("reports/areas/") for k in before) == 85  # 42 pages, 42 notebooks, the manifest
    logs = root.parent / "opens"
    for stage in [*RERUN_STAGES, "findings"]:
        _run([str(BIN / "dvc"), "repro", "--force", "--single-item", stage], root, env=_audit_env(root, logs, stage))
    _run([str(BIN / "python"), "-m", "pipeline.profiles", "--full"], root, timeout=1800,
         env=_audit_env(root, logs, "profiles"))
    after = output_digests(root)
    changed = [k for k in before if before[k] != after.get(k)]
    assert not changed, f"not deterministic: {changed}"
    check_every_file_read_is_a_declared_dep(root, logs)
    status = _run([str(BIN / "dvc"), "status"], root).stdout
    assert "up to date" in status.lower(), status


def check_readme_commands(root: Path) -> None:
    """Each command the README shows, as tests/test_readme.py maps it; the experiment is undone afterwards."""
    from tests.test_readme import README_COMMANDS, readme_commands
    for command in readme_commands():
        args = README_COMMANDS[command]
        if args is None:
            continue
        exe = str(BIN / args[0]) if (BIN / args[0]).is_file() else args[0]
        out = _run([exe, *args[1:]], root, timeout=1800).stdout
        if args[:2] == ["dvc", "status"]:
            assert "up to date" in out.lower(), out
    _run(["git", "checkout", "-q", "--", "params.yaml", "dvc.lock"], root)
    _run([str(BIN / "dvc"), "repro"], root)
    assert "up to date" in _run([str(BIN / "dvc"), "status"], root).stdout.lower()


AUDIT = Path(__file__).parent / "audit"
# read by every stage and tracked by DVC itself: the stage definitions, their params, DVC's ignore rules
DVC_OWN = {"dvc.yaml", "dvc.lock", "params.yaml", ".dvcignore"}
# imported by everything and holding only the version string (tests/test_dvc_stages.py leaves it out too)
NOT_DEPS = {"pipeline/__init__.py"}


def _audit_env(root: Path, logs: Path, stage: str) -> dict:
    folder = logs / stage
    folder.mkdir(parents=True, exist_ok=True)
    return {"PYTHONPATH": f"{AUDIT}{os.pathsep}{root}", "INSTEP_AUDIT_OPENS": str(folder)}


def _is_write(mode: str) -> bool:
    if mode.startswith("flags="):
        flags = int(mode[6:] or 0)
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
    return any(c in mode for c in "wax+")


def check_every_file_read_is_a_declared_dep(root: Path, logs: Path) -> None:
    """Every file a stage's processes opened for reading (stage command and kernels, traced with an audit hook)
    is one of its declared deps, its own outputs, or DVC's own files. Parquet files are read by pyarrow's C++
    without a Python open: they are checked by test_dvc_stages.py's static check of paths.processed names."""
    from pipeline import provenance
    stages = provenance.stages(root)
    problems = {}
    for folder in sorted(logs.iterdir()):
        definition = stages[folder.name]
        covered = [*definition["deps"], *definition["outs"], *DVC_OWN]
        read = set()
        for log in folder.glob("*.txt"):
            for line in log.read_text(encoding="utf-8").splitlines():
                mode, _, path = line.partition("\t")
                path = Path(path)
                if root not in path.parents or _is_write(mode):
                    continue
                rel = path.relative_to(root).as_posix()
                if rel.startswith((".git/", ".dvc/", ".venv/")) or rel in NOT_DEPS or "__pycache__" in rel or path.name.startswith(".") \
                        or path.is_dir() or not path.exists():
                    continue
                read.add(rel)
        assert read, f"no file reads traced for {folder.name}: is the audit hook installed?"
        hidden = sorted(r for r in read if not any(r == c or r.startswith(c.rstrip("/") + "/") for c in covered))
        if hidden:
            problems[folder.name] = hidden
    assert not problems, f"files read but not declared as deps: {problems}"


def check_one_area_change_rerenders_only_that_area(root: Path) -> None:
    """`areas.kent` changed: the profiles stage renders kent only (the manifest), and going back gives pages
    byte-identical to the full render."""
    import yaml
    before = output_digests(root)
    params_path = root / "params.yaml"
    original = params_path.read_text(encoding="utf-8")
    params = yaml.safe_load(original)
    params["areas"]["kent"] = {"n_peers": 8}
    params_path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    out = _run([str(BIN / "dvc"), "repro"], root).stdout
    assert "profiles: 1 of 42 area(s) to render" in out, out[-2000:]
    after = output_digests(root)
    changed = sorted(k for k in before if before[k] != after.get(k))
    assert {"reports/areas/kent.html", "reports/areas/kent.ipynb"} <= set(changed), changed
    assert all(k.startswith(("reports/areas/kent.", "reports/areas/manifest.json", "reports/index.html"))
               for k in changed), changed
    params_path.write_text(original, encoding="utf-8")
    _run([str(BIN / "dvc"), "repro"], root)
    again = output_digests(root)
    assert {k: v for k, v in again.items()} == before, [k for k in before if before[k] != again.get(k)]


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
