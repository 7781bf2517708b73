"""The validation study's harness: seeds, caching, performance measures, Dask (local and external)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.errors import InputError
from pipeline.validation import design, dask_runner, performance, study

SEED = 11


def _cells(n=6):
    return design.design_cells([0.1], [0.0, 1.0], [False], [True], n_replicates=n, design="core")


def test_design_core_and_full_cells():
    core = design.design_cells([0.05, 0.1, 0.2], [0, 0.5, 1], [False, True], [False, True], 100, "core")
    full = design.design_cells([0.05, 0.1, 0.2], [0, 0.5, 1], [False, True], [False, True], 100, "full")
    assert len(full) == 36 and full["cell_key"].is_unique
    assert len(core) == 9 + 3 + 3
    stress = core[core["role"] == "stress"]
    assert set(stress["icc1"]) == {0.1}
    assert not (stress["informative_nonresponse"] & stress["unmeasured_confounder"]).any()
    assert set(core["cell_key"]) <= set(full["cell_key"])


def test_design_rejects_bad_params():
    with pytest.raises(InputError, match="icc1_levels"):
        design.design_cells([1.5], [0], [False], [False], 10)
    with pytest.raises(InputError, match="design"):
        design.design_cells([0.1], [0], [False], [False], 10, design="everything")


def test_seeds_depend_on_cell_and_replicate_not_order():
    a = design.Cell(0.1, 0.5, False, True)
    b = design.Cell(0.1, 0.5, True, False)
    s = lambda c, r: design.replicate_seed(SEED, c, r).generate_state(2).tolist()
    assert s(a, 3) == s(a, 3)
    assert s(a, 3) != s(a, 4) and s(a, 3) != s(b, 3)
    assert a.key == "icc0.1_eff0.5_nr0_uc1"


def test_mde_matches_pingouin_power_corr():
    import pingouin as pg
    assert study.mde_r(42) == pytest.approx(pg.power_corr(n=42, power=0.8), abs=0.015)
    assert study.mde_r(42, n_covariates=5) > study.mde_r(42)


def test_serial_run_caches_and_is_batch_invariant(tmp_path):
    cells = _cells(6)
    first, log1 = dask_runner.run_study(cells, study.textbook_replicate, seed=SEED, options={},
                                        cache_dir=tmp_path / "a", settings_hash="h1", batch_size=4, progress=False)
    assert not log1["cached"].any() and len(list((tmp_path / "a").glob("cell_*.parquet"))) == 4
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "a").glob("cell_*.parquet")}
    again, log2 = dask_runner.run_study(cells, study.textbook_replicate, seed=SEED, options={},
                                        cache_dir=tmp_path / "a", settings_hash="h1", batch_size=4, progress=False)
    assert log2["cached"].all()
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    pd.testing.assert_frame_equal(first, again)
    other, _ = dask_runner.run_study(cells, study.textbook_replicate, seed=SEED, options={},
                                     cache_dir=tmp_path / "b", settings_hash="h1", batch_size=1, progress=False)
    pd.testing.assert_frame_equal(first, other)
    assert sorted(p.read_bytes() for p in (tmp_path / "a").glob("*.parquet")) == \
        sorted(p.read_bytes() for p in (tmp_path / "b").glob("*.parquet"))
    # a new settings hash (code change) reruns and prunes the stale files
    _, log3 = dask_runner.run_study(cells, study.textbook_replicate, seed=SEED, options={},
                                    cache_dir=tmp_path / "a", settings_hash="h2", batch_size=4, progress=False)
    assert not log3["cached"].any()
    assert all("_h2.parquet" in p.name for p in (tmp_path / "a").glob("cell_*.parquet"))
    different_seed, _ = dask_runner.run_study(cells, study.textbook_replicate, seed=SEED + 1, options={},
                                              cache_dir=tmp_path / "c", settings_hash="h1", progress=False)
    assert not np.allclose(first["estimate"], different_seed["estimate"])


def _failing_replicate(cell, seed_seq, **_):
    if seed_seq.spawn_key[-1] == 1:
        raise ValueError("boom")
    return study.textbook_replicate(cell, seed_seq)


def test_failed_replicates_are_recorded_not_fatal(tmp_path):
    cells = design.design_cells([0.1], [0.0], [False], [False], n_replicates=3)
    results, log = dask_runner.run_study(cells, _failing_replicate, seed=SEED, options={}, cache_dir=tmp_path,
                                         settings_hash="x", progress=False)
    failed = results[results["status"] == "failed"]
    assert failed["replicate"].tolist() == [1] and "boom" in failed["error"].iloc[0]
    assert log["n_failed"].tolist() == [1]
    cell_perf = performance.performance_by_family(results)
    rate = cell_perf[cell_perf["measure"] == "failure_rate"]["value"].iloc[0]
    assert rate == pytest.approx(1 / 3)


def test_textbook_control_has_nominal_coverage_and_type1(tmp_path):
    """Known answer: exact t intervals cover 95 %, null tests reject 5 % (within 3 MC SEs)."""
    cells = design.design_cells([0.1], [0.0, 1.0], [False], [False], n_replicates=250)
    results, _ = dask_runner.run_study(cells, study.textbook_replicate, seed=SEED, options={}, cache_dir=tmp_path,
                                       settings_hash="t", progress=False)
    pairs = performance.performance_by_pair(results)
    cov = pairs[pairs["measure"] == "coverage"]
    assert len(cov) == 2 * 4 * 3
    pooled = performance.performance_by_family(results)
    for _, row in pooled[pooled["measure"].isin(["coverage", "type1_error_per_test"])].iterrows():
        target = 0.95 if row["measure"] == "coverage" else 0.05
        assert abs(row["value"] - target) <= 3 * row["mcse"], row.to_dict()
    full_null = pooled[(pooled["effect_fraction"] == 0)]
    fdr = full_null[full_null["measure"] == "fdr"].iloc[0]
    fwer = full_null[full_null["measure"] == "fwer"].iloc[0]
    assert fdr["value"] == pytest.approx(fwer["value"])  # under the full null FDR = FWER
    assert fdr["value"] <= 0.05 + 3 * fdr["mcse"]
    power = pooled[(pooled["effect_fraction"] == 1) & (pooled["measure"] == "power_per_test")].iloc[0]
    assert abs(power["value"] - 0.8) <= 3 * power["mcse"] + 0.02  # effect = MDE gives 80 % power


def test_performance_measures_known_values():
    est = np.array([1.0, 2.0, 3.0, 4.0])
    se = np.array([1.0, 1.0, 1.0, 1.0])
    m = dict((name, (v, s)) for name, v, s in performance.pair_measures(
        est, se, np.full(4, 2.0), np.array([1, 1, 0, 1]), np.array([0, 1, 1, 1]), np.array([0, 0, 1, 1])))
    emp = np.std(est, ddof=1)
    assert m["bias"] == pytest.approx((0.5, emp / 2))
    assert m["empirical_se"] == pytest.approx((emp, emp / np.sqrt(6)))
    assert m["model_se"][0] == pytest.approx(1.0) and m["model_se"][1] == pytest.approx(0.0)
    assert m["coverage"] == pytest.approx((0.75, np.sqrt(0.75 * 0.25 / 4)))
    assert m["power"][0] == pytest.approx(0.75) and m["power_adjusted"][0] == pytest.approx(0.5)
    assert m["relative_error_model_se_pct"][0] == pytest.approx(100 * (1 / emp - 1))


def test_fdr_counts_false_discoveries_among_rejections():
    rows = []
    # replicate 0: two rejections, one false -> FDP 0.5; replicate 1: nothing rejected -> 0
    for rep, p_null, p_true in [(0, 0.01, 0.01), (1, 0.5, 0.5)]:
        for feature, truth, p in [("a", 0.0, p_null), ("b", 1.0, p_true)]:
            rows.append({"cell_key": "c", "icc1": 0.1, "effect_fraction": 1.0, "informative_nonresponse": False,
                         "unmeasured_confounder": False, "replicate": rep, "model": "m", "inference": "t",
                         "feature": feature, "outcome": "y", "outcome_period": "level", "truth": truth,
                         "truth_associational": truth, "truth_attenuated": truth, "truth_r": truth,
                         "estimate": truth, "se": 1.0, "ci_low": -9.0, "ci_high": 9.0, "p_value": p,
                         "p_adjusted": p, "n_areas": 42, "mde_r": 0.4, "family": "exploratory",
                         "status": "ok", "error": None})
    cell = performance.performance_by_family(pd.DataFrame(rows), truths={"structural": "truth"})
    assert set(cell["truth_kind"]) == {"structural"} and set(cell["estimand"]) == {"measured"}
    cell = cell.set_index("measure")
    assert cell.loc["fdr", "value"] == pytest.approx(0.25)
    assert cell.loc["fwer", "value"] == pytest.approx(0.5)
    assert cell.loc["power_any", "value"] == pytest.approx(0.5)


def test_not_estimable_pairs_are_counted_apart_from_failed_replicates():
    """A pair without an estimate: not a failed replicate, not a false positive, a miss for power."""
    rows = []
    for rep in range(4):
        for feature, truth in [("a", 0.0), ("b", 1.0)]:
            missing = rep == 0 and feature == "b"       # replicate 0 could not estimate the planted pair
            rows.append({"cell_key": "c", "icc1": 0.1, "effect_fraction": 1.0, "informative_nonresponse": False,
                         "unmeasured_confounder": False, "replicate": rep, "model": "m", "inference": "t",
                         "feature": feature, "outcome": "y", "outcome_period": "level", "truth": truth,
                         "truth_associational": truth, "truth_attenuated": truth, "truth_r": truth,
                         "estimate": np.nan if missing else truth, "se": np.nan if missing else 1.0,
                         "ci_low": np.nan if missing else -9.0, "ci_high": np.nan if missing else 9.0,
                         "p_value": np.nan if missing else 0.01, "p_adjusted": np.nan if missing else 0.01,
                         "n_areas": 42, "mde_r": 0.4, "family": "exploratory",
                         "status": "not_estimable" if missing else "ok",
                         "error": "not estimable: feature constant across areas" if missing else None})
    rows.append({"cell_key": "c", "icc1": 0.1, "effect_fraction": 1.0, "informative_nonresponse": False,
                 "unmeasured_confounder": False, "replicate": 4, "status": "failed", "error": "ValueError: x"})
    results = dask_runner._tidy(pd.DataFrame(rows))
    cell = performance.performance_by_family(results, truths={"structural": "truth"}).set_index("measure")
    assert cell.loc["failure_rate", "value"] == pytest.approx(1 / 5)                 # only the replicate that raised
    assert cell.loc["not_estimable_rate", "value"] == pytest.approx((0.5 + 0 + 0 + 0) / 4)
    assert cell.loc["replicates_with_not_estimable", "value"] == pytest.approx(1 / 4)
    assert cell.loc["power_per_test", "value"] == pytest.approx(3 / 4)               # the missing pair is a miss
    assert cell.loc["type1_error_per_test", "value"] == pytest.approx(1.0)           # null 'a' rejected in all 4
    assert cell.loc["coverage", "value"] == pytest.approx(1.0)                       # over estimated pairs only
    pair = performance.performance_by_pair(results, truths={"structural": "truth"})
    b = pair[pair["feature"] == "b"].set_index("measure")
    assert b.loc["power", "value"] == pytest.approx(3 / 4) and b.loc["power", "n_sim"] == 4
    assert b.loc["not_estimable_rate", "value"] == pytest.approx(1 / 4)
    assert b.loc["bias", "n_sim"] == 3


def test_scheduler_address_from_env(monkeypatch):
    monkeypatch.delenv(dask_runner.SCHEDULER_ENV, raising=False)
    assert dask_runner.scheduler_address(None) is None
    monkeypatch.setenv(dask_runner.SCHEDULER_ENV, "tcp://127.0.0.1:1")
    assert dask_runner.scheduler_address(None) == "tcp://127.0.0.1:1"
    assert dask_runner.scheduler_address("tcp://h:2") == "tcp://h:2"


def test_local_cluster_matches_serial(tmp_path):
    cells = _cells(5)
    serial, _ = dask_runner.run_study(cells, study.textbook_replicate, seed=SEED, options={},
                                      cache_dir=tmp_path / "s", settings_hash="h", progress=False)
    with dask_runner.dask_client(None, n_workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        parallel, _ = dask_runner.run_study(cells, study.textbook_replicate, seed=SEED, options={},
                                            cache_dir=tmp_path / "p", settings_hash="h", client=client,
                                            batch_size=2, progress=False)
    pd.testing.assert_frame_equal(serial, parallel)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def external_scheduler(tmp_path):
    """`dask scheduler` + two `dask worker` processes from the venv on 127.0.0.1; always shut down."""
    dask_cli = Path(sys.executable).with_name("dask")
    if not dask_cli.exists():
        pytest.skip(f"no dask CLI beside {sys.executable}")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    procs = []
    logs = []

    def start(args, name):
        log = open(tmp_path / f"{name}.log", "w")
        logs.append(log)
        procs.append(subprocess.Popen([str(dask_cli), *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                                      cwd=tmp_path, start_new_session=True))
    try:
        start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0",
               "--no-dashboard"], "scheduler")
        for i in range(2):
            start(["worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                   "--host", "127.0.0.1", "--name", f"w{i}"], f"worker{i}")
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for log in logs:
            log.close()


def test_external_scheduler_two_workers(external_scheduler, tmp_path, monkeypatch):
    from dask.distributed import Client
    deadline = time.monotonic() + 60
    with Client(external_scheduler, timeout="30s") as probe:
        probe.wait_for_workers(2, timeout=60)
    assert time.monotonic() < deadline
    monkeypatch.setenv(dask_runner.SCHEDULER_ENV, external_scheduler)
    cells = _cells(4)
    serial, _ = dask_runner.run_study(cells, study.textbook_replicate, seed=SEED, options={},
                                      cache_dir=tmp_path / "s", settings_hash="h", progress=False)
    with dask_runner.dask_client(None) as client:  # address from the environment
        assert client.scheduler.address == external_scheduler
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2
        remote, _ = dask_runner.run_study(cells, study.textbook_replicate, seed=SEED, options={},
                                          cache_dir=tmp_path / "r", settings_hash="h", client=client,
                                          batch_size=1, progress=False)
        who = client.run(os.getpid)
    assert len(set(who.values())) == 2
    pd.testing.assert_frame_equal(serial, remote)


def test_estimability_table_counts_failed_and_not_estimable_per_cell():
    from pipeline.validation import summary
    base = {"icc1": 0.05, "effect_fraction": 0.0, "informative_nonresponse": False, "unmeasured_confounder": False,
            "model": "ols", "inference": "hc3_t", "outcome": "y", "outcome_period": "level"}
    rows = [dict(base, cell_key="c1", replicate=0, feature="a", status="ok", error=None),
            dict(base, cell_key="c1", replicate=0, feature="b", status="not_estimable",
                 error="indicator 'x' covers only ['london']: set aside; not estimable: feature constant across areas"),
            dict(base, cell_key="c1", replicate=1, feature="a", status="ok", error=None),
            dict(base, cell_key="c1", replicate=1, feature="b", status="ok", error=None),
            dict(base, cell_key="c1", replicate=2, status="failed", error="LinAlgError: boom")]
    t = summary.estimability(pd.DataFrame(rows)).set_index("cell_key").loc["c1"]
    assert (t["replicates"], t["failed"], t["with_not_estimable"]) == (3, 1, 1)
    assert t["failed_pct"] == pytest.approx(100 / 3) and t["with_not_estimable_pct"] == pytest.approx(50.0)
    assert t["pairs_not_estimable_pct"] == pytest.approx(25.0)
    assert t["reasons"] == "LinAlgError: boom (1x); not estimable: feature constant across areas (1x)"


def _worker_settings():
    import dask
    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), dask.config.get("distributed.worker.profile.enabled")


def test_local_workers_run_without_dask_malloc_trim_and_profiler(monkeypatch):
    """The nanny's MALLOC_TRIM_THRESHOLD_=65536 cost a replicate 3x the system time (see dask_runner);
    also when an earlier cluster in this process left dask's value in the environment."""
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", dask_runner._DASK_MALLOC_TRIM_DEFAULT)
    with dask_runner.dask_client(None, 1) as client:
        settings = list(client.run(_worker_settings).values())
    assert settings == [(None, False)]
    assert os.environ.get("MALLOC_TRIM_THRESHOLD_") == dask_runner._DASK_MALLOC_TRIM_DEFAULT  # restored here


