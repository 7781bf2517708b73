"""Who answered: the area x agency response matrix and per-area response rates.

Response rates use ``invited.parquet`` (``lcjp_id, agency, invited``) when it has rows; otherwise
(``rate_basis = 'core_coverage'``) the per-area figure is the share of the *core* agencies (a param;
default police, cps, courts, probation, pcc) with at least one respondent. No outcome data here: the
features stage is blind to outcomes; "does responding relate to outcomes" is checked in the estimate
stage from ``response_rates.csv``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from .items import check_survey

INVITED_FILE = "data/processed/invited.parquet"
MATRIX_COLUMNS = ["lcjp_id", "agency", "n_respondents", "n_invited", "response_rate", "is_core"]
RATE_COLUMNS = ["lcjp_id", "n_respondents", "n_invited", "response_rate", "rate_basis", "n_agencies_responding",
                "core_agencies_covered", "n_core_agencies", "core_coverage", "core_agencies_missing"]


def _check_invited(invited: pd.DataFrame | None) -> pd.DataFrame:
    columns = ["lcjp_id", "agency", "invited"]
    if invited is None:
        return pd.DataFrame({"lcjp_id": pd.Series(dtype="string"), "agency": pd.Series(dtype="string"),
                             "invited": pd.Series(dtype="int64")})
    for column in columns:
        if column not in invited.columns:
            raise InputError(INVITED_FILE, f"no '{column}' column", "re-run the clean_survey stage", column=column)
    out = invited[columns].copy()
    out["lcjp_id"] = out["lcjp_id"].astype("string")
    out["agency"] = out["agency"].astype("string")
    values = pd.to_numeric(out["invited"], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(INVITED_FILE, f"invited count {out['invited'].iloc[row]!r} is not a non-negative number",
                         "fix the count in data/raw/survey/invited.csv and re-run clean_survey",
                         row=row + 2, column="invited")
    out["invited"] = values.astype("int64")
    return out.groupby(["lcjp_id", "agency"], as_index=False, sort=True)["invited"].sum()


def response_matrix(survey_clean: pd.DataFrame, invited: pd.DataFrame | None = None, *,
                    areas: list[str] | None = None, core_agencies: list[str] = ()) -> pd.DataFrame:
    """Tidy area x agency matrix (``MATRIX_COLUMNS``): every area (``areas`` or those seen) x every agency seen
    in the survey, the invitations or the core list; zero where nobody answered."""
    check_survey(survey_clean)
    invited = _check_invited(invited)
    counts = (survey_clean.assign(lcjp_id=survey_clean["lcjp_id"].astype("string"),
                                  agency=survey_clean["agency"].astype("string").fillna("(agency not recorded)"))
              .groupby(["lcjp_id", "agency"], sort=True).size().rename("n_respondents").reset_index())
    area_list = sorted(set(map(str, areas)) if areas is not None else
                       set(counts["lcjp_id"]) | set(invited["lcjp_id"]))
    unknown = sorted(set(counts["lcjp_id"]) - set(area_list))
    if unknown:
        raise ValueError(f"survey areas not in the area list: {unknown}")
    agencies = sorted(set(counts["agency"]) | set(invited["agency"]) | set(map(str, core_agencies)))
    grid = pd.MultiIndex.from_product([pd.Index(area_list, dtype="string"), pd.Index(agencies, dtype="string")],
                                      names=["lcjp_id", "agency"]).to_frame(index=False)
    out = grid.merge(counts, on=["lcjp_id", "agency"], how="left").merge(invited, on=["lcjp_id", "agency"],
                                                                          how="left")
    out["n_respondents"] = out["n_respondents"].fillna(0).astype("int64")
    has_invited = len(invited) > 0
    out["n_invited"] = out["invited"].astype("Int64") if has_invited else pd.Series(pd.NA, index=out.index,
                                                                                   dtype="Int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = out["n_respondents"] / out["n_invited"].astype("Float64")
    out["response_rate"] = rate.where(out["n_invited"] > 0).astype("Float64")
    out["is_core"] = out["agency"].isin(set(map(str, core_agencies))).astype(bool)
    return out[MATRIX_COLUMNS].sort_values(["lcjp_id", "agency"], kind="mergesort").reset_index(drop=True)


def response_rates(survey_clean: pd.DataFrame, invited: pd.DataFrame | None = None, *,
                   areas: list[str] | None = None,
                   core_agencies: list[str] = ("police", "cps", "courts", "probation", "pcc")) -> pd.DataFrame:
    """One row per area (``RATE_COLUMNS``). ``response_rate`` = respondents / invited when invitations are
    known (more respondents than invited gives a rate above 1, left visible as a data problem);
    otherwise the core-agency coverage."""
    matrix = response_matrix(survey_clean, invited, areas=areas, core_agencies=core_agencies)
    core = sorted(set(map(str, core_agencies)))
    has_invited = matrix["n_invited"].notna().any()
    rows = []
    for area, block in matrix.groupby("lcjp_id", sort=True):
        answered = block[block["n_respondents"] > 0]
        covered = sorted(set(answered["agency"]) & set(core))
        n_resp = int(block["n_respondents"].sum())
        n_inv = int(block["n_invited"].fillna(0).sum()) if has_invited else pd.NA
        coverage = len(covered) / len(core) if core else np.nan
        if has_invited:
            rate = n_resp / n_inv if n_inv else np.nan
        else:
            rate = coverage
        rows.append({"lcjp_id": area, "n_respondents": n_resp, "n_invited": n_inv, "response_rate": rate,
                     "rate_basis": "invited" if has_invited else "core_coverage",
                     "n_agencies_responding": int(len(answered)), "core_agencies_covered": len(covered),
                     "n_core_agencies": len(core), "core_coverage": coverage,
                     "core_agencies_missing": ";".join(sorted(set(core) - set(covered)))})
    out = pd.DataFrame(rows, columns=RATE_COLUMNS)
    out["n_invited"] = out["n_invited"].astype("Int64")
    for column in ("lcjp_id", "rate_basis", "core_agencies_missing"):
        out[column] = out[column].astype("string")
    return out
