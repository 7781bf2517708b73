"""Sensitivity to unmeasured confounding from a fit's own numbers: robustness value and E-values.

Kept apart from ``robustness`` (which refits models through ``associations``) so that
``associations`` can use these without an import cycle.
"""
from __future__ import annotations

import numpy as np


def robustness_value(t, df, q: float = 1.0):
    """Cinelli & Hazlett (2020) RV_q: the partial R^2 a confounder must have with both the feature
    and the outcome to reduce the estimate by 100q %. f = q |t| / sqrt(df);
    RV = (sqrt(f^4 + 4 f^2) - f^2) / 2."""
    f = q * np.abs(np.asarray(t, float)) / np.sqrt(np.asarray(df, float))
    return (np.sqrt(f ** 4 + 4 * f ** 2) - f ** 2) / 2


def e_value_from_d(d):
    """E-value for a standardised mean difference d (VanderWeele & Ding 2017): the outcome
    difference per SD of the feature divided by the outcome's SD, converted to an approximate
    risk ratio RR = exp(0.91 |d|); E = RR + sqrt(RR (RR - 1))."""
    rr = np.exp(0.91 * np.abs(np.asarray(d, float)))
    return rr + np.sqrt(rr * (rr - 1))


def e_value_ci(ci_low, ci_high, sd_outcome):
    """E-value of the interval limit nearer the null (1 when the interval includes 0)."""
    lo, hi = np.asarray(ci_low, float), np.asarray(ci_high, float)
    nearer = np.where((lo <= 0) & (hi >= 0), 0.0, np.where(lo > 0, lo, -hi))
    return e_value_from_d(nearer / np.asarray(sd_outcome, float))
