"""Sensitivity of area means to item missingness: multiple imputation by chained equations (MICE).

The main scores use each respondent's answered items ("Don't know" and skipped are missing). As a
sensitivity analysis (METHODS.md), item answers are imputed with ``statsmodels.imputation.mice.MICEData``
(predictive mean matching, so imputed answers are observed 1-5 values; every item is predicted from the
others), the raw area mean is recomputed in each completed data set and averaged over imputations, and
compared with the available-item raw mean. Seeded through ``numpy.random.default_rng(seed)``.
Cost: MICEData refits one formula model per item per cycle (patsy overhead dominates): about 6 s per
cycle for 21 items and ~400 respondents on this machine, so the defaults are kept small.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .items import canonical_order, check_survey, feature_items

SENSITIVITY_COLUMNS = ["feature", "n_answers", "n_missing", "share_missing", "n_imputations", "n_areas",
                       "corr_available_vs_mice", "mean_abs_diff", "max_abs_diff"]


def _area_means(values: np.ndarray, areas: np.ndarray, n_areas: int) -> np.ndarray:
    answered = (~np.isnan(values)).sum(axis=1)
    respondent = np.where(answered > 0, np.nansum(values, axis=1) / np.maximum(answered, 1), np.nan)
    keep = ~np.isnan(respondent)
    sums = np.bincount(areas[keep], weights=respondent[keep], minlength=n_areas)
    counts = np.bincount(areas[keep], minlength=n_areas)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def mice_sensitivity(survey_clean: pd.DataFrame, codebook: pd.DataFrame, *, n_imputations: int = 3,
                     n_burnin: int = 3, seed: int = 0) -> pd.DataFrame:
    """One row per feature (``SENSITIVITY_COLUMNS``): available-item vs MICE area means."""
    from statsmodels.imputation.mice import MICEData

    check_survey(survey_clean, need_agency=False)
    survey_clean = canonical_order(survey_clean)
    groups = feature_items(codebook, survey_clean)
    items = [item for members in groups.values() for item in members]
    values = survey_clean[items].to_numpy(dtype=float)
    answered_any = ~np.all(np.isnan(values), axis=1)
    values = values[answered_any]
    _, areas = np.unique(survey_clean["lcjp_id"].astype("string").to_numpy(dtype=str)[answered_any],
                         return_inverse=True)
    n_areas = int(areas.max()) + 1 if len(areas) else 0
    safe = pd.DataFrame(values, columns=[f"x{i}" for i in range(len(items))])  # formula-safe names
    imputed_means = {feature: [] for feature in groups}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = MICEData(safe, rng=np.random.default_rng(seed))
        data.update_all(n_burnin)
        for _ in range(n_imputations):
            data.update_all(1)
            completed = data.data.to_numpy(dtype=float)
            start = 0
            for feature, members in groups.items():
                block = completed[:, start:start + len(members)]
                imputed_means[feature].append(_area_means(block, areas, n_areas))
                start += len(members)
    rows, start = [], 0
    for feature, members in groups.items():
        block = values[:, start:start + len(members)]
        start += len(members)
        available = _area_means(block, areas, n_areas)
        mice = np.mean(imputed_means[feature], axis=0)
        ok = ~np.isnan(available) & ~np.isnan(mice)
        diff = np.abs(available[ok] - mice[ok])
        rows.append({"feature": feature, "n_answers": int(block.size), "n_missing": int(np.isnan(block).sum()),
                     "share_missing": float(np.isnan(block).mean()), "n_imputations": n_imputations,
                     "n_areas": int(ok.sum()),
                     "corr_available_vs_mice": float(np.corrcoef(available[ok], mice[ok])[0, 1]) if ok.sum() > 2
                     else np.nan,
                     "mean_abs_diff": float(diff.mean()) if len(diff) else np.nan,
                     "max_abs_diff": float(diff.max()) if len(diff) else np.nan})
    out = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    out["feature"] = out["feature"].astype("string")
    return out
