"""Issue 14: the latent-trait estimand, verdicts from TOST, MDE at the adjusted alpha, the measurement gate,
London (a multi-force area) kept in, the joint fit, and no import cycle in pipeline.estimation."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import paths
from pipeline.estimation import design, joint, latent, power, verdicts
from pipeline.estimation.associations import estimate_associations, prepare

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------------
# builders (test data lives with the tests)
# ---------------------------------------------------------------------------------------------------------

def _reference() -> pd.DataFrame:
    return pd.read_csv(paths.FORCES_CSV, dtype={"pfa_code": "string"})


def _measurement_world(seed: int, *, icc: float = 0.15, beta: float = 2.0, n_resp=(4, 14), n_agencies: int = 5,
                       covariate_loading: float = 0.5):
    """Respondent scores, area scores (naive BLUP-free means), an outcome and one covariate for 42 areas.

    Latent trait T ~ N(0, 1) (marginal SD 1) partly explained by a covariate z; respondents' scores are
    3 + sqrt(icc) T + agency + noise (total SD about 1); the outcome is 50 + beta T + z + e. The truth per SD
    of the latent trait is ``beta``.
    """
    rng = np.random.default_rng(seed)
    ref = _reference()
    areas = sorted(ref["lcjp_id"].astype(str).unique())
    n = len(areas)
    z = rng.normal(0, 1, n)
    T = covariate_loading * z + np.sqrt(1 - covariate_loading ** 2) * rng.normal(0, 1, n)
    agency_effect = np.linspace(-0.3, 0.3, n_agencies)
    rows = []
    for i, a in enumerate(areas):
        k = int(rng.integers(n_resp[0], n_resp[1] + 1))
        ag = rng.integers(0, n_agencies, k)
        s = 3 + np.sqrt(icc) * T[i] + agency_effect[ag] + rng.normal(0, np.sqrt(1 - icc), k)
        rows += [{"response_id": f"{a}-{j}", "lcjp_id": a, "agency": f"agency{g}", "feature": "trait", "score": v}
                 for j, (g, v) in enumerate(zip(ag, s))]
    resp = pd.DataFrame(rows)
    means = resp.groupby("lcjp_id")["score"].mean().reindex(areas)
    area_features = pd.DataFrame({"lcjp_id": areas, "feature": "trait", "score": means.to_numpy(),
                                  "decision": "kept"})
    y = 50 + beta * T + 1.0 * z + rng.normal(0, 1.0, n)
    outcomes = pd.DataFrame({"lcjp_id": areas, "measure": "outcome_a", "year": 2018, "value": y,
                             "numerator": np.nan, "denominator": np.nan, "period_type": "calendar_year"})
    covariates = pd.DataFrame({"lcjp_id": areas, "year": 2014, "variable": "zcov", "value": z})
    measures = pd.DataFrame({"measure": ["outcome_a"], "unit": ["points"], "higher_is_better": [True]})
    return dict(respondents=resp, area_features=area_features, outcomes=outcomes, covariates=covariates,
                measures=measures, reference=ref, beta=beta)


def _fit(world, *, n_permutations=0, covariates_spec=("zcov",), respondents=True, **kw):
    return estimate_associations(world["area_features"], world["outcomes"], world["covariates"], world["reference"],
                                 n_permutations=n_permutations, seed=1, level_year=2018, baseline_year=2014,
                                 periods=("level",), covariates_spec=list(covariates_spec),
                                 measures=world["measures"], respondents=world["respondents"] if respondents else None,
                                 **kw)


# ---------------------------------------------------------------------------------------------------------
# estimand and estimator
# ---------------------------------------------------------------------------------------------------------

def test_latent_rows_recover_the_planted_slope_where_measured_rows_are_attenuated():
    latent_est, measured_est = [], []
    for seed in range(20):
        est = _fit(_measurement_world(seed))
        by = est.set_index("estimand")["estimate"]
        latent_est.append(by["latent"])
        measured_est.append(by["measured"])
    beta = 2.0
    lat, mea = np.mean(latent_est) / beta, np.mean(measured_est) / beta
    mcse = np.std(latent_est, ddof=1) / np.sqrt(len(latent_est)) / beta
    assert abs(lat - 1) < max(0.10, 3 * mcse), (lat, mcse)
    assert mea < 0.85            # the naive per-SD-of-score slope is attenuated (reliability well below 1)
    assert lat - mea > 0.15


def test_latent_interval_covers_and_is_widened_for_the_measurement_model():
    covered, widened, n_rep = 0, 0, 0
    for seed in range(100, 125):
        est = _fit(_measurement_world(seed, icc=0.15), n_permutations=99)
        row = est[est["estimand"] == "latent"].iloc[0]
        if pd.isna(row["estimate"]):        # REML area variance at zero: not estimable (tested below)
            continue
        n_rep += 1
        covered += row["ci_low"] <= 2.0 <= row["ci_high"]
        widened += row["se_measurement"] > 0
    assert n_rep >= 22 and widened == n_rep
    assert covered / n_rep >= 0.85      # nominal 95 %; a broken (unwidened, attenuated) interval falls far below


def test_measured_rows_do_not_depend_on_the_latent_rows():
    world = _measurement_world(3)
    with_latent = _fit(world, n_permutations=99)
    without = _fit(world, n_permutations=99, respondents=False)
    assert set(without["estimand"]) == {"measured"}
    a = with_latent[with_latent["estimand"] == "measured"].reset_index(drop=True)
    cols = ["estimate", "ci_low", "ci_high", "p_value", "se_hc3", "n_areas", "p_adjusted"]
    pd.testing.assert_frame_equal(a[cols], without[cols])
    assert (with_latent["estimand_label"] == with_latent["estimand"].map(latent.ESTIMAND_LABELS)).all()


def test_zero_area_variance_feature_is_not_estimable_with_its_reason():
    world = _measurement_world(5)
    # every area has the same answers from the same agencies: no between-area variance at all
    pattern = np.array([2.0, 3.0, 4.0, 3.0, 2.5, 3.5])
    resp = world["respondents"].groupby("lcjp_id").head(len(pattern)).copy()
    resp = resp[resp.groupby("lcjp_id")["score"].transform("size") == len(pattern)]
    resp["score"] = np.tile(pattern, len(resp) // len(pattern))
    resp["agency"] = np.tile([f"agency{k % 3}" for k in range(len(pattern))], len(resp) // len(pattern))
    world["respondents"] = resp
    cal = latent.calibrate(resp, pd.DataFrame({"zcov": world["covariates"].set_index("lcjp_id")["value"]}))
    assert cal["trait"].lam == 0 and not cal["trait"].ok
    est = _fit(world)
    row = est[est["estimand"] == "latent"].iloc[0]
    assert row["verdict"] == "not estimable"
    assert "area variance estimated at zero" in row["note"]
    assert "area variance estimated at zero" in row["verdict_reason"]


def test_delta_method_variance_matches_the_curvature_of_a_quadratic():
    from pipeline.measurement.mixed import RemlProfile

    class Quadratic(RemlProfile):
        def at(self, lam):
            x = np.log(lam)
            return (4.0 * (x - 0.3) ** 2, None, None, None, None)

    q = Quadratic(*(None,) * 8)
    # -2 l = 4 (x - x0)^2  =>  information 0.5 * 8 = 4  =>  var = 0.25
    assert q.var_log_lambda(np.exp(0.3)) == pytest.approx(0.25, rel=1e-6)


# ---------------------------------------------------------------------------------------------------------
# verdicts, TOST and MDE at the adjusted alpha
# ---------------------------------------------------------------------------------------------------------

def _rows(est, lo, hi, p, family="exploratory", df=30, outcome="o1", estimand="latent"):
    n = len(est)
    return pd.DataFrame({"feature": [f"f{i}" for i in range(n)], "outcome": outcome, "estimate": est,
                         "ci_low": lo, "ci_high": hi, "p_value": p, "df_resid": df, "family": family,
                         "estimand": estimand, "note": "", "unit": "points"})


def _decided(rows, sesoi, alpha=0.05):
    from pipeline.estimation import multiplicity
    rows = multiplicity.adjust(rows)
    return verdicts.decide(rows, alpha=alpha, power_level=0.8, sesoi=sesoi)


def test_tost_gives_equivalence_only_when_the_90_interval_is_inside_the_margin():
    # one test per family (no adjustment): tight interval around 0.1 with SESOI 1 -> equivalence
    out = _decided(_rows([0.1], [-0.3], [0.5], [0.6]), {"o1": 1.0})
    assert out["verdict"].iloc[0] == "no association of at least SESOI"
    assert out["ci90_high"].iloc[0] < 1.0 and out["ci90_low"].iloc[0] > -1.0
    # same row, SESOI 0.4: the 90 % interval reaches beyond it -> not detected, with the MDE in the reason
    out = _decided(_rows([0.1], [-0.3], [0.5], [0.6]), {"o1": 0.4})
    assert out["verdict"].iloc[0] == "not detected"
    assert "detectable effect = " in out["verdict_reason"].iloc[0]
    # no SESOI registered: never equivalence
    out = _decided(_rows([0.0], [-0.01], [0.01], [0.9]), {})
    assert out["verdict"].iloc[0] == "not detected" and np.isnan(out["p_tost"].iloc[0])
    # small |t| with a wide interval is not evidence of absence
    out = _decided(_rows([0.05], [-3.0], [3.1], [0.97]), {"o1": 1.0})
    assert out["verdict"].iloc[0] == "not detected"


def test_tost_is_multiplicity_adjusted_like_the_rest():
    # 20 rows each with unadjusted TOST p about 0.03: BH over 20 keeps them (all equal p); Holm would not
    se = 1.0 / 2.0                       # interval half-width t * se, 30 df
    from scipy import stats
    t = stats.t.ppf(0.975, 30)
    s = 1.0
    est = s - stats.t.ppf(1 - 0.03, 30) * se          # p_upper = 0.03, p_lower tiny
    rows = _rows([est] * 20, [est - t * se] * 20, [est + t * se] * 20, [0.5] * 20, family="confirmatory")
    out = _decided(rows, {"o1": s})
    assert out["p_tost"].iloc[0] == pytest.approx(0.03, rel=1e-6)
    assert (out["p_tost_adjusted"] > 0.05).all()      # Holm over 20
    assert (out["verdict"] == "not detected").all()
    single = _decided(rows.iloc[:1], {"o1": s})
    assert single["verdict"].iloc[0] == "no association of at least SESOI"


def test_associated_needs_the_adjusted_p_and_says_why_not_otherwise():
    rows = _rows([1.0] * 6, [0.1] * 6, [1.9] * 6, [0.02] * 6, family="confirmatory")
    out = _decided(rows, {"o1": 0.5})
    assert (out["verdict"] == "not detected").all()                 # Holm: 0.02 x 6 > 0.05
    assert "excludes zero" in out["verdict_reason"].iloc[0]
    one = _decided(rows.iloc[:1], {"o1": 0.5})
    assert one["verdict"].iloc[0] == "associated"
    nan = _decided(_rows([np.nan], [np.nan], [np.nan], [np.nan]).assign(note="not estimable: feature constant"), {})
    assert nan["verdict"].iloc[0] == "not estimable" and "feature constant" in nan["verdict_reason"].iloc[0]
    assert set(out["verdict"]) <= set(verdicts.VERDICTS)


def test_mde_is_at_the_alpha_of_the_decision():
    rows = _rows([0.0] * 6, [-1.0] * 6, [1.0] * 6, np.linspace(0.1, 0.9, 6), family="confirmatory", df=35)
    out = _decided(rows, {"o1": 0.5})
    assert np.allclose(out["alpha_decision"], 0.05 / 6)
    assert (out["adjustment"] == "holm").all()
    ratio = out["mde"] / out["mde_unadjusted"]
    expected = np.sqrt(power.mde_noncentrality(35, 0.05 / 6, 0.8) / power.mde_noncentrality(35, 0.05, 0.8))
    assert ratio.iloc[0] == pytest.approx(expected)
    assert 1.2 < expected < 1.35
    se = 1.0 / __import__("scipy").stats.t.ppf(0.975, 35)
    assert out["mde_unadjusted"].iloc[0] == pytest.approx(se * np.sqrt(power.mde_noncentrality(35, 0.05, 0.8)))
    expl = _decided(_rows([0.0] * 10, [-1.0] * 10, [1.0] * 10, [0.5] * 10), {})
    assert np.allclose(expl["alpha_decision"], 0.005) and (expl["adjustment"] == "fdr_bh").all()


def test_equivalence_is_only_claimed_on_the_latent_scale():
    rows = pd.concat([_rows([0.1], [-0.3], [0.5], [0.6], estimand="latent"),
                      _rows([0.1], [-0.3], [0.5], [0.6], estimand="measured")], ignore_index=True)
    out = _decided(rows, {"o1": 1.0}).set_index("estimand")
    assert out.loc["latent", "verdict"] == "no association of at least SESOI"
    assert out.loc["measured", "verdict"] == "not detected" and np.isnan(out.loc["measured", "sesoi"])
    assert "latent-trait scale only" in out.loc["measured", "verdict_reason"]


def test_families_are_per_estimand():
    a = _rows([1.0] * 3, [0.1] * 3, [1.9] * 3, [0.01, 0.02, 0.03], family="confirmatory", estimand="latent")
    b = a.assign(estimand="measured")
    out = _decided(pd.concat([a, b], ignore_index=True), {})
    assert np.allclose(out["alpha_decision"], 0.05 / 3)
    assert out.loc[out["estimand"] == "latent", "p_holm"].tolist() == pytest.approx([0.03, 0.04, 0.04])


# ---------------------------------------------------------------------------------------------------------
# the measurement gate
# ---------------------------------------------------------------------------------------------------------

def _survey(seed=2, n_areas=30, area_sd=0.6):
    rng = np.random.default_rng(seed)
    rows, codebook = [], []
    feats = {"good": area_sd, "noise": 0.0}
    items = {f: [f"{f}_{k}" for k in range(3)] for f in feats}
    for a in range(n_areas):
        effects = {f: rng.normal(0, sd) for f, sd in feats.items()}
        for r in range(int(rng.integers(5, 12))):
            row = {"response_id": f"r{a}_{r}", "lcjp_id": f"area{a:02d}", "agency": f"ag{r % 3}"}
            for f in feats:
                person = rng.normal(0, 0.5)
                for it in items[f]:
                    if f == "noise":
                        row[it] = float(rng.integers(1, 6))
                    else:
                        row[it] = float(np.clip(np.rint(3 + effects[f] + person + rng.normal(0, 0.4)), 1, 5))
            rows.append(row)
    survey = pd.DataFrame(rows)
    for c in ("response_id", "lcjp_id", "agency"):
        survey[c] = survey[c].astype("string")
    codebook = pd.DataFrame([{"item": i, "feature": f, "text": i, "reverse": False} for f in items for i in items[f]])
    return survey, codebook


def test_gate_fails_a_feature_without_agreement_or_area_variance_and_says_why():
    from pipeline.measurement import area_features, feature_quality
    survey, codebook = _survey()
    q = feature_quality(survey, codebook, with_omega=False, agreement_draws=99, seed=1).set_index("feature")
    assert q.loc["good", "gate_passed"] and q.loc["good", "agreement_p"] < 0.05
    assert not q.loc["noise", "gate_passed"]
    reason = q.loc["noise", "gate_reason"]
    assert "alpha" in reason or "random groups" in reason or "ICC(1)" in reason
    assert q.loc["noise", "decision"] == "kept with warning"
    assert "referent-shift" in q.loc["good", "composition_model"]
    table = area_features(survey, codebook, quality=q.reset_index(), with_omega=False)
    gate = table.drop_duplicates("feature").set_index("feature")
    assert bool(gate.loc["noise", "gate_passed"]) is False and gate.loc["noise", "gate_reason"] == reason


def test_random_groups_do_not_beat_themselves():
    from pipeline.measurement.agreement import random_group_agreement
    survey, codebook = _survey(seed=4)
    shuffled = survey.copy()
    shuffled["lcjp_id"] = np.random.default_rng(0).permutation(shuffled["lcjp_id"].to_numpy())
    out = random_group_agreement(shuffled, codebook, n_draws=99, seed=3).set_index("feature")
    assert out.loc["good", "agreement_p"] > 0.05       # pseudo-areas: agreement no better than chance
    real = random_group_agreement(survey, codebook, n_draws=99, seed=3).set_index("feature")
    assert real.loc["good", "agreement_p"] <= 0.02


def test_failed_gate_makes_a_confirmatory_row_exploratory():
    world = _measurement_world(8)
    af = world["area_features"].assign(gate_passed=False, gate_reason="ICC(1) 0.010 < 0.05")
    est = estimate_associations(af, world["outcomes"], world["covariates"], world["reference"], n_permutations=0,
                                seed=1, level_year=2018, baseline_year=2014, periods=("level",),
                                covariates_spec=["zcov"], measures=world["measures"],
                                respondents=world["respondents"],
                                confirmatory=[{"feature": "trait", "outcome": "outcome_a"}])
    assert (est["family"] == "exploratory").all()
    assert est["measurement_gate"].str.startswith("failed: ICC(1)").all()
    assert est["note"].str.contains("registered as confirmatory").all()
    passed = estimate_associations(af.assign(gate_passed=True), world["outcomes"], world["covariates"],
                                   world["reference"], n_permutations=0, seed=1, level_year=2018, baseline_year=2014,
                                   periods=("level",), covariates_spec=["zcov"], measures=world["measures"],
                                   confirmatory=[{"feature": "trait", "outcome": "outcome_a"}])
    assert (passed["family"] == "confirmatory").all() and (passed["measurement_gate"] == "passed").all()


# ---------------------------------------------------------------------------------------------------------
# London: a one-area indicator is not a covariate; the plan-vs-run table lists what 'auto' adds
# ---------------------------------------------------------------------------------------------------------

def test_one_area_multi_force_indicator_is_not_in_auto_so_every_area_is_fitted():
    ref = _reference()
    multi = ref.groupby("lcjp_id")["pfa_code"].nunique()
    assert (multi > 1).sum() == 1          # the shipped reference: one partnership spans several forces
    cov = design.area_covariates(None, ref, 2014)
    assert "multi_force_partnership" not in cov.auto
    assert "multi_force_partnership" in cov.table.columns
    assert any("multi_force_partnership" in n for n in cov.notes)
    world = _measurement_world(1)
    est = _fit(world, covariates_spec=["zcov"])
    assert (est["n_areas"] == 42).all() and (est["areas_set_aside"].fillna("") == "").all()
    old = _fit(world, covariates_spec=["zcov", "multi_force_partnership"])
    lone = multi[multi > 1].index[0]
    assert (old["n_areas"] == 41).all() and (old["areas_set_aside"] == lone).all()


def test_two_multi_force_areas_keep_the_indicator():
    ref = _reference()
    areas = sorted(ref["lcjp_id"].unique())
    extra = ref[ref["lcjp_id"] == areas[0]].assign(pfa_code="E99999999")
    cov = design.area_covariates(None, pd.concat([ref, extra], ignore_index=True), 2014)
    assert "multi_force_partnership" in cov.auto


def test_plan_vs_run_lists_covariates_auto_added_beyond_the_plan():
    from pipeline import plan
    p = plan.load_plan()
    registered = p["covariates_registered"]
    same = pd.DataFrame({"model": ["ols"], "covariates": [";".join(registered)]})
    assert plan.covariate_deviations(p, same) == []
    more = pd.DataFrame({"model": ["ols"], "feature": [p["features"][0]], "outcome": [p["outcomes"][0]],
                         "covariates": [";".join(registered + ["multi_force_partnership"])]})
    dev = plan.covariate_deviations(p, more)
    assert len(dev) == 1 and "added: multi_force_partnership" in dev[0]["run"]
    table = plan.plan_vs_run_table(p, params={k: v for k, v in p["settings"].items()}, estimates=more)
    assert (table["setting"] == "covariates (as resolved by the run)").any()


def test_plan_registers_sesoi_for_every_outcome_and_the_area_decision():
    from pipeline import plan
    p = plan.load_plan()
    assert set(p["sesoi"]) == set(p["outcomes"])
    assert all(float(v) > 0 for v in p["sesoi"].values())
    assert p["areas"]["multi_force_partnerships"] in ("include", "set_aside")
    assert p["estimand"] == "latent"


# ---------------------------------------------------------------------------------------------------------
# features together
# ---------------------------------------------------------------------------------------------------------

def _two_feature_world(seed=0):
    w = _measurement_world(seed)
    rng = np.random.default_rng(seed + 1)
    other = w["respondents"].assign(feature="trait_b")
    other["score"] = other["score"] + rng.normal(0, 0.3, len(other))
    w["respondents"] = pd.concat([w["respondents"], other], ignore_index=True)
    means = w["respondents"].groupby(["lcjp_id", "feature"])["score"].mean().rename("score").reset_index()
    w["area_features"] = means.assign(decision="kept")
    return w


def test_joint_fit_equals_ols_with_all_features_and_reports_vif():
    w = _two_feature_world()
    prep = prepare(w["area_features"], w["outcomes"], w["covariates"], w["reference"], level_year=2018,
                   baseline_year=2014, periods=("level",), measures=w["measures"], respondents=w["respondents"])
    out = joint.joint_associations(prep, ["trait", "trait_b"], ["outcome_a"], n_permutations=99, seed=1,
                                   covariates_spec=["zcov"])
    assert list(out.columns) == joint.JOINT_COLUMNS
    m = out[out["estimand"] == "measured"].set_index("feature")
    X = prep.features[["trait", "trait_b"]]
    Xs = ((X - X.mean()) / X.std(ddof=1)).to_numpy()
    z = prep.cov.table.loc[X.index, "zcov"].to_numpy()
    y = prep.targets["level"].loc[X.index, "outcome_a"].to_numpy()
    A = np.column_stack([np.ones(len(y)), z, Xs])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    assert m.loc["trait", "estimate"] == pytest.approx(coef[2], rel=1e-8)
    assert m.loc["trait_b", "estimate"] == pytest.approx(coef[3], rel=1e-8)
    from statsmodels.stats.outliers_influence import variance_inflation_factor
    assert m.loc["trait", "vif"] == pytest.approx(variance_inflation_factor(A, 2), rel=1e-8)
    assert m.loc["trait", "vif"] > 2             # the two features correlate strongly by construction
    assert (out["n_areas"] == 42).all()
    text = joint.separability(out, None, joint.feature_correlations(prep, ["trait", "trait_b"]), estimand="measured")
    assert "trait and trait_b" in text and "variance inflation" in text


# ---------------------------------------------------------------------------------------------------------
# code structure
# ---------------------------------------------------------------------------------------------------------

def _top_level_imports(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
    return {m for m in out if (path.parent / f"{m}.py").exists()}


def test_estimation_package_has_no_import_cycle():
    pkg = ROOT / "pipeline" / "estimation"
    graph = {p.stem: _top_level_imports(p, "estimation") for p in pkg.glob("*.py")}
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(stack + [node, nxt])}")
            if state.get(nxt) is None:
                visit(nxt, stack + [node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])
    assert "robustness" not in graph["associations"]
