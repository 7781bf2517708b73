"""The simulation study's design: cells (DGM settings), their cache keys and per-replicate seeds.

A *cell* is one data-generating setting: ICC(1) of the survey items, the planted effect as a
fraction of the minimal detectable effect (MDE), informative non-response on/off and an
unmeasured confounder on/off. Every replicate of every cell gets its own
``numpy.random.SeedSequence(seed, spawn_key=(cell_id, replicate))``; ``cell_id`` is derived from
the cell's parameters (not its position in the grid), so adding a level or changing the number of
workers, the batch size or the order of cells never changes any replicate's numbers.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..errors import InputError

CELL_COLUMNS = ["cell_key", "cell_id", "icc1", "effect_fraction", "informative_nonresponse",
                "unmeasured_confounder", "n_replicates", "role", "observed_effect_fraction"]

DESIGNS = ("core", "full")


@dataclass(frozen=True)
class Cell:
    """One data-generating setting of the study."""
    icc1: float
    effect_fraction: float
    informative_nonresponse: bool
    unmeasured_confounder: bool

    def factors(self) -> dict:
        return {"icc1": float(self.icc1), "effect_fraction": float(self.effect_fraction),
                "informative_nonresponse": bool(self.informative_nonresponse),
                "unmeasured_confounder": bool(self.unmeasured_confounder)}

    @property
    def key(self) -> str:
        """Readable, file-name-safe key, e.g. ``icc0.1_eff0.5_nr0_uc1``."""
        return (f"icc{_num(self.icc1)}_eff{_num(self.effect_fraction)}_"
                f"nr{int(self.informative_nonresponse)}_uc{int(self.unmeasured_confounder)}")

    @property
    def cell_id(self) -> int:
        """Stable 32-bit id from the parameters (used in the seed's spawn key)."""
        canon = json.dumps(self.factors(), sort_keys=True)
        return int(hashlib.sha256(canon.encode()).hexdigest()[:8], 16)


def _num(x: float) -> str:
    return np.format_float_positional(float(x), trim="-")


def replicate_seed(seed: int, cell: Cell, replicate: int) -> np.random.SeedSequence:
    """The SeedSequence of one replicate: independent of workers, batches and grid order."""
    return np.random.SeedSequence(int(seed), spawn_key=(cell.cell_id, int(replicate)))


def design_cells(icc1_levels, effect_levels, informative_nonresponse, unmeasured_confounder,
                 n_replicates: int, design: str = "core", n_replicates_stress: int | None = None,
                 reference_icc1: float | None = None, observed_effect_levels=(),
                 attenuation: dict | None = None) -> pd.DataFrame:
    """The cells to run, one row each (columns ``CELL_COLUMNS``).

    ``design='full'`` crosses every level of every factor. ``design='core'`` (the default) runs the
    ICC(1) x effect grid with neither threat (role ``core``), plus, at the reference ICC(1) (the
    middle level unless given), each threat switched on alone at every effect level (role
    ``stress``): the threats are studied one at a time rather than in every combination, which
    is where the full factorial spends most of its time.

    ``observed_effect_levels`` (fractions of the MDE on the scale of the *measured* area score) add,
    at the reference ICC(1) with neither threat, one cell each (role ``observed``): the effect on the
    latent trait is ``level / attenuation[icc1]``, where ``attenuation`` is the expected correlation
    of the measured score with the trait at that ICC(1) (``study.attenuation``), so that the
    association the estimate can see is about ``level`` x MDE. ``effect_fraction`` is always the
    latent fraction; ``observed_effect_fraction`` is the level asked for (NaN in the other cells).
    """
    if design not in DESIGNS:
        raise InputError("params.yaml", f"validate.design is '{design}'", f"use one of {list(DESIGNS)}",
                         column="validate.design")
    icc1_levels = sorted({float(x) for x in icc1_levels})
    effect_levels = sorted({float(x) for x in effect_levels})
    nr_levels = sorted({bool(x) for x in informative_nonresponse})
    uc_levels = sorted({bool(x) for x in unmeasured_confounder})
    for name, levels in [("icc1_levels", icc1_levels), ("effect_levels", effect_levels),
                         ("informative_nonresponse", nr_levels), ("unmeasured_confounder", uc_levels)]:
        if not levels:
            raise InputError("params.yaml", f"validate.{name} is empty", "give at least one level",
                             column=f"validate.{name}")
    if any(not 0 < x < 1 for x in icc1_levels):
        raise InputError("params.yaml", f"validate.icc1_levels {icc1_levels} outside (0, 1)",
                         "give ICC(1) targets between 0 and 1", column="validate.icc1_levels")
    if any(x < 0 for x in effect_levels):
        raise InputError("params.yaml", f"validate.effect_levels {effect_levels} has a negative fraction",
                         "give fractions of the MDE >= 0 (0 = no effect)", column="validate.effect_levels")
    if int(n_replicates) < 2:
        raise InputError("params.yaml", f"validate.n_replicates is {n_replicates}",
                         "use at least 2 replicates per cell", column="validate.n_replicates")
    n_stress = int(n_replicates if n_replicates_stress is None else n_replicates_stress)
    ref = float(reference_icc1) if reference_icc1 is not None else icc1_levels[len(icc1_levels) // 2]
    rows = []
    if design == "full":
        for icc, eff, nr, uc in itertools.product(icc1_levels, effect_levels, nr_levels, uc_levels):
            rows.append((Cell(icc, eff, nr, uc), int(n_replicates), "core" if not (nr or uc) else "stress"))
    else:
        for icc, eff in itertools.product(icc1_levels, effect_levels):
            rows.append((Cell(icc, eff, False, False), int(n_replicates), "core"))
        for eff in effect_levels:
            if True in nr_levels:
                rows.append((Cell(ref, eff, True, False), n_stress, "stress"))
            if True in uc_levels:
                rows.append((Cell(ref, eff, False, True), n_stress, "stress"))
    observed = {}
    for level in sorted({float(x) for x in observed_effect_levels or ()}):
        factor = (attenuation or {}).get(ref)
        if level <= 0 or factor is None or not 0 < float(factor) <= 1:
            raise InputError("params.yaml", f"validate.observed_effect_levels {level} needs a positive level and "
                             f"the attenuation at ICC(1) {ref} (got {factor})",
                             "give levels > 0 and compute the attenuation with study.attenuation",
                             column="validate.observed_effect_levels")
        cell = Cell(ref, round(level / float(factor), 4), False, False)
        rows.append((cell, int(n_replicates), "observed"))
        observed[cell.key] = level
    out = pd.DataFrame([{"cell_key": c.key, "cell_id": c.cell_id, **c.factors(), "n_replicates": n, "role": role,
                         "observed_effect_fraction": observed.get(c.key, np.nan) if role == "observed" else np.nan}
                        for c, n, role in rows], columns=CELL_COLUMNS)
    out = out.drop_duplicates("cell_key").sort_values(
        ["role", "informative_nonresponse", "unmeasured_confounder", "icc1", "effect_fraction"]).reset_index(drop=True)
    return out


def cell_from_row(row) -> Cell:
    return Cell(float(row["icc1"]), float(row["effect_fraction"]), bool(row["informative_nonresponse"]),
                bool(row["unmeasured_confounder"]))


# Files whose content decides a replicate's numbers. Presentation (report, notebook, provenance,
# publish) and the study's own plumbing (runner, performance measures) are left out on purpose.
# code that renders, schedules or summarises but never computes a replicate's numbers
_NOT_RESULT_CODE = {"report.py", "notebook.py", "provenance.py", "orchestrate.py", "warm_kernel.py", "index.py"}
_NOT_RESULT_DIRS = {"publish"}
_NOT_RESULT_VALIDATION = {"dask_runner.py", "performance.py", "summary.py", "__main__.py"}
# the libraries that compute a replicate's numbers (what pipeline/ imports for them; readers such as pyreadstat
# and openpyxl never run inside a replicate)
_VERSIONED_PACKAGES = ["numpy", "pandas", "scipy", "statsmodels", "krippendorff", "pyarrow"]


def code_version(extra_files: list[Path] | None = None) -> str:
    """A 12-hex hash of the code, reference tables and library versions a replicate's result depends on.

    Part of every cell's cache key: change the generator, a clean/measurement/estimation
    module, the reference tables or a numerical library and every cell is recomputed.
    """
    digest = hashlib.sha256()
    pkg = paths.ROOT / "pipeline"
    files = []
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(pkg)
        if rel.parts[0] in _NOT_RESULT_DIRS or (len(rel.parts) == 1 and rel.name in _NOT_RESULT_CODE):
            continue
        if rel.parts[0] == "validation" and rel.name in _NOT_RESULT_VALIDATION:
            continue
        files.append(path)
    files += [p for p in sorted(paths.RAW_REFERENCE.glob("*.csv"))]
    files += list(extra_files or [])
    for path in files:
        digest.update(paths.rel(path).encode())
        digest.update(b"\0")
        digest.update(Path(path).read_bytes())
        digest.update(b"\0")
    for name in _VERSIONED_PACKAGES:
        try:
            version = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{name}={version}\n".encode())
    return digest.hexdigest()[:12]


def cell_file_name(cell_key: str, n_replicates: int, settings_hash: str) -> str:
    """``cell_<key>_n<replicates>_<hash>.parquet``; the hash covers code version and study settings."""
    return f"cell_{cell_key}_n{int(n_replicates)}_{settings_hash}.parquet"


def settings_hash(code_hash: str, settings: dict) -> str:
    """Hash of the code version plus the study settings that change a replicate (seed, permutations...)."""
    canon = json.dumps({"code": code_hash, **settings}, sort_keys=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:12]


def cell_dict(cell: Cell) -> dict:
    return asdict(cell)
