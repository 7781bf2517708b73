"""The simulation study's results as a plain, git-tracked input of the findings (``make validate``).

``python -m pipeline.study run`` runs the study's command from ``validation/study.yaml`` (the notebook
``06_validation``; its per-cell cache in ``data/processed/validation`` makes a rerun with the same code and
params cheap), then :func:`record` copies its ``summary.csv`` to ``validation/results/summary.csv`` and writes
``validation/results/summary.json``: the key of the build it was computed for (the md5 of every dependency
the study declares and the values of its params), with those hashes and values. ``validation/results`` is
committed with the code and declared as a dependency of the findings stage, so ``dvc repro`` refreshes the
findings after a study and ``dvc status`` never lists the study itself. :func:`status` says whether the
recorded results were computed for this build (same key), another one, or not at all.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import shutil
import sys
from pathlib import Path

from . import paths

STUDY_FILE = "validation/study.yaml"
STUDY_STAGE = f"{STUDY_FILE}:validate"
RESULTS = paths.ROOT / "validation" / "results"
SUMMARY_CSV = RESULTS / "summary.csv"
SUMMARY_JSON = RESULTS / "summary.json"
COMPUTED_SUMMARY = paths.PROCESSED / "validation" / "summary.csv"


def build_state(root: Path | None = None) -> dict:
    """The study's dependencies (md5, as DVC hashes them) and params now, and their key."""
    from . import provenance
    root = Path(root or paths.ROOT)
    definition = provenance.stages(root)[STUDY_STAGE]
    deps = {dep: provenance.path_md5(dep, root) for dep in sorted(definition["deps"])}
    params = provenance.stage_params(definition["params"], root)
    key = hashlib.sha256(json.dumps({"deps": deps, "params": params}, sort_keys=True, default=str)
                         .encode()).hexdigest()
    return {"key": key, "deps": deps, "params": params}


def record(root: Path | None = None) -> dict:
    """Copy the computed summary into validation/results and write what it was computed for."""
    from .io import write_json
    root = Path(root or paths.ROOT)
    computed = root / paths.rel(COMPUTED_SUMMARY)
    if not computed.is_file():
        raise SystemExit(f"{paths.rel(computed)} is missing: run the study first (make validate)")
    results = root / paths.rel(RESULTS)
    results.mkdir(parents=True, exist_ok=True)
    tmp = results / ".summary.csv.tmp"
    shutil.copyfile(computed, tmp)
    tmp.replace(results / SUMMARY_CSV.name)
    state = {"status": "computed", **build_state(root)}
    write_json(state, results / SUMMARY_JSON.name)
    return state


def status(root: Path | None = None) -> dict:
    """``{"state": "not run" | "matches this build" | "computed for another build", "changed": [...]}``;
    ``changed`` lists the deps and params that differ from the recorded ones."""
    root = Path(root or paths.ROOT)
    path = root / paths.rel(SUMMARY_JSON)
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if recorded.get("status") != "computed" or not (root / paths.rel(SUMMARY_CSV)).is_file():
        return {"state": "not run", "changed": []}
    now = build_state(root)
    if recorded.get("key") == now["key"]:
        return {"state": "matches this build", "changed": []}
    changed = sorted({k for k in set(now["deps"]) | set(recorded.get("deps", {}))
                      if now["deps"].get(k) != recorded.get("deps", {}).get(k)}
                     | {k for k in set(now["params"]) | set(recorded.get("params", {}))
                        if now["params"].get(k) != recorded.get("params", {}).get(k)})
    return {"state": "computed for another build", "changed": changed}


def run() -> dict:
    """Run the study's command (as written in validation/study.yaml), then :func:`record`."""
    from . import notebook, provenance
    command = provenance.stages()[STUDY_STAGE]["cmd"]
    argv = shlex.split(command)
    if argv[:3] != ["python", "-m", "pipeline.notebook"]:
        raise SystemExit(f"{STUDY_FILE}: expected a `python -m pipeline.notebook` command, got {command}")
    notebook.main(argv[3:])
    return record()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.study", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["run", "record", "status"])
    args = parser.parse_args(argv)
    if args.action == "status":
        print(json.dumps(status(), indent=2))
        return 0
    state = run() if args.action == "run" else record()
    print(f"wrote {paths.rel(SUMMARY_CSV)} and {paths.rel(SUMMARY_JSON)} (key {state['key'][:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
