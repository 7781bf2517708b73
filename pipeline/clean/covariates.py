"""Covariates (reference/covariates.csv and any other covariate-shaped CSV in data/raw/reference/, plus
optional official-statistics adapters) -> covariates, combined to partnerships (see combine.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import paths
from ..areas import AreaMatcher
from ..errors import InputError
from . import schemas
from .combine import check_share, combine_forces, resolve_sources
from .common import concat_files
from .labels import normalise_label
from .outcomes import parse_long
from .quarantine import Issues, Quarantine, reconcile
from .readers import folder_is_synthetic, scan_folder
from .sources import (csv_file_flags, csv_sources, finish_sources, manifest_files, read_official_inputs,
                      reconciliation, synthetic_source_names)

LONG_COLUMNS = ["area", "period", "variable", "value", "source"]
OUTPUT_COLUMNS = ["lcjp_id", "period_start", "period_label", "period_type", "year", "variable", "value", "source",
                  "combined_from"]
# Reference tables that live beside covariates.csv for other purposes (listed, not warned about).
REFERENCE_TABLES = ("police_force_areas.csv", "area_aliases.csv", "tile_grid.csv", "label_synonyms.csv",
                    "agency_synonyms.csv")


@dataclass
class CovariatesResult:
    covariates: pd.DataFrame
    quarantine: pd.DataFrame
    reconciliation: pd.DataFrame
    manifest: dict

    def outputs(self) -> dict[str, pd.DataFrame]:
        return {"covariates.parquet": self.covariates}


def clean_covariates(reference_dir: Path, matcher: AreaMatcher, *, on_unknown_area: str = "error",
                     additive_variables: list[str] | tuple = ("population",), official_sources: list[str] | tuple = (),
                     official_folder: Path | None = None, max_missing_population_share: float = 0.01) -> CovariatesResult:
    """Clean covariates (pure: reads only, writes nothing).

    Forces of a multi-force partnership are combined: variables named in ``additive_variables`` (counts
    such as population; matched case/punctuation-insensitively) are summed, every other variable (rates,
    shares, indices) is weighted by the forces' 2011 Census population. ``max_missing_population_share``:
    see combine.py (partial multi-force partnerships); several sources for one figure: ``resolve_sources``.
    """
    check_share(max_missing_population_share)
    reference_dir = Path(reference_dir)
    folder = paths.rel(reference_dir)
    scan = scan_folder(reference_dir, schemas.COVARIATE_TYPES, expected_other=REFERENCE_TABLES)
    rows_read = {f.name: f.rows for f in scan.files}
    raw_csv = concat_files(scan.of_type("covariates"), LONG_COLUMNS)
    folder_synthetic = folder_is_synthetic(reference_dir)
    csv_names, sources = csv_sources(raw_csv, folder_synthetic)
    official_in = read_official_inputs(official_sources, Path(official_folder or reference_dir / "official"),
                                       matcher, "covariates", LONG_COLUMNS)
    raw = pd.concat([raw_csv, official_in.raw], ignore_index=True) if len(official_in.raw) else raw_csv
    rows_read.update(official_in.derived_rows)
    sources = sources + official_in.sources
    if raw.empty:
        raise InputError(folder, "no covariate rows found (a CSV with columns area, period, variable, value, source)",
                         "add data/raw/reference/covariates.csv or list official sources")
    issues = Issues(raw.index)
    rows = parse_long(raw, "variable", matcher, issues, on_unknown_area, False)
    issues.flag(rows["variable"] == "", "variable", "variable name is blank")
    issues.flag(rows["value"].isna(), "value", "value is blank")
    additive_keys = {normalise_label(v) for v in additive_variables}
    names = rows["variable"].tolist()
    is_additive = {v: normalise_label(v) in additive_keys for v in set(names)}  # once per variable, not per row
    rows["additive"] = pd.Series([is_additive[v] for v in names], index=rows.index, dtype=bool)
    rows["scale"] = 1.0
    combined = combine_forces(rows[~issues.bad], ["period_label", "variable", "source"], matcher.forces, issues,
                              has_ratio_columns=False, max_missing_population_share=max_missing_population_share)
    combined = resolve_sources(combined, "variable", synthetic_source_names(sources), issues, rows, "covariates")
    quarantine = Quarantine()
    quarantine.add_issues(raw, issues)
    period_info = rows.drop_duplicates("period_label").set_index("period_label")[
        ["period_start", "period_type", "year"]]
    out = combined.join(period_info, on="period_label")
    out["year"] = out["year"].astype("int64")
    out = out[OUTPUT_COLUMNS].astype({"lcjp_id": "string", "period_label": "string", "period_type": "string",
                                      "variable": "string", "source": "string", "value": "float64"})
    out = out.sort_values(["variable", "lcjp_id", "period_start", "source"], kind="stable").reset_index(drop=True)
    quarantine_frame = quarantine.frame()
    reconciled = reconciliation(reconcile(rows_read, raw.loc[~issues.bad, ["source_file", "source_row"]],
                                          quarantine_frame), official_in)
    sources = finish_sources(sources, out)
    synthetic = any(s["synthetic"] for s in sources) or (folder_synthetic and bool(scan.files))
    manifest = scan.manifest("covariates", synthetic, {"official_sources": list(official_sources),
                                                       "additive_variables": sorted(additive_keys),
                                                       "official_rows": official_in.derived_rows,
                                                       "max_missing_population_share":
                                                           float(max_missing_population_share)})
    manifest["files"] = manifest_files(manifest["files"], csv_file_flags(raw_csv, csv_names, folder_synthetic),
                                       folder_synthetic, official_in)
    manifest["ignored"] = manifest["ignored"] + official_in.ignored
    manifest["sources"] = sources
    return CovariatesResult(out, quarantine_frame, reconciled, manifest)