def test_observed_scale_cells_scale_the_latent_effect_by_the_attenuation():
    cells = design.design_cells([0.05, 0.1], [0.0, 1.0], [False], [False], n_replicates=4, reference_icc1=0.1,
                                observed_effect_levels=[1.0], attenuation={0.05: 0.6, 0.1: 0.8})
    obs = cells[cells["role"] == "observed"]
    assert len(obs) == 1 and obs["icc1"].iloc[0] == 0.1
    assert obs["effect_fraction"].iloc[0] == pytest.approx(1.25) and obs["observed_effect_fraction"].iloc[0] == 1.0
    assert not obs["informative_nonresponse"].iloc[0] and not obs["unmeasured_confounder"].iloc[0]
    assert cells.loc[cells["role"] != "observed", "observed_effect_fraction"].isna().all()
    with pytest.raises(InputError):
        design.design_cells([0.1], [1.0], [False], [False], n_replicates=4, observed_effect_levels=[1.0])


def test_attenuation_is_a_deterministic_factor_that_grows_with_icc():
    a = study.attenuation([0.05, 0.2], seed=3, n_datasets=2)
    assert a.equals(study.attenuation([0.2, 0.05], seed=3, n_datasets=2))
    assert list(a["icc1"]) == [0.05, 0.2]
    assert (a["attenuation"] > 0).all() and (a["attenuation"] < a["corr_score_trait"]).all()
    assert (a["corr_score_trait"] < 1).all() and a["attenuation"].is_monotonic_increasing


