"""One replicate of the simulation study: generate -> clean -> features -> estimate -> multiplicity.

``whole_path_replicate`` is the study's method: it asks ``pipeline.simulate`` for one synthetic
data set, writes its raw CSV files into a temporary folder laid out like ``data/raw``, and runs the
same library functions the pipeline's stages run (no notebooks), returning one row per model x
feature x outcome with the generator's true per-SD association beside the estimate.

``textbook_replicate`` is *not* the method: it is a known-answer check of the harness itself
(ordinary least squares with exact t intervals, where coverage is 95 % and the type-I error 5 % by
theory), used by the tests and as a control in the report.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .design import Cell


def mde_r(n_areas: int, n_covariates: int = 0, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimal detectable (partial) correlation for one coefficient of an OLS with ``n_covariates`` controls.

    Cohen's f^2 from ``FTestPowerF2`` (df_num = 1, df_denom = n - k - 2), then r = sqrt(f^2 / (1 + f^2)).
    With no covariates this is within 0.01 of ``pingouin.power_corr(n, power=power)`` (0.417 at 42 areas).
    """
    from statsmodels.stats.power import FTestPowerF2
    df_denom = int(n_areas) - int(n_covariates) - 2
    if df_denom < 2:
        raise ValueError(f"{n_areas} areas and {n_covariates} covariates leave {df_denom} residual df")
    f2 = FTestPowerF2().solve_power(effect_size=None, df_num=1, df_denom=df_denom, alpha=alpha, power=power)
    f2 = float(np.asarray(f2).ravel()[0])
    return float(np.sqrt(f2 / (1 + f2)))


def textbook_replicate(cell: Cell, seed_seq: np.random.SeedSequence, n_areas: int = 42, n_features: int = 4,
                       n_outcomes: int = 3, alpha: float = 0.05, **_ignored) -> pd.DataFrame:
    """Known-answer control: x ~ N(0, 1), y = b x + e, OLS with exact t intervals and BH adjustment.

    The first feature carries b = effect_fraction x MDE (as a correlation) on every outcome; the
    rest are null. Intervals cover b in 95 % of replicates and null tests reject in 5 % by theory,
    so a departure flags a bug in the harness or the performance measures, not in the method.
    The unmeasured confounder (when on) adds u to the first feature and to every outcome.
    """
    from statsmodels.stats.multitest import multipletests
    rng = np.random.default_rng(seed_seq)
    r = cell.effect_fraction * mde_r(n_areas, 0, alpha=alpha)
    b = r / np.sqrt(1 - r ** 2)  # slope per SD of x giving correlation r with unit error variance
    u = rng.standard_normal(n_areas) if cell.unmeasured_confounder else np.zeros(n_areas)
    x = rng.standard_normal((n_areas, n_features))
    x[:, 0] += 0.5 * u
    rows = []
    for j in range(n_outcomes):
        y = b * x[:, 0] + 0.5 * u + rng.standard_normal(n_areas)
        for k in range(n_features):
            design = np.column_stack([np.ones(n_areas), x[:, k]])
            coef, *_ = np.linalg.lstsq(design, y, rcond=None)
            resid = y - design @ coef
            df = n_areas - 2
            sigma2 = resid @ resid / df
            se = float(np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[1, 1]))
            t = coef[1] / se
            q = stats.t.ppf(0.975, df)
            rows.append({"model": "textbook_ols", "feature": f"x{k + 1}", "outcome": f"y{j + 1}",
                         "truth": b if k == 0 else 0.0, "truth_r": r if k == 0 else 0.0,
                         "estimate": coef[1], "se": se, "ci_low": coef[1] - q * se, "ci_high": coef[1] + q * se,
                         "p_value": float(2 * stats.t.sf(abs(t), df)), "n_areas": n_areas})
    out = pd.DataFrame(rows)
    out["p_adjusted"] = multipletests(out["p_value"].to_numpy(), method="fdr_bh")[1]
    return out
