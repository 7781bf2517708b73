"""Benchmark: the validation study on 1 and on 2 Dask workers (same numbers, speed-up printed).

    .venv/bin/python benchmarks/bench_validation.py                 # 200 whole-path replicates, 199 draws
    .venv/bin/python benchmarks/bench_validation.py --replicates 16 --permutations 99
    .venv/bin/python benchmarks/bench_validation.py --method textbook   # harness only, no pipeline modules

Runs N replicates of one design cell (ICC(1) 0.1, effect = MDE, no threats) through a LocalCluster with
one worker (the naive way), then with two (the fast way), checks that both give byte-identical results,
and prints wall times, the speed-up and an extrapolation to 2,000 replicates. Workers are started and
warmed (imports) before the clock starts. The 1-minute load average is printed too: on a shared machine
the speed-up and the extrapolation are only as good as the free cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from pipeline.validation import dask_runner, design, study

CELL = dict(icc1=0.1, effect_fraction=1.0)


def run(n_workers: int, cells, fn, options, batch_size: int, seed: int):
    with tempfile.TemporaryDirectory() as tmp, dask_runner.dask_client(None, n_workers) as client:
        client.wait_for_workers(n_workers)
        client.run(dask_runner.warm_worker)
        load = os.getloadavg()[0]
        cpu_before = sum(client.run(time.process_time).values())
        start = time.perf_counter()
        results, _ = dask_runner.run_study(cells, fn, seed=seed, options=options, cache_dir=Path(tmp),
                                           settings_hash="bench", client=client, batch_size=batch_size,
                                           progress=False, prune=False)
        seconds = time.perf_counter() - start
        cpu = sum(client.run(time.process_time).values()) - cpu_before
    return results, seconds, load, cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--permutations", type=int, default=199, help="resampling draws per test in the study")
    parser.add_argument("--method", choices=["whole", "textbook"], default="whole")
    parser.add_argument("--batch-size", type=int, default=0, help="replicates per task (0 = automatic)")
    parser.add_argument("--seed", type=int, default=1903)
    args = parser.parse_args(argv)
    cells = design.design_cells([CELL["icc1"]], [CELL["effect_fraction"]], [False], [False],
                                n_replicates=args.replicates)
    if args.method == "whole":
        fn = study.whole_path_replicate
        mde = study.calibrate(args.seed, level_year=2018, baseline_year=2014)["mde_r"]
        options = dict(target_r_per_mde=mde, n_permutations=args.permutations, level_year=2018, baseline_year=2014)
    else:
        fn, options = study.textbook_replicate, {}
    batch = args.batch_size or dask_runner.default_batch_size(args.replicates, 2)
    print(f"{args.replicates} replicates of {fn.__name__} ({args.permutations} draws), batch size {batch}, "
          f"{os.cpu_count()} cores")
    one, t1, load1, cpu1 = run(1, cells, fn, options, batch, args.seed)
    print(f"1 worker : {t1:8.1f} s wall, {cpu1 / args.replicates:.2f} CPU-s per replicate (load average {load1:.1f})")
    two, t2, load2, cpu2 = run(2, cells, fn, options, batch, args.seed)
    print(f"2 workers: {t2:8.1f} s wall, {cpu2 / args.replicates:.2f} CPU-s per replicate (load average {load2:.1f})")
    identical = one.equals(two)
    print(f"identical results with 1 and 2 workers: {identical} "
          f"(fingerprints {dask_runner.results_fingerprint(one)} / {dask_runner.results_fingerprint(two)})")
    ratio = t1 / t2
    print(f"speed-up 2 vs 1 workers: {ratio:.2f}x (target >= 1.6x): {'OK' if ratio >= 1.6 else 'BELOW TARGET'}")
    print(f"extrapolated: 2,000 replicates on 2 workers at this wall rate take {2000 * t2 / args.replicates / 60:.1f} "
          "min (target < 20 min)")
    cpu_per_rep = (cpu1 + cpu2) / (2 * args.replicates)
    print(f"extrapolated from CPU time ({cpu_per_rep:.2f} CPU-s per replicate), on 2 otherwise idle cores: "
          f"{2000 * cpu_per_rep / 2 / 60:.1f} min for 2,000 replicates (ignores scheduling overhead, ~1 %)")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
