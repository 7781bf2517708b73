"""Benchmark: the validation study on 1 and on 2 Dask workers (same numbers, speed-up printed).

    .venv/bin/python benchmarks/bench_validation.py                 # 200 whole-path replicates, study settings
    .venv/bin/python benchmarks/bench_validation.py --replicates 40
    .venv/bin/python benchmarks/bench_validation.py --method textbook   # harness only, no pipeline modules

Runs N replicates of one design cell (the headline ICC(1), effect = the largest effect level, no threats)
with exactly the study's settings (params.yaml groups validate and estimate: resampling draws, years,
covariates, the registered confirmatory family, the MDE calibrated as in the report) through a LocalCluster
with one worker (the naive way), then with two (the fast way). Prints both wall times, the speed-up, whether
both runs give identical results (every column of every replicate), and an extrapolation to the default
design's replicates (params.yaml validate) on 2 workers. Workers are started and warmed (imports, one replicate) before the clock starts. The load
average is printed: on a shared machine the speed-up and the extrapolation are only as good as the free cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from pipeline import config, paths
from pipeline.validation import dask_runner, design, study


def run(n_workers: int, cells, fn, options, batch_size: int, seed: int):
    with tempfile.TemporaryDirectory() as tmp, dask_runner.dask_client(None, n_workers) as client:
        client.wait_for_workers(n_workers)
        client.run(dask_runner.warm_worker)
        warm = design.cell_from_row(cells.iloc[0])
        client.run(lambda: fn(warm, design.replicate_seed(seed + 1, warm, 0), **options))  # first-call caches
        load = os.getloadavg()[0]
        cpu_before = sum(client.run(time.process_time).values())
        start = time.perf_counter()
        results, _ = dask_runner.run_study(cells, fn, seed=seed, options=options, cache_dir=Path(tmp),
                                           settings_hash="bench", client=client, batch_size=batch_size,
                                           progress=False, prune=False)
        seconds = time.perf_counter() - start
        cpu = sum(client.run(time.process_time).values()) - cpu_before
    return results, seconds, load, cpu


def default_design_replicates(validate: dict) -> int:
    """Replicates in the design params.yaml's ``validate`` group describes (observed-scale cells counted
    without computing their attenuation: one cell of ``n_replicates`` per level)."""
    cells = design.design_cells(validate["icc1_levels"], validate["effect_levels"], validate["informative_nonresponse"],
                                validate["unmeasured_confounder"], n_replicates=validate["n_replicates"],
                                design=validate["design"], n_replicates_stress=validate["n_replicates_stress"],
                                reference_icc1=validate["headline_icc1"])
    return int(cells["n_replicates"].sum()) + len(validate.get("observed_effect_levels") or []) * int(
        validate["n_replicates"])


def main(argv=None) -> int:
    validate, estimate = config.section("validate"), config.section("estimate")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--permutations", type=int, default=int(validate["study_n_permutations"]),
                        help="resampling draws per test (default: validate.study_n_permutations)")
    parser.add_argument("--method", choices=["whole", "textbook"], default="whole")
    parser.add_argument("--batch-size", type=int, default=0, help="replicates per task (0 = automatic)")
    parser.add_argument("--seed", type=int, default=int(validate["study_seed"]))
    parser.add_argument("--target-minutes", type=float, default=20.0, help="target for the default design on 2 workers")
    args = parser.parse_args(argv)
    icc1, effect = float(validate["headline_icc1"]), float(max(validate["effect_levels"]))
    cells = design.design_cells([icc1], [effect], [False], [False], n_replicates=args.replicates)
    if args.method == "whole":
        fn = study.whole_path_replicate
        mde = study.calibrate(args.seed, level_year=estimate["level_year"], baseline_year=estimate["baseline_year"],
                              covariates=estimate["covariates"], alpha=estimate["alpha"], power=estimate["power"],
                              aggregation=estimate["aggregation"])["mde_r"]
        from pipeline import plan
        confirmatory = plan.confirmatory_spec() if paths.ANALYSIS_PLAN.is_file() else []
        options = study.study_options(dict(validate, study_n_permutations=args.permutations), estimate, mde,
                                      confirmatory, sesoi=study.registered_sesoi())
    else:
        fn, options = study.textbook_replicate, {}
    batch = args.batch_size or dask_runner.default_batch_size(args.replicates, 2)
    print(f"{args.replicates} replicates of {fn.__name__} in cell {cells['cell_key'].iloc[0]} "
          f"({options.get('n_permutations', 0)} draws per test), batch size {batch}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    one, t1, load1, cpu1 = run(1, cells, fn, options, batch, args.seed)
    print(f"1 worker : {t1:8.1f} s wall ({t1 / args.replicates:.2f} s per replicate), "
          f"{cpu1 / args.replicates:.2f} CPU-s per replicate (load average {load1:.2f})")
    two, t2, load2, cpu2 = run(2, cells, fn, options, batch, args.seed)
    print(f"2 workers: {t2:8.1f} s wall ({t2 / args.replicates:.2f} s per replicate), "
          f"{cpu2 / args.replicates:.2f} CPU-s per replicate (load average {load2:.2f})")
    identical = one.equals(two)
    print(f"identical results with 1 and 2 workers: {identical} "
          f"(fingerprints {dask_runner.results_fingerprint(one)} / {dask_runner.results_fingerprint(two)})")
    failed = one.loc[one["status"] == "failed", "replicate"].nunique()
    partial = one.loc[one["status"] == "not_estimable", "replicate"].nunique()
    print(f"replicates failed: {failed}; with a pair not estimable: {partial}")
    ratio = t1 / t2
    print(f"speed-up 2 vs 1 workers: {ratio:.2f}x (target >= 1.6x): {'OK' if ratio >= 1.6 else 'BELOW TARGET'}")
    total = default_design_replicates(validate)
    minutes = total * t2 / args.replicates / 60
    print(f"extrapolated: the default design's {total:,} replicates on 2 workers at this wall rate take {minutes:.1f} "
          f"min (target <= {args.target_minutes:g} min): {'OK' if minutes <= args.target_minutes else 'ABOVE TARGET'}")
    cpu_per_rep = (cpu1 + cpu2) / (2 * args.replicates)
    print(f"extrapolated from CPU time ({cpu_per_rep:.2f} CPU-s per replicate), on 2 otherwise idle cores: "
          f"{total * cpu_per_rep / 2 / 60:.1f} min for the default design's {total:,} replicates (this cell's cost "
          "for every cell; scheduling overhead ignored)")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
