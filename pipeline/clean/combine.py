"""Long area x period tables (outcomes, covariates): parsing shared by both, and combining the forces of
a multi-force partnership (London: Metropolitan Police + City of London) into the partnership figure.

Combination rule (documented in the clean report):
- a row naming the partnership itself is taken as is; force rows for the same partnership, period,
  measure/variable and source are then set aside (quarantined, pointing at that row);
- force rows are combined only when every force of the partnership is present (else quarantined);
- with numerator and denominator on every row: both summed and the value recomputed on the scale the
  rows use (value / (numerator / denominator), rounded to a power of ten; else the unit's "per N" or
  "percent");
- additive quantities (unit a count, or a variable the user lists as additive, e.g. population):
  values summed;
- otherwise (rates, means, shares): weighted by each force's 2011 Census population from
  police_force_areas.csv.
``combined_from`` lists the force codes joined with '+'.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from .labels import normalise_label
from .quarantine import Issues

COUNT_UNITS = ("count", "number", "persons", "people", "offences", "cases", "population")


def unit_is_count(unit: object) -> bool:
    key = normalise_label(unit)
    return bool(key) and (key in COUNT_UNITS or key.startswith(("count", "number of", "n of")))


def unit_is_proportion(unit: object) -> bool:
    """Units where a numerator cannot exceed its denominator (percentages, proportions, rates, ratios)."""
    key = normalise_label(unit)
    return bool(re.search(r"\b(percent|percentage|proportion|share|rate|ratio|per \d)", key)) or "%" in str(unit)


def unit_scale(unit: object) -> float:
    """Scale of a rate from its unit text: percent -> 100, 'per 1,000' -> 1000, else 1."""
    text = str(unit).lower()
    if "%" in text or "percent" in text:
        return 100.0
    m = re.search(r"per\s*([\d][\d,\s]*)", text)
    if m:
        digits = re.sub(r"[^\d]", "", m.group(1))
        if digits:
            return float(digits)
    return 1.0


def observed_scale(value: pd.Series, numerator: pd.Series, denominator: pd.Series) -> float | None:
    """The power of ten that links value to numerator/denominator in rows giving all three (None if none)."""
    ratio = value / (numerator / denominator)
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    if ratio.empty:
        return None
    return float(10 ** round(math.log10(float(ratio.median()))))


def combine_forces(rows: pd.DataFrame, key: list[str], forces: pd.DataFrame, issues: Issues,
                   has_ratio_columns: bool) -> pd.DataFrame:
    """Partnership-level rows from force- and partnership-level ``rows`` (already valid).

    ``rows`` columns: key..., lcjp_id, pfa_code (NA = partnership named), value, [numerator, denominator],
    additive (bool), scale (float), source_file, source_row. Rows set aside are flagged on ``issues``.
    Returns key + value [+ numerator, denominator] + combined_from, with the contributing input rows in
    ``contributors`` (list of index labels).
    """
    n_forces = forces.groupby("lcjp_id")["pfa_code"].size()
    force_sets = forces.groupby("lcjp_id")["pfa_code"].apply(lambda s: "+".join(sorted(s)))
    population = forces.set_index("pfa_code")["population_2011"].astype("float64")
    multi = rows["pfa_code"].notna() & (rows["lcjp_id"].map(n_forces).fillna(1) > 1).to_numpy()
    group_key = ["lcjp_id", *key]
    where = rows["source_file"] + " row " + rows["source_row"].astype("string")
    # One string key per partnership x period x measure/variable x source (fast single-key grouping).
    gkey = rows[group_key[0]].astype("string").str.cat([rows[c].astype("string") for c in group_key[1:]], sep="\x1f")

    # Duplicates: same partnership/force, period, measure/variable and source.
    ident = gkey + "\x1f" + rows["pfa_code"].fillna("")
    dup = ident.duplicated(keep="first")
    if dup.any():
        first_at = where.groupby(ident).transform("first")
        issues.flag(dup, "area", "duplicate of " + first_at + " (same area, period, measure/variable and source)")
    live = ~dup
    direct = rows[live & ~multi]
    force_rows = rows[live & multi]
    out_direct = direct[group_key].copy()
    out_direct["value"] = direct["value"]
    if has_ratio_columns:
        out_direct["numerator"] = direct["numerator"]
        out_direct["denominator"] = direct["denominator"]
    out_direct["combined_from"] = pd.Series(pd.NA, index=direct.index, dtype="string")
    if force_rows.empty:
        return out_direct

    # Force rows superseded by a row naming the partnership itself.
    direct_at = pd.Series(where[direct.index].to_numpy(), index=gkey[direct.index].to_numpy(), dtype="string")
    force_key = gkey[force_rows.index]
    has_direct = force_key.isin(direct_at.index)
    if has_direct.any():
        issues.flag(has_direct, "area", "partnership figure given directly in " + force_key[has_direct].map(direct_at))
        force_rows = force_rows[~has_direct]
        force_key = force_key[~has_direct]

    # Every force of the partnership must be present.
    count = force_rows.groupby(force_key.to_numpy())["pfa_code"].transform("size")
    incomplete = count.to_numpy() != force_rows["lcjp_id"].map(n_forces).to_numpy()
    if incomplete.any():
        inc = force_rows[incomplete]
        present = inc.groupby(force_key[incomplete].to_numpy())["pfa_code"].transform(lambda s: "+".join(sorted(s)))
        issues.flag(pd.Series(True, index=inc.index), "area", "only " + present + " of the forces "
                    + inc["lcjp_id"].map(force_sets) + " of partnership '" + inc["lcjp_id"] + "' given for this "
                    "period and measure/variable: add the missing force(s) or one row for the whole partnership")
        force_rows = force_rows[~incomplete]
        force_key = force_key[~incomplete]
    if force_rows.empty:
        return out_direct

    frame = force_rows.copy()
    frame["weight"] = frame["pfa_code"].map(population).astype("float64")
    frame["weighted"] = frame["value"] * frame["weight"]
    agg = {**{c: (c, "first") for c in group_key}, "value_sum": ("value", "sum"), "weighted": ("weighted", "sum"),
           "weight": ("weight", "sum"), "additive": ("additive", "all"), "scale": ("scale", "first")}
    if has_ratio_columns:
        frame["ratio_ok"] = frame["numerator"].notna() & frame["denominator"].notna()
        agg.update({"numerator": ("numerator", "sum"), "denominator": ("denominator", "sum"),
                    "ratio_ok": ("ratio_ok", "all")})
    combined = frame.groupby(force_key.to_numpy(), sort=True).agg(**agg).reset_index(drop=True)
    value = np.where(combined["additive"], combined["value_sum"], combined["weighted"] / combined["weight"])
    if has_ratio_columns:
        ratio_value = combined["numerator"] / combined["denominator"] * combined["scale"]
        value = np.where(combined["ratio_ok"] & ~combined["additive"], ratio_value, value)
        combined["numerator"] = combined["numerator"].where(combined["ratio_ok"])
        combined["denominator"] = combined["denominator"].where(combined["ratio_ok"])
    combined["value"] = value.astype("float64")
    combined["combined_from"] = combined["lcjp_id"].map(force_sets).astype("string")
    keep = group_key + ["value"] + (["numerator", "denominator"] if has_ratio_columns else []) + ["combined_from"]
    return pd.concat([out_direct, combined[keep]], ignore_index=True)
