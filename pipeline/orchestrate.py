"""Run the whole pipeline fast: ``python -m pipeline.orchestrate --jobs N`` (what ``make repro`` runs).

1. ``dvc repro findings``: every upstream stage, one after another (DVC's own order);
2. the ``profile@<area>`` stages that are not up to date, ``N`` at a time. By default (``--profiles
   warm``) their commands, exactly as written in ``dvc.yaml``, run in ``N`` worker processes that each
   keep one Jupyter kernel warm between areas (``pipeline.warm_kernel``), and the rendered stages are
   then recorded in ``dvc.lock`` the way ``dvc commit`` records them (``commit_stages``). With
   ``--profiles dvc`` each runs as its own ``dvc --wait-for-lock repro --single-item profile@<area>``
   (stages with disjoint outputs may run at once; ``--wait-for-lock`` rides over DVC's brief global
   lock at start, see PIPELINE_NOTES.md). A stage whose command is not ``python -m pipeline.notebook``
   always takes the ``dvc`` path;
3. ``dvc repro`` for the rest (the index and anything else), which also confirms nothing is stale.

Either way the result is what a plain ``dvc repro`` gives (same commands, same files, same dvc.lock;
``tests/test_warm_kernel.py`` compares the HTML byte for byte); only the profiles run in parallel. A
failure anywhere stops the run with a non-zero exit code and names the failing stage; nothing is
recorded in dvc.lock for a run with a failure.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import paths
from .warm_kernel import StepResult, render_stage_commands, run_until_failure, split_commands

PROFILE_PREFIX = "profile@"
UPSTREAM_TARGET = "findings"

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


def run_step(stage: str, command: Sequence[str], runner: Runner = _default_runner) -> StepResult:
    start = time.perf_counter()
    result = runner(command)
    return StepResult(stage, result.returncode, time.perf_counter() - start,
                      (result.stdout or "") + (result.stderr or ""))


def run_parallel(stages: Sequence[str], command_for: Callable[[str], Sequence[str]], jobs: int,
                 runner: Runner = _default_runner) -> list[StepResult]:
    """Run one command per stage, ``jobs`` at a time. After the first failure no new stage starts;
    running ones finish. Results in completion order."""
    jobs = max(1, jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return run_until_failure(pool, list(stages), lambda s: pool.submit(run_step, s, command_for(s), runner), jobs)


def _fail(stage: str, output: str) -> None:
    tail = "\n".join(output.strip().splitlines()[-25:])
    print(f"\nFAILED: stage {stage}\n{tail}", file=sys.stderr)
    raise SystemExit(f"pipeline stopped: stage {stage} failed (see above)")


def stale_stage_commands(prefix: str = PROFILE_PREFIX) -> dict[str, str]:
    """The stages named ``prefix...`` that ``dvc repro`` would run now, with their commands (DVC's API)."""
    from dvc.repo import Repo
    with Repo(str(paths.ROOT)) as repo, repo.lock:
        return {stage.addressing: stage.cmd for stage in repo.index.stages
                if stage.addressing.startswith(prefix) and stage.changed()}


def commit_stages(names: Sequence[str]) -> None:
    """Record stages whose commands just ran outside ``dvc repro`` in dvc.lock and the cache.

    The same steps as ``dvc commit --force NAME...`` (dvc 3.67 ``Repo.commit``: save, commit, one dump per
    dvc.yaml), done in one pass: the command line re-collects the whole pipeline for each name it is
    given, 116 s for the 42 profiles here against about 2 s for this.
    """
    from dvc.repo import Repo
    wanted = set(names)
    with Repo(str(paths.ROOT)) as repo, repo.lock:
        stages = [stage for stage in repo.index.stages if stage.addressing in wanted]
        unknown = wanted - {stage.addressing for stage in stages}
        if unknown:
            raise SystemExit(f"cannot record unknown stages {sorted(unknown)} in dvc.lock")
        by_file: dict[str, list] = {}
        for stage in stages:
            stage.save()
            stage.commit()
            by_file.setdefault(stage.dvcfile.path, []).append(stage)
        for group in by_file.values():
            group[0].dvcfile.dump_stages(group, update_pipeline=False)


def orchestrate(jobs: int, runner: Runner = _default_runner, dvc: str | None = None, *, profiles: str = "warm",
                stale: Callable[[str], dict[str, str]] = stale_stage_commands,
                render: Callable[[dict[str, str], int], list[StepResult]] = render_stage_commands,
                commit: Callable[[Sequence[str]], None] = commit_stages) -> list[StepResult]:
    """Upstream stages, then the stale profiles (``profiles``: ``warm`` or ``dvc``), then the rest."""
    dvc = dvc or dvc_executable()
    log: list[StepResult] = []
    print(f"[1/3] dvc repro {UPSTREAM_TARGET} (upstream stages, serial)", flush=True)
    step = run_step(UPSTREAM_TARGET, [dvc, "repro", UPSTREAM_TARGET], runner)
    log.append(step)
    if step.returncode != 0:
        _fail(_failed_stage(step.output) or UPSTREAM_TARGET, step.output)
    print(f"      {step.seconds:.1f} s", flush=True)
    start = time.perf_counter()
    commands = stale(PROFILE_PREFIX)
    warm, other = split_commands(commands) if profiles == "warm" else ({}, sorted(commands))
    print(f"[2/3] {len(commands)} area profile(s) to render, {jobs} at a time"
          + (f" in warm kernels ({len(warm)})" if warm else "")
          + (f" through dvc repro ({len(other)})" if other else ""), flush=True)
    if warm:
        results = render(warm, jobs)
        log.extend(results)
        failures = [r for r in results if r.returncode != 0]
        if failures:
            _fail(failures[0].stage, failures[0].output)
        commit(sorted(warm))
    if other:
        results = run_parallel(other, lambda s: [dvc, "--wait-for-lock", "repro", "--single-item", s], jobs, runner)
        log.extend(results)
        failures = [r for r in results if r.returncode != 0]
        if failures:
            _fail(failures[0].stage, failures[0].output)
    print(f"      {time.perf_counter() - start:.1f} s", flush=True)
    print("[3/3] dvc repro (index and anything left)", flush=True)
    step = run_step("repro", [dvc, "repro"], runner)
    log.append(step)
    if step.returncode != 0:
        _fail(_failed_stage(step.output) or "repro", step.output)
    print(f"      {step.seconds:.1f} s", flush=True)
    return log


def _failed_stage(output: str) -> str | None:
    """The stage DVC names in its failure message ("failed to reproduce 'x'"), if any."""
    import re
    match = re.search(r"failed to reproduce '([^']+)'", output) or re.search(r"Stage '([^']+)'.*failed", output)
    return match.group(1) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 2, help="profiles rendered at once")
    parser.add_argument("--profiles", choices=["warm", "dvc"], default="warm",
                        help="warm: stage commands in warm-kernel workers, then recorded in dvc.lock (default); "
                             "dvc: one `dvc repro --single-item` per stale profile")
    args = parser.parse_args(argv)
    # the same environment for dvc's stage processes and the warm workers (which inherit this one's)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.setdefault("MPLBACKEND", "Agg")
    start = time.perf_counter()
    log = orchestrate(args.jobs, profiles=args.profiles)
    profile_times = sorted(r.seconds for r in log if r.stage.startswith(PROFILE_PREFIX))
    print(f"done in {time.perf_counter() - start:.1f} s"
          + (f"; {len(profile_times)} profiles, median {profile_times[len(profile_times) // 2]:.1f} s each (wall)"
             if profile_times else ""))
    print(f"reports: {paths.REPORTS / 'index.html'} (findings: {paths.REPORTS / 'findings.html'}; "
          f"area profiles: {paths.REPORTS_AREAS}/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
