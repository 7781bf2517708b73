"""Root-anchored paths: every module and notebook resolves files from here.

The repository root is found by walking up from this file (an editable install keeps the
package inside the repo) or, failing that, from the current directory, to the first folder
holding both ``dvc.yaml`` and ``params.yaml``. ``INSTEP_ROOT`` overrides it (used by tests that
copy the repo elsewhere). So papermill (any --cwd), JupyterLab opened in any folder and nbval
all read and write the same files.
"""
from __future__ import annotations

import os
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("INSTEP_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "dvc.yaml").is_file() and (candidate / "params.yaml").is_file():
                return candidate
    raise RuntimeError(
        "Cannot find the In Step repository root (a folder with dvc.yaml and params.yaml) "
        f"above {Path(__file__).resolve()} or {Path.cwd()}. Set INSTEP_ROOT to the repo folder."
    )


ROOT = _find_root()
PARAMS = ROOT / "params.yaml"
ANALYSIS_PLAN = ROOT / "analysis_plan.yaml"
DVC_LOCK = ROOT / "dvc.lock"

DATA = ROOT / "data"
RAW = DATA / "raw"
RAW_SURVEY = RAW / "survey"
RAW_FIELDWORK = RAW / "fieldwork"
RAW_OUTCOMES = RAW / "outcomes"
RAW_REFERENCE = RAW / "reference"
RAW_OUTCOMES_OFFICIAL = RAW_OUTCOMES / "official"
RAW_REFERENCE_OFFICIAL = RAW_REFERENCE / "official"
FORCES_CSV = RAW_REFERENCE / "police_force_areas.csv"
TILE_GRID_CSV = RAW_REFERENCE / "tile_grid.csv"

PROCESSED = DATA / "processed"
QUARANTINE = PROCESSED / "quarantine"
SYNTHETIC_TRUTH = DATA / "synthetic_truth"  # generator's truth: never read by the pipeline

NOTEBOOKS = ROOT / "notebooks"
REPORTS = ROOT / "reports"
REPORTS_AREAS = REPORTS / "areas"
TEMPLATES = ROOT / "templates"
SHARED = ROOT.parent / "shared"  # handed to developers and CI beside the repo; optional


def processed(name: str) -> Path:
    """Path of a processed output by file name, e.g. ``processed("survey_clean.parquet")``."""
    return PROCESSED / name


def rel(path: Path) -> str:
    """Path relative to the repo root, with forward slashes (for messages and provenance)."""
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)
