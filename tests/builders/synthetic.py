"""Small synthetic respondent data for the measurement tests and benchmarks (not the demo generator).

Shapes follow ``survey_clean.parquet`` / ``survey_codebook.parquet`` (ARCHITECTURE.md); item, feature,
area and agency names are generated (``f1``, ``f1_i1``, ``area01``, ``agency1``) so that nothing in the
library can depend on the demo questionnaire's names.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_survey(seed: int = 1, *, n_areas: int = 42, n_features: int = 3, items_per_feature: int = 4,
                     respondents: tuple[int, int] = (4, 14), n_agencies: int = 6, area_sd: float = 0.5,
                     agency_sd: float = 0.6, noise_sd: float = 0.8, item_noise_sd: float = 0.6,
                     missing_share: float = 0.05, confound: float = 0.0,
                     ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(survey_clean, codebook, area_truth, agency_effects), all generated from ``seed``.

    Respondent latent = 3 + area effect + agency effect + noise; item = round(latent + item noise)
    clipped to 1..5. ``confound`` in [0, 1] makes areas with a *low* true effect draw more respondents
    from the agency with the *highest* effect (agency mix confounded with area).
    """
    rng = np.random.default_rng(seed)
    areas = [f"area{i:02d}" for i in range(1, n_areas + 1)]
    agencies = [f"agency{k}" for k in range(1, n_agencies + 1)]
    features = [f"f{j}" for j in range(1, n_features + 1)]
    area_effect = rng.normal(0, area_sd, size=(n_areas, n_features))
    agency_effect = np.sort(rng.normal(0, agency_sd, size=n_agencies))[::-1]  # agency1 rates highest
    agency_effect = agency_effect - agency_effect.mean()
    rows = []
    items = {f: [f"{f}_i{m}" for m in range(1, items_per_feature + 1)] for f in features}
    counter = 0
    for a, area in enumerate(areas):
        n = int(rng.integers(respondents[0], respondents[1] + 1))
        rank = (area_effect[a].mean() - area_effect.mean(axis=1).mean()) / max(area_effect.mean(axis=1).std(), 1e-9)
        p = np.full(n_agencies, 1.0 / n_agencies)
        if confound > 0:
            tilt = np.linspace(1, -1, n_agencies) * (-rank) * 3 * confound
            p = np.exp(tilt) / np.exp(tilt).sum()
        chosen = rng.choice(n_agencies, size=n, p=p)
        for k in chosen:
            counter += 1
            row = {"response_id": f"r{counter:05d}", "lcjp_id": area, "agency": agencies[k]}
            for j, f in enumerate(features):
                latent = 3 + area_effect[a, j] + agency_effect[k] + rng.normal(0, noise_sd)
                for item in items[f]:
                    value = float(np.clip(np.rint(latent + rng.normal(0, item_noise_sd)), 1, 5))
                    row[item] = np.nan if rng.random() < missing_share else value
            rows.append(row)
    survey = pd.DataFrame(rows)
    for column in ("response_id", "lcjp_id", "agency"):
        survey[column] = survey[column].astype("string")
    codebook = pd.DataFrame([{"item": i, "feature": f, "text": f"statement {i}", "reverse": False}
                             for f in features for i in items[f]])
    codebook[["item", "feature", "text"]] = codebook[["item", "feature", "text"]].astype("string")
    truth = pd.DataFrame([{"lcjp_id": area, "feature": f, "effect": area_effect[a, j]}
                          for a, area in enumerate(areas) for j, f in enumerate(features)])
    agency_table = pd.DataFrame({"agency": agencies, "effect": agency_effect})
    return survey, codebook, truth, agency_table
