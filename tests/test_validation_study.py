"""The study's method wiring: the generator's design per cell, the truth, one whole-path replicate, the stage."""
from __future__ import annotations


import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline import paths
from pipeline.validation import dask_runner, design, performance, study

simulate = pytest.importorskip("pipeline.simulate")
OPTIONS = dict(n_permutations=19, level_year=2018, baseline_year=2014)


def test_generator_design_translates_fraction_of_mde():
    null = study.generator_design(design.Cell(0.05, 0.0, True, False), target_r_per_mde=0.45)
    assert null.effect_scale == 0 and null.icc1_target == 0.05 and null.informative_nonresponse
    assert simulate.planted_effects(null) == []
    half = study.generator_design(design.Cell(0.2, 0.5, False, True), target_r_per_mde=0.45)
    assert half.strong_partial_r == pytest.approx(0.225) and half.moderate_partial_r == pytest.approx(0.225)
    assert half.unmeasured_confounder and not half.informative_nonresponse
    effects = simulate.planted_effects(half)
    assert effects and all(e["target_latent_partial_r"] == pytest.approx(0.225) for e in effects)
    with pytest.raises(ValueError, match="correlation"):
        study.generator_design(design.Cell(0.1, 3.0, False, False), target_r_per_mde=0.45)


def test_truth_table_periods_follow_first_year():
    truth = {"features": ["f1", "f2"], "measures": ["m1", "m2"],
             "planted_effects": [{"feature": "f1", "measure": "m1", "effect_per_sd": 2.0, "from_year": 2012,
                                  "target_latent_partial_r": 0.4},
                                 {"feature": "f2", "measure": "m2", "effect_per_sd": -1.0, "from_year": 2016,
                                  "target_latent_partial_r": 0.4}],
             "implied_slopes": [{"feature": f, "measure": m, "implied_adjusted_slope_per_sd": s}
                                for f, m, s in [("f1", "m1", 2.2), ("f1", "m2", 0.1), ("f2", "m1", 0.3),
                                                ("f2", "m2", -1.1)]],
             "attenuation": {"realised_corr_mean_trait": {"f1": 0.8, "f2": 0.5}}}
    t = study.truth_table(truth, level_year=2018, baseline_year=2014).set_index(
        ["feature", "outcome", "outcome_period"])
    assert t.loc[("f1", "m1", "level"), "truth"] == 2.0
    assert t.loc[("f1", "m1", "change"), "truth"] == 0.0  # started before the baseline: cancels in the change
    assert t.loc[("f2", "m2", "change"), "truth"] == -1.0  # started between baseline and level year
    assert t.loc[("f2", "m1", "level"), "truth"] == 0.0
    assert t.loc[("f2", "m1", "level"), "truth_associational"] == pytest.approx(0.3)
    assert t.loc[("f1", "m1", "level"), "truth_attenuated"] == pytest.approx(2.2 * 0.8)
    assert t.loc[("f1", "m2", "level"), "truth_r"] == 0.0


@pytest.fixture(scope="module")
def strong_replicate():
    """One replicate with planted effects of twice the MDE (latent partial r 0.9)."""
    cell = design.Cell(0.2, 2.0, False, False)
    seed = design.replicate_seed(5, cell, 0)
    return cell, study.whole_path_replicate(cell, seed, target_r_per_mde=0.45, **OPTIONS)


