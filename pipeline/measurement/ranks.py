"""Area ranks with their uncertainty: a point rank of a noisy area score is not a finding.

``rank_intervals(scores, ...)`` returns one row per area x feature (``RANK_COLUMNS``)::

    lcjp_id, feature, rank, rank_low, rank_high, n_areas, level, method, tier

``rank`` 1 is the highest score (ties share the smaller rank). Two methods:

``posterior_draws`` (default; Goldstein & Spiegelhalter 1996, JRSS A 159:385): the area score is the
fixed part plus the area's BLUP, and under the random-intercept model the area's trait given the
answers is approximately N(score, PEV) (PEV: prediction-error variance). Draw every area's trait
``n_draws`` times independently from those distributions, rank the areas within each draw, and take
each area's (1 - level)/2 and (1 + level)/2 quantiles of its ranks. Claimed property: **marginal**
coverage, averaged over areas, of the true rank of each area under the model (what is checked by
simulation in tests/test_ranks.py); it is not a simultaneous statement about all areas at once.

``mrsw_marginal`` (Mogstad, Romano, Shaikh & Wilhelm 2024, REStud): a frequentist confidence set for
one area's rank, for estimates that are unbiased with independent normal errors (e.g. raw area
means, not shrunken BLUPs): with Bonferroni-adjusted two-sided intervals for the n - 1 differences
theta_j - theta_i, rank_low = 1 + #{j surely above i}, rank_high = n - #{j surely below i}. Each
area's set covers its true rank with probability >= level (marginal, conservative).

The returned interval always contains the point rank (widened to it in the rare case a quantile
misses it).

``tier`` compares the area's score interval (score +- z se at ``level``) with the national average
(the unweighted mean of the areas' scores): "higher" when the interval lies above it, "lower" when
below, "similar" otherwise. Non-overlap of two areas' intervals is not a test of their difference.

Standard errors: column ``pev`` or ``score_pev`` (variance) if present, else ``se``, else recovered from the score
interval ``ci_low, ci_high`` as (ci_high - ci_low) / (2 z) at ``ci_level`` (the features stage's
``ci_level``; exact for the BLUP +- z sqrt(PEV) intervals of ``method='adjusted'``, a normal
approximation to the t interval of ``method='raw'``). Deterministic: draws come from
``numpy.random.default_rng(seed)`` and features are processed in sorted order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

RANK_COLUMNS = ["lcjp_id", "feature", "rank", "rank_low", "rank_high", "n_areas", "level", "method", "tier"]
METHODS = ("posterior_draws", "mrsw_marginal")
TIERS = ("higher", "similar", "lower")
DEFAULT_DRAWS = 4000


def score_standard_errors(scores: pd.DataFrame, ci_level: float = 0.95) -> np.ndarray:
    """Per row: the score's standard error (``pev``, else ``se``, else from the ``ci_low, ci_high`` interval)."""
    for column in ("pev", "score_pev"):
        if column in scores.columns:
            return np.sqrt(pd.to_numeric(scores[column], errors="coerce").to_numpy(float))
    if "se" in scores.columns:
        return scores["se"].to_numpy(float)
    if not {"ci_low", "ci_high"} <= set(scores.columns):
        raise ValueError("area scores need a 'pev', 'se' or 'ci_low'/'ci_high' column for their uncertainty")
    z = stats.norm.ppf(0.5 + float(ci_level) / 2)
    return (scores["ci_high"].to_numpy(float) - scores["ci_low"].to_numpy(float)) / (2 * z)


def point_ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 = highest; ties share the smaller rank (``min``)."""
    return pd.Series(-np.asarray(values, float)).rank(method="min").to_numpy().astype(np.int64)


def _draw_ranks(score: np.ndarray, se: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """(n_draws, n) ranks of independent N(score, se^2) draws, rank 1 = highest; ties by position (none a.s.)."""
    draws = score[None, :] + se[None, :] * rng.standard_normal((int(n_draws), score.size))
    order = np.argsort(-draws, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(order.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, score.size + 1)[None, :]
    return ranks


def posterior_rank_interval(score: np.ndarray, se: np.ndarray, *, level: float, n_draws: int,
                            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Goldstein-Spiegelhalter interval: quantiles of each area's rank over draws of all areas' scores."""
    ranks = _draw_ranks(np.asarray(score, float), np.asarray(se, float), n_draws, rng)
    tail = (1 - float(level)) / 2
    low = np.quantile(ranks, tail, axis=0, method="inverted_cdf")
    high = np.quantile(ranks, 1 - tail, axis=0, method="inverted_cdf")
    return low.astype(np.int64), high.astype(np.int64)


