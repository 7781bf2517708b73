"""Outcomes (long CSVs + measures.csv, and optional official-statistics adapters) -> outcomes, measures."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..areas import AreaMatcher
from ..errors import InputError
from . import schemas
from .combine import check_share, combine_forces, observed_scale, resolve_sources, unit_is_count, unit_is_proportion, unit_scale
from .common import concat_files, match_areas
from .labels import parse_bool, parse_number
from .periods import parse_periods
from .quarantine import Issues, Quarantine, reconcile
from .readers import folder_is_synthetic, scan_folder
from .sources import csv_file_flags, csv_sources, finish_sources, manifest_files, read_official_inputs, reconciliation, synthetic_source_names

LONG_COLUMNS = ["area", "period", "measure", "value", "numerator", "denominator", "source"]
OUTPUT_COLUMNS = ["lcjp_id", "period_start", "period_label", "period_type", "year", "measure", "value", "numerator",
                  "denominator", "source", "combined_from"]


@dataclass
class OutcomesResult:
    outcomes: pd.DataFrame
    measures: pd.DataFrame
    quarantine: pd.DataFrame
    reconciliation: pd.DataFrame
    manifest: dict

    def outputs(self) -> dict[str, pd.DataFrame]:
        return {"outcomes.parquet": self.outcomes, "measures.parquet": self.measures}


def official_frame(frame: pd.DataFrame, columns: list[str], label: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows returned by an official-statistics adapter as raw text rows with pseudo file names
    ``official:<source>`` (or the adapter's own ``source_file``/``source_row``), and rows read per pseudo file."""
    missing = [c for c in ("area", "period", "value") if c not in frame.columns]
    if missing:
        raise InputError(f"pipeline.official ({label})", f"adapter output lacks column(s) {missing}",
                         "fix the adapter: it must return the raw long contract shape")
    out = frame.copy()
    if "source" not in out.columns:
        out["source"] = label
    if "source_file" not in out.columns:
        out["source_file"] = "official:" + out["source"].astype("string")
    out["source_file"] = out["source_file"].astype("string")
    if "source_row" not in out.columns:
        out["source_row"] = out.groupby("source_file").cumcount() + 2
    out["source_row"] = out["source_row"].astype("int64")
    for c in columns:
        if c not in out.columns:
            out[c] = ""
        out[c] = out[c].astype("string").fillna("")
    out = out[["source_file", "source_row", *columns]].reset_index(drop=True)
    return out, out.groupby("source_file").size().astype(int).to_dict()


