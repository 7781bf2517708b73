"""Minimal detectable effects at the sample size we have (n = 42 areas at most).

For one coefficient with ``df_resid`` residual degrees of freedom the F test has df_num = 1 and
df_denom = df_resid. ``FTestPowerF2`` (not ``FTestPower``, whose df arguments are swapped) solves
for Cohen's f^2 at ``alpha`` and ``power``; its noncentrality is ``f2 * (df_num + df_denom + 1)``,
which for one coefficient equals ``(b / se)^2``, so the MDE in the outcome's unit is
``se * sqrt(lambda)`` with ``lambda = f2 * (df_resid + 2)``, and as a partial correlation
``sqrt(lambda / (lambda + df_resid))`` (the r whose t statistic is sqrt(lambda)).
``pingouin.power_corr`` gives the bivariate r detectable with n areas, for comparison.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1024)
def mde_f2(df_resid: int, alpha: float, power: float) -> float:
    from statsmodels.stats.power import FTestPowerF2
    value = FTestPowerF2().solve_power(effect_size=None, df_num=1, df_denom=int(df_resid), alpha=alpha, power=power)
    return float(np.ravel(value)[0])


def mde_noncentrality(df_resid: int, alpha: float, power: float) -> float:
    """lambda = f2 (df_num + df_denom + 1): the squared t at which the test has ``power``."""
    return mde_f2(df_resid, alpha, power) * (df_resid + 2)


def mde_partial_r(df_resid: int, alpha: float, power: float) -> float:
    """The partial correlation whose t (= sqrt(lambda)) is detectable: r = sqrt(lambda / (lambda + df))."""
    lam = mde_noncentrality(df_resid, alpha, power)
    return float(np.sqrt(lam / (lam + df_resid)))


def mde_estimate(se: np.ndarray, df_resid: int, alpha: float, power: float) -> np.ndarray:
    """MDE in the outcome's unit per SD of the feature, from the coefficient's SE."""
    return np.asarray(se) * np.sqrt(mde_noncentrality(df_resid, alpha, power))


@lru_cache(maxsize=256)
def mde_r_bivariate(n: int, alpha: float, power: float) -> float:
    """Smallest bivariate correlation detectable with n areas (exact F test of one slope, df n-2;
    agrees with ``pingouin.power_corr(n=n, power=power)`` to about 0.005 - see the tests)."""
    return mde_partial_r(int(n) - 2, alpha, power)

