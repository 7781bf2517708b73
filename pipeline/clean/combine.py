"""Long area x period tables (outcomes, covariates): parsing shared by both, and combining the forces of
a multi-force partnership (London: Metropolitan Police + City of London) into the partnership figure.

Combination rule (documented in the clean report):
- a row naming the partnership itself is taken as is; force rows for the same partnership, period,
  measure/variable and source are then set aside (quarantined, pointing at that row);
- force rows are combined when every force of the partnership is present; when only some are, they are
  combined from the forces present only if the missing forces hold at most ``max_missing_population_share``
  of the partnership's 2011 Census population (params ``clean_outcomes`` / ``clean_covariates``, default
  0.01: e.g. the ONS publishes no crime severity score for the City of London, 0.09% of London's
  population), and ``combined_from`` says so ("E23000001 (E23000034 missing: 0.09% of population)");
  otherwise the force rows are quarantined. Additive quantities are then the sum over the forces present
  (understated by about the missing share);
- with numerator and denominator on every row: both summed and the value recomputed on the scale the
  rows use (value / (numerator / denominator), rounded to a power of ten; else the unit's "per N" or
  "percent");
- additive quantities (unit a count, or a variable the user lists as additive, e.g. population):
  values summed;
- otherwise (rates, means, shares): weighted by each force's 2011 Census population from
  police_force_areas.csv.
``combined_from`` lists the force codes joined with '+'.

Several sources for one figure (``resolve_sources``, after combining): when the same partnership, period
and measure/variable comes from a synthetic source and a real one, the real one is kept and the synthetic
row(s) quarantined ("superseded by real source <name>"); two real sources giving different values are an
InputError (list only one of them); equal values from two real sources are kept once (first source name).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ..errors import InputError
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


def check_share(value) -> None:
    """``max_missing_population_share`` must be a number in [0, 1)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= float(value) < 1
    if not ok:
        raise InputError("params.yaml", f"parameter max_missing_population_share is {value!r}",
                         "give a share between 0 and 1, e.g. 0.01 (1% of the partnership's population); 0 "
                         "combines a multi-force partnership only when every force is present")


def _percent(share: float) -> str:
    return f"{100 * share:.2f}%"


# Tables derived from the force reference table, per table object (the clean functions of one process
# get the same AreaMatcher.forces every call, e.g. thousands of times in the validation study). The
# entry keeps the table alive, so its id cannot be reused by another object while cached; the table
# must not be modified in place (AreaMatcher never does).
_FORCE_TABLES: dict[int, tuple[pd.DataFrame, dict]] = {}


def _force_tables(forces: pd.DataFrame) -> dict:
    """Per partnership: number of forces, '+'-joined force codes, members, 2011 population; per force: population."""
    hit = _FORCE_TABLES.get(id(forces))
    if hit is not None and hit[0] is forces:
        return hit[1]
    tables = {"n_forces": forces.groupby("lcjp_id")["pfa_code"].size(),
              "force_sets": forces.groupby("lcjp_id")["pfa_code"].apply(lambda s: "+".join(sorted(s))),
              "population": forces.set_index("pfa_code")["population_2011"].astype("float64"),
              "all_population": forces.groupby("lcjp_id")["population_2011"].sum().astype("float64"),
              "members": forces.groupby("lcjp_id")["pfa_code"].apply(lambda s: sorted(s)).to_dict()}
    if len(_FORCE_TABLES) >= 8:
        _FORCE_TABLES.clear()
    _FORCE_TABLES[id(forces)] = (forces, tables)
    return tables


def _labels_by_group(keys: np.ndarray, labels: np.ndarray) -> list[tuple]:
    """Index labels per group, groups in sorted key order, labels in row order (= groupby(...)[...].agg(tuple))."""
    codes, uniques = pd.factorize(keys, sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1]
    return [tuple(part.tolist()) for part in np.split(np.asarray(labels)[order], bounds)]


