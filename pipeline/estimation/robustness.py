"""Sensitivity of associations: unmeasured confounding (robustness value, E-value) and influence."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import design, inference
from .associations import fit_prepared, prepare
from .blocks import blocks as _blocks, controls as _controls
from .confounding import e_value_ci, e_value_from_d, robustness_value  # noqa: F401  (public here too)


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


def influence_table(prep, *, covariates_spec="auto", model: str = "ols") -> pd.DataFrame:
    """Leave-one-area-out estimates for every feature x outcome x period of ``model``.

    Columns ``feature, outcome, outcome_period, model, lcjp_id, estimate, estimate_without, change,
    leverage, cooks_distance`` (estimates per SD of the feature, re-standardised without the area).
    """
    controls = _controls(prep, covariates_spec, model)
    parts = []
    for blk in _blocks(prep, controls, list(prep.features.columns)):
        idx, Z, outs = blk["idx"], blk["Z"], blk["outs"]
        if len(idx) - Z.shape[1] - 1 < 3:
            continue
        Y = prep.targets[blk["period"]].loc[idx, outs].to_numpy("float64")
        for feature in blk["features"]:
            x = prep.features.loc[idx, feature].to_numpy("float64")
            if inference.feature_problems(Z, x[:, None])[0]:  # not estimable (the associations say why)
                continue
            loo = leave_one_out(Z, x, Y, idx)
            full = (np.linalg.lstsq(np.column_stack([Z, x]), Y, rcond=None)[0][-1]) * x.std(ddof=1)
            for j, outcome in enumerate(outs):
                parts.append(pd.DataFrame({
                    "feature": feature, "outcome": outcome, "outcome_period": blk["period"], "model": model,
                    "lcjp_id": np.asarray(idx, dtype=str), "estimate": full[j],
                    "estimate_without": loo["estimate_without"][:, j],
                    "change": loo["estimate_without"][:, j] - full[j], "leverage": loo["leverage"],
                    "cooks_distance": loo["cooks_distance"][:, j]}))
    cols = ["feature", "outcome", "outcome_period", "model", "lcjp_id", "estimate", "estimate_without", "change",
            "leverage", "cooks_distance"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)[cols]
    for c in ("feature", "outcome", "outcome_period", "model", "lcjp_id"):
        out[c] = out[c].astype("string")
    return out.sort_values(["model", "outcome_period", "feature", "outcome", "lcjp_id"], ignore_index=True)


def influence_summary(influence: pd.DataFrame) -> pd.DataFrame:
    """Per pair: range of leave-one-out estimates and the most influential area (largest |change|)."""
    keys = ["feature", "outcome", "outcome_period", "model"]
    if influence.empty:
        return pd.DataFrame(columns=keys + ["loo_min", "loo_max", "most_influential_area", "max_abs_change"])
    d = influence.assign(abs_change=influence["change"].abs())
    top = d.sort_values(keys + ["abs_change", "lcjp_id"], ascending=[True] * 4 + [False, True]).drop_duplicates(keys)
    rng = d.groupby(keys, sort=True)["estimate_without"].agg(loo_min="min", loo_max="max").reset_index()
    out = rng.merge(top[keys + ["lcjp_id", "abs_change"]], on=keys).rename(
        columns={"lcjp_id": "most_influential_area", "abs_change": "max_abs_change"})
    return out.sort_values(keys, ignore_index=True)


def specification_curve(area_features, outcomes, covariates, reference, *, n_permutations: int, seed: int,
                        level_year: int, baseline_year: int, covariate_sets=("none", "population", "auto"),
                        aggregations=("adjusted", "raw"), periods=("level", "change"), method="freedman_lane",
                        alpha: float = 0.05, agreement_filters=(False, True)) -> pd.DataFrame:
    """Every feature x outcome under each reasonable specification: covariate set x aggregation rule
    (agency-adjusted score vs raw mean) x outcome period x (all areas | only areas whose within-area
    agreement justified aggregation, when ``aggregation_ok`` is present). Not pooled: one row per
    specification, for display as a curve."""
    has_ok = "aggregation_ok" in area_features.columns
    yearly = None
    rows = []
    for agreement_only in agreement_filters:
        if agreement_only and not has_ok:
            continue
        af = area_features
        if agreement_only:
            ok = af["aggregation_ok"].astype("string").str.lower().isin(["true", "1", "yes"])
            af = af[ok]
            if af.empty:
                continue
        for aggregation in aggregations:
            yearly = design.aggregate_outcomes(outcomes) if yearly is None else yearly
            prep = prepare(af, outcomes, covariates, reference, level_year=level_year, baseline_year=baseline_year,
                           aggregation=aggregation, periods=periods, yearly=yearly)
            for cov_set in covariate_sets:
                r = fit_prepared(prep, n_permutations=n_permutations, seed=seed, covariates_spec=cov_set,
                                 method=method, alpha=alpha)
                if r.empty:
                    continue
                r = r.assign(covariate_set=cov_set, aggregation=aggregation,
                             areas="aggregation_ok only" if agreement_only else "all")
                rows.append(r)
    cols = ["feature", "outcome", "outcome_period", "covariate_set", "aggregation", "areas", "estimate", "ci_low",
            "ci_high", "p_value", "beta_std", "n_areas", "ci_method"]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.concat(rows, ignore_index=True)[cols]
    for c in ("feature", "outcome", "outcome_period", "covariate_set", "aggregation", "areas", "ci_method"):
        out[c] = out[c].astype("string")
    return out.sort_values(["feature", "outcome", "outcome_period", "covariate_set", "aggregation", "areas"],
                           ignore_index=True)


def _partial_r2(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Partial R^2 of every column of X with every column of Y given the other columns (classical t)."""
    n, p = X.shape
    coef, *_ = np.linalg.lstsq(X, Y, rcond=None)
    resid = Y - X @ coef
    df = n - p
    sigma2 = (resid ** 2).sum(axis=0) / df
    xtx_inv_diag = np.diag(np.linalg.pinv(X.T @ X))
    t2 = coef ** 2 / (xtx_inv_diag[:, None] * sigma2[None, :])
    return t2 / (t2 + df)


