"""Render many report notebooks in kernels kept warm between them (what ``make repro`` does for every
notebook stage).

Measured here on the profile notebook: starting a Jupyter kernel costs about 0.8 s and importing
pandas and matplotlib in it another 1.1 s, more than the notebook's own cells (about 1.2 s), and the
``python -m pipeline.notebook`` process around it another 0.8 s of imports. So the per-area stage
commands run in a few long-lived worker processes instead, each holding one kernel:

* ``WarmKernel`` starts the project kernel once, imports the modules the notebooks import, and before
  each notebook puts the kernel back to the state of a fresh one: IPython's
  ``reset(new_session=True)`` (variables, history, execution count), matplotlib's figures and
  rcParams, pandas' options (back to their defaults), numpy's print options and the warnings filters
  as they were after start-up. Only imported modules survive.
  ``tests/test_warm_kernel.py`` renders profiles both ways and compares the HTML byte for byte.
* ``warm_pool`` starts such workers; ``render_stage_commands`` runs DVC stage commands
  (``python -m pipeline.notebook ...``, exactly as written in ``dvc.yaml``) ``jobs`` at a time in them
  (the benchmark), ``run_until_failure`` schedules stages over any pool (also used by
  ``pipeline.orchestrate``, which records each stage in dvc.lock the way ``dvc repro`` does).
"""
from __future__ import annotations

import ast
import json
import multiprocessing
import shlex
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from . import paths

STAGE_COMMAND = ("python", "-m", "pipeline.notebook")
STARTUP_TIMEOUT = 120
RESET_CODE = "from pipeline.warm_kernel import kernel_side_reset as _r; _r()  # the reset also removes _r"


@dataclass
class StepResult:
    stage: str
    returncode: int
    seconds: float
    output: str


def notebook_argv(cmd: str) -> list[str] | None:
    """The ``pipeline.notebook`` arguments of a stage command, or None if the command is anything else
    (such stages are left to ``dvc repro``)."""
    parts = shlex.split(cmd) if isinstance(cmd, str) else None
    if not parts or tuple(parts[:3]) != STAGE_COMMAND:
        return None
    return parts[3:]


def notebook_imports(notebook: Path) -> str:
    """The top-level import statements of a notebook's code cells, as one block of code.

    Run once in a new kernel so that the imports are paid once per worker; binding names is harmless
    because the namespace is reset before every notebook.
    """
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    lines: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse("".join(cell.get("source", "")))
        except SyntaxError:
            continue
        lines.extend(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))
    return "\n".join(dict.fromkeys(lines))


# --- kernel side: runs inside the kernel process --------------------------------------------------------------

_FRESH_STATE: dict = {}


def kernel_side_reset() -> None:
    """Put the kernel back to the state it had right after the warm-up imports, keeping the modules.

    The first call (just after the warm-up) records the warnings filters and matplotlib's rcParams as the
    imports left them; later calls restore them, close all figures and reset IPython.
    """
    import sys
    import warnings
    if not _FRESH_STATE:
        _FRESH_STATE["warnings"] = list(warnings.filters)
        if "matplotlib" in sys.modules:
            _FRESH_STATE["rc"] = sys.modules["matplotlib"].rcParams.copy()
        if "numpy" in sys.modules:
            _FRESH_STATE["numpy"] = sys.modules["numpy"].get_printoptions()
    else:
        warnings.filters[:] = _FRESH_STATE["warnings"]
        if "pandas" in sys.modules:  # e.g. 02_features sets display.max_columns; a fresh kernel has the defaults
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sys.modules["pandas"].reset_option("all")
        if _FRESH_STATE.get("numpy") is not None:
            sys.modules["numpy"].set_printoptions(**_FRESH_STATE["numpy"])
        # a warning already shown (recorded in each module's __warningregistry__) must show again in the
        # next notebook, as in a fresh kernel: bumping the filters version invalidates those records
        getattr(warnings, "_filters_mutated", lambda: None)()
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
        if _FRESH_STATE.get("rc") is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sys.modules["matplotlib"].rcParams.update(_FRESH_STATE["rc"])
    get_ipython().reset(new_session=True)  # noqa: F821 (defined in the kernel)


# --- client side -----------------------------------------------------------------------------------------------

def _kernel_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class ReusedKernelManager(AsyncKernelManager):
        """Stops the channels of the previous notebook's client when the next one connects
        (nbclient leaves them open when it does not own the kernel)."""
        _last_client = None

        def client(self, **kwargs):
            if self._last_client is not None:
                self._last_client.stop_channels()
            self._last_client = super().client(**kwargs)
            return self._last_client

    return ReusedKernelManager


def _prime_client() -> None:
    """Import what rendering a notebook needs on this side (papermill, nbformat, the HTML exporter)."""
    import papermill  # noqa: F401
    from .notebook import _html_exporter
    _html_exporter(True)


