"""Benchmark: the users' own commands on a fresh clone, beside issue 16's "today" figures and its targets.

In a temporary clone of this repository (``git clone`` of HEAD: commit first), with this venv's ``dvc`` on PATH
(the README's ``source .venv/bin/activate``), it times:

1. plain ``dvc repro`` from nothing (no cache, no dvc.lock outputs), with every stage's peak memory;
2. a no-op ``dvc repro`` (median of ``--repeats``);
3. ``dvc exp run -S '++areas.kent.n_peers=8'`` (only kent's page is rendered again);
4. ``dvc exp run -S features.rwg_min=0.6`` (everything downstream of the features);
5. the 42 area pages the naive way (papermill CLI + nbconvert CLI per area) against the profiles stage's way
   (``--naive`` only: it takes several minutes), and with ``--ploomber`` Ploomber 0.23.3's parallel grid beside
   them (benchmarks/bench_reports.py).

Peak memory: ``ru_maxrss`` of each stage command's process tree is not visible through DVC, so every stage
command is run once more by itself under ``/usr/bin/time``-like accounting (``resource.getrusage`` of
children) after the run. Prints the machine's load average: on a shared machine the figures are slower than
on two idle cores. Needs no other tool than this venv (no farm-bench).

    .venv/bin/python benchmarks/bench_pipeline.py [--repeats 5] [--naive] [--ploomber] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# (label, today's figure from issue 16, target in seconds)
TODAY = {
    "dvc repro from nothing": (399.0, 90.0),
    "no-op dvc repro": (2.1, 1.0),
    "dvc exp run -S '++areas.kent.n_peers=8'": (16.0, 30.0),
    "dvc exp run -S features.rwg_min=0.6": (377.0, 90.0),
}
MEMORY_TARGET_MB = 1024


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", INSTEP_ROOT=str(root),
               PYTHONPATH=str(root))  # the clone's own pipeline package, not the editable install's
    env.pop("PYTHONHASHSEED", None)  # as a user's shell has it: the kernel spec sets what the notebooks need
    env.pop("MPLBACKEND", None)
    return env


def timed(args: list[str], root: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=root, env=_env(root), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def stage_peak_memory(root: Path) -> dict[str, float]:
    """Peak resident memory (MB) of each stage command and its children (kernels included), one at a time."""
    import yaml
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    peaks = {}
    for name, stage in stages.items():
        script = ("import resource, subprocess, sys; subprocess.run(sys.argv[1], shell=True, check=True, "
                  "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        out = subprocess.run([sys.executable, "-c", script, " ".join(str(stage["cmd"]).split())], cwd=root,
                             env=_env(root), check=True, capture_output=True, text=True).stdout
        peaks[name] = int(out.strip().splitlines()[-1]) / 1024
    return peaks


def row(label: str, seconds: float) -> str:
    today, target = TODAY[label]
    met = "met" if seconds <= target else "NOT met"
    return f"{label:<44} {seconds:8.1f} s   today {today:6.1f} s   target <= {target:5.1f} s   {met}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of the no-op repro (median)")
    parser.add_argument("--naive", action="store_true", help="also the naive 42-page chain (benchmarks/bench_reports.py)")
    parser.add_argument("--keep", type=Path, help="clone here and keep it (default: a temporary folder)")
    parser.add_argument("--ploomber", action="store_true", help="the 42 pages by Ploomber's parallel grid too")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="instep-bench-pipeline-"))
    root = work / "clone"
    if root.exists():
        shutil.rmtree(root)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(root)], check=True)
    print(f"fresh clone of {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=root, text=True, capture_output=True).stdout.strip()}"
          f" in {root}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at start")
    dvc = str(BIN / "dvc")
    results = {}
    results["dvc repro from nothing"] = timed([dvc, "repro"], root)
    print(row("dvc repro from nothing", results["dvc repro from nothing"]), flush=True)
    noop = [timed([dvc, "repro"], root) for _ in range(args.repeats)]
    results["no-op dvc repro"] = statistics.median(noop)
    print(row("no-op dvc repro", results["no-op dvc repro"]) + f"   (runs: {', '.join(f'{t:.2f}' for t in noop)})",
          flush=True)
    for label, setting in (("dvc exp run -S '++areas.kent.n_peers=8'", "++areas.kent.n_peers=8"),
                           ("dvc exp run -S features.rwg_min=0.6", "features.rwg_min=0.6")):
        results[label] = timed([dvc, "exp", "run", "-S", setting], root)
        print(row(label, results[label]), flush=True)
        subprocess.run(["git", "checkout", "-q", "--", "params.yaml", "dvc.lock"], cwd=root, check=True)
        subprocess.run([dvc, "repro", "-q"], cwd=root, env=_env(root), check=True, stdout=subprocess.DEVNULL)
    status = subprocess.run([dvc, "status"], cwd=root, env=_env(root), capture_output=True, text=True).stdout
    print(f"dvc status after the runs: {status.strip()}")
    if not args.skip_memory:
        peaks = stage_peak_memory(root)
        worst = max(peaks, key=peaks.get)
        print("peak memory per stage (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()))
        print(f"{'peak memory of any stage':<44} {peaks[worst]:8.0f} MB ({worst})   target <= {MEMORY_TARGET_MB} MB   "
              + ("met" if peaks[worst] <= MEMORY_TARGET_MB else "NOT met"))
    if args.naive or args.ploomber:
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_reports.py"),
                        *([] if args.naive else ["--skip-naive"]), *(["--ploomber"] if args.ploomber else [])],
                       cwd=root, env=_env(root), check=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