def confounding_benchmarks(prep, *, covariates_spec="auto", model: str = "ols") -> pd.DataFrame:
    """Observed covariates as benchmarks for the robustness value (Cinelli & Hazlett 2020, sec. 6).

    For each pair: the covariate whose partial R^2 with the feature (given the other covariates)
    and with the outcome (given the feature and the other covariates) is jointly largest
    (max of the smaller of the two). ``rv_beyond_strongest_covariate`` is True when the robustness
    value exceeds both: a hidden confounder as strong as the strongest observed covariate could
    not explain the association away.
    Columns ``feature, outcome, outcome_period, model, strongest_covariate, covariate_r2_feature,
    covariate_r2_outcome``.
    """
    controls = _controls(prep, covariates_spec, model)
    rows = []
    for blk in _blocks(prep, controls, list(prep.features.columns)):
        idx, Z, outs, labels = blk["idx"], blk["Z"], blk["outs"], blk["znames"][1:]
        if Z.shape[1] <= 1 or len(idx) - Z.shape[1] - 1 < 3:
            continue
        Y = prep.targets[blk["period"]].loc[idx, outs].to_numpy("float64")
        for feature in blk["features"]:
            x = prep.features.loc[idx, feature].to_numpy("float64")
            if inference.feature_problems(Z, x[:, None])[0]:  # not estimable (the associations say why)
                continue
            r2_x = _partial_r2(Z, x[:, None])[1:, 0]                    # covariates -> feature
            r2_y = _partial_r2(np.column_stack([Z, x]), Y)[1:-1]        # covariates -> outcome | feature
            for j, outcome in enumerate(outs):
                joint = np.minimum(r2_x, r2_y[:, j])
                best = int(np.argmax(joint))
                rows.append({"feature": feature, "outcome": outcome, "outcome_period": blk["period"], "model": model,
                             "strongest_covariate": labels[best], "covariate_r2_feature": float(r2_x[best]),
                             "covariate_r2_outcome": float(r2_y[best, j])})
    out = pd.DataFrame(rows, columns=["feature", "outcome", "outcome_period", "model", "strongest_covariate",
                                      "covariate_r2_feature", "covariate_r2_outcome"])
    for c in ("feature", "outcome", "outcome_period", "model", "strongest_covariate"):
        out[c] = out[c].astype("string")
    return out.sort_values(["model", "outcome_period", "feature", "outcome"], ignore_index=True)
