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
from .combine import combine_forces
from .common import concat_files
from .labels import normalise_label
from .outcomes import official_frame, parse_long
from .quarantine import Issues, Quarantine, reconcile
from .readers import folder_is_synthetic, scan_folder

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
                     official_folder: Path | None = None) -> CovariatesResult:
    """Clean covariates (pure: reads only, writes nothing).

    Forces of a multi-force partnership are combined: variables named in ``additive_variables`` (counts
    such as population; matched case/punctuation-insensitively) are summed, every other variable (rates,
    shares, indices) is weighted by the forces' 2011 Census population.
    """
    reference_dir = Path(reference_dir)
    folder = paths.rel(reference_dir)
    scan = scan_folder(reference_dir, schemas.COVARIATE_TYPES, expected_other=REFERENCE_TABLES)
    rows_read = {f.name: f.rows for f in scan.files}
    raw = concat_files(scan.of_type("covariates"), LONG_COLUMNS)
    if official_sources:
        from .. import official  # lazy: only when official sources are asked for
        long_df = official.read_covariate_sources(list(official_sources),
                                                  folder=Path(official_folder or reference_dir / "official"),
                                                  matcher=matcher)
        extra, counts = official_frame(long_df, LONG_COLUMNS, "covariates")
        raw = pd.concat([raw, extra], ignore_index=True)
        rows_read.update(counts)
    official_rows = counts if official_sources else {}
    if raw.empty:
        raise InputError(folder, "no covariate rows found (a CSV with columns area, period, variable, value, source)",
                         "add data/raw/reference/covariates.csv or list official sources")
    issues = Issues(raw.index)
    rows = parse_long(raw, "variable", matcher, issues, on_unknown_area, False)
    issues.flag(rows["variable"] == "", "variable", "variable name is blank")
    issues.flag(rows["value"].isna(), "value", "value is blank")
    additive_keys = {normalise_label(v) for v in additive_variables}
    rows["additive"] = rows["variable"].map(lambda v: normalise_label(v) in additive_keys).astype(bool)
    rows["scale"] = 1.0
    combined = combine_forces(rows[~issues.bad], ["period_label", "variable", "source"], matcher.forces, issues,
                              has_ratio_columns=False)
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
    reconciliation = reconcile(rows_read, raw.loc[~issues.bad, ["source_file", "source_row"]], quarantine_frame)
    synthetic = folder_is_synthetic(reference_dir) or bool(
        raw["source"].str.strip().str.lower().str.startswith("synthetic").any())
    manifest = scan.manifest("covariates", synthetic, {"official_sources": list(official_sources),
                                                       "additive_variables": sorted(additive_keys),
                                                       "official_rows": official_rows})
    return CovariatesResult(out, quarantine_frame, reconciliation, manifest)
