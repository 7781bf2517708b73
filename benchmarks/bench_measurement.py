"""Cost per call of the measurement functions on a demo-sized survey (42 areas, 7 features x 3 items, ~11
agencies, 4-18 respondents per area): the fast REML engine against statsmodels MixedLM, and the
cheaper variants the simulation study can use.

    .venv/bin/python benchmarks/bench_measurement.py [--repeats 5]
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys
import time
import warnings

import numpy as np

from pipeline.measurement import area_features, area_scores, feature_quality
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: tests.builders
from tests.builders.synthetic import synthetic_survey  # noqa: E402


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    survey, codebook, _, _ = synthetic_survey(2015, n_areas=42, n_features=7, items_per_feature=3,
                                              respondents=(4, 18), n_agencies=11)
    warnings.simplefilter("ignore")
    fast = area_scores(survey, codebook, engine="fast")
    slow = area_scores(survey, codebook, engine="statsmodels")
    max_diff = float(np.max(np.abs(fast["score"] - slow["score"])))
    cases = {
        "area_scores raw": lambda: area_scores(survey, codebook, method="raw"),
        "area_scores adjusted, fast REML": lambda: area_scores(survey, codebook, engine="fast"),
        "area_scores adjusted, statsmodels": lambda: area_scores(survey, codebook, engine="statsmodels"),
        "feature_quality without omega": lambda: feature_quality(survey, codebook, with_omega=False),
        "feature_quality with omega": lambda: feature_quality(survey, codebook),
        "area_features fast, no omega": lambda: area_features(survey, codebook, engine="fast", with_omega=False),
        "area_features statsmodels + omega (stage)": lambda: area_features(survey, codebook, engine="statsmodels"),
    }
    timings = {name: best_of(fn, args.repeats) for name, fn in cases.items()}
    print(f"survey: {len(survey)} respondents, {survey['lcjp_id'].nunique()} areas, "
          f"{codebook['feature'].nunique()} features; best of {args.repeats}")
    for name, seconds in timings.items():
        print(f"  {name:45s} {seconds * 1000:8.1f} ms")
    ratio = timings["area_scores adjusted, statsmodels"] / timings["area_scores adjusted, fast REML"]
    print(f"fast REML vs statsmodels MixedLM (same estimates, max |diff| {max_diff:.1e}): {ratio:.1f}x faster")
    ratio_full = timings["area_features statsmodels + omega (stage)"] / timings["area_features fast, no omega"]
    print(f"simulation path (area_features fast, no omega) vs stage path: {ratio_full:.1f}x faster")


if __name__ == "__main__":
    main()
