"""Benchmark: render the area profiles the naive way and In Step's way, in one run.

Naive chain (what a notebook pipeline often does): per area, one after another, the ``papermill`` CLI
then the ``jupyter nbconvert`` CLI (two fresh Python processes and a kernel per area).
In Step's way, what the ``profiles`` stage of ``dvc repro`` does (``pipeline.profiles``): each area's
``pipeline.notebook`` arguments run in ``--jobs`` worker processes that keep a kernel warm between notebooks
(``pipeline.warm_kernel``). Not included: DVC's checks around the stage. Both ways take each area's notebook
parameters from the same arguments. ``--ploomber`` adds a third way, the field's notebook-pipeline tool:
Ploomber 0.23.3's parallel grid (one ``NotebookRunner`` task with a ``grid`` of every area's parameters,
``executor: parallel`` with ``--jobs`` processes, HTML products without code), run by ``ploomber build --force``
from a venv of its own (``.benchmarks/ploomber-0.23.3``, made with pip on first use: Ploomber is not a dependency
of In Step). The notebook it runs is a copy of the profile notebook whose parameters cell also declares
``upstream = None`` and ``product = None``, as Ploomber requires; it runs in the project's kernel.

Prints wall time of each way, the median seconds per profile and the speed-up ratios. Writes only to a
temporary folder (reports/ is untouched: each command's ``--out`` is redirected). Needs the processed
data (run the pipeline up to the findings stage first). Targets on 2 cores: median per profile <= 3 s;
all 42 at least 3.5 x faster than the naive chain.

    .venv/bin/python benchmarks/bench_reports.py            # all areas
    .venv/bin/python benchmarks/bench_reports.py --areas 6  # a quick look
    .venv/bin/python benchmarks/bench_reports.py --ploomber # and Ploomber's parallel grid (issue 16: >= 3 x)
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pipeline import paths, warm_kernel
from pipeline.config import load_params
from pipeline.notebook import KERNEL_NAME, notebook_parameters
from pipeline.notebook import stage_argument_parser as notebook_cli

PROFILE_PREFIX = "profile@"

BIN = Path(sys.executable).parent


def naive_one(stage_argv: list[str], params: dict, out_dir: Path) -> float:
    """papermill CLI, then jupyter nbconvert CLI, with the parameters the stage command would pass."""
    start = time.perf_counter()
    stage = notebook_cli().parse_args(stage_argv)
    area = stage.area
    param_file = out_dir / f"{area}.params.yaml"
    param_file.write_text(yaml.safe_dump(notebook_parameters(stage.section, area, params)), encoding="utf-8")
    executed = out_dir / f"{area}.ipynb"
    subprocess.run([str(BIN / "papermill"), str(paths.ROOT / stage.notebook), str(executed), "-k", KERNEL_NAME,
                    "-f", str(param_file), "--cwd", str(paths.ROOT), "--no-progress-bar"], check=True,
                   capture_output=True)
    subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", "--template", "instep",
                    f"--TemplateExporter.extra_template_basedirs={paths.TEMPLATES}", str(executed)],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def profile_commands(areas: list[str], out_dir: Path) -> dict[str, list[str]]:
    """Each area's ``pipeline.notebook`` arguments as the profiles stage builds them
    (``pipeline.profiles.area_argv``), with ``--out`` in ``out_dir``."""
    from pipeline import profiles
    return {f"{PROFILE_PREFIX}{area}": profiles.area_argv(area, out_dir) for area in areas}


PLOOMBER_VERSION = "0.23.3"


def ploomber_env() -> Path:
    """A venv holding Ploomber (made once with pip, under .benchmarks/, which git ignores)."""
    venv = Path(__file__).resolve().parents[1] / ".benchmarks" / f"ploomber-{PLOOMBER_VERSION}"  # this checkout's
    if not (venv / "bin" / "ploomber").is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        f"ploomber=={PLOOMBER_VERSION}"], check=True)
    return venv


def ploomber_grid(areas: list[str], params: dict, out_dir: Path, jobs: int) -> Path:
    """Write Ploomber's pipeline.yaml (one notebook task, a grid entry per area) and its notebook copy."""
    notebook = json.loads((paths.ROOT / "notebooks" / "05_area_profile.ipynb").read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = "".join(cell["source"]) + "\nupstream = None\nproduct = None\n"
    (out_dir / "area_profile.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    stage = notebook_cli().parse_args(profile_commands(areas[:1], out_dir)[f"{PROFILE_PREFIX}{areas[0]}"])
    grid = [{key: [value] for key, value in notebook_parameters(stage.section, area, params).items()}
            for area in areas]
    spec = {"executor": {"dotted_path": "ploomber.executors.Parallel", "processes": jobs},
            "tasks": [{"source": "area_profile.ipynb", "name": "profile-", "product": "pages/[[area_id]].html",
                       "grid": grid, "kernelspec_name": KERNEL_NAME,
                       "nbconvert_export_kwargs": {"exclude_input": True}}]}
    path = out_dir / "pipeline.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def ploomber_build(spec: Path, venv: Path) -> float:
    """``ploomber build --force`` of ``spec``; the project's kernel is found through JUPYTER_PATH."""
    env = dict(os.environ, JUPYTER_PATH=str(BIN.parent / "share" / "jupyter"))
    start = time.perf_counter()
    subprocess.run([str(venv / "bin" / "ploomber"), "build", "--force", "--entry-point", str(spec)],
                   cwd=spec.parent, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=int, default=None, help="only the first N areas (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive chain")
    parser.add_argument("--ploomber", action="store_true",
                        help=f"also Ploomber {PLOOMBER_VERSION}'s parallel grid (venv made under .benchmarks/)")
    args = parser.parse_args(argv)
    if not paths.processed("area_features.csv").is_file():
        raise SystemExit("no data/processed/area_features.csv: run the pipeline up to the features stage first")
    params = load_params()
    areas = sorted(params["areas"])[: args.areas]
    os.environ.setdefault("MPLBACKEND", "Agg")
    load = os.getloadavg()[0]
    print(f"{len(areas)} profiles; {os.cpu_count()} cores; load average at start {load:.2f}")
    with tempfile.TemporaryDirectory(prefix="instep-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "naive").mkdir()
        (tmp / "instep").mkdir()
        naive_total = naive_times = None
        if not args.skip_naive:
            start = time.perf_counter()
            naive_times = [naive_one(argv, params, tmp / "naive")
                           for argv in profile_commands(areas, tmp / "naive").values()]
            naive_total = time.perf_counter() - start
            print(f"naive chain (papermill CLI + nbconvert CLI, serial): {naive_total:.1f} s; "
                  f"median {statistics.median(naive_times):.2f} s per profile")
        ploomber_total = None
        if args.ploomber:
            venv = ploomber_env()
            (tmp / "ploomber").mkdir()
            ploomber_total = ploomber_build(ploomber_grid(areas, params, tmp / "ploomber", args.jobs), venv)
            pages = sorted((tmp / "ploomber" / "pages").glob("*.html"))
            if len(pages) != len(areas):
                raise SystemExit(f"Ploomber wrote {len(pages)} pages for {len(areas)} areas")
            print(f"Ploomber {PLOOMBER_VERSION} parallel grid ({args.jobs} processes): {ploomber_total:.1f} s")
        start = time.perf_counter()
        commands = {stage: shlex.join([*warm_kernel.STAGE_COMMAND, *argv])
                    for stage, argv in profile_commands(areas, tmp / "instep").items()}
        results = warm_kernel.render_stage_commands(commands, args.jobs, progress=False)
        instep_total = time.perf_counter() - start
        failed = [r for r in results if r.returncode != 0]
        if failed:
            raise SystemExit(f"{failed[0].stage} failed:\n{failed[0].output}")
        instep_times = [r.seconds for r in results]
        print(f"In Step (stage commands from dvc.yaml in {args.jobs} warm-kernel workers): {instep_total:.1f} s; "
              f"median {statistics.median(instep_times):.2f} s per profile (target <= 3 s)")
        if naive_total is not None:
            print(f"ratio naive / In Step: {naive_total / instep_total:.2f} x (target >= 3.5 x)")
        if ploomber_total is not None:
            ratio = ploomber_total / instep_total
            print(f"ratio Ploomber / In Step: {ratio:.2f} x (issue 16 target >= 3 x: {'met' if ratio >= 3 else 'NOT met'})")
        print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