def test_whole_path_replicate_rows_and_truth(strong_replicate):
    cell, out = strong_replicate
    assert set(out["inference"]) == {"freedman_lane B=19", "hc3_t"}
    primary = out[out["inference"] == "freedman_lane B=19"]
    assert not primary.duplicated(["model", "estimand", "feature", "outcome", "outcome_period"]).any()
    assert set(primary["estimand"]) <= {"latent", "measured"} and "measured" in set(primary["estimand"])
    assert primary["p_value"].min() >= 1 / 20  # permutation p-values: (1 + count) / (B + 1)
    assert out["truth"].notna().all() and out["p_adjusted"].notna().all()
    planted = primary[primary["truth"] != 0]
    assert len(planted) >= 1 and set(planted["outcome_period"]) == {"level"}
    # the planted effects are large: the estimates must have their sign and most must be detected
    assert (np.sign(planted["estimate"]) == np.sign(planted["truth"])).all(), planted
    hc3 = out[(out["inference"] == "hc3_t") & (out["truth"] != 0)]
    assert (hc3["p_value"] < 0.05).mean() >= 0.5, hc3
    assert (out["ci_low"] <= out["estimate"]).all() and (out["estimate"] <= out["ci_high"]).all()
    # each family adjusted within its own estimand: the hc3 copy's adjusted p equals the stage's multiplicity code
    from pipeline.estimation import multiplicity
    for _, g in hc3_all(out).groupby("estimand"):
        again = multiplicity.adjust(g.drop(columns="p_adjusted"))
        np.testing.assert_allclose(again["p_adjusted"].to_numpy(float), g["p_adjusted"].to_numpy(float))


def hc3_all(out):
    return out[out["inference"] == "hc3_t"]


def test_whole_path_replicate_is_deterministic(strong_replicate):
    cell, out = strong_replicate
    again = study.whole_path_replicate(cell, design.replicate_seed(5, cell, 0), target_r_per_mde=0.45, **OPTIONS)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), again.reset_index(drop=True))


def test_boundary_fit_feature_is_not_estimable_not_a_failed_replicate():
    """Regression (issue 6): replicate 4 of ICC(1) 0.05, effect MDE/2 (study seed 1903) used to raise
    'a feature is collinear with the covariates': the adjusted score of 'barriers' is fitted at the
    boundary (area variance 0), so it is constant across areas but for rounding. Now the replicate
    runs and that feature's pairs are recorded as not estimable, with the stage's reason."""
    cell = design.Cell(0.05, 0.5, False, False)
    out = dask_runner.run_batch(study.whole_path_replicate, cell, [4], 1903,
                                dict(target_r_per_mde=0.4489801816318309, **OPTIONS))
    assert set(out["status"]) == {"ok", "not_estimable"}
    bad = out[out["status"] == "not_estimable"]
    assert set(bad["feature"]) == {"barriers"} and bad["estimate"].isna().all() and bad["p_value"].isna().all()
    measured = bad["estimand"] == "measured"
    assert bad.loc[measured, "error"].str.contains("not estimable: feature constant across areas").all()
    # the latent rows (when the estimator has them) give the measurement model's reason
    assert bad.loc[~measured, "error"].str.contains("not estimable: area variance estimated at zero").all()
    good = out[out["status"] == "ok"]
    assert good["estimate"].notna().all() and good["error"].isna().all()
    assert len(bad) == len(out[out["feature"] == "governance"])  # every pair of that feature, both inferences


def test_tiny_study_end_to_end_with_cache(tmp_path, monkeypatch):
    # the code hash is pinned here: other engineers edit pipeline/ while tests run (cache keying by the
    # real hash is tested in test_validation_harness and by test_code_version_tracks_result_code)
    monkeypatch.setattr(design, "code_version", lambda extra_files=None: "pinnedhash00")
    cells = design.design_cells([0.1], [0.0], [False], [False], n_replicates=2)
    options = dict(target_r_per_mde=0.45, **OPTIONS)
    results, log, info = dask_runner.run_validation(cells, study.whole_path_replicate, seed=3, options=options,
                                                    cache_dir=tmp_path, scheduler=None, n_workers=1, progress=False)
    assert (results["status"] == "ok").all() and results["replicate"].nunique() == 2
    assert info["n_workers"] == 1 and info["code_version"] == "pinnedhash00"
    cell_perf = performance.performance_by_family(results)
    assert {"fwer", "fdr", "coverage", "type1_error_per_test"} <= set(cell_perf["measure"])
    again, log2, info2 = dask_runner.run_validation(cells, study.whole_path_replicate, seed=3, options=options,
                                                    cache_dir=tmp_path, progress=False)
    assert log2["cached"].all() and info2["n_workers"] is None  # nothing run, no cluster started
    pd.testing.assert_frame_equal(results, again)
    # the computing run's time survives the cached rerun, for these settings only
    timing = dask_runner.read_study_time(tmp_path, info2["settings_hash"])
    assert timing["replicates_computed"] == 2 and timing["n_workers"] == 1 and timing["seconds"] > 0
    assert dask_runner.read_study_time(tmp_path, "othersettings") is None