def combine_forces(rows: pd.DataFrame, key: list[str], forces: pd.DataFrame, issues: Issues,
                   has_ratio_columns: bool, max_missing_population_share: float = 0.0) -> pd.DataFrame:
    """Partnership-level rows from force- and partnership-level ``rows`` (already valid).

    ``rows`` columns: key..., lcjp_id, pfa_code (NA = partnership named), value, [numerator, denominator],
    additive (bool), scale (float), source_file, source_row. Rows set aside are flagged on ``issues``.
    Returns key + value [+ numerator, denominator] + combined_from, with the contributing input rows in
    ``contributors`` (tuple of index labels of ``rows``).
    """
    tables = _force_tables(forces)
    n_forces, force_sets, population = tables["n_forces"], tables["force_sets"], tables["population"]
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
    out_direct["contributors"] = pd.Series([(i,) for i in direct.index], index=direct.index, dtype=object)
    if force_rows.empty:
        return out_direct

    # Force rows superseded by a row naming the partnership itself.
    force_key = gkey[force_rows.index]
    # membership through a Python set: Series.isin on the string dtype costs ~40 ms for 5,000 keys
    direct_keys = set(gkey[direct.index].tolist())
    has_direct = pd.Series(np.fromiter((k in direct_keys for k in force_key.tolist()), bool, len(force_key)),
                           index=force_key.index)
    if has_direct.any():
        direct_at = pd.Series(where[direct.index].to_numpy(), index=gkey[direct.index].to_numpy(), dtype="string")
        issues.flag(has_direct, "area", "partnership figure given directly in " + force_key[has_direct].map(direct_at))
        force_rows = force_rows[~has_direct]
        force_key = force_key[~has_direct]

    # Every force of the partnership must be present, or the missing ones hold a small share of its population.
    all_population = tables["all_population"]
    count = force_rows.groupby(force_key.to_numpy())["pfa_code"].transform("size")
    incomplete = count.to_numpy() != force_rows["lcjp_id"].map(n_forces).to_numpy()
    note = pd.Series(pd.NA, index=force_rows.index, dtype="string")
    if incomplete.any():
        inc = force_rows[incomplete]
        inc_key = force_key[incomplete].to_numpy()
        present = inc.groupby(inc_key)["pfa_code"].transform(lambda s: "+".join(sorted(s)))
        present_pop = inc["pfa_code"].map(population).groupby(inc_key).transform("sum")
        share = (1.0 - present_pop / inc["lcjp_id"].map(all_population)).clip(lower=0.0)
        allowed = share <= max_missing_population_share
        if allowed.any():
            members = tables["members"]
            missing = ["+".join(c for c in members[lcjp] if c not in p.split("+"))
                        for lcjp, p in zip(inc.loc[allowed, "lcjp_id"], present[allowed])]
            note.loc[inc.index[allowed.to_numpy()]] = (
                present[allowed] + " (" + pd.Series(missing, index=present[allowed].index, dtype="string")
                + " missing: " + share[allowed].map(_percent) + " of population)").astype("string")
        refused = ~allowed
        if refused.any():
            bad = inc[refused]
            issues.flag(pd.Series(True, index=bad.index), "area", "only " + present[refused] + " of the forces "
                        + bad["lcjp_id"].map(force_sets) + " of partnership '" + bad["lcjp_id"] + "' given for this "
                        "period and measure/variable (the missing force(s) hold " + share[refused].map(_percent)
                        + " of its 2011 population, above max_missing_population_share "
                        + _percent(max_missing_population_share) + "): add the missing force(s) or one row for the "
                        "whole partnership")
            keep = pd.Series(True, index=force_rows.index)
            keep.loc[bad.index] = False
            force_rows = force_rows[keep]
            force_key = force_key[keep]
            note = note[keep]
    if force_rows.empty:
        return out_direct

    frame = force_rows.copy()
    frame["note"] = note
    frame["index_label"] = frame.index
    frame["weight"] = frame["pfa_code"].map(population).astype("float64")
    frame["weighted"] = frame["value"] * frame["weight"]
    sums, alls = ["value", "weighted", "weight"], ["additive"]
    if has_ratio_columns:
        frame["ratio_ok"] = frame["numerator"].notna() & frame["denominator"].notna()
        sums, alls = sums + ["numerator", "denominator"], alls + ["ratio_ok"]
    group_keys = force_key.to_numpy()
    # first / sum / all per group, one call per kind (a named .agg over a dozen columns costs 3x more)
    g = frame.groupby(group_keys, sort=True)
    combined = pd.concat([g[[*group_key, "scale", "note"]].first(),
                          g[sums].sum().rename(columns={"value": "value_sum"}), g[alls].all()],
                         axis=1).reset_index(drop=True)
    combined["contributors"] = _labels_by_group(group_keys, frame.index.to_numpy())
    value = np.where(combined["additive"], combined["value_sum"], combined["weighted"] / combined["weight"])
    if has_ratio_columns:
        ratio_value = combined["numerator"] / combined["denominator"] * combined["scale"]
        value = np.where(combined["ratio_ok"] & ~combined["additive"], ratio_value, value)
        combined["numerator"] = combined["numerator"].where(combined["ratio_ok"])
        combined["denominator"] = combined["denominator"].where(combined["ratio_ok"])
    combined["value"] = value.astype("float64")
    combined["combined_from"] = combined["note"].astype("string").fillna(
        combined["lcjp_id"].map(force_sets).astype("string"))
    keep = (group_key + ["value"] + (["numerator", "denominator"] if has_ratio_columns else [])
            + ["combined_from", "contributors"])
    return pd.concat([out_direct, combined[keep]], ignore_index=True)