def read_measures(files, extra: pd.DataFrame | None, folder: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not files and (extra is None or extra.empty):
        raise InputError(folder, "no measures table found (a CSV with columns measure, description, unit, "
                         "higher_is_better)", "add measures.csv describing every measure in the outcome files")
    raw = concat_files(files, ["measure", "description", "unit", "higher_is_better"])
    keys = raw[["source_file", "source_row"]]
    if extra is not None and not extra.empty:
        add = extra.copy()
        for c in ("measure", "description", "unit", "higher_is_better"):
            add[c] = add[c].astype("string").fillna("") if c in add.columns else ""
        add["source_file"] = "pipeline.official"
        add["source_row"] = np.arange(2, len(add) + 2)
        raw = pd.concat([raw, add[raw.columns]], ignore_index=True)
    measure = raw["measure"].str.strip()
    unit = raw["unit"].str.strip()
    better = parse_bool(raw["higher_is_better"])
    for mask, column, problem, fix in [
        (measure == "", "measure", "measure name is blank", "name the measure"),
        (unit == "", "unit", "unit is blank", "give the unit (percent, days, count, rate per 1,000, ...)"),
        (better.isna(), "higher_is_better", "higher_is_better is not true/false", "write true or false"),
    ]:
        if mask.any():
            r = raw[mask].iloc[0]
            raise InputError(r["source_file"], problem, fix, row=int(r["source_row"]), column=column)
    key = measure.str.casefold()
    dup = key.duplicated(keep="first")
    if dup.any():
        firsts = pd.Series(unit.to_numpy(), index=key.to_numpy())
        first_unit = firsts[~firsts.index.duplicated()]
        conflict = dup & (unit.str.casefold().to_numpy() != first_unit.reindex(key).str.casefold().to_numpy())
        in_files = dup & (raw["source_file"] != "pipeline.official")
        bad = conflict | in_files
        if bad.any():
            r = raw[bad].iloc[0]
            raise InputError(r["source_file"], f"measure '{r['measure']}' is defined twice"
                             + (" with different units" if conflict.any() else ""),
                             "keep one row per measure across the measures table(s) and official adapters",
                             row=int(r["source_row"]), column="measure")
    description = raw["description"].str.strip()
    out = pd.DataFrame({"measure": measure, "description": description.where(description != "", pd.NA),
                        "unit": unit, "higher_is_better": better.astype(bool)})[~dup]
    out = out.astype({"measure": "string", "description": "string", "unit": "string"})
    out = out.sort_values("measure", kind="stable").reset_index(drop=True)
    return out, keys


def parse_long(raw: pd.DataFrame, name_column: str, matcher: AreaMatcher, issues: Issues,
               on_unknown_area: str, ratio_columns: bool) -> pd.DataFrame:
    """Shared parsing of outcome/covariate rows: area, period, numbers, source. Problems go on ``issues``."""
    text = raw.copy()
    for c in raw.columns:
        if c not in ("source_row",):
            text[c] = text[c].str.strip()
    areas = match_areas(text, matcher, issues, on_unknown_area)
    periods = parse_periods(text["period"])
    issues.flag(periods["period_problem"].notna(), "period", periods["period_problem"])
    out = pd.concat([text[["source_file", "source_row"]], areas, periods.drop(columns="period_problem")], axis=1)
    out[name_column] = text[name_column]
    numbers = ["value", "numerator", "denominator"] if ratio_columns else ["value"]
    for c in numbers:
        out[c] = parse_number(text[c])
        issues.flag((text[c] != "") & out[c].isna(), c, lambda c=c: f"{c} '" + text[c] + "' is not a number")
        issues.flag(np.isinf(out[c]).fillna(False), c, f"{c} is infinite")
    source = text["source"].where(text["source"] != "", text["source_file"])
    out["source"] = source.astype("string")
    return out


def clean_outcomes(outcomes_dir: Path, matcher: AreaMatcher, *, on_unknown_area: str = "error",
                   official_sources: list[str] | tuple = (), official_folder: Path | None = None,
                   max_missing_population_share: float = 0.01) -> OutcomesResult:
    """Clean the outcome files (pure: reads only, writes nothing).

    ``official_sources``: adapters of pipeline.official to read from ``official_folder``;
    ``max_missing_population_share``: see combine.py (partial multi-force partnerships).
    """
    check_share(max_missing_population_share)
    outcomes_dir = Path(outcomes_dir)
    folder = paths.rel(outcomes_dir)
    scan = scan_folder(outcomes_dir, schemas.OUTCOME_TYPES)
    rows_read = {f.name: f.rows for f in scan.files}
    raw_csv = concat_files(scan.of_type("outcomes"), LONG_COLUMNS)
    folder_synthetic = folder_is_synthetic(outcomes_dir)
    csv_names, sources = csv_sources(raw_csv, folder_synthetic)
    official_in = read_official_inputs(official_sources, Path(official_folder or outcomes_dir / "official"), matcher,
                                       "outcomes", LONG_COLUMNS)
    raw = pd.concat([raw_csv, official_in.raw], ignore_index=True) if len(official_in.raw) else raw_csv
    rows_read.update(official_in.derived_rows)
    sources = sources + official_in.sources
    if raw.empty:
        raise InputError(folder, "no outcome rows found (CSV files with columns area, period, measure, value, "
                         "numerator, denominator, source)", "put the outcome files here or list official sources")
    measures, measure_keys = read_measures(scan.of_type("measures"), official_in.measures, folder)

    # Unknown measures are an error (the measures table defines what may be analysed).
    by_key = dict(zip(measures["measure"].str.casefold(), measures["measure"]))
    measure = raw["measure"].str.strip().str.casefold().map(by_key).astype("string")
    unknown = measure.isna()
    if unknown.any():
        r = raw[unknown].iloc[0]
        names = raw.loc[unknown, "measure"].unique().tolist()
        raise InputError(r["source_file"], f"measure '{r['measure']}' is not in the measures table "
                         f"(unknown measures: {names[:10]}; known: {measures['measure'].tolist()})",
                         "add the measure to measures.csv (measure, description, unit, higher_is_better) or "
                         "correct its name", row=int(r["source_row"]), column="measure")
    issues = Issues(raw.index)
    rows = parse_long(raw.assign(measure=measure), "measure", matcher, issues, on_unknown_area, True)
    units = measures.set_index("measure")["unit"]
    proportion = rows["measure"].map(units.map(unit_is_proportion)).fillna(False).astype(bool)
    additive = rows["measure"].map(units.map(unit_is_count)).fillna(False).astype(bool)
    has_ratio = rows["numerator"].notna() & rows["denominator"].notna()
    issues.flag(rows["value"].isna() & ~has_ratio, "value", "no value: give a value, or a numerator and a denominator")
    issues.flag(rows["numerator"].notna() ^ rows["denominator"].notna(), "denominator",
                "numerator and denominator must be given together (or both left blank)")
    issues.flag(rows["denominator"] <= 0, "denominator", "denominator is zero or negative")
    issues.flag((rows["numerator"] < 0) & proportion, "numerator",
                "numerator is negative")
    above = (rows["numerator"] > rows["denominator"]) & proportion
    issues.flag(above, "numerator", lambda: "numerator " + raw["numerator"].str.strip() + " is above denominator "
                + raw["denominator"].str.strip() + ": check the two columns are not swapped")
    # Scale linking value to numerator/denominator, per measure: observed in the rows, else from the unit.
    valid = ~issues.bad
    scales = {}
    for name, group in rows[valid].groupby("measure"):
        scales[name] = observed_scale(group["value"], group["numerator"], group["denominator"]) \
            or unit_scale(units.get(name, ""))
    scale = rows["measure"].map(scales).astype("float64").fillna(rows["measure"].map(units.map(unit_scale)))
    rows["value"] = rows["value"].fillna(rows["numerator"] / rows["denominator"] * scale)
    rows["scale"] = scale
    rows["additive"] = additive
    period_key = ["period_label", "measure", "source"]
    combined = combine_forces(rows[~issues.bad], period_key, matcher.forces, issues, has_ratio_columns=True,
                              max_missing_population_share=max_missing_population_share)
    combined = resolve_sources(combined, "measure", synthetic_source_names(sources), issues, rows, "outcomes")
    quarantine = Quarantine()
    quarantine.add_issues(raw, issues)
    period_info = rows.drop_duplicates("period_label").set_index("period_label")[
        ["period_start", "period_type", "year"]]
    outcomes = combined.join(period_info, on="period_label")
    outcomes["year"] = outcomes["year"].astype("int64")
    outcomes = outcomes[OUTPUT_COLUMNS].astype({"lcjp_id": "string", "period_label": "string", "period_type": "string",
                                                "measure": "string", "source": "string", "value": "float64",
                                                "numerator": "float64", "denominator": "float64"})
    outcomes = outcomes.sort_values(["measure", "lcjp_id", "period_start", "source"], kind="stable")
    outcomes = outcomes.reset_index(drop=True)
    quarantine_frame = quarantine.frame()
    accepted = pd.concat([raw.loc[~issues.bad, ["source_file", "source_row"]], measure_keys])
    reconciled = reconciliation(reconcile(rows_read, accepted, quarantine_frame), official_in)
    sources = finish_sources(sources, outcomes)
    synthetic = any(s["synthetic"] for s in sources) or (folder_synthetic and bool(scan.files))
    manifest = scan.manifest("outcomes", synthetic, {
        "official_sources": list(official_sources), "official_rows": official_in.derived_rows,
        "max_missing_population_share": float(max_missing_population_share)})
    manifest["files"] = manifest_files(manifest["files"], csv_file_flags(raw_csv, csv_names, folder_synthetic),
                                       folder_synthetic, official_in)
    manifest["ignored"] = manifest["ignored"] + official_in.ignored
    manifest["sources"] = sources
    return OutcomesResult(outcomes, measures, quarantine_frame, reconciled, manifest)
