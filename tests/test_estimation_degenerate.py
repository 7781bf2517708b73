"""Degenerate features give a recorded 'not estimable' outcome, never an exception or a number made of noise.

Found by the validation study (issue 6): at ICC(1) = 0.05 the agency-adjusted score of a feature is
sometimes fitted at the boundary (area variance 0), so every area gets the national mean and the
scores differ only in their last bits. ``sd > 0`` let that through, standardising turned the rounding
noise into a "feature", and ``infer_block`` raised "a feature is collinear with the covariates",
killing the whole replicate.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.estimation import estimate_associations, inference
from tests.builders import estimation as fixtures


def _block(seed=2, n=42, nf=3, m=2):
    rng = np.random.default_rng(seed)
    Z = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    Xf = rng.normal(size=(n, nf))
    Y = rng.normal(size=(n, m)) + 0.5 * Xf[:, [0]]
    return Z, Xf, Y


def _rounding_noise_column(n=42, value=3.506410256410256):
    """A column equal to ``value`` in every area but for the last bit in some: what a boundary fit gives."""
    x = np.full(n, value)
    x[::3] = np.nextafter(value, 4.0)
    x[1::5] = np.nextafter(value, 3.0)
    assert x.std(ddof=1) > 0  # an exact sd > 0 test does not see it
    return x


def test_constant_columns_catches_rounding_noise_but_not_small_real_spread():
    X = np.column_stack([_rounding_noise_column(), np.full(42, 2.0), np.linspace(0, 1e-6, 42),
                         1e-9 * np.arange(42.0), np.zeros(42)])
    assert inference.constant_columns(X).tolist() == [True, True, False, False, True]


@pytest.mark.parametrize("draws", [0, 99])
def test_infer_block_reports_collinear_and_zero_features_instead_of_raising(draws):
    Z, Xf, Y = _block()
    bad = np.column_stack([Xf[:, 0], 2.0 * Z[:, 1] + 1.0, np.zeros(len(Y)), Xf[:, 1]])
    draw = inference.draws(len(Y), draws, seed=4, method="freedman_lane") if draws else None
    out = inference.infer_block(Z, bad, Y, draw=draw, method="freedman_lane")
    reasons = out["not_estimable"].tolist()
    assert reasons[0] == "" and reasons[3] == ""
    assert "collinear" in reasons[1] and "constant" in reasons[2]
    for key in ("estimate", "se_hc3", "p_hc3", "ci_low_hc3") + (("p_value", "ci_low", "ci_high") if draws else ()):
        assert np.isnan(out[key][[1, 2]]).all(), key
        assert np.isfinite(out[key][[0, 3]]).all(), key
    # the estimable features get exactly what they get without the degenerate ones beside them
    alone = inference.infer_block(Z, Xf[:, :2], Y, draw=draw, method="freedman_lane")
    for key in ("estimate", "se_hc3", "p_hc3") + (("p_value",) if draws else ()):
        np.testing.assert_allclose(out[key][[0, 3]], alone[key], rtol=1e-12, atol=0)


def test_infer_block_reports_a_feature_living_in_one_area():
    Z, Xf, Y = _block()
    spike = np.zeros(len(Y))
    spike[5] = 1.0
    out = inference.infer_block(Z, np.column_stack([Xf[:, 0], spike]), Y, draw=None, method="freedman_lane")
    assert "leverage 1" in out["not_estimable"][1] and np.isnan(out["estimate"][1]).all()


def test_a_design_with_a_one_area_indicator_still_raises():
    Z, Xf, Y = _block()
    one = np.zeros(len(Y))
    one[0] = 1.0
    with pytest.raises(np.linalg.LinAlgError, match="leverage 1"):
        inference.infer_block(np.column_stack([Z, one]), Xf, Y, draw=None, method="freedman_lane")


@pytest.fixture(scope="module")
def fixture_inputs():
    return fixtures.synthetic_inputs(seed=5, n_features=3, n_measures=3)


def _with_boundary_feature(inputs):
    af = inputs["area_features"].copy()
    areas = af.loc[af["feature"] == "feat_a", "lcjp_id"].to_numpy()
    extra = pd.DataFrame({"lcjp_id": areas, "feature": "feat_flat", "score": _rounding_noise_column(len(areas)),
                          "raw_mean": 3.5, "decision": "keep"})
    return pd.concat([af, extra], ignore_index=True)


@pytest.mark.parametrize("models", [("ols",), ("ols", "ols_crv3_region")])
def test_estimate_associations_reports_a_boundary_feature_as_not_estimable(fixture_inputs, models):
    inp = fixture_inputs
    kw = dict(n_permutations=99, seed=3, level_year=2018, baseline_year=2014, measures=inp["measures"],
              models=models)
    est = estimate_associations(_with_boundary_feature(inp), inp["outcomes"], inp["covariates"], inp["reference"], **kw)
    flat = est[est["feature"] == "feat_flat"]
    assert len(flat) == len(est[est["feature"] == "feat_a"]) > 0
    assert flat["estimate"].isna().all() and flat["p_value"].isna().all() and flat["p_adjusted"].isna().all()
    assert flat["note"].str.contains("not estimable: feature constant across areas").all()
    assert (flat["verdict"] == "not estimable").all()
    # the other pairs are untouched: same numbers as without the flat feature (it takes no part in any family)
    base = estimate_associations(inp["area_features"], inp["outcomes"], inp["covariates"], inp["reference"], **kw)
    rest = est[est["feature"] != "feat_flat"].reset_index(drop=True)
    cols = ["feature", "outcome", "model", "outcome_period", "estimate", "ci_low", "ci_high", "p_value", "p_adjusted"]
    pd.testing.assert_frame_equal(rest[cols], base[cols])


def test_estimate_associations_reports_a_feature_collinear_with_a_covariate(fixture_inputs):
    inp = fixture_inputs
    af = inp["area_features"].copy()
    ref = inp["reference"]
    pop = ref.groupby("lcjp_id")["population_2011"].sum()
    areas = af.loc[af["feature"] == "feat_a", "lcjp_id"]
    extra = pd.DataFrame({"lcjp_id": areas.to_numpy(), "feature": "feat_population",
                          "score": np.log(pop.reindex(areas).to_numpy(float)), "raw_mean": 0.0, "decision": "keep"})
    est = estimate_associations(pd.concat([af, extra], ignore_index=True), inp["outcomes"], inp["covariates"], ref,
                                n_permutations=0, seed=3, level_year=2018, baseline_year=2014,
                                covariates_spec="population")
    rows = est[est["feature"] == "feat_population"]
    assert len(rows) and rows["estimate"].isna().all()
    assert rows["note"].str.contains("not estimable: feature collinear with the covariates").all()
    assert est.loc[est["feature"] != "feat_population", "estimate"].notna().all()