def _planted_results(n_rep=40, bias=0.0, seed=0, estimand="latent"):
    """Replicates of two families: a confirmatory (Holm) family with one planted pair and an exploratory null pair,
    in a core cell at 1 x MDE and a full-null core cell; estimates ~ N(truth (1 + bias), 1), 95 % intervals."""
    rng = np.random.default_rng(seed)
    rows = []
    for cell_key, frac in [("icc0.1_eff1_nr0_uc0", 1.0), ("icc0.1_eff0_nr0_uc0", 0.0)]:
        for rep in range(n_rep):
            for feature, family, planted in [("a", "confirmatory", True), ("b", "confirmatory", False),
                                             ("c", "exploratory", False), ("d", "exploratory", False)]:
                truth = 2.8 * frac if planted else 0.0
                est = truth * (1 + bias) + rng.standard_normal()
                p = float(2 * stats.norm.sf(abs(est)))
                rows.append({"cell_key": cell_key, "icc1": 0.1, "effect_fraction": frac, "informative_nonresponse": False,
                             "unmeasured_confounder": False, "replicate": rep, "model": "ols", "inference": "fl B=999",
                             "estimand": estimand, "feature": feature, "outcome": "y", "outcome_period": "level",
                             "truth": truth, "truth_associational": truth, "truth_attenuated": truth, "truth_r": 0.4 * frac,
                             "estimate": est, "se": 1.0, "ci_low": est - 1.96, "ci_high": est + 1.96, "p_value": p,
                             "p_adjusted": min(1.0, 2 * p), "n_areas": 42, "mde_r": 0.4, "family": family,
                             "status": "ok", "error": None, "alpha_decision": 0.025, "mde": 3.24, "sesoi": 3.0,
                             "ci90_low": est - 1.645, "ci90_high": est + 1.645})
    results = dask_runner._tidy(pd.DataFrame(rows))
    cells = pd.DataFrame({"cell_key": ["icc0.1_eff1_nr0_uc0", "icc0.1_eff0_nr0_uc0"], "role": ["core", "core"]})
    return results, cells


