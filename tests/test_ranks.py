"""Area rank intervals (pipeline.measurement.ranks): shape, determinism, and coverage by simulation."""
import numpy as np
import pandas as pd
import pytest

from pipeline.measurement.mixed import fit_fast
from pipeline.measurement.ranks import RANK_COLUMNS, TIERS, point_ranks, rank_intervals


def _hierarchical(rng, n_areas=42, tau2=0.15):
    """Areas' traits u ~ N(0, tau2), 4-18 respondents each with unit noise; scores = EB BLUPs with their PEV."""
    n = rng.integers(4, 19, n_areas)
    u = rng.normal(0, np.sqrt(tau2), n_areas)
    g = np.repeat(np.arange(n_areas), n)
    y = 3 + u[g] + rng.standard_normal(g.size)
    point, pev = fit_fast(y, np.ones((y.size, 1)), g, n_areas).predict_with_pev(np.array([1.0]))
    ids = [f"area-{i:02d}" for i in range(n_areas)]
    return pd.DataFrame({"lcjp_id": ids, "feature": "f", "score": point, "pev": pev, "true": u})


def _coverage(frame, out):
    merged = out.merge(frame[["lcjp_id", "true"]], on="lcjp_id")
    true_rank = point_ranks(merged["true"].to_numpy())
    return (merged["rank_low"].to_numpy() <= true_rank) & (true_rank <= merged["rank_high"].to_numpy())


def test_columns_ranks_and_tiers():
    frame = _hierarchical(np.random.default_rng(3))
    out = rank_intervals(frame, seed=1, n_draws=500)
    assert list(out.columns) == RANK_COLUMNS
    assert len(out) == 42 and (out["n_areas"] == 42).all()
    assert sorted(out["rank"]) == list(range(1, 43))
    top = out.loc[out["rank"] == 1, "lcjp_id"].iloc[0]
    assert top == frame.loc[frame["score"].idxmax(), "lcjp_id"]
    assert ((out["rank_low"] <= out["rank"]) & (out["rank"] <= out["rank_high"])).all()
    assert set(out["tier"]) <= set(TIERS)
    z = 1.959963984540054
    lo, hi = frame["score"] - z * np.sqrt(frame["pev"]), frame["score"] + z * np.sqrt(frame["pev"])
    expected = np.where(lo > frame["score"].mean(), "higher", np.where(hi < frame["score"].mean(), "lower", "similar"))
    got = out.set_index("lcjp_id").loc[frame["lcjp_id"], "tier"].to_numpy()
    assert (got == expected).all()


def test_deterministic_and_seeded():
    frame = _hierarchical(np.random.default_rng(4))
    a = rank_intervals(frame, seed=7, n_draws=300)
    pd.testing.assert_frame_equal(a, rank_intervals(frame.sample(frac=1, random_state=0), seed=7, n_draws=300))
    b = rank_intervals(frame, seed=7, n_draws=300)
    assert a.equals(b)


def test_se_from_interval_and_missing_scores():
    frame = _hierarchical(np.random.default_rng(5))
    z = 1.959963984540054
    via_ci = frame.assign(ci_low=frame["score"] - z * np.sqrt(frame["pev"]),
                          ci_high=frame["score"] + z * np.sqrt(frame["pev"])).drop(columns="pev")
    pd.testing.assert_frame_equal(rank_intervals(frame, seed=2, n_draws=300), rank_intervals(via_ci, seed=2, n_draws=300))
    via_ci.loc[0, "score"] = np.nan
    out = rank_intervals(via_ci, seed=2, n_draws=300)
    assert len(out) == 41 and (out["n_areas"] == 41).all() and "area-00" not in set(out["lcjp_id"])


def test_identical_scores_cannot_be_ranked():
    frame = pd.DataFrame({"lcjp_id": list("abcdef"), "feature": "f", "score": 3.0, "se": 0.01})
    out = rank_intervals(frame, seed=1, n_draws=2000)
    assert (out["rank_low"] <= 2).all() and (out["rank_high"] >= 5).all() and (out["tier"] == "similar").all()


def test_rejects_bad_arguments():
    frame = _hierarchical(np.random.default_rng(6))
    with pytest.raises(ValueError, match="method"):
        rank_intervals(frame, method="league_table")
    with pytest.raises(ValueError, match="pev"):
        rank_intervals(frame.drop(columns="pev"))


def test_posterior_rank_intervals_cover_true_ranks_at_nominal_rate():
    """Marginal coverage claim: over areas and replicates of the hierarchical model, the 95 % posterior rank
    interval holds the true rank about 95 % of the time (seen: 96.7 % over 200 replicates, slightly
    conservative because the PEV carries the fixed-effect uncertainty). Too-narrow draws must fail this test."""
    rng = np.random.default_rng(2026)
    hits, narrow = [], []
    for r in range(120):
        frame = _hierarchical(rng)
        hits.append(_coverage(frame, rank_intervals(frame, seed=r, n_draws=800)).mean())
        overconfident = frame.assign(pev=frame["pev"] * 0.1)
        narrow.append(_coverage(frame, rank_intervals(overconfident, seed=r, n_draws=800)).mean())
    hits = np.array(hits)
    mcse = hits.std(ddof=1) / np.sqrt(hits.size)  # replicate-level: areas within a replicate share one data set
    assert 0.95 - 2 * mcse <= hits.mean() <= 0.985, (hits.mean(), mcse)
    assert np.mean(narrow) < 0.85  # the check can fail: ignoring most of the PEV destroys coverage


def test_mrsw_sets_cover_each_area_rank_for_fixed_traits():
    """MRSW marginal sets are frequentist: for FIXED traits and unbiased estimates each area's set covers its
    own true rank with probability >= 95 % (conservative: Bonferroni over the 41 comparisons)."""
    rng = np.random.default_rng(11)
    theta = np.linspace(-0.6, 0.6, 42)
    se = 1 / np.sqrt(np.random.default_rng(5).integers(4, 19, 42))
    ids = [f"area-{i:02d}" for i in range(42)]
    true_rank = point_ranks(theta)
    hits = []
    for _ in range(300):
        frame = pd.DataFrame({"lcjp_id": ids, "feature": "f", "score": theta + se * rng.standard_normal(42), "se": se})
        out = rank_intervals(frame, method="mrsw_marginal").set_index("lcjp_id").loc[ids]
        hits.append((out["rank_low"].to_numpy() <= true_rank) & (true_rank <= out["rank_high"].to_numpy()))
    per_area = np.array(hits).mean(axis=0)
    n = len(hits)
    assert (per_area >= 0.95 - 2 * np.sqrt(0.95 * 0.05 / n)).all(), per_area.min()
