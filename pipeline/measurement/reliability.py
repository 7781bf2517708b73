"""Scale reliability per feature: Cronbach's alpha (with CI) and McDonald's omega.

Alpha uses the pairwise-complete item covariance matrix (as ``pingouin.cronbach_alpha(...,
nan_policy='pairwise')``) and the F-based interval of Feldt (the one pingouin reports), with n the
number of respondents who answered at least one item of the feature. Omega comes from a one-factor
maximum-likelihood model (statsmodels' ``Factor(method="ml")``) fitted to the pairwise-complete item correlation
matrix: omega = 1 - sum(uniquenesses) / sum(correlation matrix) (METHODS.md). A one-factor model
needs at least three items; features with fewer get NaN omega and a note.

(It replaced factor_analyzer 0.5.1, unmaintained and broken under scikit-learn 1.8; on the demo data the two
agree to 3.2e-7, the tolerance of factor_analyzer's optimiser, and this one matches the closed form of the
3-item model to 1e-8: tests/test_measurement.py.)
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from .items import feature_items

RELIABILITY_COLUMNS = ["feature", "n_items", "n_respondents", "alpha", "alpha_ci_low", "alpha_ci_high",
                       "omega", "reliability_note"]


def cronbach_alpha(items: pd.DataFrame | np.ndarray, ci_level: float = 0.95) -> tuple[float, float, float]:
    """(alpha, ci_low, ci_high) for a respondents x items matrix with NaN for missing answers.

    Rows without any answer are dropped first. NaN when fewer than two items or two respondents.
    """
    values = np.asarray(items, dtype=float)
    values = values[~np.all(np.isnan(values), axis=1)]
    n, k = values.shape
    if k < 2 or n < 2:
        return (np.nan, np.nan, np.nan)
    cov = pd.DataFrame(values).cov().to_numpy()  # pairwise-complete, ddof=1
    total = cov.sum()
    if not np.isfinite(total) or total <= 0:
        return (np.nan, np.nan, np.nan)
    alpha = (k / (k - 1)) * (1 - np.trace(cov) / total)
    tail = 1 - ci_level
    df1, df2 = n - 1, (n - 1) * (k - 1)
    low = 1 - (1 - alpha) * stats.f.isf(tail / 2, df1, df2)
    high = 1 - (1 - alpha) * stats.f.isf(1 - tail / 2, df1, df2)
    return (float(alpha), float(low), float(high))


# tight enough that a 3-item model (exactly identified) matches its closed form to about 1e-9; a tighter gtol
# only makes scipy report "did not converge" (precision loss) without moving the uniquenesses
FACTOR_FIT = {"maxiter": 1000, "tol": 1e-14, "opt": {"gtol": 1e-8}}


def one_factor_uniquenesses(corr: np.ndarray) -> np.ndarray:
    """Uniquenesses of a one-factor maximum-likelihood model fitted to a correlation matrix
    (``statsmodels.multivariate.factor.Factor(..., method="ml")``)."""
    from statsmodels.multivariate.factor import Factor

    model = Factor(n_factor=1, corr=np.asarray(corr, dtype=float), method="ml")
    # its EM start draws random values: a fixed generator per fit makes the result a function of corr only
    result = model.fit(**FACTOR_FIT, rng=np.random.default_rng(0))
    return np.asarray(result.uniqueness, dtype=float)


def mcdonald_omega(items: pd.DataFrame | np.ndarray) -> tuple[float, str]:
    """(omega, note) from a one-factor ML factor model on the pairwise item correlation matrix."""
    values = np.asarray(items, dtype=float)
    values = values[~np.all(np.isnan(values), axis=1)]
    k = values.shape[1]
    if k < 3:
        return (np.nan, f"omega needs >= 3 items (has {k})")
    # rounded to 12 decimals: the optimiser's path (and its last digits, ~1e-10) must not depend on the
    # order of the rows, which changes the correlations' last bits (same data, same bytes written)
    corr = np.round(pd.DataFrame(values).corr().to_numpy(), 12)
    if not np.all(np.isfinite(corr)):
        return (np.nan, "omega: an item has no variance or no overlap with another item")
    note = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            uniquenesses = one_factor_uniquenesses(corr)
        except Exception as exc:  # e.g. numpy's LinAlgError on a singular matrix
            return (np.nan, f"omega: factor model failed ({type(exc).__name__}: {exc})")
    if caught:
        note = "omega: " + "; ".join(sorted({str(w.message).splitlines()[0][:120] for w in caught}))
    omega = 1 - uniquenesses.sum() / corr.sum()
    return (float(omega), note)


def scale_reliability(survey: pd.DataFrame, codebook: pd.DataFrame, *, ci_level: float = 0.95,
                      with_omega: bool = True) -> pd.DataFrame:
    """One row per feature: ``feature, n_items, n_respondents, alpha, alpha_ci_low, alpha_ci_high, omega,
    reliability_note``."""
    rows = []
    for feature, items in feature_items(codebook, survey).items():
        values = survey[items].to_numpy(dtype=float)
        answered = int((~np.all(np.isnan(values), axis=1)).sum())
        alpha, low, high = cronbach_alpha(values, ci_level)
        notes = []
        if len(items) < 2:
            notes.append("alpha needs >= 2 items")
        omega, omega_note = mcdonald_omega(values) if with_omega else (np.nan, "omega not computed")
        if omega_note:
            notes.append(omega_note)
        rows.append({"feature": feature, "n_items": len(items), "n_respondents": answered, "alpha": alpha,
                     "alpha_ci_low": low, "alpha_ci_high": high, "omega": omega,
                     "reliability_note": "; ".join(notes)})
    out = pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)
    out["feature"] = out["feature"].astype("string")
    out["reliability_note"] = out["reliability_note"].astype("string")
    return out
