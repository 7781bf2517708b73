"""Sensitivity of area means to item missingness: multiple imputation by chained equations (MICE).

The main scores use each respondent's answered items ("Don't know" and skipped are missing). As a
sensitivity analysis (METHODS.md), item answers are imputed by chained equations with predictive mean
matching (imputed answers are observed 1-5 values; every item is predicted from the others), the raw area
mean is recomputed in each completed data set and averaged over imputations, and compared with the
available-item raw mean. Seeded through ``numpy.random.default_rng(seed)``.

The imputation is ``statsmodels.imputation.mice.MICEData``'s algorithm with its defaults, step for step
and draw for draw (``chained_equations_pmm``), written on arrays: MICEData rebuilds a patsy formula
design for every variable in every cycle, 11 s for the demo survey's 795 x 21 items, against well under
a second here. On continuous data both give bit-identical imputations from the same seed (tested). On
1-5 answers many rows share a prediction, and the last-bit differences between the two codes' floating
sums can order those ties differently, so a random pick may land on another tied donor: the same
algorithm and distribution, not the same draws.
"""
from __future__ import annotations

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


def chained_equations_pmm(values: np.ndarray, *, n_burnin: int, n_imputations: int, rng: np.random.Generator,
                          k_pmm: int = 20) -> list[np.ndarray]:
    """Completed copies of ``values`` (rows x variables, NaN = missing): one after ``n_burnin`` + 1 cycles,
    then one after each further cycle, ``n_imputations`` in all.

    statsmodels' ``MICEData(data, rng=rng)`` with ``update_all(n_burnin)`` and then ``update_all(1)`` per
    imputation, on arrays: rows missing every variable are dropped by the caller; start values are, per
    variable, the observed value closest to its mean; each cycle visits the variables with any missing
    value, fewest missing first; each visit fits OLS of the variable on all others plus an intercept
    (pseudo-inverse, as ``OLS.fit()``), draws parameters from N(estimate, covariance), predicts, and
    replaces each missing value by the observed value of one of the ``k_pmm`` observed rows with the
    closest predictions, chosen at random.
    """
    from statsmodels.tools.tools import pinv_extended

    data = np.array(values, dtype=float, copy=True)
    n_rows, n_vars = data.shape
    missing = np.isnan(data)
    observed_rows = [np.flatnonzero(~missing[:, j]) for j in range(n_vars)]
    missing_rows = [np.flatnonzero(missing[:, j]) for j in range(n_vars)]
    if any(len(rows) == 0 for rows in observed_rows):
        raise ValueError("a variable to be imputed has no observed values")
    for j in range(n_vars):  # the observed value closest to the mean (first such, as pandas' idxmin)
        column = data[observed_rows[j], j]
        start = column[np.argmin(np.abs(column - column.mean()))]
        data[missing_rows[j], j] = start
    n_missing = np.array([len(rows) for rows in missing_rows])
    order = np.argsort(n_missing)
    order = order[int((n_missing == 0).sum()):]
    completed: list[np.ndarray] = []

    def visit(j: int) -> None:
        obs, miss = observed_rows[j], missing_rows[j]
        exog = np.column_stack([np.ones(n_rows), np.delete(data, j, axis=1)])
        x_obs, y_obs = exog[obs], data[obs, j]
        pinv, _ = pinv_extended(x_obs)  # statsmodels' own pseudo-inverse, as OLS.fit() uses
        beta = np.dot(pinv, y_obs)
        resid = y_obs - np.dot(x_obs, beta)
        scale = np.dot(resid, resid) / (len(obs) - np.linalg.matrix_rank(x_obs))
        params = rng.multivariate_normal(mean=beta, cov=np.dot(pinv, np.transpose(pinv)) * scale)
        predicted_obs = x_obs @ params
        predicted_miss = exog[miss] @ params
        sort = np.argsort(predicted_obs)
        y_sorted, p_sorted = y_obs[sort], predicted_obs[sort]
        nearest = np.searchsorted(p_sorted, predicted_miss)
        window = nearest[:, None] + np.arange(-k_pmm, k_pmm)[None, :]
        outside = np.nonzero((window < 0) | (window > len(y_sorted) - 1))
        window = np.clip(window, 0, len(y_sorted) - 1)
        distance = np.abs(predicted_miss[:, None] - p_sorted[window])
        distance[outside] = np.inf
        closest = np.argsort(distance, 1)[:, 0:k_pmm]
        pick = rng.integers(0, k_pmm, len(predicted_miss))
        rows = np.arange(closest.shape[0])
        data[miss, j] = y_sorted[window[(rows, closest[(rows, pick)])]]

    for cycle in range(n_burnin + n_imputations):
        for j in order:
            visit(int(j))
        if cycle >= n_burnin:
            completed.append(data.copy())
    return completed


def mice_sensitivity(survey_clean: pd.DataFrame, codebook: pd.DataFrame, *, n_imputations: int = 3,
                     n_burnin: int = 3, seed: int = 0) -> pd.DataFrame:
    """One row per feature (``SENSITIVITY_COLUMNS``): available-item vs MICE area means."""
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
    imputed_means = {feature: [] for feature in groups}
    for completed in chained_equations_pmm(values, n_burnin=n_burnin, n_imputations=n_imputations,
                                           rng=np.random.default_rng(seed)):
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