def _targets(results, cells, **kw):
    from pipeline.validation import summary
    return summary.judged_targets(results, performance.performance_by_pair(results), performance.performance_by_family(results),
                                  cells, alpha=0.05, power=0.8, primary_inference="fl B=999", n_permutations=999,
                                  code_version="abc", settings_hash="def", **kw)


def test_judged_targets_per_planted_pair_and_per_family_never_pooled():
    from pipeline.validation import summary
    results, cells = _planted_results(n_rep=200)
    t = _targets(results, cells)
    assert list(t.columns) == summary.TARGET_COLUMNS and set(t["status"]) <= set(summary.STATUSES)
    bias = t[t["target"] == "relative bias"]
    assert list(bias["feature"]) == ["a"] and bias["status"].iloc[0] == "met"   # only the planted pair, on its own
    assert t.loc[t["target"] == "coverage", "status"].iloc[0] == "met"
    fam = t[t["target"].isin(["FWER (Holm family)", "FDR (BH family)"])]
    assert sorted(zip(fam["target"], fam["family"])) == [("FDR (BH family)", "exploratory"),
                                                         ("FWER (Holm family)", "confirmatory")]
    assert "all" not in set(t["family"].dropna())
    power = t[t["target"] == "power at the stated MDE"].iloc[0]
    # planted 2.8 = 0.864 x the stated MDE 3.24 at alpha 0.025: nominal power below 80 %
    assert power["nominal"] == pytest.approx(float(summary.nominal_power(2.8 / 3.24, 0.025)), rel=1e-9)
    assert 0.6 < power["nominal"] < 0.8
    tost = t[t["target"] == "TOST at the SESOI"]
    assert set(tost["family"]) == {"confirmatory", "exploratory"} and (tost["value"] <= 0.1).all()
    assert set(t["code_version"]) == {"abc"}
    assert t.loc[t["target"] == "study time", "status"].iloc[0] == "not assessed"


