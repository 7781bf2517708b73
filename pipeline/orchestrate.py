"""Run the whole pipeline fast: ``python -m pipeline.orchestrate --jobs N`` (what ``make repro`` runs).

It does what ``dvc repro`` does for the stages of the root ``dvc.yaml`` (the same stages, commands, files
and dvc.lock entries) but runs up to N stages at once where the stage graph allows, and runs the
notebook stages in warm kernels:

* **which stages, in which order**: DVC's stage graph (``repo.index.graph``) over the stages of dvc.yaml
  and whatever they depend on. A stage is ready when every stage it depends on is done; then, as in
  ``dvc repro``, it runs only if DVC says it changed (``Stage.changed``), so a stage whose inputs came
  out the same is skipped. Among ready stages the one with more stages downstream of it starts first,
  then dvc.yaml order (the estimate before the area profiles, which only the index waits for).
* **running a stage** (``--executor warm``, the default): DVC's own steps around the command, as in
  ``Stage.run`` (remove the outputs, restore from the run cache if DVC has this exact run, else run;
  save, commit), done by this process, which holds DVC's repository lock throughout. The command itself runs in one of N worker processes that keep a
  Jupyter kernel warm between notebooks (``pipeline.warm_kernel``: about 3 s of kernel start and imports
  saved per stage) when it is ``python -m pipeline.notebook ...`` run from the repository root; any
  other command runs through DVC's own ``cmd_run`` (a shell, as ``dvc repro`` runs it).
* ``--executor dvc``: each stage as its own ``dvc --wait-for-lock repro --single-item STAGE`` process, N at
  a time in the same order (DVC locks per path, so stages with disjoint outputs may run at once;
  ``--wait-for-lock`` rides over the brief global lock at start, see PIPELINE_NOTES.md). Slower; it
  exists to check the warm executor against DVC itself.

Each stage is saved and committed as soon as it finishes; the dvc.lock entries of all finished stages
are written in one pass when the run ends, also after a failure or Ctrl-C (``dvc repro`` rewrites the
whole file after every stage, about 1 s a time here). So after a failure the finished stages stay
recorded, as with ``dvc repro``; no new stage starts and the run exits non-zero naming the stage. At the end a fresh DVC repository object re-reads dvc.lock and confirms that no stage of
dvc.yaml is stale, i.e. that a plain ``dvc repro`` now has nothing to do. ``tests/test_orchestrate.py``
checks the scheduling and recording on a small DVC project; ``tests/test_e2e.py`` builds the real
pipeline this way and compares it byte for byte with stages rerun by ``dvc repro``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, chdir
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .warm_kernel import StepResult, parse_notebook_command, render_in_worker, run_until_failure, warm_pool

PROFILE_PREFIX = "profile@"
EXECUTORS = ("warm", "dvc")


def dvc_executable() -> str:
    """The dvc beside this Python (the project venv), else the one on PATH."""
    local = Path(sys.executable).parent / "dvc"
    if local.is_file():
        return str(local)
    found = shutil.which("dvc")
    if not found:
        raise SystemExit("dvc is not installed in this environment; run `make setup`")
    return found


@dataclass
class StageGraph:
    """The stages to consider, most-depended-on first, and what each needs (names are DVC addressings,
    e.g. ``profile@kent``)."""
    order: list[str]
    upstream: dict[str, set[str]]
    stages: dict  # name -> dvc Stage


def stage_graph(repo, dvcfile: Path) -> StageGraph:
    """The stages of ``dvcfile`` plus every stage they depend on, from DVC's graph (edges point from a
    stage to the stages whose outputs it reads)."""
    import networkx as nx
    graph = repo.index.graph
    target = Path(dvcfile).resolve()
    roots = [s for s in graph.nodes if Path(s.dvcfile.path).resolve() == target]
    if not roots:
        raise SystemExit(f"no stages in {dvcfile}")
    nodes = set(roots)
    for stage in roots:
        nodes |= nx.descendants(graph, stage)
    sub = graph.subgraph(nodes)
    file_order = {stage: i for i, stage in enumerate(repo.index.stages)}
    # ancestors in DVC's graph = the stages downstream of this one
    order = sorted(nodes, key=lambda s: (-len(nx.ancestors(sub, s)), file_order.get(s, len(file_order))))
    return StageGraph([s.addressing for s in order],
                      {s.addressing: {u.addressing for u in sub.successors(s)} for s in order},
                      {s.addressing: s for s in order})


class WarmExecutor:
    """Runs DVC stages in this process's repository (lock held by the caller): notebook commands in warm
    kernels, others through DVC's ``cmd_run``; records each stage as ``dvc repro`` would."""

    def __init__(self, graph: StageGraph, jobs: int) -> None:
        self.graph = graph
        self.jobs = max(1, jobs)
        self._stack = ExitStack()
        self._pool = None
        self._recorded: list = []  # saved and committed, dvc.lock entry not yet written
        self._threads = self._stack.enter_context(ThreadPoolExecutor(max_workers=self.jobs))
        from .notebook import KERNEL_NAME
        self.kernel_name = KERNEL_NAME
        self.warm_commands = {}  # stage -> parsed `python -m pipeline.notebook` arguments
        for name, stage in graph.stages.items():
            parsed = parse_notebook_command(stage.cmd) if isinstance(stage.cmd, str) else None
            # a notebook stage with another working directory or kernel runs through the shell, as in dvc repro
            if (parsed is not None and parsed.kernel == KERNEL_NAME
                    and Path(stage.wdir).resolve() == paths.ROOT.resolve()):
                self.warm_commands[name] = parsed

    def __enter__(self) -> WarmExecutor:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._stack.close()  # waits for running stages
        finally:
            self.write_lock_entries()

    def write_lock_entries(self) -> None:
        """Write the dvc.lock entries of the stages recorded so far, one write per dvc.yaml.

        Done once at the end (also after a failure or Ctrl-C): ``dvc repro`` writes after every stage,
        which re-reads and rewrites the whole lock file, about 1 s a time here for 51 stages. Whether a
        stage is stale depends only on its own entry, so deferring the writes changes no decision.
        """
        by_file: dict[str, list] = {}
        for stage in self._recorded:
            by_file.setdefault(stage.dvcfile.path, []).append(stage)
        self._recorded = []
        for group in by_file.values():
            group[0].dvcfile.dump_stages(group, update_pipeline=False)

    def _warm_pool(self):
        """Started at the first notebook stage that has to run (none in a no-op run)."""
        if self._pool is None:
            notebooks = {paths.ROOT / args.notebook for args in self.warm_commands.values()}
            self._pool = self._stack.enter_context(warm_pool(self.jobs, notebooks, self.kernel_name))
        return self._pool

    def submit(self, name: str) -> Future | None:
        """Start stage ``name`` if DVC says it changed; None if it is up to date."""
        from dvc.stage.cache import RunCacheNotFoundError
        stage = self.graph.stages[name]
        if stage.frozen or not stage.changed():
            return None
        if stage.is_import or not stage.cmd:
            raise SystemExit(f"stage {name} is not a command stage; run it with `dvc repro {name}`")
        stage.remove_outs(ignore_remove=False, force=False)
        try:
            stage.repo.stage_cache.restore(stage)
            done: Future = Future()
            done.set_result(StepResult(name, 0, 0.0, "restored from the run cache"))
            return done
        except RunCacheNotFoundError:
            stage.save_deps()
        if name in self.warm_commands:
            return self._warm_pool().submit(render_in_worker, name, self.warm_commands[name].argv)
        return self._threads.submit(_shell_stage, stage)

    def record(self, result: StepResult) -> StepResult:
        """Save and commit a stage whose command succeeded, as ``Stage.run`` does (its dvc.lock entry is
        written by ``write_lock_entries``); a failure to record fails the stage."""
        stage = self.graph.stages[result.stage]
        try:
            no_cache_outs = any(not out.use_cache for out in stage.outs if not (out.is_metric or out.is_plot))
            stage.save(run_cache=not no_cache_outs)
            stage.commit()
        except Exception:  # noqa: BLE001 (reported as this stage's failure)
            return StepResult(result.stage, 1, result.seconds, f"recording the stage failed:\n{traceback.format_exc()}")
        self._recorded.append(stage)
        return result


