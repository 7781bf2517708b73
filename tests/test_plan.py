"""The registered analysis plan, deviations, exploratory labels, blind measurement, the stage graph, what changed."""
from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline import history, paths, plan, provenance
from pipeline.config import load_params
from pipeline.errors import InputError

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}

# Invented names: the library must work with any codebook and measures.
TOY_PLAN = {
    "plan_version": 1,
    "params_group": "fit",
    "features": ["alpha_f", "beta_f", "gamma_f"],
    "outcomes": ["out_x", "out_y"],
    "confirmatory": {"features": ["alpha_f"], "outcomes": ["out_x"], "periods": ["level"], "models": ["ols"]},
    "settings": {"covariates": "auto", "seed": 11, "year": 2018, "trim": {"out_y": False}, "measures": ["out_x", "out_y"]},
}


def _estimates() -> pd.DataFrame:
    rows = [(f, o, m, p) for f in TOY_PLAN["features"] for o in TOY_PLAN["outcomes"]
            for m in ("ols", "ols_region_fe") for p in ("level", "change")]
    df = pd.DataFrame(rows, columns=["feature", "outcome", "model", "outcome_period"])
    df["estimate"] = 0.5
    df["p_value"] = 0.01
    return df


def _run(**changes) -> dict:
    params = {"fit": copy.deepcopy(TOY_PLAN["settings"]), "other": {"seed": 1}}
    params["fit"].update(changes)
    return params


def test_following_the_plan_is_confirmatory_only_inside_the_family():
    assert plan.plan_vs_run_table(TOY_PLAN, _run()).empty
    labelled = plan.label_exploratory(_estimates(), TOY_PLAN, _run())
    confirmatory = labelled[labelled["analysis"] == "confirmatory"]
    assert confirmatory[["feature", "outcome", "model", "outcome_period"]].values.tolist() == [
        ["alpha_f", "out_x", "ols", "level"]]
    assert set(labelled["analysis"]) == {"confirmatory", "exploratory"}
    assert (labelled["deviation"] == "").all()
    sensitivity = labelled[(labelled["model"] == "ols_region_fe") & (labelled["feature"] == "alpha_f")
                           & (labelled["outcome"] == "out_x") & (labelled["outcome_period"] == "level")]
    assert sensitivity["analysis"].tolist() == ["exploratory"]
    assert "not a registered confirmatory model" in sensitivity["analysis_note"].iloc[0]
    # the input is not changed and its columns are kept
    assert list(labelled.columns[:6]) == list(_estimates().columns)


def test_changed_covariate_is_a_deviation_that_makes_every_result_exploratory():
    params = _run(covariates=["log_population", "deprivation"])
    table = plan.plan_vs_run_table(TOY_PLAN, params)
    assert table.to_dict("records") == [{"setting": "covariates", "planned": "auto",
                                         "run": '["log_population", "deprivation"]', "affects": "all results"}]
    labelled = plan.label_exploratory(_estimates(), TOY_PLAN, params)
    assert (labelled["analysis"] == "exploratory").all()
    assert labelled["deviation"].str.contains('covariates: planned auto, run ["log_population"', regex=False).all()


def test_changing_a_covariate_in_params_yaml_without_the_plan(tmp_path):
    """The real plan and params.yaml: edit the estimate group's covariates only."""
    registered = plan.load_plan()
    params = load_params()
    group = registered["params_group"]
    params[group] = dict(params[group])
    planned = registered["settings"]["covariates"]
    params[group]["covariates"] = ["population"] if planned != ["population"] else ["deprivation"]
    edited = tmp_path / "params.yaml"
    edited.write_text(yaml.safe_dump(params), encoding="utf-8")
    table = plan.plan_vs_run_table(registered, load_params(edited))
    assert "covariates" in table["setting"].tolist()
    family = plan.confirmatory_spec(registered)
    estimates = pd.DataFrame({"feature": [e["feature"] for e in family], "outcome": [e["outcome"] for e in family],
                              "outcome_period": [e.get("period", "level") for e in family],
                              "model": (plan.confirmatory_models(registered) or ["any"])[0]})
    labelled = plan.label_exploratory(estimates, registered, load_params(edited))
    assert (labelled["analysis"] == "exploratory").all()
    assert labelled["deviation"].str.contains("covariates: planned", regex=False).all()


