"""Cost of the primary (latent-trait) estimand per call of the estimate, as the validation study pays it.

Simulates one demo data set (pipeline.simulate, synthetic), cleans it with the stages' functions, and times
``estimate_associations`` at the study's B: measured-score rows only (the path before issue 14) against the
same call with the respondents (adds the covariate-conditioned measurement models, the latent rows, their
Freedman-Lane inference and the delta-method widening). Prints both times and the ratio.

    .venv/bin/python benchmarks/bench_latent.py [--draws 1999] [--repeats 3] [--seed 11]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pipeline import simulate
from pipeline.estimation import estimate_associations
from pipeline.estimation.inference import single_thread_blas
from pipeline.measurement import area_scores, respondent_scores


def inputs(seed: int):
    from pipeline.clean import clean_covariates, clean_outcomes, clean_survey
    from pipeline.validation.study import _matcher_and_reference
    data = simulate.generate(seed, simulate.SimulationDesign(icc1_target=0.1), with_fieldwork=False)
    matcher, reference, synonyms = _matcher_and_reference()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, content in data.files.items():
            if rel.split("/", 1)[0] in ("survey", "outcomes", "reference"):
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(content)
        survey = clean_survey(root / "survey", matcher, synonyms=synonyms)
        outcomes = clean_outcomes(root / "outcomes", matcher)
        covs = clean_covariates(root / "reference", matcher)
    features = area_scores(survey.clean, survey.codebook).assign(decision="not assessed")
    return survey, outcomes, covs, features, reference


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1999)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    survey, outcomes, covs, features, reference = inputs(args.seed)
    kw = dict(n_permutations=args.draws, seed=2015, level_year=2018, baseline_year=2014,
              measures=outcomes.measures)

    def measured_only():
        estimate_associations(features, outcomes.outcomes, covs.covariates, reference, **kw)

    def with_latent():
        resp = respondent_scores(survey.clean, survey.codebook)
        estimate_associations(features, outcomes.outcomes, covs.covariates, reference, respondents=resp, **kw)

    with single_thread_blas():
        measured_only(), with_latent()          # warm caches
        t0 = best_of(measured_only, args.repeats)
        t1 = best_of(with_latent, args.repeats)
    print(f"estimate, B={args.draws}: measured-score rows only {t0:.3f} s; with the latent-trait rows {t1:.3f} s; "
          f"ratio {t1 / t0:.2f}x (+{t1 - t0:.3f} s per replicate)")


if __name__ == "__main__":
    main()
