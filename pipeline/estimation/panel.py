"""Panel variant: yearly outcomes with area and year effects, errors clustered by area.

The survey measures each feature once, so its main effect is absorbed by the area effects; what
the panel can estimate is whether areas rated higher *changed differently after the survey*:
``y_at = area_a + year_t + b * (x_a * post_t) + e_at`` with ``post_t = year > survey_year``.
``b`` is per SD of the feature. A placebo with ``post`` moved to the pre-survey years checks for
differential pre-trends. Associational: the features were not assigned.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from . import design, inference
from .design import AREA

PANEL_COLUMNS = ["feature", "outcome", "model", "estimate", "ci_low", "ci_high", "p_value", "n_areas", "se_cluster",
                 "t", "df_resid", "n_obs", "years", "ci_method", "p_method", "outcome_period"]


def _twfe(y: np.ndarray, area: np.ndarray, year: np.ndarray, xpost: np.ndarray, alpha: float):
    """Coefficient of ``xpost`` with area and year effects (by Frisch-Waugh-Lovell: residualise on
    the dummies), CRV1 by area with the usual G/(G-1) (N-1)/(N-K) correction; t with G-1 df."""
    _, ai = np.unique(area, return_inverse=True)
    _, ti = np.unique(year, return_inverse=True)
    D = np.column_stack([np.eye(ai.max() + 1)[ai], np.eye(ti.max() + 1)[ti][:, 1:]])
    Q, R = np.linalg.qr(D)
    rank = int((np.abs(np.diag(R)) > 1e-10).sum())
    yr = y - Q @ (Q.T @ y)
    xr = xpost - Q @ (Q.T @ xpost)
    sxx = xr @ xr
    b = (xr @ yr) / sxx
    e = yr - xr * b
    score = np.bincount(ai, weights=xr * e)
    G, N, K = ai.max() + 1, len(y), rank + 1
    se = np.sqrt((score @ score) / sxx ** 2 * G / (G - 1) * (N - 1) / (N - K))
    df = G - 1
    t = b / se
    tc = stats.t.ppf(1 - alpha / 2, df)
    return b, se, t, df, 2 * stats.t.sf(abs(t), df), b - tc * se, b + tc * se, G, N


def panel_associations(features: pd.DataFrame, yearly: pd.DataFrame, *, survey_year: int, alpha: float = 0.05,
                       placebo: bool = True) -> pd.DataFrame:
    """Every feature (columns of ``features``, area-indexed) x measure of ``yearly`` (design.aggregate_outcomes).

    Models: 'panel_twfe_post' (feature x post-survey years) and, with ``placebo``, 'panel_placebo_pre'
    (feature x the pre-survey years from the midpoint of the pre-period, post-survey years dropped).
    Inference: CRV1 clustered by area (equals statsmodels' OLS with dummies, cov_type='cluster'), t with G - 1 df.
    """
    rows = []
    for measure, g in yearly.groupby("measure", sort=True):
        wide = g.pivot(index=AREA, columns="year", values="value")
        years = sorted(wide.columns)
        pre = [y for y in years if y <= survey_year]
        post = [y for y in years if y > survey_year]
        if len(pre) < 1 or len(post) < 1:
            continue
        long = wide.stack().rename("y")
        long.index = long.index.set_names([AREA, "year"])
        for feature in features.columns:
            x = features[feature].dropna()
            if len(x) < 2 or inference.constant_columns(x.to_numpy("float64"))[0]:
                continue  # constant (up to rounding) across areas: not estimable, as in the associations
            areas = long.index.get_level_values(0).isin(x.index)
            d = long[areas].dropna()
            xs = (x - x.mean()) / x.std(ddof=1)
            a = d.index.get_level_values(0)
            yr = d.index.get_level_values(1)
            specs = [("panel_twfe_post", d, pd.Series(xs.reindex(a).to_numpy() * (yr > survey_year), index=d.index),
                      f"{years[0]}-{years[-1]}, post = after {survey_year}")]
            if placebo and len(pre) >= 3:
                cut = pre[len(pre) // 2]
                keep = yr <= survey_year
                dp = d[keep]
                ap, yp = dp.index.get_level_values(0), dp.index.get_level_values(1)
                specs.append(("panel_placebo_pre", dp, pd.Series(xs.reindex(ap).to_numpy() * (yp >= cut),
                                                                 index=dp.index),
                              f"{pre[0]}-{pre[-1]}, placebo post = from {cut}"))
            for model, dd, xpost, span in specs:
                if xpost.std() == 0:
                    continue
                b, se, t, df, p, lo, hi, n_areas, n_obs = _twfe(
                    dd.to_numpy("float64"), dd.index.get_level_values(0).to_numpy(),
                    dd.index.get_level_values(1).to_numpy(), xpost.to_numpy("float64"), alpha)
                rows.append({"feature": feature, "outcome": measure, "model": model, "estimate": b, "ci_low": lo,
                             "ci_high": hi, "p_value": p, "n_areas": n_areas, "se_cluster": se, "t": t,
                             "df_resid": df, "n_obs": n_obs, "years": span,
                             "ci_method": "CRV1 (area) t interval, G-1 df",
                             "p_method": "CRV1 clustered by area, t with G-1 df", "outcome_period": "panel"})
    out = pd.DataFrame(rows, columns=PANEL_COLUMNS)
    for c in ("feature", "outcome", "model", "years", "ci_method", "p_method", "outcome_period"):
        out[c] = out[c].astype("string")
    return out.sort_values(["model", "feature", "outcome"], ignore_index=True)


def response_rate_features(response_rates: pd.DataFrame, file: str = "response_rates.csv") -> pd.DataFrame:
    """``response_rates.csv`` in the area_features shape, so the same estimator relates the area
    response rate to the outcomes (the check the blind features stage cannot do)."""
    design.require_columns(response_rates, [AREA, "response_rate"], file)
    rr = response_rates[[AREA, "response_rate"]].copy()
    rr["response_rate"] = pd.to_numeric(rr["response_rate"], errors="coerce").astype("float64")
    return pd.DataFrame({AREA: rr[AREA].astype(str), "feature": "response_rate", "score": rr["response_rate"],
                         "raw_mean": rr["response_rate"], "decision": "kept"})


def adjust_within_models(panel_est: pd.DataFrame, fdr_method: str = "fdr_bh") -> pd.DataFrame:
    """Family 'sensitivity:<model>' per panel model, with BH q (and Holm) within it."""
    from . import multiplicity
    out = panel_est.copy()
    out["family"] = ("sensitivity:" + out["model"].astype(str)).astype("string")
    return multiplicity.adjust(out, fdr_method)