# drawn once after the imports: the first figure of a process pays matplotlib's font and backend set-up
FIRST_FIGURE = ("import matplotlib as _m, io as _io\n"
                "if 'matplotlib.pyplot' in __import__('sys').modules:\n"
                "    import matplotlib.pyplot as _p; _f = _p.figure(); _f.savefig(_io.BytesIO(), format='png'); "
                "_p.close(_f)")


class WarmKernel:
    """One project kernel kept alive across notebooks; ``reset()`` before each (``pipeline.notebook.run``
    calls it)."""

    def __init__(self, kernel_name: str, warm_up_code: str = "") -> None:
        self.kernel_name = kernel_name
        self.warm_up_code = warm_up_code
        self.km = None
        self._start()

    def _start(self) -> None:
        from jupyter_core.utils import run_sync
        from .notebook import local_kernel_transport
        self.transport = local_kernel_transport()
        self.km = _kernel_manager_class()(kernel_name=self.kernel_name, **self.transport)
        run_sync(self.km.start_kernel)(cwd=str(paths.ROOT))
        _prime_client()  # while the kernel process starts on the other core
        if self.warm_up_code:
            self._execute(self.warm_up_code)
        self._execute(RESET_CODE)  # records the state after the imports

    def _execute(self, code: str, *, wait_for_ready: bool = True) -> None:
        from jupyter_core.utils import run_sync
        client = self.km.client()
        client.start_channels()
        try:
            if wait_for_ready:  # not needed for a kernel that has answered before: zmq queues the request
                run_sync(client.wait_for_ready)(timeout=STARTUP_TIMEOUT)
            reply = run_sync(client.execute_interactive)(code, silent=True, store_history=False,
                                                         timeout=STARTUP_TIMEOUT, output_hook=lambda msg: None)
        finally:
            client.stop_channels()
            self.km._last_client = None
        if reply["content"].get("status") != "ok":
            content = reply["content"]
            raise RuntimeError(f"warm kernel set-up failed: {content.get('ename')}: {content.get('evalue')}")

    def alive(self) -> bool:
        from jupyter_core.utils import run_sync
        return self.km is not None and bool(run_sync(self.km.is_alive)())

    def reset(self) -> None:
        """Fresh namespace, history, execution count, figures, rcParams and warnings filters; a new kernel
        if the last notebook killed this one."""
        if not self.alive():
            self.shutdown()
            self._start()
            return
        self._execute(RESET_CODE, wait_for_ready=False)

    def shutdown(self) -> None:
        from jupyter_core.utils import run_sync
        if self.km is not None:
            try:
                if self._alive_quietly():
                    run_sync(self.km.shutdown_kernel)(now=True)
                run_sync(self.km.cleanup_resources)()  # also removes the IPC socket files
            finally:
                from .notebook import remove_kernel_folder
                remove_kernel_folder(self.transport)
                self.km = None

    def _alive_quietly(self) -> bool:
        try:
            return self.alive()
        except Exception:  # noqa: BLE001 (a half-started kernel: shut it down anyway)
            return True


# --- worker processes ------------------------------------------------------------------------------------------

_WORKER_KERNEL: WarmKernel | None = None


def _init_worker(kernel_name: str, warm_up_code: str) -> None:
    import os
    from multiprocessing import util
    os.chdir(paths.ROOT)
    global _WORKER_KERNEL
    _WORKER_KERNEL = WarmKernel(kernel_name, warm_up_code)
    util.Finalize(_WORKER_KERNEL, _WORKER_KERNEL.shutdown, exitpriority=10)


def render_in_worker(stage: str, argv: list[str]) -> StepResult:
    """Run one ``python -m pipeline.notebook`` command (its arguments) in this worker's warm kernel."""
    from . import notebook
    start = time.perf_counter()
    try:
        notebook.main(argv, kernel=_WORKER_KERNEL)
    except SystemExit as exc:  # pipeline.notebook names the stage, notebook and cell
        return StepResult(stage, 1, time.perf_counter() - start, str(exc))
    except Exception:  # noqa: BLE001 (reported with its traceback, the run stops)
        return StepResult(stage, 1, time.perf_counter() - start, traceback.format_exc())
    return StepResult(stage, 0, time.perf_counter() - start, "")


def warm_up_code(notebooks) -> str:
    """The import statements of all ``notebooks``, once each, and a first figure: what every worker's kernel
    runs first (the reset that follows removes every name they bind)."""
    return "\n".join([*dict.fromkeys(line for nb in sorted(set(notebooks))
                                      for line in notebook_imports(nb).splitlines()), FIRST_FIGURE])


def warm_pool(jobs: int, notebooks, kernel_name: str) -> ProcessPoolExecutor:
    """``jobs`` worker processes (started as tasks arrive), each holding a ``kernel_name`` kernel that has
    run the imports of ``notebooks``. Submit ``render_in_worker(stage, argv)``."""
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads (DVC)
    return ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context, initializer=_init_worker,
                               initargs=(kernel_name, warm_up_code(notebooks)))