def test_per_outcome_setting_touches_only_that_outcome():
    params = _run(trim={"out_y": True})
    table = plan.plan_vs_run_table(TOY_PLAN, params)
    assert table[["setting", "affects"]].values.tolist() == [["trim.out_y", "outcome out_y"]]
    labelled = plan.label_exploratory(_estimates(), TOY_PLAN, params)
    assert labelled.loc[labelled["outcome"] == "out_y", "deviation"].str.contains("trim.out_y").all()
    assert (labelled.loc[labelled["outcome"] == "out_x", "deviation"] == "").all()
    assert "confirmatory" in set(labelled["analysis"])


def test_adding_an_outcome_touches_only_that_outcome():
    params = _run(measures=["out_x", "out_y", "out_z"])
    table = plan.plan_vs_run_table(TOY_PLAN, params)
    assert table[["setting", "affects"]].values.tolist() == [["measures", "outcome out_z"]]


def test_unregistered_and_missing_settings_are_deviations():
    params = _run(new_knob=3)
    del params["fit"]["seed"]
    table = plan.plan_vs_run_table(TOY_PLAN, params).set_index("setting")
    assert table.loc["new_knob", "planned"] == plan.NOT_IN_PLAN and table.loc["new_knob", "run"] == "3"
    assert table.loc["seed", "run"] == plan.NOT_SET and table.loc["seed", "planned"] == "11"


def test_equal_values_written_differently_are_not_deviations():
    assert plan.plan_vs_run_table(TOY_PLAN, _run(year=2018.0, measures=["out_y", "out_x"])).empty
    # the params group may also be passed on its own (a notebook's parameters)
    assert plan.plan_vs_run_table(TOY_PLAN, dict(TOY_PLAN["settings"])).empty


def test_a_family_declared_in_params_must_be_the_registered_one():
    same = _run(confirmatory=["alpha_f~out_x~level"])
    assert plan.plan_vs_run_table(TOY_PLAN, same).empty
    other = _run(confirmatory=[{"feature": "beta_f", "outcome": "out_x"}])
    table = plan.plan_vs_run_table(TOY_PLAN, other)
    assert table["setting"].tolist() == ["confirmatory"]
    assert (plan.label_exploratory(_estimates(), TOY_PLAN, other)["analysis"] == "exploratory").all()


