"""Processed-shaped fixture files for testing and developing the publishing stages.

Writes the files the findings, profile and index stages read (shapes of docs/ARCHITECTURE.md)
into ``root``, marked synthetic in every ``inputs_<kind>.json``. With ``plant=True`` it plants what
disclosure control must stop: a survey comment with an e-mail address, an area feature built from
two respondents (distinctive score ``PLANTED_SMALL_SCORE``), a non-approved excerpt with a phone
number, and an approved quote containing a phone number and a postcode (to be redacted).
Used by tests/test_publish*.py; never writes into the working tree unless told to.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.io import write_csv, write_json, write_parquet

PLANTED_EMAIL = "jo.bloggs.planted@example.org"
PLANTED_PHONE = "07700 900461"
PLANTED_EXCERPT_PHONE = "01632 960 777"
PLANTED_POSTCODE = "SW1A 2AA"
PLANTED_COMMENT = f"Contact me at {PLANTED_EMAIL} about the board"
PLANTED_EXCERPT = f"Ring the chair direct on {PLANTED_EXCERPT_PHONE}, not approved for publication"
PLANTED_SMALL_SCORE = 4.4242
FIXTURE_FEATURES = ["engagement", "governance", "influence", "priority_setting"]
FIXTURE_MEASURES = ["ineffective_trial_rate", "conviction_ratio"]
FIXTURE_THEMES = ["leadership", "shared_data"]


def write_fixture(root: Path, *, seed: int = 7, plant: bool = True, small_area: str = "cumbria",
                  fieldwork_areas: tuple[str, ...] = ("kent", "cumbria", "gwent")) -> dict[str, object]:
    """Write fixture processed files under ``root/data/processed`` (and ``root/reports/metrics.json``)."""
    from pipeline.areas import load_forces

    rng = np.random.default_rng(seed)
    root = Path(root)
    processed = root / "data" / "processed"
    processed.mkdir(parents=True, exist_ok=True)
    forces = load_forces()
    areas = sorted(forces["lcjp_id"].unique())

    for kind in ("survey", "fieldwork", "outcomes", "covariates"):
        write_json({"files": [{"path": f"data/raw/{kind}/fixture.csv", "rows": 10, "sha256": "0" * 64}],
                    "ignored": [], "synthetic": True}, processed / f"inputs_{kind}.json")

    rows = []
    for feature in FIXTURE_FEATURES:
        for area in areas:
            n = int(rng.integers(4, 12))
            score = float(rng.normal(3.2, 0.4))
            if plant and area == small_area and feature == FIXTURE_FEATURES[0]:
                n, score = 2, PLANTED_SMALL_SCORE
            half = 0.8 / np.sqrt(n)
            rows.append({"lcjp_id": area, "feature": feature, "score": score, "ci_low": score - half,
                         "ci_high": score + half, "raw_mean": score + rng.normal(0, 0.05), "n_respondents": n,
                         "n_agencies": min(n, 5), "rwg_j": float(rng.uniform(0.6, 0.95)),
                         "rwg_j_skewed": float(rng.uniform(0.4, 0.9)), "aggregation_ok": True, "decision": "kept",
                         "alpha": 0.81, "omega": 0.83, "icc1": 0.12, "icc2": 0.55})
    area_features = pd.DataFrame(rows).sort_values(["lcjp_id", "feature"], ignore_index=True)
    write_csv(area_features, processed / "area_features.csv")

    quality = pd.DataFrame({"feature": FIXTURE_FEATURES, "n_items": 4, "n_respondents": 300, "n_areas": 42,
                            "alpha": 0.81, "alpha_ci_low": 0.76,
                            "alpha_ci_high": 0.85, "omega": 0.83, "icc1": 0.12, "icc2": 0.55,
                            "rwg_j_median": 0.78, "share_rwg_ok": 0.7, "decision": "kept",
                            "reason": "passes all floors"})
    write_csv(quality, processed / "feature_quality.csv")

    agencies = ["police", "cps", "courts"]
    matrix, rates = [], []
    for area in areas:
        total_resp = total_inv = 0
        for agency in agencies:
            invited = int(rng.integers(3, 6))
            responded = int(rng.integers(0, invited + 1))
            total_resp, total_inv = total_resp + responded, total_inv + invited
            matrix.append({"lcjp_id": area, "agency": agency, "n_respondents": responded, "n_invited": invited,
                           "response_rate": responded / invited, "is_core": True})
        rates.append({"lcjp_id": area, "n_respondents": total_resp, "n_invited": total_inv,
                      "response_rate": total_resp / total_inv, "rate_basis": "invited",
                      "n_agencies_responding": 3, "core_agencies_covered": 3, "n_core_agencies": 3,
                      "core_coverage": 1.0, "core_agencies_missing": ""})
    write_csv(pd.DataFrame(matrix), processed / "response_matrix.csv")
    write_csv(pd.DataFrame(rates), processed / "response_rates.csv")

    write_csv(pd.DataFrame({"measure": ["cohen_kappa", "krippendorff_alpha"], "unit": "code", "coders": "A;B",
                            "n_coders": 2, "n_segments": [60, 60], "estimate": [0.78, 0.74], "ci_low": [0.7, 0.66],
                            "ci_high": [0.85, 0.81], "n_bootstrap": 1000, "ci_method": "bootstrap",
                            "interpretation": "adequate"}), processed / "intercoder_reliability.csv")

    themes = []
    for area in fieldwork_areas:
        for theme in FIXTURE_THEMES:
            pos, neu, neg = (int(v) for v in rng.integers(0, 8, 3))
            themes.append({"lcjp_id": area, "theme": theme, "n_segments": pos + neu + neg, "n_positive": pos,
                           "n_neutral": neu, "n_negative": neg, "net_valence": (pos - neg) / max(1, pos + neu + neg),
                           "share_of_area_segments": 0.5})
    write_csv(pd.DataFrame(themes), processed / "fieldwork_themes.csv")

    quotes = pd.DataFrame({
        "segment_id": ["s001", "s002"], "lcjp_id": [fieldwork_areas[0], fieldwork_areas[1]],
        "code": ["lead_strong", "data_shared"], "theme": FIXTURE_THEMES,
        "quote": ["The chair makes sure every agency is heard before a decision is taken.",
                  (f"We share the dashboard monthly; call {PLANTED_PHONE} or visit {PLANTED_POSTCODE}" if plant
                   else "We share the dashboard monthly.")]}).astype("string")
    write_parquet(quotes, processed / "fieldwork_quotes.parquet")
    segments = pd.DataFrame({"segment_id": ["s001", "s002", "s003"], "lcjp_id": list(fieldwork_areas[:2]) + [fieldwork_areas[0]],
                             "source_type": "interview", "source_id": ["i1", "i2", "i3"], "agency": "police",
                             "coder": "A", "code": ["lead_strong", "data_shared", "lead_weak"],
                             "theme": FIXTURE_THEMES + [FIXTURE_THEMES[0]], "valence": [1, 1, -1],
                             "excerpt": ["ok", "ok", PLANTED_EXCERPT if plant else "fine"]})
    write_parquet(segments, processed / "fieldwork_segments.parquet")
    survey = pd.DataFrame({"response_id": ["r1", "r2"], "lcjp_id": [small_area, "kent"], "agency": "police",
                           "submitted_at": pd.to_datetime(["2015-09-20 10:00", "2015-10-02 11:30"]),
                           "comments": [PLANTED_COMMENT if plant else "", ""], "q01": [4.0, 3.0]})
    write_parquet(survey, processed / "survey_clean.parquet")
    codebook = pd.DataFrame({"item": [f"q{i + 1:02d}" for i in range(len(FIXTURE_FEATURES))],
                             "feature": FIXTURE_FEATURES, "text": "item text",
                             "reverse": [i == len(FIXTURE_FEATURES) - 1 for i in range(len(FIXTURE_FEATURES))]})
    write_parquet(codebook, processed / "survey_codebook.parquet")

    measures = pd.DataFrame({"measure": FIXTURE_MEASURES,
                             "description": ["Ineffective trials (% of trials listed)", "Conviction ratio (%)"],
                             "unit": ["percent", "percent"], "higher_is_better": [False, True]})
    write_parquet(measures, processed / "measures.parquet")
    out = []
    for area in areas:
        level = {m: rng.normal(20 if i == 0 else 80, 3) for i, m in enumerate(FIXTURE_MEASURES)}
        for year in range(2012, 2020):
            for measure in FIXTURE_MEASURES:
                out.append({"lcjp_id": area, "period_start": pd.Timestamp(f"{year}-01-01"), "period_label": str(year),
                            "period_type": "calendar_year", "year": year, "measure": measure,
                            "value": float(level[measure] + rng.normal(0, 1)), "numerator": np.nan,
                            "denominator": np.nan, "source": "synthetic fixture", "combined_from": ""})
    write_parquet(pd.DataFrame(out), processed / "outcomes.parquet")
    cov = []
    population = dict(zip(forces.groupby("lcjp_id")["population_2011"].sum().index,
                          forces.groupby("lcjp_id")["population_2011"].sum().to_numpy()))
    for area in areas:
        for year in (2014, 2018):
            for variable, value in (("population", population[area]), ("deprivation", rng.normal(20, 5)),
                                    ("urban_share", rng.uniform(0.3, 1.0))):
                cov.append({"lcjp_id": area, "period_start": pd.Timestamp(f"{year}-01-01"), "period_label": str(year),
                            "year": year, "variable": variable, "value": float(value), "source": "synthetic fixture"})
    write_parquet(pd.DataFrame(cov), processed / "covariates.parquet")

    est = []
    for feature in FIXTURE_FEATURES:
        for measure in FIXTURE_MEASURES:
            for model in ("ols", "ols_region_fe"):
                estimate = float(rng.normal(0, 1))
                se = float(rng.uniform(0.4, 0.9))
                p = float(rng.uniform(0.001, 0.9))
                est.append({"feature": feature, "outcome": measure, "model": model, "estimate": estimate,
                            "ci_low": estimate - 1.96 * se, "ci_high": estimate + 1.96 * se, "p_value": p,
                            "p_adjusted": min(1.0, p * 4), "n_areas": 42, "se_hc3": se, "t": estimate / se,
                            "df_resid": 37, "beta_std": estimate / 3, "partial_r": estimate / 10, "p_holm": min(1.0, p * 8),
                            "q_bh": min(1.0, p * 4), "mde": 1.7, "mde_r": 0.42, "ci_method": "wild bootstrap",
                            "p_method": "freedman_lane", "family": "exploratory",
                            "robustness_value": float(rng.uniform(0.02, 0.3)), "e_value": float(rng.uniform(1, 2.5)),
                            "verdict": "inconclusive", "outcome_period": "level_2018"})
    write_csv(pd.DataFrame(est), processed / "estimates.csv")
    spec = []
    for i, (feature, measure) in enumerate([(f, m) for f in FIXTURE_FEATURES for m in FIXTURE_MEASURES]):
        for j, covset in enumerate(("none", "core", "full")):
            for agg in ("adjusted", "raw"):
                e = float(rng.normal(0.2, 0.6))
                spec.append({"feature": feature, "outcome": measure, "specification": f"{agg}|{covset}",
                             "aggregation": agg, "covariate_set": covset, "estimate": e, "ci_low": e - 1,
                             "ci_high": e + 1, "p_value": float(rng.uniform(0, 1)), "primary": agg == "adjusted" and covset == "core"})
    write_csv(pd.DataFrame(spec), processed / "specification_curve.csv")
    write_csv(pd.DataFrame({"lcjp_id": areas, "cooks_d": rng.uniform(0, 0.3, len(areas))}), processed / "influence.csv")
    (root / "reports").mkdir(parents=True, exist_ok=True)
    write_json({"n_areas": 42, "n_tests": len(est)}, root / "reports" / "metrics.json")
    return {"areas": areas, "small_area": small_area, "fieldwork_areas": list(fieldwork_areas)}


if __name__ == "__main__":  # developer convenience: python -m tests.builders.publish DIR
    import sys
    print(json.dumps(write_fixture(Path(sys.argv[1])), indent=1))