def parse_notebook_command(cmd: str):
    """The parsed ``pipeline.notebook`` arguments of a stage command (argparse namespace plus ``argv``),
    or None if the command is anything else."""
    from .notebook import stage_argument_parser
    argv = notebook_argv(cmd)
    if argv is None:
        return None
    args = stage_argument_parser().parse_args(argv)
    args.argv = argv
    return args


def render_stage_commands(commands: dict[str, str], jobs: int, kernel_name: str | None = None,
                          progress: bool = True) -> list[StepResult]:
    """Run each stage's ``python -m pipeline.notebook`` command in ``jobs`` warm workers.

    ``commands``: stage name -> command as in dvc.yaml (each must pass ``notebook_argv``). After the first
    failure no new stage starts; running ones finish. Results in completion order.
    """
    from .notebook import KERNEL_NAME
    parsed = {}
    for stage, cmd in commands.items():
        parsed[stage] = parse_notebook_command(cmd)
        if parsed[stage] is None:
            raise ValueError(f"stage {stage}: command is not `python -m pipeline.notebook ...`: {cmd}")
    if not parsed:
        return []
    kernels = {args.kernel for args in parsed.values()}
    kernel_name = kernel_name or (kernels.pop() if len(kernels) == 1 else KERNEL_NAME)
    workers = max(1, min(jobs, len(parsed)))

    def report(result: StepResult, done: int) -> None:
        if progress:
            state = "ok" if result.returncode == 0 else "FAILED"
            print(f"  {result.stage}: {state} in {result.seconds:.1f} s ({done}/{len(parsed)})", flush=True)

    notebooks = [paths.ROOT / args.notebook for args in parsed.values()]
    with warm_pool(workers, notebooks, kernel_name) as pool:
        return run_until_failure(list(parsed), lambda stage: pool.submit(render_in_worker, stage, parsed[stage].argv),
                                 workers, report)


def run_until_failure(stages: list[str], submit, workers: int, report=None, *,
                      upstream: dict[str, set[str]] | None = None, finish=None) -> list[StepResult]:
    """Run ``stages`` (in priority order), at most ``workers`` at a time, each after the stages it needs.

    ``submit(stage)`` starts a stage and returns a future of its ``StepResult``, or None when there is
    nothing to run (the stage counts as done). ``upstream``: stage -> stages that must be done first (names
    outside ``stages`` are ignored). ``finish(result)``, if given, is called for each successful result as
    it arrives and returns the result to keep (e.g. a failure if recording the stage failed). After the
    first failure no new stage starts; running ones finish. Results in completion order; ``report(result,
    n_done)`` is called as each one ends.
    """
    names = set(stages)
    needs = {stage: set((upstream or {}).get(stage, ())) & names for stage in stages}
    results: list[StepResult] = []
    pending = list(stages)
    done_ok: set[str] = set()
    failed = False
    running: dict = {}
    while True:
        while not failed and len(running) < workers:
            stage = next((s for s in pending if needs[s] <= done_ok), None)
            if stage is None:
                break
            pending.remove(stage)
            future = submit(stage)
            if future is None:
                done_ok.add(stage)
            else:
                running[future] = stage
        if not running:
            break
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in sorted(finished, key=lambda f: stages.index(running[f])):
            stage = running.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 (e.g. a worker process killed: reported as that stage's failure)
                result = StepResult(stage, 1, 0.0, f"{type(exc).__name__}: {exc}")
            if result.returncode == 0 and finish is not None:
                result = finish(result)
            results.append(result)
            if report is not None:
                report(result, len(results))
            if result.returncode == 0:
                done_ok.add(stage)
            else:
                failed = True
    return results


# --- command line: several notebook runs of one stage in warm workers ------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.warm_kernel [--jobs N] --each NAME=V1,V2 -- NOTEBOOK --out ...{NAME}...``: the
    ``pipeline.notebook`` command once per value, ``jobs`` at a time in warm kernels (one DVC stage that
    renders one notebook several ways, e.g. the four clean kinds)."""
    import argparse
    import os
    import sys
    parser = argparse.ArgumentParser(prog="python -m pipeline.warm_kernel")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("INSTEP_JOBS", "2")))
    parser.add_argument("--each", action="append", default=[], metavar="NAME=V1,V2")
    parser.add_argument("notebook_argv", nargs=argparse.REMAINDER,
                        help="after --: the pipeline.notebook arguments, with {NAME} placeholders")
    args = parser.parse_args(argv)
    rest = args.notebook_argv[1:] if args.notebook_argv[:1] == ["--"] else args.notebook_argv
    from .notebook import expand_each
    runs = expand_each(args.each, rest)
    commands = {label or "run": shlex.join([*STAGE_COMMAND, *run_argv]) for label, run_argv in runs.items()}
    results = render_stage_commands(commands, args.jobs)
    failed = [r for r in results if r.returncode != 0]
    for result in failed:
        print(f"{result.stage} failed:\n{result.output}", file=sys.stderr)
    return 1 if failed or len(results) < len(commands) else 0


if __name__ == "__main__":
    raise SystemExit(main())
