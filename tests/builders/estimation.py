"""Small synthetic inputs in the processed shapes, for tests and the benchmark (labelled synthetic).

Not the project's demo generator (pipeline.simulate): a self-contained fixture with known slopes,
mixing measures given as yearly rates with numerator/denominator, quarterly counts and financial
years, so the estimation code can be tested before upstream stages exist.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import paths


def reference_table() -> pd.DataFrame:
    return pd.read_csv(paths.FORCES_CSV, dtype={"pfa_code": "string"})


def synthetic_inputs(seed: int = 7, n_features: int = 4, n_measures: int = 5, effects: dict | None = None,
                     years=range(2012, 2020), reference: pd.DataFrame | None = None) -> dict:
    """Dict with area_features, outcomes, covariates, measures, reference, response_rates and truth.

    ``effects`` maps (feature, measure) -> change in the measure's yearly value per SD of the
    feature, applied to years after 2015 (so both level and change carry it). Default: the first
    feature affects the first measure by 2 units and the second measure by -1.5.
    """
    rng = np.random.default_rng(seed)
    ref = reference_table() if reference is None else reference
    areas = sorted(ref["lcjp_id"].astype(str).unique())
    n = len(areas)
    pop = ref.groupby("lcjp_id")["population_2011"].sum().reindex(areas).to_numpy(float)
    feats = [f"feat_{chr(97 + i)}" for i in range(n_features)]
    measures = [f"measure_{i + 1}" for i in range(n_measures)]
    effects = {(feats[0], measures[0]): 2.0, (feats[0], measures[1 % n_measures]): -1.5} if effects is None else effects
    deprivation = rng.normal(0, 1, n)
    F = rng.normal(0, 1, (n, n_features)) + 0.3 * deprivation[:, None]
    Fs = (F - F.mean(0)) / F.std(0, ddof=1)
    af = []
    for i, a in enumerate(areas):
        for j, f in enumerate(feats):
            af.append({"lcjp_id": a, "feature": f, "score": F[i, j], "ci_low": F[i, j] - 0.3, "ci_high": F[i, j] + 0.3,
                       "raw_mean": F[i, j] + rng.normal(0, 0.2), "n_respondents": 8, "n_agencies": 5,
                       "decision": "keep"})
    af.append({"lcjp_id": areas[0], "feature": "feat_dropped", "score": 0.0, "raw_mean": 0.0, "decision": "dropped"})
    rows = []
    for mi, m in enumerate(measures):
        kind = ("rate", "quarter_count", "fy_mean")[mi % 3]
        area_level = 50 + 5 * deprivation + rng.normal(0, 3, n)
        for y in years:
            shift = np.zeros(n)
            for (f, mm), b in effects.items():
                if mm == m and y > 2015:
                    shift += b * Fs[:, feats.index(f)]
            value = area_level + 0.5 * (y - 2012) + shift + rng.normal(0, 1.5, n)
            for i, a in enumerate(areas):
                if kind == "rate":
                    den = float(rng.integers(800, 1200))
                    num = round(value[i] / 100 * den, 6)
                    rows.append((a, f"{y}-01-01", str(y), "calendar_year", y, m, 100 * num / den, num, den))
                elif kind == "quarter_count":
                    for q in range(4):
                        rows.append((a, f"{y}-{3 * q + 1:02d}-01", f"{y} Q{q + 1}", "quarter", y, m,
                                     value[i] + rng.normal(0, 0.5), np.nan, np.nan))
                else:
                    rows.append((a, f"{y}-04-01", f"{y}/{(y + 1) % 100:02d}", "financial_year", y, m, value[i],
                                 np.nan, np.nan))
    outcomes = pd.DataFrame(rows, columns=["lcjp_id", "period_start", "period_label", "period_type", "year", "measure",
                                           "value", "numerator", "denominator"])
    outcomes["period_start"] = pd.to_datetime(outcomes["period_start"])
    outcomes["source"] = "synthetic fixture"
    outcomes["combined_from"] = pd.NA
    cov_rows = []
    for y in years:
        for i, a in enumerate(areas):
            cov_rows.append((a, y, "deprivation_index", deprivation[i] + rng.normal(0, 0.05)))
            cov_rows.append((a, y, "population", pop[i] * (1 + 0.005 * (y - 2011))))
    covariates = pd.DataFrame(cov_rows, columns=["lcjp_id", "year", "variable", "value"])
    covariates["period_start"] = pd.to_datetime(covariates["year"].astype(str) + "-01-01")
    covariates["period_label"] = covariates["year"].astype(str)
    covariates["source"] = "synthetic fixture"
    measures_df = pd.DataFrame({"measure": measures, "description": measures, "unit": "points",
                                "higher_is_better": [bool(i % 2) for i in range(n_measures)]})
    rr = pd.DataFrame({"lcjp_id": areas, "response_rate": rng.uniform(0.3, 0.9, n), "n_respondents": 8})
    return {"area_features": pd.DataFrame(af), "outcomes": outcomes, "covariates": covariates,
            "measures": measures_df, "reference": ref, "response_rates": rr, "truth": effects,
            "features": feats, "measures_list": measures}
