"""Estimation (issue 5): vectorised inference against statsmodels, resampling p against brute force,
robustness formulas, the full estimate_associations path on a fixture with planted slopes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from pipeline.errors import InputError
from pipeline.estimation import design, estimate_associations, inference, power, robustness
from tests.builders import estimation as fixtures


def _design(seed=1, n=42, k=4, nf=3, m=4, hetero=True):
    rng = np.random.default_rng(seed)
    Z = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])
    Z[0, 1] = 6.0  # one high-leverage area
    Xf = rng.normal(size=(n, nf)) + 0.4 * Z[:, [1]]
    scale = np.exp(0.5 * Z[:, 1]) if hetero else np.ones(n)
    Y = np.column_stack([Z @ rng.normal(size=k) + 0.4 * Xf[:, j % nf] + scale * rng.standard_t(5, n)
                         for j in range(m)])
    return Z, Xf, Y


def test_point_estimates_and_hc3_equal_statsmodels():
    Z, Xf, Y = _design()
    out = inference.infer_block(Z, Xf, Y, draw=None, method="freedman_lane")
    for f in range(Xf.shape[1]):
        for j in range(Y.shape[1]):
            res = sm.OLS(Y[:, j], np.column_stack([Z, Xf[:, f]])).fit(cov_type="HC3")
            assert out["estimate"][f, j] == pytest.approx(res.params[-1], abs=1e-8, rel=1e-8)
            assert out["se_hc3"][f, j] == pytest.approx(res.bse[-1], abs=1e-8, rel=1e-8)
            classic = sm.OLS(Y[:, j], np.column_stack([Z, Xf[:, f]])).fit()
            assert out["t_classic"][f, j] == pytest.approx(classic.tvalues[-1], rel=1e-8)
            assert out["df_resid"][f, j] == classic.df_resid


def _brute_force_p(Z, x, y, draw, method):
    X = np.column_stack([Z, x])
    t_obs = sm.OLS(y, X).fit(cov_type="HC3").tvalues[-1]
    red = sm.OLS(y, Z).fit()
    count = 0
    for row in draw:
        ystar = red.fittedvalues + (red.resid[row] if method == "freedman_lane" else red.resid * row)
        count += abs(sm.OLS(ystar, X).fit(cov_type="HC3").tvalues[-1]) >= abs(t_obs) - 1e-12
    return (1 + count) / (len(draw) + 1)


@pytest.mark.parametrize("method", ["freedman_lane", "wild_webb"])
def test_resampling_p_equals_brute_force_statsmodels_loop(method):
    Z, Xf, Y = _design(seed=3, m=2, nf=2)
    draw = inference.draws(len(Y), 199, seed=11, method=method)
    out = inference.infer_block(Z, Xf, Y, draw=draw, method=method, interval=False)
    for f in range(2):
        for j in range(2):
            # same draws: identical up to floating-point ties
            assert out["p_value"][f, j] == pytest.approx(_brute_force_p(Z, Xf[:, f], Y[:, j], draw, method),
                                                         abs=1.5 / 200)


def test_resampling_p_within_monte_carlo_error_of_independent_brute_force():
    Z, Xf, Y = _design(seed=5, m=1, nf=1)
    fast = inference.infer_block(Z, Xf, Y, draw=inference.draws(42, 999, 1, "freedman_lane"),
                                 method="freedman_lane", interval=False)["p_value"][0, 0]
    other = np.random.default_rng(99)
    slow = _brute_force_p(Z, Xf[:, 0], Y[:, 0], np.array([other.permutation(42) for _ in range(300)]),
                          "freedman_lane")
    mc_se = np.sqrt(slow * (1 - slow) / 300) + np.sqrt(fast * (1 - fast) / 999)
    assert abs(fast - slow) < 4 * mc_se + 1e-3


def test_interval_ends_are_where_the_brute_force_test_starts_rejecting():
    Z, Xf, Y = _design(seed=7, m=1, nf=1)
    x, y = Xf[:, 0], Y[:, 0]
    draw = inference.draws(42, 399, seed=2, method="freedman_lane")
    out = inference.infer_block(Z, Xf, Y, draw=draw, method="freedman_lane")
    X = np.column_stack([Z, x])
    full = sm.OLS(y, X).fit(cov_type="HC3")

    def p_at(b0):
        t_obs = (full.params[-1] - b0) / full.bse[-1]
        red = sm.OLS(y - b0 * x, Z).fit()
        count = 0
        for row in draw:
            res = sm.OLS(red.fittedvalues + b0 * x + red.resid[row], X).fit(cov_type="HC3")
            count += abs((res.params[-1] - b0) / res.bse[-1]) >= abs(t_obs)
        return (1 + count) / (len(draw) + 1)

    se = full.bse[-1]
    for end, inside in ((out["ci_low"][0, 0], +1), (out["ci_high"][0, 0], -1)):
        assert p_at(end + inside * 0.01 * se) > 0.05
        assert p_at(end - inside * 0.01 * se) <= 0.05
    assert out["ci_low"][0, 0] < full.params[-1] < out["ci_high"][0, 0]


def test_draws_are_deterministic_and_seeded():
    a = inference.draws(42, 50, 2015, "freedman_lane")
    assert np.array_equal(a, inference.draws(42, 50, 2015, "freedman_lane"))
    assert not np.array_equal(a, inference.draws(42, 50, 2016, "freedman_lane"))
    assert np.array_equal(np.sort(a, axis=1), np.tile(np.arange(42), (50, 1)))
    w = inference.draws(42, 50, 2015, "wild_webb")
    assert set(np.round(np.abs(w).ravel(), 6)) <= {round(np.sqrt(0.5), 6), 1.0, round(np.sqrt(1.5), 6)}


def test_robustness_value_worked_check():
    assert robustness.robustness_value(5, 102) == pytest.approx(0.39, abs=0.005)
    assert robustness.robustness_value(0, 40) == 0


def test_e_value_formula():
    rr = np.exp(0.91 * 0.5)
    assert robustness.e_value_from_d(0.5) == pytest.approx(rr + np.sqrt(rr * (rr - 1)))
    assert robustness.e_value_from_d(0.0) == 1.0
    assert robustness.e_value_ci(-1.0, 2.0, 1.0) == 1.0


def test_mde_uses_ftestpowerf2_not_the_swapped_ftestpower():
    import pingouin
    from statsmodels.stats.power import FTestPowerF2
    f2 = power.mde_f2(36, 0.05, 0.8)
    assert FTestPowerF2().power(effect_size=f2, df_num=1, df_denom=36, alpha=0.05) == pytest.approx(0.8, abs=1e-4)
    # bivariate MDE close to pingouin's (0.417 at n = 42)
    assert power.mde_r_bivariate(42, 0.05, 0.8) == pytest.approx(pingouin.power_corr(n=42, power=0.8), abs=0.01)
    assert power.mde_r_bivariate(42, 0.0025, 0.8) == pytest.approx(0.55, abs=0.02)


def test_old_verdict_words_are_gone():
    # "no association of detectable size" relabelled a small t as evidence of absence (issue 14): verdicts now
    # come from pipeline.estimation.verdicts (TOST against a registered SESOI; tests in test_estimation_latent.py)
    assert not hasattr(power, "verdict")


def test_leave_one_out_matches_refits():
    Z, Xf, Y = _design(seed=9, m=2, nf=1)
    loo = robustness.leave_one_out(Z, Xf[:, 0], Y, areas=np.arange(42))
    for i in (0, 5, 41):
        keep = np.arange(42) != i
        x = Xf[keep, 0]
        res = sm.OLS(Y[keep, 1], np.column_stack([Z[keep], x])).fit()
        assert loo["estimate_without"][i, 1] == pytest.approx(res.params[-1] * x.std(ddof=1), rel=1e-8)


@pytest.fixture(scope="module")
def fixture_data():
    return fixtures.synthetic_inputs(seed=7)


@pytest.fixture(scope="module")
def fixture_estimates(fixture_data):
    d = fixture_data
    return estimate_associations(d["area_features"], d["outcomes"], d["covariates"], d["reference"],
                                 n_permutations=999, seed=2015, level_year=2018, baseline_year=2014,
                                 measures=d["measures"], models=("ols", "ols_region_fe", "ols_crv3_region"),
                                 confirmatory=[{"feature": "feat_a", "outcome": "measure_1", "period": "level"}])


def test_estimates_have_contract_columns_and_one_row_per_key(fixture_estimates):
    from pipeline.estimation import ESTIMATE_COLUMNS
    est = fixture_estimates
    assert list(est.columns[: len(ESTIMATE_COLUMNS)]) == ESTIMATE_COLUMNS
    assert not est.duplicated(["feature", "outcome", "outcome_period", "model", "estimand"]).any()
    assert set(est["model"]) == {"ols", "ols_region_fe", "ols_crv3_region"}
    assert "feat_dropped" not in set(est["feature"])
    primary = est[est["model"] == "ols"]
    assert (primary["family"] == "confirmatory").sum() == 1
    assert primary.loc[primary["family"] == "confirmatory", "p_adjusted"].iloc[0] == \
        primary.loc[primary["family"] == "confirmatory", "p_value"].iloc[0]  # Holm of a family of one
    assert primary["verdict"].isin(["associated", "no association of at least SESOI", "not detected",
                                    "not estimable"]).all()
    assert (primary["ci_low"] < primary["estimate"]).all() and (primary["estimate"] < primary["ci_high"]).all()
    # London (the one multi-force partnership) is kept: a one-area indicator is not in 'auto' (issue 14)
    assert (primary["n_areas"] == 42).all() and primary["areas_set_aside"].fillna("").eq("").all()


def test_planted_effects_recovered_on_fixture(fixture_data, fixture_estimates):
    est = fixture_estimates[fixture_estimates["model"] == "ols"].set_index(["feature", "outcome", "outcome_period"])
    for (feature, measure), slope in fixture_data["truth"].items():
        # change from 2014 to 2018 carries the planted per-SD shift (applied after 2015)
        row = est.loc[(feature, measure, "change")]
        assert row["ci_low"] <= slope <= row["ci_high"], (feature, measure)
        assert row["q_bh"] < 0.05
    planted = set(fixture_data["truth"])
    nulls = [k for k in est.index if (k[0], k[1]) not in planted]
    assert np.mean([est.loc[k, "q_bh"] < 0.05 for k in nulls]) <= 0.1


def test_results_are_deterministic(fixture_data):
    d = fixture_data
    kw = dict(n_permutations=199, seed=5, level_year=2018, baseline_year=2014)
    a = estimate_associations(d["area_features"], d["outcomes"], d["covariates"], d["reference"], **kw)
    b = estimate_associations(d["area_features"], d["outcomes"].sample(frac=1, random_state=1), d["covariates"],
                              d["reference"], **kw)
    pd.testing.assert_frame_equal(a, b)


def test_yearly_aggregation_sums_numerators_and_denominators():
    out = pd.DataFrame({
        "lcjp_id": ["a"] * 4 + ["a"], "measure": ["m"] * 4 + ["k"], "year": [2018] * 5,
        "period_type": ["quarter"] * 4 + ["quarter"],
        "value": [10.0, 20.0, 30.0, 40.0, 7.0], "numerator": [1, 4, 3, 8, np.nan],
        "denominator": [10, 20, 10, 20, np.nan]})
    agg = design.aggregate_outcomes(out).set_index("measure")
    assert agg.loc["m", "value"] == pytest.approx(100 * 16 / 60)   # percent scale found from the rows
    assert agg.loc["k", "value"] == 7.0 and agg.loc["k", "rule"] == "mean of period values"


def test_auto_covariates_are_derived_not_named(fixture_data):
    cov = design.area_covariates(fixture_data["covariates"], fixture_data["reference"], 2014)
    assert cov.auto[0] == "log_population"
    assert "deprivation_index" in cov.auto
    assert any(c.startswith("country_") for c in cov.auto)
    # the one multi-force partnership: its indicator would cover one area, so it is in the table, not in auto
    assert "multi_force_partnership" not in cov.auto and "multi_force_partnership" in cov.table.columns
    assert not any(c.endswith("_population") and c != "log_population" for c in cov.auto)


def test_missing_column_is_an_input_error(fixture_data):
    d = fixture_data
    with pytest.raises(InputError, match="area_features.csv.*decision"):
        estimate_associations(d["area_features"].drop(columns="decision"), d["outcomes"], d["covariates"],
                              d["reference"], n_permutations=0, seed=1, level_year=2018, baseline_year=2014)


def test_level_year_without_data_is_an_input_error(fixture_data):
    d = fixture_data
    with pytest.raises(InputError, match="level year 2031.*years present"):
        estimate_associations(d["area_features"], d["outcomes"], d["covariates"], d["reference"],
                              n_permutations=0, seed=1, level_year=2031, baseline_year=2014)


def test_bh_and_holm_equal_statsmodels():
    from statsmodels.stats.multitest import multipletests
    from pipeline.estimation import multiplicity
    p = np.random.default_rng(3).uniform(size=57) ** 3
    p[5] = p[9]  # a tie
    assert np.allclose(multiplicity.bh(p), multipletests(p, method="fdr_bh")[1], atol=1e-12)
    assert np.allclose(multiplicity.holm(p), multipletests(p, method="holm")[1], atol=1e-12)


def test_in_place_t_comparison_matches_the_plain_expression_bit_for_bit():
    """inference._compare_t2 (work arrays updated in place) decides every draw exactly as the plain
    expression the resampling p-value and the interval inversion were written with."""
    rng = np.random.default_rng(7)
    B, M = 301, 9
    a, F, d, C = (rng.standard_normal((B, M)) for _ in range(4))
    A = rng.standard_normal((B, M))  # negative values exercise the max(., 0)
    A[0, 0] = np.nan
    se2 = rng.random(M) + 0.1
    for b in (rng.standard_normal(M), np.zeros(M), 1e-9 * rng.standard_normal(M)):
        gap2 = (rng.standard_normal(M) - b) ** 2
        plain = (a - b * d) * (a - b * d) * se2 >= gap2 * np.maximum(A + b * (b * C - 2 * F), 0) * (1 - 1e-10)
        assert np.array_equal(inference._compare_t2(a, A, F, d, C, b, se2, gap2), plain)
        shifted = {"a0": a, "A0": A, "F0": F, "d": d, "C": C}
        delta_plain = ((a - b * d) * (a - b * d) * se2
                       >= b * b * np.maximum(A + b * (b * C - 2 * F), 0) * (1 - 1e-10))
        assert np.array_equal(inference._extreme(shifted, se2, b), delta_plain)
