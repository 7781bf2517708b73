"""From processed tables to regression inputs: yearly outcomes, outcome targets, covariates, features.

Nothing here knows a measure, feature, variable or area name: they come from the tables.

Yearly aggregation of outcomes (``aggregate_outcomes``)
    Rows of one area, measure and ``year`` are combined into one yearly value. When a year is
    reported at several granularities, the coarsest is used (calendar year, then financial year,
    then quarters) so nothing is double counted. If every row of the group carries a numerator and
    a positive denominator the yearly value is ``scale * sum(numerator) / sum(denominator)`` (a
    rate over the year, weighting periods by their denominators), where ``scale`` is the measure's
    own ratio of ``value`` to ``numerator / denominator`` (100 for a percentage, 1,000 for a rate
    per 1,000), estimated from the data. Otherwise the yearly value is the mean of the period
    values (a count reported by quarter becomes a quarterly mean; the unit is then "per period").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError

AREA = "lcjp_id"
PERIOD_PRIORITY = {"calendar_year": 0, "financial_year": 1, "quarter": 2}
AGG_COLUMNS = [AREA, "measure", "year", "value", "period_type", "n_periods", "rule"]


def require_columns(df: pd.DataFrame, columns: list[str], file: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(file, f"missing column(s) {missing}; columns present: {list(df.columns)}",
                         f"regenerate {file} with the upstream stage (docs/ARCHITECTURE.md lists its columns)",
                         column=missing[0])


def _measure_scale(group: pd.DataFrame) -> float:
    """value / (numerator / denominator) for one measure: 100 for percentages, 1 for proportions..."""
    ok = group["numerator"].notna() & (group["denominator"] > 0) & group["value"].notna() & (group["numerator"] != 0)
    if not ok.any():
        return 1.0
    ratio = (group.loc[ok, "value"] * group.loc[ok, "denominator"] / group.loc[ok, "numerator"]).median()
    if not np.isfinite(ratio) or ratio <= 0:
        return 1.0
    nice = 10.0 ** round(np.log10(ratio))
    return float(nice) if abs(ratio / nice - 1) < 0.01 else float(ratio)


def _measure_scales(d: pd.DataFrame) -> dict:
    """``_measure_scale`` of every measure at once (same medians and rounding, no loop over groups)."""
    ok = d["numerator"].notna() & (d["denominator"] > 0) & d["value"].notna() & (d["numerator"] != 0)
    ratio = (d["value"] * d["denominator"] / d["numerator"]).where(ok)
    medians = ratio.groupby(d["measure"], sort=True).median()
    out = {}
    for measure, median in medians.items():
        if not np.isfinite(median) or median <= 0:      # no usable row (NaN), or a non-positive ratio
            out[measure] = 1.0
            continue
        nice = 10.0 ** round(np.log10(median))
        out[measure] = float(nice) if abs(median / nice - 1) < 0.01 else float(median)
    return out


def aggregate_outcomes(outcomes: pd.DataFrame, file: str = "outcomes.parquet") -> pd.DataFrame:
    """One value per area, measure and year (see the module docstring for the rule)."""
    require_columns(outcomes, [AREA, "measure", "year", "value", "numerator", "denominator", "period_type"], file)
    d = outcomes[[AREA, "measure", "year", "value", "numerator", "denominator", "period_type"]].copy()
    for col in ("value", "numerator", "denominator"):
        d[col] = pd.to_numeric(d[col], errors="coerce").astype("float64")
    d["year"] = pd.to_numeric(d["year"], errors="coerce")
    bad = d["year"].isna() | d[AREA].isna() | d["measure"].isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise InputError(file, "rows without area, measure or year", "re-run the clean_outcomes stage", row=row,
                         column="year")
    d["year"] = d["year"].astype("int64")
    d["_prio"] = d["period_type"].astype("string").map(PERIOD_PRIORITY).fillna(9).astype("int64")
    keys = [AREA, "measure", "year"]
    best = d.groupby(keys)["_prio"].transform("min")
    d = d[d["_prio"] == best]
    scales = _measure_scales(d)
    d["_has_ratio"] = d["numerator"].notna() & (d["denominator"] > 0)
    g = d.groupby(keys, sort=True)
    # one call per aggregation (a named .agg over several columns costs about twice as much)
    sums = g[["numerator", "denominator"]].sum()
    out = pd.DataFrame({"num": sums["numerator"], "den": sums["denominator"], "mean_value": g["value"].mean(),
                        "all_ratio": g["_has_ratio"].all(), "n_periods": g["value"].size(),
                        "period_type": g["period_type"].first()}).reset_index()
    ratio_value = out["measure"].map(scales).astype("float64") * out["num"] / out["den"]
    out["value"] = np.where(out["all_ratio"], ratio_value, out["mean_value"])
    out["rule"] = np.where(out["all_ratio"], "sum(numerator)/sum(denominator)", "mean of period values")
    out["period_type"] = out["period_type"].astype("string")
    out["rule"] = out["rule"].astype("string")
    return out[AGG_COLUMNS].sort_values(keys, ignore_index=True)


def outcome_targets(yearly: pd.DataFrame, level_year: int, baseline_year: int,
                    periods: tuple[str, ...] = ("level", "change")) -> pd.DataFrame:
    """Per area and measure: the level in ``level_year`` and the change since ``baseline_year``.

    Columns ``lcjp_id, measure, outcome_period, value``. Measures lacking either year for every
    area simply yield no rows for that period.
    """
    wide = yearly.pivot_table(index=[AREA, "measure"], columns="year", values="value", aggfunc="first")
    parts = []
    for period in periods:
        if period == "level":
            if level_year not in wide.columns:
                continue
            v = wide[level_year]
        elif period == "change":
            if level_year not in wide.columns or baseline_year not in wide.columns:
                continue
            v = wide[level_year] - wide[baseline_year]
        else:
            raise ValueError(f"unknown outcome period '{period}' (use 'level' or 'change')")
        part = v.rename("value").reset_index()
        part["outcome_period"] = period
        parts.append(part)
    cols = [AREA, "measure", "outcome_period", "value"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "value" else "string") for c in cols})
    out = pd.concat(parts, ignore_index=True).dropna(subset=["value"])
    out["outcome_period"] = out["outcome_period"].astype("string")
    return out[cols].sort_values([AREA, "measure", "outcome_period"], ignore_index=True)


def feature_table(area_features: pd.DataFrame, aggregation: str = "adjusted",
                  file: str = "area_features.csv") -> tuple[pd.DataFrame, list[str]]:
    """Wide area x feature table of the kept features (``decision`` != 'dropped').

    ``aggregation``: 'adjusted' uses ``score`` (agency-mix adjusted), 'raw' uses ``raw_mean``.
    Returns (wide table indexed by lcjp_id, features dropped upstream).
    """
    column = {"adjusted": "score", "score": "score", "raw": "raw_mean", "raw_mean": "raw_mean"}.get(aggregation)
    if column is None:
        raise InputError(None, f"unknown aggregation '{aggregation}'",
                         "set params estimate.aggregation to 'adjusted' (score) or 'raw' (raw_mean)")
    require_columns(area_features, [AREA, "feature", column, "decision"], file)
    d = area_features[[AREA, "feature", column, "decision"]].copy()
    dropped_rows = d["decision"].astype("string").str.strip().str.lower().eq("dropped").fillna(False)
    kept = d[~dropped_rows]
    all_features = sorted(d["feature"].dropna().astype(str).unique())
    dropped = sorted(set(all_features) - set(kept["feature"].astype(str)))
    if kept.duplicated([AREA, "feature"]).any():
        row = int(np.flatnonzero(kept.duplicated([AREA, "feature"]).to_numpy())[0]) + 2
        raise InputError(file, "the same area and feature appear twice", "keep one row per area and feature",
                         row=row, column="feature")
    wide = kept.pivot(index=AREA, columns="feature", values=column).astype("float64")
    wide.columns = [str(c) for c in wide.columns]
    wide.index = wide.index.astype(str)
    return wide.sort_index()[sorted(wide.columns)], dropped


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_")


@dataclass
class AreaCovariates:
    """Covariates per area (index lcjp_id), the names of the 'auto' set, the region per area, notes."""
    table: pd.DataFrame
    auto: list[str]
    population: str
    region: pd.Series
    notes: list[str] = field(default_factory=list)


def area_reference(reference: pd.DataFrame, file: str = "police_force_areas.csv") -> pd.DataFrame:
    """Per partnership: population (summed over forces), number of forces, region, country."""
    require_columns(reference, [AREA, "pfa_code", "region", "country"], file)
    pop_cols = sorted(c for c in reference.columns if str(c).lower().startswith("population"))
    if not pop_cols:
        raise InputError(file, "no population column (population_YYYY)",
                         "use the reference table shipped in data/raw/reference", column="population_2011")
    pop_col = pop_cols[-1]
    r = reference.copy()
    r[pop_col] = pd.to_numeric(r[pop_col], errors="coerce")
    out = r.groupby(AREA, sort=True).agg(population=(pop_col, "sum"), n_forces=("pfa_code", "nunique"),
                                         region=("region", "first"), country=("country", "first"))
    out.index = out.index.astype(str)
    return out


# area_reference per reference-table object: the validation study passes the same table thousands of
# times. The entry keeps the table alive (so its id is not reused while cached); neither the table nor
# the returned frame may be modified in place (area_covariates only reads it).
_AREA_REFERENCE: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}


def _area_reference_cached(reference: pd.DataFrame) -> pd.DataFrame:
    hit = _AREA_REFERENCE.get(id(reference))
    if hit is not None and hit[0] is reference:
        return hit[1]
    out = area_reference(reference)
    if len(_AREA_REFERENCE) >= 8:
        _AREA_REFERENCE.clear()
    _AREA_REFERENCE[id(reference)] = (reference, out)
    return out


def area_covariates(covariates: pd.DataFrame | None, reference: pd.DataFrame, year: int,
                    file: str = "covariates.parquet") -> AreaCovariates:
    """All candidate covariates per area for ``year`` and the 'auto' set.

    'auto' = log population (from the reference table, or a covariate variable that is the same
    quantity: log correlation > 0.98), the covariate variables observed for every area in ``year``
    (or the nearest earlier year, else the nearest later one), indicators for each country other
    than the most common one, and an indicator for partnerships spanning several forces when at least two
    areas are on each side of it (a one-area indicator would only set that area aside: it stays in the
    table, for an explicit covariate list, but not in 'auto').
    Strictly positive variables spanning more than a factor of 10 enter on the log scale.
    Indicators covering fewer than two areas are kept in the table; ``build_design`` sets such
    areas aside (a one-area dummy is equivalent to excluding that area, and gives it leverage 1).
    """
    ref = _area_reference_cached(reference)
    notes: list[str] = []
    table = pd.DataFrame(index=ref.index)
    table["log_population"] = np.log(ref["population"].astype("float64"))
    population = "log_population"
    population_source = None
    auto: list[str] = []
    if covariates is not None and len(covariates):
        require_columns(covariates, [AREA, "year", "variable", "value"], file)
        c = covariates[[AREA, "year", "variable", "value"]].copy()
        c["value"] = pd.to_numeric(c["value"], errors="coerce").astype("float64")
        c["year"] = pd.to_numeric(c["year"], errors="coerce")
        c = c.dropna(subset=["value", "year"])
        c["distance"] = np.where(c["year"] <= year, year - c["year"], 1000 + c["year"] - year)
        c = c.sort_values([AREA, "variable", "distance"]).drop_duplicates([AREA, "variable"])
        wide = c.pivot(index=AREA, columns="variable", values="value").reindex(ref.index)
        years_used = c.groupby("variable")["year"].agg(["min", "max"])
        for var in sorted(wide.columns.astype(str)):
            v = wide[var].astype("float64")
            name = _slug(var)
            if v.isna().any():
                notes.append(f"covariate '{var}' missing for {int(v.isna().sum())} area(s) near {year}: "
                             "not in the auto set")
                table[name] = v
                continue
            if v.nunique() < 2:
                notes.append(f"covariate '{var}' constant across areas: not used")
                continue
            lo, hi = years_used.loc[var]
            if lo != year or hi != year:
                notes.append(f"covariate '{var}' taken from year(s) {int(lo)}-{int(hi)} (nearest to {year})")
            if population_source is None and (v > 0).all() and \
                    np.corrcoef(np.log(v), table["log_population"])[0, 1] > 0.98:
                notes.append(f"covariate '{var}' is population: its log replaces the reference table's population")
                table["log_population"] = np.log(v)
                population_source = var
                continue
            if (v > 0).all() and v.max() / v.min() > 10:
                v, name = np.log(v), "log_" + name
            table[name] = v
            auto.append(name)
    auto.insert(0, population)
    countries = ref["country"].astype(str)
    modal = countries.value_counts().sort_index().idxmax()
    for country in sorted(set(countries) - {modal}):
        name = f"country_{_slug(country)}"
        table[name] = (countries == country).astype("float64")
        auto.append(name)
    multi = (ref["n_forces"] > 1).astype("float64")
    if 0 < multi.sum() < len(multi):
        table["multi_force_partnership"] = multi
        if min(multi.sum(), len(multi) - multi.sum()) >= 2:
            auto.append("multi_force_partnership")
        else:
            # a one-area indicator is equivalent to setting that area aside (issue 14, analysis_plan.yaml
            # `areas`): the area stays in, adjusted by the other covariates (its population is summed over
            # its forces); name the indicator explicitly in `covariates` to set the area aside instead
            rare = sorted(multi.index[multi == (1.0 if multi.sum() < 2 else 0.0)])
            notes.append(f"indicator 'multi_force_partnership' would cover only {rare}: not in the auto set, "
                         "so that area is included (adjusted by the other covariates)")
    return AreaCovariates(table=table, auto=auto, population=population, region=ref["region"].astype(str),
                          notes=notes)


def resolve_covariates(spec, cov: AreaCovariates) -> list[str]:
    """Covariate names for a spec: 'auto', 'none', 'population', or an explicit list of names."""
    if spec is None or spec == "none":
        return []
    if spec == "auto":
        return list(cov.auto)
    if spec == "population":
        return [cov.population]
    names = [spec] if isinstance(spec, str) else list(spec)
    out = []
    for name in names:
        for candidate in (name, _slug(name), "log_" + _slug(name)):
            if candidate in cov.table.columns:
                out.append(candidate)
                break
        else:
            raise InputError("params.yaml", f"covariate '{name}' is not available",
                             f"use 'auto', 'none', 'population' or names among {sorted(cov.table.columns)}",
                             column="estimate.covariates")
    return out


def region_dummies(region: pd.Series) -> pd.DataFrame:
    """Region fixed-effect indicators (one per region except the first in sorted order)."""
    levels = sorted(region.unique())
    return pd.DataFrame({f"region_{_slug(r)}": (region == r).astype("float64") for r in levels[1:]},
                        index=region.index)


def build_design(index: pd.Index, controls: pd.DataFrame) -> tuple[pd.Index, np.ndarray, list[str], list[str]]:
    """Areas usable for a design, the control matrix with intercept, its column names, and notes.

    Areas with a missing control are dropped; an indicator taking one value in fewer than two
    areas sets those areas aside (equivalent to a one-area dummy, without leverage 1); columns
    that are constant or linearly dependent on earlier ones are removed.
    """
    notes = []
    ctl = controls.reindex(index)
    keep = ctl.notna().all(axis=1)
    if (~keep).any():
        notes.append(f"areas without covariates set aside: {sorted(ctl.index[~keep])}")
    ctl = ctl[keep]
    changed = True
    while changed:
        changed = False
        for col in list(ctl.columns):
            v = ctl[col]
            if set(np.unique(v)) <= {0.0, 1.0}:
                ones = v == 1
                if 0 < ones.sum() < 2 or 0 < (~ones).sum() < 2:
                    rare = ones if ones.sum() < 2 else ~ones
                    notes.append(f"indicator '{col}' covers only {sorted(ctl.index[rare])}: set aside")
                    ctl = ctl[~rare].drop(columns=col)
                    changed = True
                    break
    cols: list[str] = []
    mat = np.ones((len(ctl), 1))
    for col in ctl.columns:
        cand = np.column_stack([mat, ctl[col].to_numpy("float64")])
        if np.linalg.matrix_rank(cand, tol=1e-8 * max(1.0, np.abs(cand).max()) * len(cand)) > mat.shape[1]:
            mat = cand
            cols.append(col)
        else:
            notes.append(f"covariate '{col}' constant or collinear with others: dropped")
    return ctl.index, mat, ["Intercept", *cols], notes


def feature_gates(area_features: pd.DataFrame) -> dict[str, str]:
    """Per feature, the features stage's measurement gate: "passed", "failed: <reason>" or "not assessed"
    (a table without ``gate_passed``, e.g. the validation study's scores-only path)."""
    if "gate_passed" not in area_features.columns:
        return {str(f): "not assessed" for f in area_features["feature"].dropna().unique()}
    reason = area_features["gate_reason"] if "gate_reason" in area_features.columns else pd.Series("", index=area_features.index)
    out = {}
    for f, passed, why in zip(area_features["feature"].astype(str), area_features["gate_passed"], reason):
        if f in out:
            continue
        ok = str(passed).strip().lower() in ("true", "1", "yes")
        out[f] = "passed" if ok else f"failed: {why if isinstance(why, str) and why else 'gate not passed'}"
    return out


def score_reliability(area_features: pd.DataFrame) -> dict[str, float]:
    """Per feature, mean over areas of 1 - PEV / tau^2 of the measured (agency-adjusted BLUP) score,
    from the features stage's ``score_pev`` and ``area_variance``; empty when those are absent."""
    if not {"score_pev", "area_variance"} <= set(area_features.columns):
        return {}
    d = area_features[["feature", "score_pev", "area_variance"]].copy()
    d["score_pev"] = pd.to_numeric(d["score_pev"], errors="coerce")
    d["area_variance"] = pd.to_numeric(d["area_variance"], errors="coerce")
    d = d[d["area_variance"] > 0]
    rel = 1.0 - d["score_pev"] / d["area_variance"]
    return {str(f): float(v) for f, v in rel.groupby(d["feature"].astype(str)).mean().items()}

