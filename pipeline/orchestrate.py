"""Run the whole pipeline fast: ``python -m pipeline.orchestrate --jobs N`` (what ``make repro`` runs).

1. ``dvc repro findings``: every upstream stage, one after another (DVC's own order);
2. the ``profile@<area>`` stages, ``N`` at a time, each ``dvc --wait-for-lock repro --single-item
   profile@<area>`` (stages with disjoint outputs may run at once; ``--wait-for-lock`` rides over
   DVC's brief global lock at start, see PIPELINE_NOTES.md);
3. ``dvc repro`` for the rest (the index and anything else), which also confirms nothing is stale.

The result is the same as a plain ``dvc repro`` (same stages, same dvc.lock); only the profiles run in
parallel. A failure anywhere stops the run with a non-zero exit code and names the failing stage.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from . import paths

PROFILE_PREFIX = "profile@"
UPSTREAM_TARGET = "findings"


@dataclass
class StepResult:
    stage: str
    returncode: int
    seconds: float
    output: str


Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


def dvc_executable() -> str:
    """The dvc beside this Python (the project venv), else the one on PATH."""
    local = Path(sys.executable).parent / "dvc"
    if local.is_file():
        return str(local)
    found = shutil.which("dvc")
    if not found:
        raise SystemExit("dvc is not installed in this environment; run `make setup`")
    return found


def _default_runner(command: Sequence[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"),
               MPLBACKEND=os.environ.get("MPLBACKEND", "Agg"))
    return subprocess.run(list(command), cwd=paths.ROOT, capture_output=True, text=True, env=env)


def profile_stages(stage_names: Sequence[str]) -> list[str]:
    """The per-area profile stages among ``stage_names``, sorted."""
    return sorted(name for name in stage_names if name.startswith(PROFILE_PREFIX))


def list_stages(dvc: str, runner: Runner = _default_runner) -> list[str]:
    result = runner([dvc, "stage", "list", "--name-only"])
    if result.returncode != 0:
        raise SystemExit(f"`dvc stage list` failed:\n{result.stderr.strip()}")
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def run_step(stage: str, command: Sequence[str], runner: Runner = _default_runner) -> StepResult:
    start = time.perf_counter()
    result = runner(command)
    return StepResult(stage, result.returncode, time.perf_counter() - start,
                      (result.stdout or "") + (result.stderr or ""))


def run_parallel(stages: Sequence[str], command_for: Callable[[str], Sequence[str]], jobs: int,
                 runner: Runner = _default_runner) -> list[StepResult]:
    """Run one command per stage, ``jobs`` at a time. After the first failure no new stage starts;
    running ones finish. Results in completion order."""
    results: list[StepResult] = []
    pending = list(stages)
    failed = False
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        running = set()
        while pending or running:
            while pending and not failed and len(running) < max(1, jobs):
                stage = pending.pop(0)
                running.add(pool.submit(run_step, stage, command_for(stage), runner))
            if not running:
                break
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                results.append(result)
                if result.returncode != 0:
                    failed = True
            if failed and not running:
                break
    return results


def _fail(stage: str, output: str) -> None:
    tail = "\n".join(output.strip().splitlines()[-25:])
    print(f"\nFAILED: stage {stage}\n{tail}", file=sys.stderr)
    raise SystemExit(f"pipeline stopped: stage {stage} failed (see above)")


def orchestrate(jobs: int, runner: Runner = _default_runner, dvc: str | None = None) -> list[StepResult]:
    dvc = dvc or dvc_executable()
    log: list[StepResult] = []
    print(f"[1/3] dvc repro {UPSTREAM_TARGET} (upstream stages, serial)", flush=True)
    step = run_step(UPSTREAM_TARGET, [dvc, "repro", UPSTREAM_TARGET], runner)
    log.append(step)
    if step.returncode != 0:
        _fail(_failed_stage(step.output) or UPSTREAM_TARGET, step.output)
    profiles = profile_stages(list_stages(dvc, runner))
    print(f"[2/3] {len(profiles)} area profiles, {jobs} at a time", flush=True)
    results = run_parallel(profiles, lambda s: [dvc, "--wait-for-lock", "repro", "--single-item", s], jobs, runner)
    log.extend(results)
    failures = [r for r in results if r.returncode != 0]
    if failures:
        _fail(failures[0].stage, failures[0].output)
    print("[3/3] dvc repro (index and anything left)", flush=True)
    step = run_step("repro", [dvc, "repro"], runner)
    log.append(step)
    if step.returncode != 0:
        _fail(_failed_stage(step.output) or "repro", step.output)
    return log


def _failed_stage(output: str) -> str | None:
    """The stage DVC names in its failure message ("failed to reproduce 'x'"), if any."""
    import re
    match = re.search(r"failed to reproduce '([^']+)'", output) or re.search(r"Stage '([^']+)'.*failed", output)
    return match.group(1) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 2, help="profiles rendered at once")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    log = orchestrate(args.jobs)
    profile_times = sorted(r.seconds for r in log if r.stage.startswith(PROFILE_PREFIX))
    print(f"done in {time.perf_counter() - start:.1f} s"
          + (f"; {len(profile_times)} profiles, median {profile_times[len(profile_times) // 2]:.1f} s each (wall, "
             f"including dvc)" if profile_times else ""))
    print(f"reports: {paths.REPORTS / 'index.html'} (findings: {paths.REPORTS / 'findings.html'}; "
          f"area profiles: {paths.REPORTS_AREAS}/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
