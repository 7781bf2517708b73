"""Resampling inference for every feature x outcome pair: the vectorised engine against a statsmodels refit loop.

Uses the demo's processed files when present (data/processed), else the estimation fixture (synthetic). Times
the vectorised Freedman-Lane permutation test for all pairs at B draws (p-values only, then p-values plus the
test-inversion intervals), and the naive loop (refit reduced and full OLS with HC3 for each draw) on a subset of
draws, scaled up to all pairs x B. Prints both times, the ratio and peak memory (tracemalloc: numpy's allocations).

    .venv/bin/python benchmarks/bench_inference.py [--draws 9999] [--loop-draws 20] [--repeats 3]
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys
import resource
import time
import tracemalloc

import numpy as np
import pandas as pd
import statsmodels.api as sm

from pipeline import paths
from pipeline.estimation import associations, inference, prepare
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.builders
from tests.builders import estimation as fixtures  # noqa: E402


def load_inputs():
    names = ["area_features.csv", "outcomes.parquet", "covariates.parquet"]
    if all(paths.processed(n).is_file() for n in names):
        read = lambda n: pd.read_csv(paths.processed(n)) if n.endswith(".csv") else pd.read_parquet(paths.processed(n))
        return "demo processed files", read(names[0]), read(names[1]), read(names[2]), pd.read_csv(paths.FORCES_CSV)
    d = fixtures.synthetic_inputs(seed=7, n_features=7, n_measures=7)
    return "synthetic estimation fixture", d["area_features"], d["outcomes"], d["covariates"], d["reference"]


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def naive_loop(prep, draws_per_pair: int, seed: int) -> tuple[float, int]:
    """statsmodels refits (reduced + full with HC3) for ``draws_per_pair`` permutations of every pair."""
    controls = associations._controls(prep, "auto", "ols")
    blocks = associations._blocks(prep, controls, list(prep.features.columns))
    n_pairs = 0
    start = time.perf_counter()
    for blk in blocks:
        idx, Z = blk["idx"], blk["Z"]
        perms = inference.draws(len(idx), draws_per_pair, seed, "freedman_lane")
        Y = prep.targets[blk["period"]].loc[idx, blk["outs"]].to_numpy("float64")
        for feature in blk["features"]:
            x = prep.features.loc[idx, feature].to_numpy("float64")
            x = (x - x.mean()) / x.std(ddof=1)
            X = np.column_stack([Z, x])
            for j in range(Y.shape[1]):
                n_pairs += 1
                y = Y[:, j]
                t_obs = sm.OLS(y, X).fit(cov_type="HC3").tvalues[-1]
                reduced = sm.OLS(y, Z).fit()
                count = 0
                for row in perms:
                    ystar = reduced.fittedvalues + reduced.resid[row]
                    count += abs(sm.OLS(ystar, X).fit(cov_type="HC3").tvalues[-1]) >= abs(t_obs)
    return time.perf_counter() - start, n_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=9999)
    parser.add_argument("--loop-draws", type=int, default=20, help="draws per pair in the naive loop (scaled up)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2015)
    args = parser.parse_args()
    source, af, oc, cv, ref = load_inputs()
    prep = prepare(af, oc, cv, ref, level_year=2018, baseline_year=2014)
    n_pairs = sum(prep.features.shape[1] * t.shape[1] for t in prep.targets.values())
    print(f"data: {source}; {prep.features.shape[1]} features x {n_pairs // prep.features.shape[1]} outcome targets "
          f"= {n_pairs} pairs; B = {args.draws}")

    def fast(interval: bool):
        with inference.single_thread_blas():
            return associations.fit_prepared(prep, n_permutations=args.draws, seed=args.seed, interval=interval)

    fast(False)  # warm caches (t quantiles, power solutions)
    t_p = best_of(lambda: fast(False), args.repeats)
    t_full = best_of(lambda: fast(True), args.repeats)
    tracemalloc.start()
    fast(True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    t_loop, loop_pairs = naive_loop(prep, args.loop_draws, args.seed)
    per_refit = t_loop / (loop_pairs * args.loop_draws)
    t_loop_scaled = per_refit * n_pairs * args.draws
    print(f"vectorised, p-values only:          {t_p:8.3f} s")
    print(f"vectorised, p-values + inverted CI: {t_full:8.3f} s")
    print(f"statsmodels refit loop: {loop_pairs} pairs x {args.loop_draws} draws in {t_loop:.2f} s "
          f"({per_refit * 1e3:.2f} ms per draw) -> scaled to {n_pairs} pairs x {args.draws} draws: "
          f"{t_loop_scaled:,.0f} s")
    print(f"ratio loop / vectorised (p-values only):    {t_loop_scaled / t_p:,.0f}x")
    print(f"ratio loop / vectorised (p-values + CI):    {t_loop_scaled / t_full:,.0f}x  (the loop computes no CI)")
    print(f"peak traced memory of the vectorised run: {peak / 2**20:.1f} MiB; "
          f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    print(f"targets: all pairs at B = 9,999 under 2 s: {'met' if t_full < 2 else 'NOT met'}; "
          f">= 60x the loop: {'met' if t_loop_scaled / t_full >= 60 else 'NOT met'}; "
          f"peak < 1 GB: {'met' if peak < 2**30 else 'NOT met'}")


if __name__ == "__main__":
    main()
