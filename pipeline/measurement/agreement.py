"""Within-area agreement (rwg(J)) and between-area reliability (ICC(1), ICC(2)).

rwg(J) (James, Demaree & Wolf 1984) for an area and a feature with J items::

    r = mean over items of s_j^2 / sigma_null^2
    rwg(J) = J (1 - r) / (J (1 - r) + r)

s_j^2 is the sample variance (ddof = 1) of item j among the area's respondents who answered it; J
counts the items with at least two answers in the area. Nulls: the uniform ("rectangular") null
sigma_EU^2 = (A^2 - 1) / 12 (2 for A = 5 points) and a slightly skewed null (LeBreton & Senter 2008
give 1.34 for five points). Truncation convention: when the observed variance reaches the null
variance (r >= 1) rwg(J) is set to 0 (Lindell & Brandt), so rwg(J) lies in [0, 1]. Areas with fewer
than two respondents get NaN.

ICC(1) and ICC(2) come from a one-way ANOVA of respondent feature scores on area, with Snedecor's k0
for unequal group sizes (``pingouin.intraclass_corr`` needs balanced data and is not used)::

    k0 = (N - sum n_i^2 / N) / (g - 1)
    ICC(1) = (MSB - MSW) / (MSB + (k0 - 1) MSW),   ICC(2) = (MSB - MSW) / MSB

Both are reported as computed (they can be negative when areas differ less than chance predicts).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .items import check_survey, feature_items

AGREEMENT_COLUMNS = ["lcjp_id", "feature", "n_respondents", "n_items_used", "mean_item_variance", "rwg_j",
                     "rwg_j_skewed"]
ICC_COLUMNS = ["feature", "n_areas", "n_respondents", "k0", "msb", "msw", "f_stat", "f_p_value", "icc1", "icc2"]


def uniform_null_variance(scale_points: int) -> float:
    """Variance of the discrete uniform distribution on 1..A: (A^2 - 1) / 12."""
    return (scale_points ** 2 - 1) / 12.0


def rwg_j_from_variances(mean_item_variance, n_items, null_variance: float):
    """rwg(J) from the mean item variance and J (array-friendly); truncated to [0, 1]; NaN where J = 0."""
    mean_var = np.asarray(mean_item_variance, dtype=float)
    j = np.asarray(n_items, dtype=float)
    ratio = mean_var / null_variance
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = j * (1 - ratio) / (j * (1 - ratio) + ratio)
    out = np.where(ratio >= 1, 0.0, raw)
    return np.where((j > 0) & np.isfinite(mean_var), out, np.nan)


def rwg_j(values: pd.DataFrame | np.ndarray, null_variance: float) -> float:
    """rwg(J) for one group: a respondents x items matrix (NaN = missing answer)."""
    arr = np.asarray(values, dtype=float)
    counts = (~np.isnan(arr)).sum(axis=0)
    usable = counts >= 2
    if not usable.any():
        return float("nan")
    variances = pd.DataFrame(arr[:, usable]).var(ddof=1).to_numpy()
    return float(rwg_j_from_variances(variances.mean(), usable.sum(), null_variance))


def area_agreement(survey: pd.DataFrame, codebook: pd.DataFrame, *, scale_points: int = 5,
                   skewed_null_variance: float = 1.34) -> pd.DataFrame:
    """One row per area x feature: ``lcjp_id, feature, n_respondents, n_items_used, mean_item_variance,
    rwg_j`` (uniform null) and ``rwg_j_skewed`` (skewed null). Vectorised over areas."""
    check_survey(survey, need_agency=False)
    groups = feature_items(codebook, survey)
    all_items = [item for items in groups.values() for item in items]
    data = survey[["lcjp_id"] + all_items].copy()
    data["lcjp_id"] = data["lcjp_id"].astype("string")
    grouped = data.groupby("lcjp_id", sort=True)
    variances = grouped[all_items].var(ddof=1)          # NaN where < 2 answers
    uniform = uniform_null_variance(scale_points)
    frames = []
    for feature, items in groups.items():
        answered = survey[items].notna().any(axis=1).groupby(data["lcjp_id"]).sum()
        feature_var = variances[items]
        used = feature_var.notna().sum(axis=1)
        mean_var = feature_var.mean(axis=1, skipna=True)
        frame = pd.DataFrame({
            "lcjp_id": variances.index.astype("string"),
            "feature": feature,
            "n_respondents": answered.reindex(variances.index).to_numpy().astype("int64"),
            "n_items_used": used.to_numpy().astype("int64"),
            "mean_item_variance": mean_var.to_numpy(dtype=float),
        })
        frame["rwg_j"] = rwg_j_from_variances(frame["mean_item_variance"], frame["n_items_used"], uniform)
        frame["rwg_j_skewed"] = rwg_j_from_variances(frame["mean_item_variance"], frame["n_items_used"],
                                                     skewed_null_variance)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=AGREEMENT_COLUMNS)
    out["feature"] = out["feature"].astype("string")
    return out.sort_values(["feature", "lcjp_id"], kind="mergesort").reset_index(drop=True)[AGREEMENT_COLUMNS]


def icc_oneway(scores, groups) -> dict[str, float]:
    """ICC(1), ICC(2) and the one-way ANOVA behind them (k0-adjusted for unequal group sizes)."""
    y = np.asarray(scores, dtype=float)
    labels = np.asarray(groups)
    keep = ~np.isnan(y) & ~pd.isna(labels)
    y = y[keep]
    _, g = np.unique(labels[keep].astype(str), return_inverse=True)
    sizes = np.bincount(g).astype(float)
    n_total, n_groups = int(sizes.sum()), int(len(sizes))
    result = {"n_areas": n_groups, "n_respondents": n_total, "k0": np.nan, "msb": np.nan, "msw": np.nan,
              "f_stat": np.nan, "f_p_value": np.nan, "icc1": np.nan, "icc2": np.nan}
    if n_groups < 2 or n_total - n_groups < 1:
        return result
    means = np.bincount(g, weights=y) / sizes
    grand = y.mean()
    ssb = float((sizes * (means - grand) ** 2).sum())
    ssw = float(((y - means[g]) ** 2).sum())
    msb, msw = ssb / (n_groups - 1), ssw / (n_total - n_groups)
    k0 = (n_total - float((sizes ** 2).sum()) / n_total) / (n_groups - 1)
    result.update(k0=k0, msb=msb, msw=msw)
    if msw > 0:
        f_stat = msb / msw
        result.update(f_stat=f_stat, f_p_value=float(stats.f.sf(f_stat, n_groups - 1, n_total - n_groups)))
    denominator = msb + (k0 - 1) * msw
    if denominator > 0:
        result["icc1"] = (msb - msw) / denominator
    if msb > 0:
        result["icc2"] = (msb - msw) / msb
    return result


def feature_icc(scores: pd.DataFrame) -> pd.DataFrame:
    """ICC table per feature from ``respondent_scores`` output (columns ``ICC_COLUMNS``)."""
    rows = []
    features = scores["feature"].astype("string").to_numpy(dtype=str)
    values = scores["score"].to_numpy(dtype=float)
    areas = scores["lcjp_id"].astype("string").to_numpy(dtype=str)
    for feature in sorted(set(features)):
        keep = features == feature
        rows.append({"feature": feature, **icc_oneway(values[keep], areas[keep])})
    out = pd.DataFrame(rows, columns=ICC_COLUMNS)
    out["feature"] = out["feature"].astype("string")
    return out


def _mean_rwg_j(values: np.ndarray, groups: np.ndarray, n_groups: int, null_variance: float) -> float:
    """Mean over groups (with >= 2 answers to some item) of rwg(J): ``area_agreement``'s rule, vectorised."""
    answered = ~np.isnan(values)
    v = np.where(answered, values, 0.0)
    n_items = values.shape[1]
    var = np.full((n_groups, n_items), np.nan)
    for j in range(n_items):
        c = np.bincount(groups, weights=answered[:, j], minlength=n_groups)
        s = np.bincount(groups, weights=v[:, j], minlength=n_groups)
        ss = np.bincount(groups, weights=v[:, j] ** 2, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            var[:, j] = np.where(c >= 2, np.maximum(ss - s * s / np.maximum(c, 1), 0.0) / (c - 1), np.nan)
    used = (~np.isnan(var)).sum(axis=1)
    with np.errstate(invalid="ignore"):
        mean_var = np.where(used > 0, np.nansum(var, axis=1) / np.maximum(used, 1), np.nan)
    rwg = rwg_j_from_variances(mean_var, used, null_variance)
    return float(np.nanmean(rwg)) if np.isfinite(rwg).any() else float("nan")


def random_group_agreement(survey: pd.DataFrame, codebook: pd.DataFrame, *, scale_points: int = 5,
                           n_draws: int = 199, seed: int = 0) -> pd.DataFrame:
    """Is within-area agreement beyond what random groups of the same sizes show? (Bliese 2000).

    rwg(J) against a fixed 0.70 is unstable with 3 items and 4-18 respondents and random responding
    can pass or fail it by chance. Random-group resampling keeps every area's size, reassigns the
    respondents to pseudo-areas at random ``n_draws`` times and compares the observed mean rwg(J)
    (uniform null) with the pseudo-areas' means: ``agreement_p = (1 + #{random >= observed}) / (B + 1)``.
    One row per feature: ``feature, rwg_j_mean_observed, rwg_j_mean_random, rwg_j_random_p95,
    agreement_p, n_draws``. Seeded by (seed, feature position), so the table does not depend on call order.
    """
    check_survey(survey, need_agency=False)
    groups = feature_items(codebook, survey)
    _, g = np.unique(survey["lcjp_id"].astype("string").to_numpy(dtype=str), return_inverse=True)
    n_groups = int(g.max()) + 1 if len(g) else 0
    null = uniform_null_variance(scale_points)
    rows = []
    for position, (feature, items) in enumerate(groups.items()):
        values = survey[items].to_numpy(dtype=float)
        keep = (~np.isnan(values)).any(axis=1)
        values, gf = values[keep], g[keep]
        observed = _mean_rwg_j(values, gf, n_groups, null)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), position, 2000]))
        random = np.array([_mean_rwg_j(values, rng.permutation(gf), n_groups, null) for _ in range(int(n_draws))])
        ok = np.isfinite(random)
        p = (1 + int((random[ok] >= observed).sum())) / (int(ok.sum()) + 1) if np.isfinite(observed) else np.nan
        rows.append({"feature": feature, "rwg_j_mean_observed": observed,
                     "rwg_j_mean_random": float(random[ok].mean()) if ok.any() else np.nan,
                     "rwg_j_random_p95": float(np.quantile(random[ok], 0.95)) if ok.any() else np.nan,
                     "agreement_p": p, "n_draws": int(n_draws)})
    out = pd.DataFrame(rows, columns=["feature", "rwg_j_mean_observed", "rwg_j_mean_random", "rwg_j_random_p95",
                                      "agreement_p", "n_draws"])
    out["feature"] = out["feature"].astype("string")
    return out
