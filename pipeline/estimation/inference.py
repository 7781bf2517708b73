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

All features sharing a design are handled together (``infer_block``); see its docstring.

Interval: inversion of the same test. Testing ``b = b0`` replaces ``r`` by ``r - b0 m`` (``m = M_Z x``),
so each draw's statistic is ``(a - b0 d) / sqrt(A - 2 b0 F + b0^2 C)`` with five numbers stored
per draw; the observed one is ``(b - b0) / se``. The interval ends are found by bisection outward
from the estimate: the set of ``b0`` not rejected at ``alpha``.
"""
from __future__ import annotations

from contextlib import nullcontext
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


def single_thread_blas():
    """Context limiting BLAS to one thread: the matrices here are small (n = 42 rows) and
    multi-threaded BLAS on a shared 2-core machine was 10-30x slower (measured, see benchmarks)."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover - threadpoolctl ships with scipy's usual stack
        return nullcontext()
    return controller.limit(limits=1, user_api="blas")


@lru_cache(maxsize=1)
def _blas_controller():
    """One ThreadpoolController per process: building one scans the loaded libraries (~5 ms a call).
    Created at the first estimate, after numpy and scipy have loaded their BLAS."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        return None
    return ThreadpoolController()


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


#: A feature whose spread across the areas is below this fraction of its largest absolute value is
#: constant up to floating-point rounding (e.g. an agency-adjusted score fitted at the boundary, where
#: every area gets the national mean and the scores differ only in their last bits): not estimable.
CONSTANT_RTOL = 1e-10
#: A feature whose part not explained by the covariates has a squared norm below this fraction of
#: its own squared norm is collinear with the covariates: not estimable.
COLLINEAR_RTOL = 1e-12
NOT_ESTIMABLE = "not estimable"


def constant_columns(X: np.ndarray, rtol: float = CONSTANT_RTOL) -> np.ndarray:
    """Columns of ``X`` (n x p) constant up to rounding: SD (ddof 1) <= ``rtol`` x max |value| (bool, p).

    An exact ``sd > 0`` test lets a column through whose values differ only in their last bits;
    standardising it then turns rounding noise into a "feature" with SD 1.
    """
    X = np.asarray(X, float)
    if X.ndim == 1:
        X = X[:, None]
    if X.shape[0] < 2:
        return np.ones(X.shape[1], bool)
    sd = X.std(axis=0, ddof=1)
    scale = np.abs(X).max(axis=0)
    return ~(sd > rtol * scale) | ~np.isfinite(sd)


def feature_problems(Z: np.ndarray, Xf: np.ndarray, Qz: np.ndarray | None = None) -> np.ndarray:
    """Why each feature (column of ``Xf``) cannot be estimated on design ``Z``; "" where it can.

    - constant across the areas (up to rounding, ``constant_columns``);
    - collinear with the covariates (residual of ``Xf`` on ``Z`` ~ 0, incl. a feature that is all zero);
    - one area carries the feature's variation beyond the covariates (that area's leverage would be 1).
    A design in which an area already has leverage 1 without any feature is a design error and raises.
    """
    Xf = np.asarray(Xf, float)
    if Qz is None:
        Qz, _ = np.linalg.qr(Z)
    hz = (Qz * Qz).sum(axis=1)
    if hz.max() > 1 - 1e-10:
        raise np.linalg.LinAlgError("an area has leverage 1 (a one-area indicator?)")
    reasons = np.full(Xf.shape[1], "", dtype=object)
    constant = constant_columns(Xf)
    reasons[constant] = "feature constant across areas"
    Mx = Xf - Qz @ (Qz.T @ Xf)
    norm2 = (Mx * Mx).sum(axis=0)
    collinear = ~constant & ~(norm2 > COLLINEAR_RTOL * (Xf * Xf).sum(axis=0))
    reasons[collinear] = "feature collinear with the covariates"
    fine = reasons == ""
    if fine.any():
        q = Mx[:, fine] / np.sqrt(norm2[fine])
        one_area = (hz[:, None] + q * q).max(axis=0) > 1 - 1e-10
        idx = np.flatnonzero(fine)[one_area]
        reasons[idx] = "one area carries all of the feature's variation beyond the covariates (leverage 1)"
    return reasons


def infer_block(Z: np.ndarray, Xf: np.ndarray, Y: np.ndarray, *, draw: np.ndarray | None, method: str,
                alpha: float = 0.05, interval: bool = True, chunk_elements: int = 50_000) -> dict[str, np.ndarray]:
    """Every feature (columns of ``Xf``) x every outcome (columns of ``Y``) on one design ``Z``.

    By Frisch-Waugh-Lovell, with ``m_f = M_Z x_f`` and ``q_f = m_f / |m_f|`` (the last column of
    the QR of ``[Z, x_f]``): ``c_f = m_f / |m_f|^2``, ``h_f = h_Z + q_f^2`` and
    ``M_Xf v = M_Z v - q_f (q_f' v)``. So the resampled residuals ``U = M_Z P r`` are computed once
    per chunk of draws for all outcomes and shared by all features; each feature adds a few matrix
    products. Arrays returned are (n_features x n_outcomes), plus ``not_estimable`` (n_features,
    object): "" for a feature that was estimated, else why it could not be (``feature_problems``);
    its rows are NaN. A design in which an area has leverage 1 without any feature raises.
    """
    Qz, _ = np.linalg.qr(Z)
    reasons = feature_problems(Z, Xf, Qz)
    ok = reasons == ""
    if ok.all():
        out = _infer_block(Z, Qz, Xf, Y, draw=draw, method=method, alpha=alpha, interval=interval,
                           chunk_elements=chunk_elements)
    else:
        nf, m = Xf.shape[1], Y.shape[1]
        part = _infer_block(Z, Qz, Xf[:, ok], Y, draw=draw, method=method, alpha=alpha, interval=interval,
                            chunk_elements=chunk_elements) if ok.any() else None
        keys = ["estimate", "se_hc3", "t", "t_classic", "df_resid", "p_hc3", "ci_low_hc3", "ci_high_hc3"]
        if draw is not None:
            keys += ["p_value"] + (["ci_low", "ci_high"] if interval else [])
        out = {}
        for key in keys:
            full = np.full((nf, m), np.nan)
            if part is not None:
                full[ok] = part[key]
            out[key] = full
        out["df_resid"][~ok] = Z.shape[0] - Z.shape[1] - 1
    out["not_estimable"] = reasons
    return out


def _infer_block(Z: np.ndarray, Qz: np.ndarray, Xf: np.ndarray, Y: np.ndarray, *, draw: np.ndarray | None,
                 method: str, alpha: float, interval: bool, chunk_elements: int) -> dict[str, np.ndarray]:
    """``infer_block`` for features already checked by ``feature_problems``."""
    n, k = Z.shape
    nf, m = Xf.shape[1], Y.shape[1]
    Mx = Xf - Qz @ (Qz.T @ Xf)
    norm2 = (Mx * Mx).sum(axis=0)
    q = Mx / np.sqrt(norm2)
    c = Mx / norm2
    h = (Qz * Qz).sum(axis=1)[:, None] + q * q
    w = c * c / (1 - h) ** 2                                   # n x nf
    wq = w * q
    swq2 = (wq * q).sum(axis=0)                                 # nf
    r = Y - Qz @ (Qz.T @ Y)                                     # reduced-model residuals, n x m
    beta = c.T @ Y                                              # nf x m
    s_obs = q.T @ r
    se2 = w.T @ (r * r) - 2 * s_obs * (wq.T @ r) + s_obs ** 2 * swq2[:, None]
    se = np.sqrt(se2)
    df = n - k - 1
    sigma2 = ((r * r).sum(axis=0)[None, :] - s_obs ** 2) / df
    t_classic = beta / np.sqrt(sigma2 / norm2[:, None])
    tc = t_crit(df, alpha)
    out = {"estimate": beta, "se_hc3": se, "t": beta / se, "t_classic": t_classic,
           "df_resid": np.full((nf, m), df), "p_hc3": 2 * stats.t.sf(np.abs(beta / se), df),
           "ci_low_hc3": beta - tc * se, "ci_high_hc3": beta + tc * se}
    if draw is None:
        return out
    B = draw.shape[0]
    a = np.empty((nf, B, m)); A = np.empty((nf, B, m)); F = np.empty((nf, B, m))
    d = np.empty((nf, B)); C = np.empty((nf, B))
    step = int(max(16, min(B, chunk_elements // max(1, n * max(m, nf)))))
    for s0 in range(0, B, step):
        blk = draw[s0:s0 + step]
        b = blk.shape[0]
        if method == "freedman_lane":
            Rs = np.take(r, blk.T, axis=0)                      # n x b x m
            Vm = np.take(Mx, blk.T, axis=0)                     # n x b x nf
        else:
            Rs = r[:, None, :] * blk.T[:, :, None]
            Vm = Mx[:, None, :] * blk.T[:, :, None]
        U = Rs.reshape(n, b * m)
        U = U - Qz @ (Qz.T @ U)                                 # M_Z P r
        S = q.T @ U                                             # nf x (b m)
        a[:, s0:s0 + b] = (S / np.sqrt(norm2)[:, None]).reshape(nf, b, m)
        A[:, s0:s0 + b] = (w.T @ (U * U) - 2 * S * (wq.T @ U) + S * S * swq2[:, None]).reshape(nf, b, m)
        V2 = Vm.reshape(n, b * nf)
        V2 = (V2 - Qz @ (Qz.T @ V2)).reshape(n, b, nf)          # M_Z P m_f
        sm = np.einsum("if,ibf->bf", q, V2)
        Em = V2 - q[:, None, :] * sm[None, :, :]                # M_Xf P m_f
        wEm = w[:, None, :] * Em
        d[:, s0:s0 + b] = np.einsum("if,ibf->fb", c, V2)
        C[:, s0:s0 + b] = (wEm * Em).sum(axis=0).T
        cross = np.matmul(wEm.transpose(1, 2, 0), U.reshape(n, b, m).transpose(1, 0, 2))   # b x nf x m
        wEq = np.einsum("ibf,if->bf", wEm, q)
        F[:, s0:s0 + b] = cross.transpose(1, 0, 2) - S.reshape(nf, b, m) * wEq.T[:, :, None]
    # flatten pairs: (B, nf * m)
    ds = {"a": a.transpose(1, 0, 2).reshape(B, nf * m), "A": A.transpose(1, 0, 2).reshape(B, nf * m),
          "F": F.transpose(1, 0, 2).reshape(B, nf * m),
          "d": np.repeat(d.T, m, axis=1), "C": np.repeat(C.T, m, axis=1)}
    flat_beta, flat_se = beta.reshape(-1), se.reshape(-1)
    out["p_value"] = resampling_p(ds, flat_beta, flat_se).reshape(nf, m)
    if interval:
        lo, hi = inverted_interval(ds, flat_beta, flat_se, df, alpha)
        out["ci_low"], out["ci_high"] = lo.reshape(nf, m), hi.reshape(nf, m)
    return out


def _compare_t2(a: np.ndarray, A: np.ndarray, F: np.ndarray, d: np.ndarray, C: np.ndarray, b: np.ndarray,
                se2: np.ndarray, gap2: np.ndarray) -> np.ndarray:
    """``(a - b d)^2 se2 >= gap2 max(A + b (b C - 2 F), 0) (1 - 1e-10)``, elementwise (B x pairs, bool).

    That is |t*| >= |t| for every draw. Evaluated in two work arrays, updated in place, with the
    same operations in the same order as the plain expression (so the same bits): these arrays are
    B x pairs, and the interval inversion evaluates them dozens of times per block.
    """
    num = b * d
    np.subtract(a, num, out=num)
    np.multiply(num, num, out=num)
    np.multiply(num, se2, out=num)
    den = b * C
    np.subtract(den, 2 * F, out=den)
    np.multiply(b, den, out=den)
    np.add(A, den, out=den)
    np.maximum(den, 0, out=den)
    np.multiply(gap2, den, out=den)
    np.multiply(den, 1 - 1e-10, out=den)
    return num >= den


def _extreme(ds: dict, se2: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Draws (B x pairs, bool) whose |t*| >= |t| when testing b0 = beta + delta (shifted pieces)."""
    return _compare_t2(ds["a0"], ds["A0"], ds["F0"], ds["d"], ds["C"], delta, se2, delta * delta)


def _count_extreme(ds: dict, beta: np.ndarray, se: np.ndarray, b0: np.ndarray) -> np.ndarray:
    """#draws with |t*(b0)| >= |t(b0)| for each pair."""
    return _compare_t2(ds["a"], ds["A"], ds["F"], ds["d"], ds["C"], b0, se * se, (beta - b0) ** 2).sum(axis=0)


def resampling_p(ds: dict, beta: np.ndarray, se: np.ndarray) -> np.ndarray:
    B = ds["a"].shape[0]
    return (1 + _count_extreme(ds, beta, se, np.zeros_like(beta))) / (B + 1)


def inverted_interval(ds: dict, beta: np.ndarray, se: np.ndarray, df: int, alpha: float,
                      rel_tol: float = 1e-5, max_iter: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Ends of {b0 : p(b0) > alpha} nearest the estimate: bracket, then bisection.

    The pieces are shifted to ``delta = b0 - beta``. Once a bracket [inner, outer] is found, only
    the draws whose verdict differs between its two ends are re-evaluated (a draw's verdict is
    assumed to change at most once inside the final bracket, which is a fraction of an SE wide).
    """
    B, M = ds["a"].shape
    limit = alpha * (B + 1) - 1                                 # p(b0) <= alpha  <=>  count <= limit
    d, C = ds["d"], ds["C"]
    sh = {"a0": ds["a"] - beta * d, "F0": ds["F"] - beta * C, "d": d, "C": C}
    sh["A0"] = ds["A"] - 2 * beta * ds["F"] + beta * beta * C
    se2 = se * se
    tc = t_crit(df, alpha)
    ends = []
    for sign in (-1.0, 1.0):
        inner = sign * 0.75 * tc * se
        outer = sign * 1.5 * tc * se
        # the draws' verdicts at the final inner and outer ends are kept from the bracketing loops
        # when those ends were the last ones evaluated (the usual case), not recomputed
        ext_in = ext_out = None
        for _ in range(max_iter):                               # inner must not be rejected
            ext = _extreme(sh, se2, inner)
            rej = ext.sum(axis=0) <= limit
            if not rej.any():
                ext_in = ext
                break
            outer = np.where(rej, inner, outer)
            inner = np.where(rej, inner / 2, inner)
        open_ = np.ones(M, bool)
        for _ in range(max_iter):                               # outer must be rejected
            ext = _extreme(sh, se2, outer)
            rej = ext.sum(axis=0) <= limit
            open_ = ~rej
            if not open_.any():
                ext_out = ext
                break
            inner = np.where(open_, outer, inner)
            outer = np.where(open_, 2 * outer, outer)
            ext_in = None                                       # inner moved: evaluate it again below
        if ext_in is None:
            ext_in = _extreme(sh, se2, inner)
        if ext_out is None:
            ext_out = _extreme(sh, se2, outer)
        base = (ext_in & ext_out).sum(axis=0)
        undecided = ext_in != ext_out
        K = max(1, int(undecided.sum(axis=0).max()))
        order = np.argsort(~undecided, axis=0, kind="stable")[:K]   # undecided draws first
        valid = np.take_along_axis(undecided, order, axis=0)
        sub = {key: np.take_along_axis(val, order, axis=0) for key, val in sh.items()}
        for _ in range(max_iter):
            if (np.abs(outer - inner) <= rel_tol * se).all():
                break
            mid = (inner + outer) / 2
            count = base + (_extreme(sub, se2, mid) & valid).sum(axis=0)
            rej = count <= limit
            outer = np.where(rej, mid, outer)
            inner = np.where(rej, inner, mid)
        end = beta + (inner + outer) / 2
        ends.append(np.where(open_, sign * np.inf, end))
    return ends[0], ends[1]


def infer(Z: np.ndarray, x: np.ndarray, Y: np.ndarray, *, draw: np.ndarray | None, method: str,
          alpha: float = 0.05, interval: bool = True) -> dict[str, np.ndarray]:
    """One feature: ``infer_block`` with a single column (arrays over outcomes)."""
    out = infer_block(Z, x[:, None], Y, draw=draw, method=method, alpha=alpha, interval=interval)
    return {key: val[0] for key, val in out.items()}