def mrsw_rank_interval(score: np.ndarray, se: np.ndarray, *, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Marginal confidence set for each area's rank (MRSW 2024), Bonferroni over the n - 1 comparisons."""
    score = np.asarray(score, float)
    se = np.asarray(se, float)
    n = score.size
    if n < 2:
        return np.ones(n, np.int64), np.ones(n, np.int64)
    z = stats.norm.ppf(1 - (1 - float(level)) / (2 * (n - 1)))
    diff = score[None, :] - score[:, None]              # [i, j] = theta_j - theta_i (estimated)
    half = z * np.sqrt(se[None, :] ** 2 + se[:, None] ** 2)
    above = (diff - half > 0)                           # j surely above i
    below = (diff + half < 0)                           # j surely below i
    np.fill_diagonal(above, False)
    np.fill_diagonal(below, False)
    return (1 + above.sum(axis=1)).astype(np.int64), (n - below.sum(axis=1)).astype(np.int64)


def tiers(score: np.ndarray, se: np.ndarray, level: float) -> np.ndarray:
    """"higher" | "similar" | "lower" than the unweighted national average, from score +- z se at ``level``."""
    score = np.asarray(score, float)
    z = stats.norm.ppf(0.5 + float(level) / 2)
    average = float(np.mean(score))
    low, high = score - z * np.asarray(se, float), score + z * np.asarray(se, float)
    return np.where(low > average, "higher", np.where(high < average, "lower", "similar"))


def rank_intervals(scores: pd.DataFrame, *, level: float = 0.95, method: str = "posterior_draws",
                   n_draws: int = DEFAULT_DRAWS, seed: int = 0, ci_level: float = 0.95,
                   score_column: str = "score") -> pd.DataFrame:
    """Rank, rank interval and tier of every area per feature (``RANK_COLUMNS``); no I/O.

    ``scores`` has ``lcjp_id, feature, <score_column>`` and the uncertainty (see the module docstring).
    Areas without a score (no respondents) are left out of that feature's ranking; ``n_areas`` is the
    number ranked. ``seed`` seeds the posterior draws (one generator, features in sorted order).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if not 0 < float(level) < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    missing = [c for c in ("lcjp_id", "feature", score_column) if c not in scores.columns]
    if missing:
        raise ValueError(f"area scores lack columns {missing}")
    se_all = score_standard_errors(scores, ci_level)
    rng = np.random.default_rng(int(seed))
    frames = []
    data = scores.assign(_se=se_all)
    for feature in sorted(data["feature"].astype(str).unique()):
        g = data[data["feature"].astype(str) == feature]
        g = g[np.isfinite(g[score_column].to_numpy(float)) & np.isfinite(g["_se"].to_numpy(float))]
        g = g.sort_values("lcjp_id", kind="mergesort")
        if g.empty:
            continue
        score = g[score_column].to_numpy(float)
        se = np.maximum(g["_se"].to_numpy(float), 0.0)
        if method == "posterior_draws":
            low, high = posterior_rank_interval(score, se, level=level, n_draws=n_draws, rng=rng)
        else:
            low, high = mrsw_rank_interval(score, se, level=level)
        rank = point_ranks(score)
        frames.append(pd.DataFrame({"lcjp_id": g["lcjp_id"].astype(str).to_numpy(), "feature": feature,
                                    "rank": rank, "rank_low": np.minimum(low, rank),
                                    "rank_high": np.maximum(high, rank), "n_areas": len(g),
                                    "level": float(level), "method": method, "tier": tiers(score, se, level)}))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in RANK_COLUMNS})
    out = pd.concat(frames, ignore_index=True)[RANK_COLUMNS]
    for column in ("rank", "rank_low", "rank_high", "n_areas"):
        out[column] = out[column].astype("int64")
    for column in ("lcjp_id", "feature", "method", "tier"):
        out[column] = out[column].astype("string")
    return out.sort_values(["feature", "rank", "lcjp_id"], kind="mergesort").reset_index(drop=True)
