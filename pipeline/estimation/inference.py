"""Vectorised OLS + HC3 inference for one feature against many outcomes sharing a design.

Model: ``y = Z g + b x + e`` with controls ``Z`` (intercept first) and the standardised feature
``x``. One QR of ``X = [Z, x]`` serves every outcome. With ``c`` the last row of
``(X'X)^-1 X'`` (``c = Q[:, -1] / R[-1, -1]``), ``b = c'y`` and the HC3 variance is
``sum_i c_i^2 e_i^2 / (1 - h_i)^2`` (``h`` the hat values).

Primary p-value (``method``):
- ``freedman_lane``: residuals ``r = M_Z y`` of the reduced model are permuted, ``y* = H_Z y + P r``,
  and the HC3 t of the full refit is compared with the observed one. Because ``c'Z = 0`` and
  ``M_X H_Z = 0``, the refit needs only ``c'(P r)`` and ``M_X (P r)``: all B draws are two matrix
  products on the n x (B m) matrix of permuted residuals.
- ``wild_webb``: restricted wild bootstrap, ``y* = H_Z y + v * r`` with Webb six-point weights ``v``.
p = (1 + #{|t*| >= |t|}) / (B + 1).

Interval: inversion of the same test. Testing ``b = b0`` replaces ``r`` by ``r - b0 m`` (``m = M_Z x``),
so each draw's statistic is ``(a - b0 d) / sqrt(A - 2 b0 F + b0^2 C)`` with five numbers stored
per draw; the observed one is ``(b - b0) / se``. The interval ends are found by bisection outward
from the estimate: the set of ``b0`` not rejected at ``alpha``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import stats

METHODS = ("freedman_lane", "wild_webb")
_METHOD_CODE = {"freedman_lane": 1, "wild_webb": 2}
WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def draws(n: int, n_draws: int, seed: int, method: str) -> np.ndarray:
    """Permutation indices (n_draws x n, int) or Webb weights (n_draws x n, float).

    Seeded by (seed, n, method) only, so the draws do not depend on call order.
    """
    if method not in METHODS:
        raise ValueError(f"unknown inference method '{method}'; use one of {METHODS}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(n), _METHOD_CODE[method]]))
    if method == "freedman_lane":
        return rng.permuted(np.tile(np.arange(n, dtype=np.int64), (n_draws, 1)), axis=1)
    return WEBB[rng.integers(0, 6, size=(n_draws, n))]


@lru_cache(maxsize=4096)
def t_crit(df: int, alpha: float) -> float:
    return float(stats.t.ppf(1 - alpha / 2, df))


def ols_hc3(Z: np.ndarray, x: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
    """OLS coefficient of ``x`` with HC3 SE for every column of ``Y`` (n x m), plus design pieces."""
    n, k = Z.shape
    X = np.column_stack([Z, x])
    Q, R = np.linalg.qr(X)
    if abs(R[-1, -1]) < 1e-10 * np.abs(R).max():
        raise np.linalg.LinAlgError("the feature is collinear with the covariates")
    c = Q[:, -1] / R[-1, -1]
    h = np.einsum("ij,ij->i", Q, Q)
    if h.max() > 1 - 1e-10:
        raise np.linalg.LinAlgError("an area has leverage 1 (a one-area indicator?)")
    w = c ** 2 / (1 - h) ** 2
    beta = c @ Y
    E = Y - Q @ (Q.T @ Y)
    se = np.sqrt(w @ E ** 2)
    df = n - k - 1
    sigma2 = (E ** 2).sum(axis=0) / df
    t_classic = beta / np.sqrt(sigma2 * (c @ c))
    Qz, _ = np.linalg.qr(Z)
    return {"Q": Q, "Qz": Qz, "c": c, "h": h, "w": w, "beta": beta, "E": E, "se": se, "t": beta / se,
            "df": df, "t_classic": t_classic}


def draw_statistics(fit: dict, x: np.ndarray, Y: np.ndarray, draw: np.ndarray, method: str,
                    chunk: int = 1024) -> dict[str, np.ndarray]:
    """Per-draw pieces a, A, F (B x m) and d, C (B,) of the resampled HC3 t (see module doc)."""
    Q, Qz, c, w = fit["Q"], fit["Qz"], fit["c"], fit["w"]
    n, m = Y.shape
    r = Y - Qz @ (Qz.T @ Y)
    mx = x - Qz @ (Qz.T @ x)
    B = draw.shape[0]
    a = np.empty((B, m)); A = np.empty((B, m)); F = np.empty((B, m)); d = np.empty(B); C = np.empty(B)
    # keep each chunk's n x (chunk * m) block near 16 MB
    step = max(64, min(chunk, int(2e6 // max(1, n * m) * 1)))
    for s in range(0, B, step):
        blk = draw[s:s + step]
        b = blk.shape[0]
        if method == "freedman_lane":
            Rs = r[blk.T]                     # n x b x m
            Ms = mx[blk.T]                    # n x b
        else:
            Rs = r[:, None, :] * blk.T[:, :, None]
            Ms = mx[:, None] * blk.T
        R2 = Rs.reshape(n, b * m)
        Er = R2 - Q @ (Q.T @ R2)
        Em = Ms - Q @ (Q.T @ Ms)
        a[s:s + b] = (c @ R2).reshape(b, m)
        A[s:s + b] = (w @ (Er * Er)).reshape(b, m)
        wEm = w[:, None] * Em
        F[s:s + b] = np.einsum("ibm,ib->bm", Er.reshape(n, b, m), wEm, optimize=True)
        d[s:s + b] = c @ Ms
        C[s:s + b] = (wEm * Em).sum(axis=0)
    return {"a": a, "A": A, "F": F, "d": d, "C": C}


def _count_extreme(ds: dict, beta: np.ndarray, se: np.ndarray, b0: np.ndarray) -> np.ndarray:
    """#draws with |t*(b0)| >= |t(b0)| for each outcome (vectors over m)."""
    num = ds["a"] - b0 * ds["d"][:, None]
    den = ds["A"] + b0 * (b0 * ds["C"][:, None] - 2 * ds["F"])
    lhs = num * num * (se * se)
    rhs = (beta - b0) ** 2 * np.maximum(den, 0)
    return (lhs >= rhs * (1 - 1e-10)).sum(axis=0)