def test_judged_targets_flag_a_biased_estimator_and_a_too_small_B():
    results, cells = _planted_results(n_rep=200, bias=-0.35, estimand="measured")
    t = _targets(results, cells)
    bias = t[t["target"] == "relative bias"].iloc[0]
    assert bias["status"] == "missed" and "beyond Monte Carlo error" in bias["reason"]
    assert "attenuated" in bias["fix"] and bias["estimand"] == "measured"
    from pipeline.validation import summary
    small_b = summary._family_targets(performance.performance_by_family(results), cells.set_index("cell_key")["role"],
                                      "measured", "ols", "fl B=999", 0.05, 19, 2.0, {})
    p_rows = [r for r in small_b if r["target"] == "smallest attainable p"]
    assert p_rows and all(r["status"] == "missed" for r in p_rows)  # 1/20 is not below 0.05 / 2


def test_target_overview_counts_per_target_without_averaging():
    from pipeline.validation import summary
    results, cells = _planted_results(n_rep=60, bias=-0.35)
    t = _targets(results, cells)
    o = summary.target_overview(t).set_index("target")
    assert list(o.columns) == summary.OVERVIEW_COLUMNS[1:]
    assert o.loc["relative bias", "n_checks"] == 1 and o.loc["relative bias", "missed"] == 1
    assert "outside" in o.loc["relative bias", "example_miss"]
    assert (o["met"] + o["missed"] + o["not_assessed"] + o["reported"] == o["n_checks"]).all()
    assert o.loc["TOST at 0", "reported"] == o.loc["TOST at 0", "n_checks"]  # no target: never called "met"