def test_plan_errors_name_the_file_and_the_fix(tmp_path):
    bad = tmp_path / "analysis_plan.yaml"
    bad.write_text("plan_version: 1\nfeatures: [a]\n", encoding="utf-8")
    with pytest.raises(InputError, match="keys missing.*How to fix"):
        plan.load_plan(bad)
    wrong = copy.deepcopy(TOY_PLAN)
    wrong["confirmatory"] = {"pairs": [{"feature": "alpha_f", "outcome": "typo"}]}
    bad.write_text(yaml.safe_dump(wrong), encoding="utf-8")
    with pytest.raises(InputError, match=r"outcomes \['typo'\]"):
        plan.load_plan(bad)
    bad.write_text("features: [a\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        plan.load_plan(bad)


def test_label_exploratory_needs_feature_and_outcome():
    with pytest.raises(InputError, match="'outcome'"):
        plan.label_exploratory(pd.DataFrame({"feature": ["alpha_f"]}), TOY_PLAN, _run())


def test_registered_plan_names_exist_in_the_demo_codebook_and_measures():
    codebook, measures = paths.RAW_SURVEY / "codebook.csv", paths.RAW_OUTCOMES / "measures.csv"
    if not (codebook.is_file() and measures.is_file()):
        pytest.skip("data/raw/survey/codebook.csv or data/raw/outcomes/measures.csv not present")
    registered = plan.load_plan()
    unmatched = plan.unmatched_plan_names(registered, pd.read_csv(codebook)["feature"].astype(str).tolist(),
                                          pd.read_csv(measures)["measure"].astype(str).tolist())
    assert unmatched.empty, unmatched.to_string()
    assert registered["params_group"] in load_params()


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_plan_record_gives_registration_commit_and_amendments(tmp_path):
    (tmp_path / "analysis_plan.yaml").write_text(yaml.safe_dump(TOY_PLAN), encoding="utf-8")
    _git(tmp_path, "init", "-q")
    record = history.plan_record(tmp_path)
    assert record["introduced_commit"] == "uncommitted" and record["working_copy_differs_from_commit"]
    _git(tmp_path, "add", "analysis_plan.yaml")
    _git(tmp_path, "commit", "-qm", "register plan")
    registered = _git(tmp_path, "rev-parse", "HEAD")
    record = history.plan_record(tmp_path)
    assert record["introduced_commit"] == registered and record["amendments"] == []
    assert not record["working_copy_differs_from_commit"]
    assert record["md5"] == provenance.file_md5(tmp_path / "analysis_plan.yaml")
    amended = copy.deepcopy(TOY_PLAN)
    amended["settings"]["seed"] = 12
    (tmp_path / "analysis_plan.yaml").write_text(yaml.safe_dump(amended), encoding="utf-8")
    assert history.plan_record(tmp_path)["working_copy_differs_from_commit"]
    _git(tmp_path, "commit", "-qam", "amend plan")
    record = history.plan_record(tmp_path)
    assert record["introduced_commit"] == registered
    assert [a["commit"] for a in record["amendments"]] == [_git(tmp_path, "rev-parse", "HEAD")]
    table = history.registration_table(record, TOY_PLAN).set_index("item")["value"]
    assert table["registered in commit"].startswith(registered)
    assert table["amended since"].startswith(record["amendments"][0]["commit"])
    assert table["confirmatory family"].startswith("1 tests: alpha_f ~ out_x (level)")
    out = tmp_path / "plan_record.json"
    history.record(out, tmp_path)
    first = out.read_bytes()
    history.record(out, tmp_path)
    assert out.read_bytes() == first  # deterministic


# --- blind measurement -------------------------------------------------------------------------------------
OUTCOME_INPUTS = ["data/raw/outcomes", "data/processed/outcomes.parquet", "data/processed/measures.parquet"]


def _overlaps(dep: str, out: str) -> bool:
    dep, out = dep.rstrip("/"), out.rstrip("/")
    return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")


def _dvc_upstream(stage: str, root: Path) -> list[str]:
    """``stage`` and every stage upstream of it, from DVC's own graph (``dvc dag --dot STAGE``)."""
    import re
    import shutil
    import sys
    dvc = Path(sys.executable).with_name("dvc")
    out = subprocess.run([str(dvc) if dvc.is_file() else shutil.which("dvc"), "dag", "--dot", stage], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    return sorted(set(re.findall(r'^"([^"]+)";$', out, flags=re.M)))


def _outcome_inputs_reaching(stage: str, root: Path) -> list[tuple[str, str]]:
    """(stage, dep) pairs where ``stage`` or a stage upstream of it (DVC's graph) reads outcome data."""
    stages = provenance.stages(root)
    return [(name, dep) for name in _dvc_upstream(stage, root) for dep in stages[name]["deps"]
            if any(_overlaps(dep, outcome) for outcome in OUTCOME_INPUTS)]


def _pipeline_copy(tmp_path: Path) -> Path:
    """dvc.yaml and params.yaml in a DVC project of their own (no data: `dvc dag` reads only the yaml)."""
    import shutil
    root = tmp_path / "dag"
    root.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(paths.ROOT / name, root / name)
    shutil.copytree(paths.ROOT / ".dvc", root / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp"))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_features_stage_and_everything_upstream_never_read_outcomes():
    upstream = _dvc_upstream("features", paths.ROOT)
    assert "features" in upstream and len(upstream) > 1, "features should read the clean stages' outputs"
    hits = _outcome_inputs_reaching("features", paths.ROOT)
    assert not hits, f"blind measurement broken: outcome data reach the features stage via {hits}"


def test_blind_measurement_check_catches_an_indirect_outcome_dep(tmp_path):
    root = _pipeline_copy(tmp_path)
    dvc_yaml = yaml.safe_load((root / "dvc.yaml").read_text())
    first_upstream = next(name for name in _dvc_upstream("features", root) if name != "features")
    dvc_yaml["stages"][first_upstream]["deps"].append("data/processed/measures.parquet")
    (root / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    hits = _outcome_inputs_reaching("features", root)
    assert (first_upstream, "data/processed/measures.parquet") in hits
    # and the stage that writes measures.parquet is now upstream of features too, with its raw outcome input
    writer = next(name for name, st in provenance.stages(root).items() if "data/processed/measures.parquet" in st["outs"])
    assert any(name == writer for name, _ in hits)
    dvc_yaml["stages"][first_upstream]["deps"].remove("data/processed/measures.parquet")
    dvc_yaml["stages"]["features"]["deps"].append("data/raw")  # a parent folder of the outcomes counts too
    (root / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    assert ("features", "data/raw") in _outcome_inputs_reaching("features", root)


def test_what_changed_lists_metric_param_and_input_changes(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "params.yaml").write_text("est:\n  seed: 1\n  alpha: 0.05\n", encoding="utf-8")
    _git(tmp_path, "add", "params.yaml")
    _git(tmp_path, "commit", "-qm", "params")
    (tmp_path / "reports").mkdir()
    metrics = tmp_path / "reports" / "metrics.json"
    metrics.write_text(json.dumps({"n_areas": 42}), encoding="utf-8")
    table = history.what_changed_table(root=tmp_path)
    assert table[["kind", "name", "change"]].values.tolist() == [["file", "reports/metrics.json",
                                                                  "not committed at HEAD"]]
    record = tmp_path / history.ESTIMATE_RECORD
    metrics.write_text(json.dumps({"n_areas": 42, "confirmatory": {"n_significant": 1}, "label": "a"}),
                       encoding="utf-8")
    record.write_text(json.dumps({"deps": {"data/x.csv": "aaa"}, "versions": {"pandas": "3.1"}}), encoding="utf-8")
    _git(tmp_path, "add", "-f", "reports/metrics.json", history.ESTIMATE_RECORD)
    _git(tmp_path, "commit", "-qm", "metrics")
    assert history.what_changed_table(root=tmp_path).empty
    metrics.write_text(json.dumps({"n_areas": 41, "confirmatory": {"n_significant": 3}, "label": "b", "new": 1.5}),
                       encoding="utf-8")
    record.write_text(json.dumps({"deps": {"data/x.csv": "bbb"}, "versions": {"pandas": "3.1"}}), encoding="utf-8")
    (tmp_path / "params.yaml").write_text("est:\n  seed: 2\n  alpha: 0.05\n", encoding="utf-8")
    table = history.what_changed_table("HEAD", root=tmp_path)
    assert list(table.columns) == history.WHAT_CHANGED_COLUMNS
    got = {(r.kind, r.name): (r.old, r.new, r.change) for r in table.itertuples()}
    assert got == {
        ("input", "data/x.csv"): ("aaa", "bbb", "changed"),
        ("metric", "confirmatory.n_significant"): ("1", "3", "+2"),
        ("metric", "label"): ("a", "b", "changed"),
        ("metric", "n_areas"): ("42", "41", "-1"),
        ("metric", "new"): (pd.NA, "1.5", "added"),
        ("param", "est.seed"): ("1", "2", "+1"),
    }
    assert table.loc[table["name"] == "n_areas", "difference"].item() == -1.0


def test_what_changed_compares_inputs_across_the_move_of_the_provenance_record(tmp_path):
    """A revision from before issue 18 kept the record inside metrics.json; its hashes still compare by path."""
    _git(tmp_path, "init", "-q")
    (tmp_path / "reports").mkdir()
    metrics = tmp_path / "reports" / "metrics.json"
    metrics.write_text(json.dumps({"n_areas": 42, "provenance": {"deps": {"data/x.csv": "aaa", "data/y.csv": "c"}}}),
                       encoding="utf-8")
    _git(tmp_path, "add", "-f", "reports/metrics.json")
    _git(tmp_path, "commit", "-qm", "old layout")
    metrics.write_text(json.dumps({"n_areas": 42}), encoding="utf-8")
    (tmp_path / history.ESTIMATE_RECORD).write_text(json.dumps({"deps": {"data/x.csv": "bbb", "data/y.csv": "c"}}),
                                                    encoding="utf-8")
    table = history.what_changed_table("HEAD", root=tmp_path)
    assert table[["kind", "name", "old", "new"]].values.tolist() == [["input", "data/x.csv", "aaa", "bbb"]]