def test_notebook_parameters_equal_params_yaml():
    nb = nbformat.read(paths.NOTEBOOKS / "06_validation.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(not c.get("outputs") for c in code), "commit the notebook without outputs"
    namespace: dict = {}
    exec(code[0].source, {}, namespace)
    params = yaml.safe_load(paths.PARAMS.read_text(encoding="utf-8"))
    assert set(params["validate"]) <= set(namespace), "every validate param needs a default in the notebook"
    # papermill injects the whole estimate group too: the parameters cell declares every key it injects
    assert set(params["estimate"]) <= set(namespace), "every estimate param needs a default in the notebook"
    expected = {**params["validate"], **params["estimate"]}
    for key, value in namespace.items():
        assert key in expected and expected[key] == value, key
    assert "report.banner" in code[1].source and "report.footer(stage=\"validate\")" in code[-1].source
    assert "plt.show" not in "".join(c.source for c in code)


def test_validation_stage_is_outside_the_default_pipeline():
    main = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    assert "validate" not in main["stages"]
    stage = yaml.safe_load((paths.ROOT / "validation" / "study.yaml").read_text(encoding="utf-8"))["stages"]["validate"]
    assert stage["wdir"] == ".." and set(stage["params"]) == {"validate", "estimate"}
    assert "notebooks/06_validation.ipynb" in stage["deps"] and "reports/validation.html" in stage["outs"]
    for dep in stage["deps"]:
        assert (paths.ROOT / dep).exists(), dep
    assert "--section validate --section estimate" in stage["cmd"]


def test_code_version_tracks_result_code(tmp_path, monkeypatch):
    """The cache key changes with the code that makes the numbers, not with presentation code."""
    fake_root = tmp_path / "repo"
    for rel in ["pipeline/simulate.py", "pipeline/clean/survey.py", "pipeline/report.py", "pipeline/warm_kernel.py",
                "pipeline/validation/performance.py", "pipeline/validation/summary.py", "pipeline/validation/study.py",
                "pipeline/publish/x.py"]:
        (fake_root / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake_root / rel).write_text("# v1\n")
    (fake_root / "data/raw/reference").mkdir(parents=True)
    monkeypatch.setattr(paths, "ROOT", fake_root)
    monkeypatch.setattr(paths, "RAW_REFERENCE", fake_root / "data/raw/reference")
    base = design.code_version()
    for rel, changes in [("pipeline/report.py", False), ("pipeline/publish/x.py", False),
                         ("pipeline/warm_kernel.py", False), ("pipeline/validation/summary.py", False),
                         ("pipeline/validation/performance.py", False), ("pipeline/clean/survey.py", True),
                         ("pipeline/simulate.py", True), ("pipeline/validation/study.py", True)]:
        (fake_root / rel).write_text("# v2\n")
        now = design.code_version()
        assert (now != base) == changes, rel
        base = now


def test_study_options_cover_every_setting_of_the_replicate():
    """The benchmark and the report run a replicate with the same settings from params.yaml."""
    import inspect

    params = yaml.safe_load(paths.PARAMS.read_text(encoding="utf-8"))
    opts = study.study_options(params["validate"], params["estimate"], 0.45, [{"feature": "a", "outcome": "b"}])
    wanted = {name for name, p in inspect.signature(study.whole_path_replicate).parameters.items()
              if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(opts) == wanted
    assert opts["n_permutations"] == params["validate"]["study_n_permutations"]
    assert opts["level_year"] == params["estimate"]["level_year"]