def resolve_sources(combined: pd.DataFrame, name: str, synthetic_sources: set, issues: Issues,
                    rows: pd.DataFrame, kind: str) -> pd.DataFrame:
    """One figure per partnership x period x ``name`` (measure/variable) when several sources give it.

    ``combined`` is the output of ``combine_forces`` (with ``contributors``); ``rows`` the parsed input
    rows (source_file, source_row) it came from. Synthetic rows given also by a real source are flagged on
    ``issues`` ("superseded by real source <name>") and dropped; two real sources with different values
    are an InputError naming both; equal real values are kept once (the first source name). Figures that
    only synthetic sources give are all kept, as before.
    """
    if combined.empty:
        return combined
    key = ["lcjp_id", "period_label", name]
    frame = combined.reset_index(drop=True)
    frame["_synthetic"] = frame["source"].isin(synthetic_sources).to_numpy()
    n_sources = frame.groupby(key, sort=False)["source"].transform("nunique")
    shared = frame[(n_sources > 1).to_numpy()]
    if shared.empty:
        return frame.drop(columns="_synthetic")
    drop: list[int] = []
    for _, group in shared.sort_values(key + ["source"], kind="stable").groupby(key, sort=True):
        real = group[~group["_synthetic"]]
        if real.empty:
            continue
        first = real.iloc[0]
        for label, other in real.iloc[1:].iterrows():
            if not np.isclose(other["value"], first["value"], rtol=1e-9, atol=0.0):
                where = rows.loc[list(other["contributors"])[0]]
                first_at = rows.loc[list(first["contributors"])[0]]
                raise InputError(
                    where["source_file"], f"two real sources give {name} '{first[name]}' for '{first['lcjp_id']}' "
                    f"{first['period_label']} and disagree: '{first['source']}' says {first['value']:g} "
                    f"({first_at['source_file']} row {int(first_at['source_row'])}), '{other['source']}' says "
                    f"{other['value']:g} ({where['source_file']} row {int(where['source_row'])})",
                    f"use one source per {name}: list only one of them in params.yaml clean_{kind}.official_sources "
                    f"(or remove the other file / its rows for '{first[name]}')",
                    row=int(where["source_row"]), column="value")
            drop.append(label)
            issues.flag(pd.Series(True, index=list(other["contributors"])), "source",
                        f"same figure as real source {first['source']}: kept once")
        for label, synthetic in group[group["_synthetic"]].iterrows():
            drop.append(label)
            issues.flag(pd.Series(True, index=list(synthetic["contributors"])), "source",
                        f"superseded by real source {first['source']}")
    return frame.drop(index=drop).drop(columns="_synthetic").reset_index(drop=True)
