"""Sensitivity of associations: unmeasured confounding (robustness value, E-value) and influence."""
from __future__ import annotations

import numpy as np
import pandas as pd


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


def leave_one_out(Z: np.ndarray, x_raw: np.ndarray, Y: np.ndarray, areas) -> dict[str, np.ndarray]:
    """Estimate per SD of the feature with each area left out (feature re-standardised), exact.

    Uses the deletion formula b_(-i) = b - c_i e_i / (1 - h_i) on the raw feature scale, then
    multiplies by the SD of the feature without area i. Returns arrays n x m plus leverage and
    Cook's distance of the feature's coefficient refit.
    """
    X = np.column_stack([Z, x_raw])
    Q, R = np.linalg.qr(X)
    c = Q[:, -1] / R[-1, -1]
    h = np.einsum("ij,ij->i", Q, Q)
    b = c @ Y
    E = Y - Q @ (Q.T @ Y)
    b_minus = b[None, :] - (c / (1 - h))[:, None] * E
    n = len(x_raw)
    total, total2 = x_raw.sum(), (x_raw ** 2).sum()
    mean_minus = (total - x_raw) / (n - 1)
    var_minus = (total2 - x_raw ** 2 - (n - 1) * mean_minus ** 2) / (n - 2)
    sd_minus = np.sqrt(var_minus)
    p = X.shape[1]
    mse = (E ** 2).sum(axis=0) / (n - p)
    cooks = (E ** 2 / (p * mse[None, :])) * (h / (1 - h) ** 2)[:, None]
    return {"estimate_without": b_minus * sd_minus[:, None], "leverage": h, "cooks_distance": cooks,
            "areas": np.asarray(areas)}
