"""Measurement: each statistic against an independent computation, and the aggregation behaviour."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.measurement import (area_agreement, area_features, area_scores, cronbach_alpha, feature_items,
                                  feature_quality, icc_oneway, mcdonald_omega, respondent_scores, rwg_j,
                                  scale_reliability)
from pipeline.measurement.mixed import fit_fast, fit_statsmodels
from tests.builders.synthetic import synthetic_survey


@pytest.fixture(scope="module")
def demo():
    return synthetic_survey(11, n_areas=30, n_features=3)


# ---------------------------------------------------------------- reliability
def test_alpha_matches_pingouin_pairwise(demo):
    pingouin = pytest.importorskip("pingouin")
    survey, codebook, _, _ = demo
    for feature, items in feature_items(codebook, survey).items():
        data = survey[items].astype(float)
        mine = cronbach_alpha(data, ci_level=0.95)
        ref, ci = pingouin.cronbach_alpha(data=pd.DataFrame(data.to_numpy(), columns=items), nan_policy="pairwise",
                                          ci=0.95)
        assert mine[0] == pytest.approx(ref, abs=1e-10)
        assert mine[1] == pytest.approx(ci[0], abs=1e-3) and mine[2] == pytest.approx(ci[1], abs=1e-3)


def test_alpha_undefined_for_one_item_and_low_for_noise():
    rng = np.random.default_rng(0)
    assert np.isnan(cronbach_alpha(rng.normal(size=(50, 1)))[0])
    noise = rng.integers(1, 6, size=(400, 5)).astype(float)
    assert cronbach_alpha(noise)[0] < 0.3


def test_omega_equals_closed_form_for_three_items():
    """Three items: the one-factor model is just identified, loading_1^2 = r12 r13 / r23 etc."""
    rng = np.random.default_rng(3)
    latent = rng.normal(size=4000)
    loadings = np.array([0.8, 0.6, 0.7])
    data = latent[:, None] * loadings + rng.normal(size=(4000, 3)) * np.sqrt(1 - loadings ** 2)
    r = np.corrcoef(data, rowvar=False)
    lam2 = np.array([r[0, 1] * r[0, 2] / r[1, 2], r[0, 1] * r[1, 2] / r[0, 2], r[0, 2] * r[1, 2] / r[0, 1]])
    expected = 1 - (1 - lam2).sum() / r.sum()
    omega, note = mcdonald_omega(data)
    assert omega == pytest.approx(expected, abs=1e-4), note


def test_omega_from_factor_analyzer_is_finite_on_survey(demo):
    survey, codebook, _, _ = demo
    table = scale_reliability(survey, codebook)
    assert table["omega"].between(0.5, 1).all(), table["reliability_note"].tolist()
    assert (table["omega"] >= table["alpha"] - 0.05).all()  # omega >= alpha up to sampling noise


# ---------------------------------------------------------------- agreement
def test_rwg_hand_worked_example():
    # item 1: 4, 4, 5 -> s^2 = 1/3; item 2: 3, 4, 5 -> s^2 = 1; mean s^2 = 2/3; J = 2
    values = np.array([[4, 3], [4, 4], [5, 5]], dtype=float)
    # uniform null 2: r = 1/3 -> rwg(J) = 2 (2/3) / (2 (2/3) + 1/3) = 0.8
    assert rwg_j(values, 2.0) == pytest.approx(0.8)
    # skewed null 1.34: r = (2/3)/1.34
    r = (2 / 3) / 1.34
    assert rwg_j(values, 1.34) == pytest.approx(2 * (1 - r) / (2 * (1 - r) + r))


def test_rwg_truncated_to_zero_and_nan_for_single_respondent():
    spread = np.array([[1, 1], [5, 5], [1, 5], [5, 1]], dtype=float)  # s^2 = 16/3 > 2
    assert rwg_j(spread, 2.0) == 0.0
    assert np.isnan(rwg_j(np.array([[3.0, 4.0]]), 2.0))
    assert rwg_j(np.array([[3, 3], [3, 3]], dtype=float), 2.0) == 1.0


def test_area_agreement_matches_per_area_loop(demo):
    survey, codebook, _, _ = demo
    table = area_agreement(survey, codebook, skewed_null_variance=1.34)
    groups = feature_items(codebook, survey)
    for row in table.sample(10, random_state=1).itertuples():
        block = survey.loc[survey["lcjp_id"] == row.lcjp_id, groups[row.feature]]
        assert row.rwg_j == pytest.approx(rwg_j(block, 2.0), nan_ok=True)
        assert row.rwg_j_skewed == pytest.approx(rwg_j(block, 1.34), nan_ok=True)
    assert (table["rwg_j_skewed"] <= table["rwg_j"] + 1e-12).all()


def test_icc_balanced_matches_textbook_and_mixedlm():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    sizes = rng.integers(4, 15, size=60)
    groups = np.repeat(np.arange(60), sizes)
    y = rng.normal(0, np.sqrt(0.2), 60)[groups] + rng.normal(0, np.sqrt(0.8), len(groups))
    icc = icc_oneway(y, groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("y ~ 1", pd.DataFrame({"y": y, "g": groups}), groups="g").fit(reml=True)
    model_icc = float(fit.cov_re.iloc[0, 0]) / (float(fit.cov_re.iloc[0, 0]) + fit.scale)
    assert icc["icc1"] == pytest.approx(model_icc, abs=0.02)
    # ICC(2) is the reliability of a group mean at k0 respondents (Spearman-Brown of ICC(1))
    k0 = icc["k0"]
    assert icc["icc2"] == pytest.approx(k0 * icc["icc1"] / (1 + (k0 - 1) * icc["icc1"]), abs=1e-10)
    assert 0.1 < icc["icc1"] < 0.3


def test_icc_k0_for_equal_sizes_is_group_size():
    groups = np.repeat(np.arange(5), 4)
    y = np.arange(20, dtype=float)
    assert icc_oneway(y, groups)["k0"] == pytest.approx(4.0)


# ---------------------------------------------------------------- aggregation
def test_fast_engine_equals_statsmodels(demo):
    survey, codebook, _, _ = demo
    fast = area_scores(survey, codebook, engine="fast")
    ref = area_scores(survey, codebook, engine="statsmodels")
    assert (ref["engine"] == "statsmodels").all()
    np.testing.assert_allclose(fast["score"], ref["score"], atol=1e-4)
    np.testing.assert_allclose(fast["ci_high"] - fast["ci_low"], ref["ci_high"] - ref["ci_low"], rtol=1e-3)


def test_blup_matches_statsmodels_random_effects():
    from statsmodels.regression.mixed_linear_model import MixedLM

    rng = np.random.default_rng(9)
    groups = np.repeat(np.arange(20), rng.integers(3, 10, size=20))
    agency = rng.integers(0, 3, size=len(groups))
    X = np.column_stack([np.ones(len(groups)), agency == 1, agency == 2]).astype(float)
    y = X @ np.array([3.0, 0.5, -0.4]) + rng.normal(0, 0.5, 20)[groups] + rng.normal(0, 0.8, len(groups))
    fast = fit_fast(y, X, groups, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MixedLM(y, X, groups=groups).fit(reml=True)
    blups = np.array([ref.random_effects[g].iloc[0] for g in range(20)])
    np.testing.assert_allclose(fast.blup, blups, atol=1e-4)
    np.testing.assert_allclose(fast.beta, ref.fe_params, atol=1e-4)
    # prediction-error variance against a brute-force inverse of Henderson's mixed-model equations
    c = X.mean(axis=0)
    _, pev = fast.predict_with_pev(c)
    Z = (groups[:, None] == np.arange(20)[None, :]).astype(float)
    mme = np.block([[X.T @ X, X.T @ Z], [Z.T @ X, Z.T @ Z + np.eye(20) / fast.lam]])
    inverse = np.linalg.inv(mme) * fast.sigma2
    for g in (0, 7, 19):
        k = np.concatenate([c, np.eye(20)[g]])
        assert pev[g] == pytest.approx(k @ inverse @ k, rel=1e-8)
    # and the random-effect part alone is at least statsmodels' conditional variance (beta known)
    cond = np.array([ref.random_effects_cov[g].iloc[0, 0] for g in range(20)])
    _, pev_u = fast.predict_with_pev(np.zeros(3))
    assert np.all(pev_u >= cond - 1e-6)


def test_statsmodels_failure_falls_back_and_is_recorded(monkeypatch):
    from statsmodels.regression.mixed_linear_model import MixedLM

    def broken_fit(self, *args, **kwargs):
        raise np.linalg.LinAlgError("Singular matrix")

    monkeypatch.setattr(MixedLM, "fit", broken_fit)
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(10), 5)
    y = rng.normal(size=10)[groups] + rng.normal(size=50)
    fit = fit_statsmodels(y, np.ones((50, 1)), groups, 10)
    assert fit.engine == "fast (statsmodels fallback)"
    assert "LinAlgError" in fit.note and np.isfinite(fit.blup).all()


def test_convergence_warning_is_recorded(monkeypatch):
    from statsmodels.regression.mixed_linear_model import MixedLM
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    original = MixedLM.fit

    def warning_fit(self, *args, **kwargs):
        warnings.warn("Gradient optimization failed", ConvergenceWarning)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MixedLM, "fit", warning_fit)
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(10), 5)
    y = rng.normal(size=10)[groups] + rng.normal(size=50)
    fit = fit_statsmodels(y, np.ones((50, 1)), groups, 10)
    assert "Gradient optimization failed" in fit.note


def test_zero_area_variance_gives_boundary_note():
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(15), 6)
    y = rng.normal(size=90)
    y = y - pd.Series(y).groupby(groups).transform("mean").to_numpy()  # group means exactly equal
    fit = fit_fast(y + 3, np.ones((90, 1)), groups, 15)
    assert fit.lam == 0.0 and "boundary" in fit.note and np.allclose(fit.blup, 0)


def test_adjusted_recovers_area_ranking_better_than_raw_when_agency_mix_confounded():
    from scipy.stats import spearmanr

    wins, margins = 0, []
    for seed in range(5):
        survey, codebook, truth, _ = synthetic_survey(100 + seed, n_areas=42, n_features=2, confound=1.0,
                                                      agency_sd=0.8)
        scores = area_scores(survey, codebook, method="adjusted").merge(truth, on=["lcjp_id", "feature"])
        raw = area_scores(survey, codebook, method="raw").merge(truth, on=["lcjp_id", "feature"])
        for feature in scores["feature"].unique():
            a = scores[scores["feature"] == feature]
            b = raw[raw["feature"] == feature]
            rho_adj = spearmanr(a["score"], a["effect"]).statistic
            rho_raw = spearmanr(b["score"], b["effect"]).statistic
            margins.append(rho_adj - rho_raw)
            wins += rho_adj > rho_raw
    assert wins >= 9 and np.mean(margins) > 0.1, margins


def test_raw_method_and_ci_columns(demo):
    survey, codebook, _, _ = demo
    raw = area_scores(survey, codebook, method="raw")
    assert (raw["score"] == raw["raw_mean"]).all()
    manual = respondent_scores(survey, codebook).groupby(["feature", "lcjp_id"])["score"].mean()
    np.testing.assert_allclose(raw.set_index(["feature", "lcjp_id"])["raw_mean"], manual.loc[
        raw.set_index(["feature", "lcjp_id"]).index], atol=1e-12)
    assert (raw["ci_low"] <= raw["score"]).all() and (raw["ci_high"] >= raw["score"]).all()


def test_respondent_score_is_mean_of_answered_items():
    survey = pd.DataFrame({"response_id": ["a", "b", "c"], "lcjp_id": ["x", "x", "y"], "agency": ["p", "q", "p"],
                           "i1": [1.0, np.nan, np.nan], "i2": [3.0, 4.0, np.nan], "i3": [5.0, np.nan, 2.0]})
    codebook = pd.DataFrame({"item": ["i1", "i2", "i3"], "feature": ["f", "f", "g"]})
    scores = respondent_scores(survey, codebook).set_index(["feature", "response_id"])["score"]
    assert scores[("f", "a")] == 2.0 and scores[("f", "b")] == 4.0 and ("f", "c") not in scores.index
    assert scores[("g", "a")] == 5.0 and scores[("g", "c")] == 2.0


def test_feature_quality_decisions_follow_params():
    # strong agreement and area differences, then one feature replaced by pure noise: alpha and ICC fail
    survey, codebook, _, _ = synthetic_survey(11, n_areas=30, n_features=3, agency_sd=0.2, noise_sd=0.4,
                                              item_noise_sd=0.4, area_sd=0.6)
    noisy = survey.copy()
    rng = np.random.default_rng(0)
    items = feature_items(codebook)["f2"]
    noisy[items] = rng.integers(1, 6, size=(len(noisy), len(items))).astype(float)
    keep = feature_quality(noisy, codebook, on_fail="keep_with_warning", with_omega=False)
    drop = feature_quality(noisy, codebook, on_fail="drop", with_omega=False)
    row = keep.set_index("feature").loc["f2"]
    assert not row["passes_alpha"] and row["decision"] == "kept with warning" and "alpha" in row["reason"]
    assert drop.set_index("feature").loc["f2", "decision"] == "dropped"
    assert (keep.set_index("feature").loc[["f1", "f3"], "decision"] == "kept").all()
    with pytest.raises(ValueError, match="on_fail"):
        feature_quality(noisy, codebook, on_fail="maybe")


def test_area_features_columns_and_rows(demo):
    from pipeline.measurement import AREA_FEATURE_COLUMNS

    survey, codebook, _, _ = demo
    areas = sorted(survey["lcjp_id"].unique()) + ["zz-no-respondents"]
    table = area_features(survey, codebook, areas=areas, with_omega=False, min_respondents=3)
    assert list(table.columns) == AREA_FEATURE_COLUMNS
    assert len(table) == 3 * len(areas)
    empty = table[table["lcjp_id"] == "zz-no-respondents"]
    assert empty["score"].isna().all() and (empty["n_respondents"] == 0).all() and not empty["aggregation_ok"].any()
    small = table[table["n_respondents"] < 3]
    assert not small["aggregation_ok"].any()
    expected_ok = (table["n_respondents"] >= 3) & (table["rwg_j"] >= 0.7).fillna(False)
    assert (table["aggregation_ok"] == expected_ok).all()
    quality = feature_quality(survey, codebook, with_omega=False)
    passes = quality.set_index("feature")["gate_passed"]          # the measurement gate (issue 14)
    assert (table["feature_passes"] == table["feature"].map(passes).astype(bool)).all()
    assert (table["gate_passed"] == table["feature_passes"]).all()
    assert table["decision"].isin(["kept", "kept with warning", "dropped"]).all()


def test_area_features_deterministic(demo):
    survey, codebook, _, _ = demo
    one = area_features(survey, codebook, engine="statsmodels")
    two = area_features(survey.sample(frac=1, random_state=3), codebook, engine="statsmodels")
    # byte-identical as the stage writes it (pipeline.io.write_csv formats floats with %.10g)
    assert one.to_csv(index=False, float_format="%.10g") == two.to_csv(index=False, float_format="%.10g")


def test_missing_item_column_is_an_input_error(demo):
    survey, codebook, _, _ = demo
    broken = codebook.copy()
    broken.loc[0, "item"] = "not_in_survey"
    with pytest.raises(InputError, match="not_in_survey.*How to fix"):
        area_features(survey, broken)
    dup = pd.concat([codebook, codebook.iloc[[0]]], ignore_index=True)
    with pytest.raises(InputError, match="listed twice"):
        feature_items(dup)


def test_names_come_from_codebook(demo):
    survey, codebook, _, _ = demo
    renamed = codebook.assign(feature=codebook["feature"].map({"f1": "trust", "f2": "vision", "f3": "x y"}))
    survey2 = survey.rename(columns={i: f"Q {i}!" for i in codebook["item"]})
    renamed["item"] = renamed["item"].map(lambda i: f"Q {i}!")
    table = area_features(survey2, renamed, with_omega=False)
    assert set(table["feature"]) == {"trust", "vision", "x y"}


def test_scores_argument_gives_same_table(demo):
    survey, codebook, _, _ = demo
    direct = area_scores(survey, codebook, method="adjusted")
    via = area_scores(survey, codebook, method="adjusted", scores=respondent_scores(survey, codebook))
    pd.testing.assert_frame_equal(direct, via)


def test_min_items_drops_thin_respondents(demo):
    survey, codebook, _, _ = demo
    strict = area_scores(survey, codebook, method="raw", min_items=4)
    loose = area_scores(survey, codebook, method="raw", min_items=1)
    assert strict["n_respondents"].sum() < loose["n_respondents"].sum()


def test_mice_sensitivity_close_to_available_case_under_mcar():
    from pipeline.measurement.missing import mice_sensitivity

    survey, codebook, _, _ = synthetic_survey(21, n_areas=12, n_features=2, items_per_feature=3,
                                              respondents=(5, 8), missing_share=0.1)
    one = mice_sensitivity(survey, codebook, n_imputations=2, n_burnin=1, seed=5)
    two = mice_sensitivity(survey, codebook, n_imputations=2, n_burnin=1, seed=5)
    pd.testing.assert_frame_equal(one, two)
    assert (one["corr_available_vs_mice"] > 0.9).all()
    manual_share = survey[feature_items(codebook)["f1"]].isna().to_numpy().mean()
    assert one.set_index("feature").loc["f1", "share_missing"] == pytest.approx(manual_share)


def test_single_item_feature_and_one_area_feature_do_not_break(demo):
    survey, codebook, _, _ = demo
    survey = survey.copy()
    survey["solo"] = survey["f1_i1"]
    survey["local"] = np.where(survey["lcjp_id"] == "area01", survey["f2_i1"], np.nan)
    book = pd.concat([codebook, pd.DataFrame({"item": ["solo", "local", "local2"],
                                              "feature": ["one_item", "one_area", "one_area"]})], ignore_index=True)
    survey["local2"] = survey["local"]
    table = area_features(survey, book, with_omega=True)
    quality = feature_quality(survey, book)
    solo = quality.set_index("feature").loc["one_item"]
    assert np.isnan(solo["alpha"]) and not solo["passes_alpha"] and "alpha undefined" in solo["reason"]
    local = table[table["feature"] == "one_area"]
    assert len(local) == 1 and local["fit_note"].str.contains("fewer than two areas").all()
    assert np.isfinite(table.loc[table["feature"] == "one_item", "score"]).all()


def test_survey_without_agency_column_is_input_error(demo):
    survey, codebook, _, _ = demo
    with pytest.raises(InputError, match="agency"):
        area_scores(survey.drop(columns="agency"), codebook)


def test_chained_equations_pmm_is_statsmodels_mice_on_arrays():
    """Same seed, same imputations as statsmodels' MICEData (continuous data: no tied predictions)."""
    from statsmodels.imputation.mice import MICEData
    from pipeline.measurement.missing import chained_equations_pmm
    rng = np.random.default_rng(1)
    z = rng.normal(size=300)
    values = np.column_stack([3 + z + rng.normal(size=300) * s for s in (0.6, 0.8, 1.0, 1.2)])
    values[rng.random(values.shape) < 0.15] = np.nan
    values = values[~np.all(np.isnan(values), axis=1)]
    ours = chained_equations_pmm(values, n_burnin=2, n_imputations=2, rng=np.random.default_rng(7))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = MICEData(pd.DataFrame(values, columns=[f"x{i}" for i in range(4)]), rng=np.random.default_rng(7))
        reference.update_all(2)
        theirs = []
        for _ in range(2):
            reference.update_all(1)
            theirs.append(reference.data.to_numpy(dtype=float))
    assert len(ours) == 2
    for mine, other in zip(ours, theirs):
        np.testing.assert_array_equal(mine, other)
    observed = values[~np.isnan(values)]
    imputed = ours[0][np.isnan(values)]
    assert np.isin(imputed, observed).all()  # predictive mean matching: donors' observed values only