def resampling_p(ds: dict, beta: np.ndarray, se: np.ndarray) -> np.ndarray:
    B = ds["a"].shape[0]
    return (1 + _count_extreme(ds, beta, se, np.zeros_like(beta))) / (B + 1)


def inverted_interval(ds: dict, beta: np.ndarray, se: np.ndarray, df: int, alpha: float,
                      rel_tol: float = 1e-6, max_iter: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """The ends of {b0 : p(b0) > alpha} nearest the estimate, by bracketing then bisection."""
    B = ds["a"].shape[0]
    limit = alpha * (B + 1) - 1            # reject when count <= limit
    ends = []
    for sign in (-1.0, 1.0):
        inner = beta.copy()
        step = sign * 2 * t_crit(df, alpha) * se
        outer = beta + step
        open_ = np.ones(beta.shape, bool)
        for _ in range(max_iter):
            rej = _count_extreme(ds, beta, se, outer) <= limit
            open_ &= ~rej
            if not open_.any():
                break
            inner = np.where(open_, outer, inner)
            step = np.where(open_, 2 * step, step)
            outer = np.where(open_, outer + step, outer)
        unresolved = open_
        for _ in range(max_iter):
            if (np.abs(outer - inner) <= rel_tol * se).all():
                break
            mid = (inner + outer) / 2
            rej = _count_extreme(ds, beta, se, mid) <= limit
            outer = np.where(rej, mid, outer)
            inner = np.where(rej, inner, mid)
        end = (inner + outer) / 2
        ends.append(np.where(unresolved, sign * np.inf, end))
    return ends[0], ends[1]


def infer(Z: np.ndarray, x: np.ndarray, Y: np.ndarray, *, draw: np.ndarray | None, method: str,
          alpha: float = 0.05, interval: bool = True) -> dict[str, np.ndarray]:
    """Estimate, HC3 SE and t, resampling p and test-inversion interval for each column of Y.

    ``draw``: from ``draws(n, B, seed, method)``; None gives the HC3-t results only.
    """
    fit = ols_hc3(Z, x, Y)
    tc = t_crit(fit["df"], alpha)
    out = {"estimate": fit["beta"], "se_hc3": fit["se"], "t": fit["t"], "t_classic": fit["t_classic"],
           "df_resid": np.full(Y.shape[1], fit["df"]), "p_hc3": 2 * stats.t.sf(np.abs(fit["t"]), fit["df"]),
           "ci_low_hc3": fit["beta"] - tc * fit["se"], "ci_high_hc3": fit["beta"] + tc * fit["se"]}
    if draw is None:
        return out
    ds = draw_statistics(fit, x, Y, draw, method)
    out["p_value"] = resampling_p(ds, fit["beta"], fit["se"])
    if interval:
        out["ci_low"], out["ci_high"] = inverted_interval(ds, fit["beta"], fit["se"], fit["df"], alpha)
    return out