def test_main_points_say_per_target_what_was_met_and_missed():
    from pipeline.validation import summary
    results, cells = _planted_results(n_rep=60, bias=-0.35)
    t = _targets(results, cells)
    points = summary.main_points(t)
    overview = summary.target_overview(t)
    assert len(points) == len(overview)
    bias = next(p for p in points if p.startswith("Relative bias"))
    assert bias.startswith("Relative bias: met in 0 of 1 planted pairs x cells; missed in 1 (e.g.") and "outside" in bias
    assert any(p.startswith("TOST at 0 (reported, no target): ") for p in points)
    counts = summary.judged_counts(overview)
    judged = overview[overview["reported"] < overview["n_checks"]]
    assert counts["checks"] == judged["n_checks"].sum() and counts["missed"] >= 1
    assert counts["met"] + counts["missed"] + counts["not_assessed"] == counts["checks"]


def test_nominal_power_is_80_percent_at_the_mde():
    from pipeline.validation import summary
    assert float(summary.nominal_power(1.0, 0.05, 0.8)) == pytest.approx(0.8, abs=1e-3)
    assert float(summary.nominal_power(0.0, 0.05, 0.8)) == pytest.approx(0.05)


def test_study_for_build_says_when_the_study_was_not_run_for_this_build(tmp_path):
    from pipeline import io
    from pipeline.validation import summary
    table, sentence = summary.study_for_build(tmp_path / "summary.csv", code_version="abc")
    assert table is None and "has not been run for this build" in sentence
    results, cells = _planted_results(n_rep=10)
    io.write_csv(_targets(results, cells), tmp_path / "summary.csv")
    table, sentence = summary.study_for_build(tmp_path / "summary.csv", code_version="abc")
    assert table is not None and sentence == ""
    table, sentence = summary.study_for_build(tmp_path / "summary.csv", code_version="zzz")
    assert table is None and "other code" in sentence


def test_versus_target_words_an_estimate_above_target_honestly():
    from pipeline.validation.summary import versus_target
    assert versus_target(0.04, 0.02, 0.05) == "at or below the 5% target"
    within = versus_target(0.074, 0.023, 0.05)
    assert within.startswith("above the 5% target as estimated") and "within Monte Carlo error" in within
    assert versus_target(0.12, 0.02, 0.05).startswith("ABOVE the 5% target, beyond")


def test_study_time_sentence_states_run_cost_and_conditions():
    from pipeline.validation.summary import study_time_sentence
    text = study_time_sentence({"replicates_computed": 2130, "seconds": 523.2, "n_workers": 2, "scheduler": "local",
                                "cpu_count": 2, "load_average_at_start": 1.12})
    assert "2,130 in 8.7 min on 2 Dask worker(s)" in text and "load average 1.12" in text