# ---------------------------------------------------------------- omega: statsmodels' factor model
def test_omega_matches_closed_form_on_demo_data_to_1e8():
    """Every 3-item feature of the shipped demo survey: the one-factor ML model is exactly identified, so
    omega has a closed form (loadings^2 = r_ij r_ik / r_jk); statsmodels' Factor must reach it to 1e-8."""
    from pipeline.clean import clean_kind
    from pipeline.measurement.reliability import mcdonald_omega

    result = clean_kind("survey")
    checked = 0
    for feature, items in feature_items(result.codebook, result.clean).items():
        values = result.clean[items].to_numpy(dtype=float)
        values = values[~np.all(np.isnan(values), axis=1)]
        if values.shape[1] != 3:
            continue
        r = pd.DataFrame(values).corr().to_numpy()
        lam2 = np.array([r[0, 1] * r[0, 2] / r[1, 2], r[0, 1] * r[1, 2] / r[0, 2], r[0, 2] * r[1, 2] / r[0, 1]])
        omega, note = mcdonald_omega(values)
        assert abs(omega - (1 - (1 - lam2).sum() / r.sum())) < 1e-8, (feature, note)
        checked += 1
    assert checked, "no 3-item feature in the demo survey"


def test_omega_agrees_with_factor_analyzer_it_replaced():
    """On the correlation matrices of the demo data recorded with factor_analyzer 0.5.1's omegas: equal up to
    that library's own optimiser tolerance (its values are up to 3.2e-7 from the closed form)."""
    import json
    from pathlib import Path

    from pipeline.measurement.reliability import one_factor_uniquenesses

    ref = json.loads((Path(__file__).parent / "data" / "omega_factor_analyzer_0.5.1.json").read_text())
    for feature, old in ref["omega"].items():
        corr = np.asarray(ref["corr"][feature])
        new = 1 - one_factor_uniquenesses(corr).sum() / corr.sum()
        assert abs(new - old) < 5e-7, feature