def _shell_stage(stage) -> StepResult:
    """A stage command that is not a notebook, run by DVC's own ``cmd_run`` (shell, cwd, environment)."""
    from dvc.stage.run import cmd_run
    start = time.perf_counter()
    try:
        cmd_run(stage)
    except Exception as exc:  # noqa: BLE001 (StageCmdFailedError names the command and exit code)
        return StepResult(stage.addressing, 1, time.perf_counter() - start, str(exc))
    return StepResult(stage.addressing, 0, time.perf_counter() - start, "")


def _dvc_stage(dvc: str, root: Path, name: str) -> StepResult:
    start = time.perf_counter()
    result = subprocess.run([dvc, "--wait-for-lock", "repro", "--single-item", name], cwd=root,
                            capture_output=True, text=True)
    return StepResult(name, result.returncode, time.perf_counter() - start, result.stdout + result.stderr)


def _progress(start: float) -> Callable[[StepResult, int], None]:
    def report(result: StepResult, done: int) -> None:
        state = "ok" if result.returncode == 0 else "FAILED"
        print(f"  {result.stage}: {state} in {result.seconds:.1f} s (done at {time.perf_counter() - start:.0f} s)",
              flush=True)
    return report


def _fail(stage: str, output: str) -> None:
    tail = "\n".join(output.strip().splitlines()[-25:])
    print(f"\nFAILED: stage {stage}\n{tail}", file=sys.stderr)
    raise SystemExit(f"pipeline stopped: stage {stage} failed (see above)")


