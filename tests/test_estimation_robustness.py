"""Estimation sensitivity analyses: panel, influence, specification curve, response check, outputs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from pipeline.errors import InputError
from pipeline.estimation import design, estimate_associations, outputs, panel, prepare, robustness
from tests.builders import estimation as fixtures


@pytest.fixture(scope="module")
def data():
    return fixtures.synthetic_inputs(seed=11, n_features=3, n_measures=3)


@pytest.fixture(scope="module")
def prep(data):
    return prepare(data["area_features"], data["outcomes"], data["covariates"], data["reference"],
                   level_year=2018, baseline_year=2014)


def test_panel_twfe_equals_statsmodels_dummies_with_cluster(data, prep):
    yearly = design.aggregate_outcomes(data["outcomes"])
    est = panel.panel_associations(prep.features, yearly, survey_year=2015)
    row = est[(est["model"] == "panel_twfe_post")].iloc[0]
    d = yearly[yearly["measure"] == row["outcome"]].copy()
    x = prep.features[row["feature"]]
    d["x"] = d["lcjp_id"].map((x - x.mean()) / x.std(ddof=1))
    d = d.dropna(subset=["x", "value"])
    d["xpost"] = d["x"] * (d["year"] > 2015)
    fit = smf.ols("value ~ xpost + C(lcjp_id) + C(year)", d).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(d["lcjp_id"])[0]})
    assert row["estimate"] == pytest.approx(fit.params["xpost"], rel=1e-8)
    assert row["se_cluster"] == pytest.approx(fit.bse["xpost"], rel=1e-6)
    assert set(est["model"]) == {"panel_twfe_post", "panel_placebo_pre"}


def test_influence_summary_names_the_area_that_moves_the_estimate(prep):
    infl = robustness.influence_table(prep)
    assert {"lcjp_id", "estimate_without", "change", "leverage", "cooks_distance"} <= set(infl.columns)
    summ = robustness.influence_summary(infl)
    one = infl[(infl["feature"] == summ.iloc[0]["feature"]) & (infl["outcome"] == summ.iloc[0]["outcome"])
               & (infl["outcome_period"] == summ.iloc[0]["outcome_period"])]
    assert summ.iloc[0]["most_influential_area"] == one.loc[one["change"].abs().idxmax(), "lcjp_id"]
    assert summ.iloc[0]["loo_min"] <= one["estimate"].iloc[0] <= summ.iloc[0]["loo_max"]


def test_specification_curve_covers_every_choice(data):
    af = data["area_features"].assign(aggregation_ok=lambda d: d["lcjp_id"] != "kent")
    spec = robustness.specification_curve(af, data["outcomes"], data["covariates"], data["reference"],
                                          n_permutations=99, seed=1, level_year=2018, baseline_year=2014)
    per_pair = spec.groupby(["feature", "outcome"]).size()
    assert (per_pair == 3 * 2 * 2 * 2).all()
    assert set(spec["areas"]) == {"all", "aggregation_ok only"}
    assert spec.loc[spec["areas"] == "aggregation_ok only", "n_areas"].max() < spec["n_areas"].max()


def test_response_rate_check_uses_the_same_estimator(data):
    rr = panel.response_rate_features(data["response_rates"])
    est = estimate_associations(rr, data["outcomes"], data["covariates"], data["reference"], n_permutations=99,
                                seed=1, level_year=2018, baseline_year=2014)
    assert set(est["feature"]) == {"response_rate"} and len(est) == 2 * 3
    with pytest.raises(InputError, match="response_rates.csv"):
        panel.response_rate_features(data["response_rates"].drop(columns="response_rate"))


def test_unusual_names_missing_outcomes_and_explicit_covariates(data):
    af = data["area_features"].copy()
    af["feature"] = af["feature"].map({"feat_a": "Clarté des rôles", "feat_b": "shared data & targets",
                                       "feat_c": "x", "feat_dropped": "feat_dropped"})
    oc = data["outcomes"].copy()
    oc["measure"] = oc["measure"].str.replace("measure_", "Measure №")
    # one outcome unobserved in two areas: a second design block
    oc = oc[~((oc["measure"] == "Measure №2") & oc["lcjp_id"].isin(["kent", "essex"]))]
    est = estimate_associations(af, oc, data["covariates"], data["reference"], n_permutations=99, seed=3,
                                level_year=2018, baseline_year=2014, covariates_spec=["deprivation index"])
    assert set(est["feature"]) == {"Clarté des rôles", "shared data & targets", "x"}
    assert est.loc[est["outcome"] == "Measure №2", "n_areas"].max() == 40
    assert est.loc[est["outcome"] != "Measure №2", "n_areas"].min() == 42   # no multi-force indicator here
    assert est["covariates"].eq("deprivation_index").all()
    with pytest.raises(InputError, match="covariate 'crime' is not available"):
        estimate_associations(af, oc, data["covariates"], data["reference"], n_permutations=0, seed=3,
                              level_year=2018, baseline_year=2014, covariates_spec=["crime"])


def test_wild_bootstrap_method_runs_and_brackets_the_estimate(data):
    est = estimate_associations(data["area_features"], data["outcomes"], data["covariates"], data["reference"],
                                n_permutations=199, seed=2, level_year=2018, baseline_year=2014, method="wild_webb")
    assert est["p_method"].str.contains("Webb").all()
    assert ((est["ci_low"] < est["estimate"]) & (est["estimate"] < est["ci_high"])).all()


def test_metrics_are_computed_and_deterministic(data):
    kw = dict(n_permutations=99, seed=4, level_year=2018, baseline_year=2014)
    est = estimate_associations(data["area_features"], data["outcomes"], data["covariates"], data["reference"], **kw)
    combined = outputs.combine(est)
    m1 = outputs.metrics(combined)
    m2 = outputs.metrics(outputs.combine(estimate_associations(
        data["area_features"], data["outcomes"], data["covariates"], data["reference"], **kw)))
    assert m1 == m2
    assert m1["n_pairs"] == len(est) and m1["n_discoveries_q05"] == int((est["p_adjusted"] < 0.05).sum())
    assert m1["strongest"][0]["p_value"] == pytest.approx(est["p_value"].min(), rel=1e-5)
    assert "provenance" not in m1  # statistics only (issue 18): the record is a file of its own


def test_confounding_benchmarks_are_partial_r2_of_the_strongest_covariate(prep):
    import statsmodels.api as sm
    bench = robustness.confounding_benchmarks(prep)
    row = bench.iloc[0]
    blk = [b for b in __import__("pipeline.estimation.associations", fromlist=["_blocks"])._blocks(
        prep, prep.cov.table[prep.cov.auto], list(prep.features.columns)) if b["period"] == row["outcome_period"]][0]
    j = blk["znames"].index(row["strongest_covariate"])
    x = prep.features.loc[blk["idx"], row["feature"]].to_numpy(float)
    y = prep.targets[row["outcome_period"]].loc[blk["idx"], row["outcome"]].to_numpy(float)
    t_y = sm.OLS(y, np.column_stack([blk["Z"], x])).fit().tvalues[j]
    t_x = sm.OLS(x, blk["Z"]).fit()
    assert row["covariate_r2_outcome"] == pytest.approx(t_y ** 2 / (t_y ** 2 + len(y) - blk["Z"].shape[1] - 1))
    assert row["covariate_r2_feature"] == pytest.approx(t_x.tvalues[j] ** 2 / (t_x.tvalues[j] ** 2 + t_x.df_resid))
