"""On the demo data, area scores track the planted latent traits as the simulation implies.

Reads the generator's truth (data/synthetic_truth/truth.json); the pipeline itself never does. The survey
is cleaned in-process from data/raw (so the test does not depend on a stale data/processed).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline import paths

TRUTH = paths.SYNTHETIC_TRUTH / "truth.json"


@pytest.fixture(scope="module")
def demo():
    if not TRUTH.is_file():
        pytest.skip(f"no generator truth at {paths.rel(TRUTH)} (run pipeline.simulate to create the demo data)")
    if not any(paths.RAW_SURVEY.glob("*.csv")):
        pytest.skip(f"no raw survey in {paths.rel(paths.RAW_SURVEY)}")
    truth = json.loads(TRUTH.read_text(encoding="utf-8"))
    if "latent_traits" not in truth or "attenuation" not in truth:
        pytest.skip("truth.json has no latent_traits/attenuation (older generator)")
    from pipeline.clean import clean_kind

    result = clean_kind("survey")
    traits = (pd.DataFrame(truth["latent_traits"]).T.stack().rename("trait")
              .rename_axis(["lcjp_id", "feature"]).reset_index())
    traits["lcjp_id"] = traits["lcjp_id"].astype("string")
    traits["feature"] = traits["feature"].astype("string")
    return result.clean, result.codebook, traits, truth


def test_feature_names_come_from_codebook(demo):
    survey, codebook, traits, truth = demo
    from pipeline.measurement import feature_items

    assert set(feature_items(codebook, survey)) == set(truth["features"])


def test_scores_correlate_with_latent_traits_as_implied(demo):
    survey, codebook, traits, truth = demo
    from pipeline.measurement import area_scores

    realised = truth["attenuation"]["realised_corr_mean_trait"]
    adjusted = area_scores(survey, codebook, method="adjusted", engine="fast").merge(traits, on=["lcjp_id", "feature"])
    assert adjusted["lcjp_id"].nunique() == len(truth["latent_traits"])
    corr_adj, corr_raw = {}, {}
    for feature, block in adjusted.groupby("feature"):
        corr_adj[feature] = block["score"].corr(block["trait"])
        corr_raw[feature] = block["raw_mean"].corr(block["trait"])
    for feature, expected in realised.items():
        # the raw mean is exactly the generator's "area mean of final answers"
        assert corr_raw[feature] == pytest.approx(expected, abs=0.01), feature
        # adjusting for agency mix and shrinking must not lose the signal
        assert corr_adj[feature] >= expected - 0.03, (feature, corr_adj[feature], expected)
    # on average at least as close to the traits as raw means, and near the generator's theoretical figure
    assert np.mean(list(corr_adj.values())) >= np.mean(list(corr_raw.values())) - 0.005
    theory = truth["attenuation"]["expected_corr_mean_trait"]
    assert abs(np.mean(list(corr_adj.values())) - theory) < 0.12


def test_icc1_matches_generator(demo):
    survey, codebook, traits, truth = demo
    from pipeline.measurement import feature_icc, respondent_scores

    icc = feature_icc(respondent_scores(survey, codebook)).set_index("feature")["icc1"]
    for feature, expected in truth["attenuation"]["realised_feature_icc1"].items():
        assert icc[feature] == pytest.approx(expected, abs=0.01), feature