def stale_stages(root: Path, dvcfile: Path) -> list[str]:
    """The stages of ``dvcfile`` that ``dvc repro`` would run now (a fresh repository object, so this
    reads dvc.lock as written)."""
    from dvc.repo import Repo
    with Repo(str(root)) as repo, repo.lock:
        graph = stage_graph(repo, dvcfile)
        return [name for name, stage in graph.stages.items() if stage.changed()]


def _stage_environment() -> None:
    """The environment every stage command inherits, whichever executor runs it: the one `make repro` sets,
    and `python` in a stage command is this environment's python (as when the venv is activated)."""
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ.setdefault("MPLBACKEND", "Agg")
    bin_dir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def orchestrate(jobs: int, *, executor: str = "warm", root: Path | None = None, dvcfile: Path | None = None,
                dvc: str | None = None) -> list[StepResult]:
    """Bring every stage of ``dvcfile`` (default: the root dvc.yaml) up to date, ``jobs`` at a time."""
    root = Path(root or paths.ROOT)
    dvcfile = Path(dvcfile or root / "dvc.yaml")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, not {executor!r}")
    _stage_environment()
    with chdir(root):  # DVC names stages and resolves run-cache paths from the working directory
        return _orchestrate(jobs, executor, root, dvcfile, dvc)


def _orchestrate(jobs: int, executor: str, root: Path, dvcfile: Path, dvc: str | None) -> list[StepResult]:
    from dvc.repo import Repo
    start = time.perf_counter()
    if executor == "warm":
        with Repo(str(root)) as repo, repo.lock:
            graph = stage_graph(repo, dvcfile)
            print(f"{len(graph.order)} stages in {dvcfile.name}; up to {jobs} at a time "
                  f"(notebook stages in warm kernels)", flush=True)
            with WarmExecutor(graph, jobs) as run:
                results = run_until_failure(graph.order, run.submit, max(1, jobs), _progress(start),
                                            upstream=graph.upstream, finish=run.record)
    else:
        with Repo(str(root)) as repo, repo.lock:
            graph = stage_graph(repo, dvcfile)
        dvc = dvc or dvc_executable()
        print(f"{len(graph.order)} stages in {dvcfile.name}; up to {jobs} `dvc repro --single-item` at a time",
              flush=True)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as threads:
            results = run_until_failure(graph.order, lambda name: threads.submit(_dvc_stage, dvc, root, name),
                                        max(1, jobs), _progress(start), upstream=graph.upstream)
    failures = [r for r in results if r.returncode != 0]
    if failures:
        _fail(failures[0].stage, failures[0].output)
    print(f"ran {len(results)} of {len(graph.order)} stages in {time.perf_counter() - start:.1f} s", flush=True)
    # with nothing run, the plan above already read dvc.lock afresh and found every stage up to date
    stale = stale_stages(root, dvcfile) if results else []
    if stale:
        raise SystemExit(f"after the run DVC still finds stages stale: {', '.join(stale)}")
    print(f"dvc.lock up to date: `dvc repro` has nothing to do ({len(graph.order)} stages checked)", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 2, help="stages run at once")
    parser.add_argument("--executor", choices=EXECUTORS, default="warm",
                        help="warm: stage commands in this process's workers (notebooks in warm kernels), "
                             "recorded in dvc.lock as dvc repro does (default); dvc: one "
                             "`dvc repro --single-item` process per stage")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    log = orchestrate(args.jobs, executor=args.executor)
    profile_times = sorted(r.seconds for r in log if r.stage.startswith(PROFILE_PREFIX))
    print(f"done in {time.perf_counter() - start:.1f} s"
          + (f"; {len(profile_times)} profiles, median {profile_times[len(profile_times) // 2]:.1f} s each"
             if profile_times else ""))
    print(f"reports: {paths.REPORTS / 'index.html'} (findings: {paths.REPORTS / 'findings.html'}; "
          f"area profiles: {paths.REPORTS_AREAS}/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
