"""The synthetic demo data generator: committed data reproduce, contract shapes, planted truth."""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

from pipeline import paths, simulate
from pipeline.areas import AreaMatcher
from pipeline.config import section

SURVEY_COLUMNS = {"response_id", "submitted_at", "area", "agency", "role", "meetings_per_year", "members",
                  "comments"}
LIKERT_SCORE = {"strongly disagree": 1, "disagree": 2, "neither agree nor disagree": 3, "agree": 4,
                "strongly agree": 5}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
PHONE = re.compile(r"\b0\d{2,4} ?\d{3,4} ?\d{3,4}\b")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b")


def _params_design() -> tuple[int, simulate.SimulationDesign]:
    params = section("simulate")
    known = {f for f in simulate.SimulationDesign.__dataclass_fields__}
    return int(params["seed"]), simulate.SimulationDesign(**{k: v for k, v in params.items() if k in known})


@pytest.fixture(scope="module")
def demo() -> simulate.SimulatedData:
    seed, design = _params_design()
    return simulate.generate(seed, design)


@pytest.fixture(scope="module")
def matcher() -> AreaMatcher:
    return AreaMatcher.from_reference()


def _read(data: simulate.SimulatedData, name: str) -> pd.DataFrame:
    raw = data.files[name]
    encoding = "cp1252" if raw.count(b"\r\n") and b"\xef\xbb\xbf" != raw[:3] and _not_utf8(raw) else "utf-8-sig"
    return pd.read_csv(io.BytesIO(raw), encoding=encoding, dtype=str, keep_default_na=False)


def _not_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def _survey(data: simulate.SimulatedData) -> pd.DataFrame:
    frames = []
    for name in simulate.SURVEY_FILES:
        frame = _read(data, name)
        frame["source_file"] = name
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _score(label: str) -> float | str:
    text = " ".join(label.replace("\u2019", "'").lower().split())
    if text == "":
        return "skipped"
    if text == "don't know":
        return "dont_know"
    return LIKERT_SCORE[text]


def _parse_time(text: str) -> pd.Timestamp:
    if "/" in text:
        return pd.to_datetime(text, format="%d/%m/%Y %H:%M")
    return pd.Timestamp(text).tz_localize(None) if pd.Timestamp(text).tzinfo else pd.Timestamp(text)


# ---------------------------------------------------------------------------------------------- reproducibility

def test_committed_demo_data_regenerate_byte_for_byte(demo, tmp_path):
    if not (paths.RAW_SURVEY / "SYNTHETIC.md").is_file():
        pytest.skip("data/raw/survey holds real data (no SYNTHETIC.md marker): nothing to compare")
    truth_path = tmp_path / "truth.json"
    simulate.write(demo, tmp_path / "raw", truth_path)
    for rel_path, content in demo.files.items():
        committed = paths.RAW / rel_path
        assert committed.is_file(), f"{rel_path} missing from data/raw: run python -m pipeline.simulate"
        assert committed.read_bytes() == content, f"data/raw/{rel_path} differs from the generator's output"
        assert (tmp_path / "raw" / rel_path).read_bytes() == content
    committed_truth = paths.SYNTHETIC_TRUTH / "truth.json"
    assert committed_truth.read_bytes() == truth_path.read_bytes()


def test_generate_is_deterministic_and_seed_dependent():
    a, b, c = simulate.generate(5), simulate.generate(5), simulate.generate(6)
    assert a.files == b.files
    assert json.dumps(a.truth, sort_keys=True) == json.dumps(b.truth, sort_keys=True)
    assert a.files.keys() == c.files.keys()
    differing = [k for k in a.files if a.files[k] != c.files[k]]
    assert {"survey/survey_2015_wave1.csv", "outcomes/courts_quarterly.csv", "reference/covariates.csv"} <= set(
        differing)
    assert a.truth["latent_traits"] != c.truth["latent_traits"]


def test_truth_is_json_and_never_names_wall_clock(demo):
    text = json.dumps(demo.truth, sort_keys=True, allow_nan=False)
    assert json.loads(text)["seed"] == demo.truth["seed"]


def test_generator_never_writes_the_real_reference_tables(demo):
    assert "reference/police_force_areas.csv" not in demo.files
    assert "reference/area_aliases.csv" not in demo.files


# ---------------------------------------------------------------------------------------------- contract shapes

def test_survey_shapes_and_codebook(demo):
    codebook = _read(demo, "survey/codebook.csv")
    assert list(codebook.columns) == ["item", "feature", "text", "reverse"]
    features = set(codebook["feature"])
    required = {"priority_setting", "governance", "visibility", "influence", "performance_management",
                "engagement", "barriers"}
    assert required <= features and len(features) >= 7
    assert (codebook.groupby("feature").size() >= 3).all()
    assert codebook["item"].str.fullmatch(r"q\d{2}").all() and codebook["item"].is_unique
    assert (codebook.loc[codebook["feature"] == "barriers", "reverse"] == "true").all()
    items = list(codebook["item"])
    for name in simulate.SURVEY_FILES:
        frame = _read(demo, name)
        assert set(frame.columns) == SURVEY_COLUMNS | set(items), name
        assert frame["response_id"].is_unique, name
    invited = _read(demo, "survey/invited.csv")
    assert list(invited.columns) == ["area", "agency", "invited"]
    assert (invited["invited"].astype(int) >= 1).all()


def test_fieldwork_and_outcome_shapes(demo):
    expected = {
        "fieldwork/coded_segments.csv": ["segment_id", "area", "source_type", "source_id", "agency", "coder",
                                         "code", "excerpt"],
        "fieldwork/codebook.csv": ["code", "theme", "description", "valence"],
        "fieldwork/board_meetings.csv": ["area", "meeting_date", "agency", "attended", "senior"],
        "fieldwork/approved_quotes.csv": ["segment_id"],
        "outcomes/measures.csv": ["measure", "description", "unit", "higher_is_better"],
        "reference/covariates.csv": ["area", "period", "variable", "value", "source"],
    }
    for name, columns in expected.items():
        assert list(_read(demo, name).columns) == columns, name
    segments = _read(demo, "fieldwork/coded_segments.csv")
    assert set(segments["source_type"]) == {"interview", "focus_group", "document", "observation"}
    codebook = _read(demo, "fieldwork/codebook.csv")
    assert set(codebook["valence"]) == {"1", "0", "-1"}
    assert set(segments["code"]) <= set(codebook["code"])
    assert set(_read(demo, "fieldwork/approved_quotes.csv")["segment_id"]) <= set(segments["segment_id"])
    meetings = _read(demo, "fieldwork/board_meetings.csv")
    assert set(meetings["attended"].str.upper()) == {"Y", "N"}
    outcome_files = [k for k in demo.files if k.startswith("outcomes/") and k.endswith(".csv")
                     and k != "outcomes/measures.csv"]
    assert len(outcome_files) >= 2
    outcomes = pd.concat([_read(demo, k) for k in outcome_files], ignore_index=True)
    assert list(outcomes.columns) == ["area", "period", "measure", "value", "numerator", "denominator", "source"]
    measures = _read(demo, "outcomes/measures.csv")
    assert len(measures) >= 6 and set(outcomes["measure"]) == set(measures["measure"])
    kinds = {"calendar": r"\d{4}", "fy_slash": r"\d{4}/\d{2}", "fy_dash": r"\d{4}-\d{2}", "quarter": r"\d{4} Q[1-4]"}
    for kind, pattern in kinds.items():
        assert outcomes["period"].str.fullmatch(pattern).any(), f"no {kind} periods"
    years = outcomes["period"].str[:4].astype(int)
    assert years.min() == 2010 and years.max() == 2019
    rates = outcomes[outcomes["numerator"] != ""]
    num, den = rates["numerator"].astype(int), rates["denominator"].astype(int)
    assert (den >= 1).all() and (num <= den).all()
    assert np.allclose(rates["value"].astype(float), 100 * num / den, atol=1e-4)
    assert (outcomes["source"].str.startswith("synthetic:")).all()


def test_markers_and_synthetic_sources(demo):
    for folder in ("survey", "fieldwork", "outcomes"):
        assert "SYNTHETIC" in demo.files[f"{folder}/SYNTHETIC.md"].decode("utf-8")
    assert "reference/SYNTHETIC.md" not in demo.files
    covariates = _read(demo, "reference/covariates.csv")
    assert covariates["source"].str.startswith("synthetic").all()
    assert {"population", "deprivation_score", "recorded_crime_per_1000", "urban_share",
            "officers_per_1000"} <= set(covariates["variable"])
    readme = demo.files["README.md"].decode("utf-8")
    assert "SYNTHETIC" in readme and "Open Government Licence" in readme
    for effect in demo.truth["planted_effects"]:
        assert f"| {effect['feature']} | {effect['measure']} |" in readme


# ---------------------------------------------------------------------------------------------- areas

def test_every_area_name_resolves_and_covers_42_partnerships(demo, matcher):
    forces = pd.read_csv(paths.FORCES_CSV, dtype=str)
    for name in [k for k in demo.files if k.endswith(".csv")]:
        frame = _read(demo, name)
        if "area" not in frame.columns:
            continue
        unresolved = sorted({a for a in frame["area"] if matcher.lookup(a) is None})
        assert not unresolved, f"{name}: {unresolved}"
    survey = _survey(demo)
    ids = {matcher.lookup(a).lcjp_id for a in survey["area"]}
    assert ids == set(forces["lcjp_id"]) and len(ids) == 42
    london = [f for f in forces.itertuples() if f.lcjp_id == "london"]
    assert len(london) == 2
    london_codes = {matcher.lookup(a).pfa_code for a in survey["area"] if matcher.lookup(a).lcjp_id == "london"}
    assert london_codes == {f.pfa_code for f in london} | {None}  # Met, City and the partnership itself
    for name in ("outcomes/courts_quarterly.csv", "reference/covariates.csv"):
        codes = {matcher.lookup(a).pfa_code for a in _read(demo, name)["area"]}
        assert {f.pfa_code for f in london} <= codes, name


def test_name_variants_listed_in_the_contract_appear_and_resolve(demo, matcher):
    survey = _survey(demo)
    forces = simulate._read_forces(str(paths.FORCES_CSV))
    every_variant = [v for f in forces for v in simulate.force_name_variants(f)]
    every_variant += [v for p in simulate._partnerships(forces) for v in simulate.partnership_name_variants(p[1])]
    assert all(matcher.lookup(v) is not None for v in every_variant)
    for wanted in ["Avon & Somerset Constabulary", "Devon and Cornwall Police", "MPS", "Met",
                   "City of London Police", "london cjb ", "Dyfed Powys", "north wales police"]:
        assert wanted in every_variant, wanted
    seen = set(survey["area"])
    assert len(seen) > 100
    assert any(a != a.strip() for a in seen) and any(a.isupper() for a in seen)


# ---------------------------------------------------------------------------------------------- survey details

def test_dont_know_and_skipped_rates(demo):
    survey = _survey(demo)
    items = list(_read(demo, "survey/codebook.csv")["item"])
    values = survey[items].map(_score).to_numpy().ravel()
    assert abs(np.mean(values == "dont_know") - 0.05) < 0.015
    assert abs(np.mean(values == "skipped") - 0.03) < 0.012


def test_encodings_line_endings_and_timestamps(demo):
    raw = {name: demo.files[name] for name in simulate.SURVEY_FILES}
    cp1252 = [n for n, b in raw.items() if _not_utf8(b)]
    assert len(cp1252) == 1
    windows = raw[cp1252[0]]
    assert b"\x92" in windows and "Don\u2019t".lower() in windows.decode("cp1252").lower()
    assert windows.count(b"\r\n") >= len(_read(demo, cp1252[0]))
    assert sum(b.startswith(b"\xef\xbb\xbf") for b in raw.values()) == 1
    assert sum(b"\r\n" not in b for b in raw.values()) == 2
    stamps = _survey(demo)["submitted_at"]
    assert stamps.str.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}").any()
    assert stamps.str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z?").any()
    assert stamps.map(_parse_time).between(pd.Timestamp("2015-09-01"), pd.Timestamp("2015-12-31")).all()


def test_likert_meetings_members_and_roles_vary(demo):
    survey = _survey(demo)
    items = list(_read(demo, "survey/codebook.csv")["item"])
    labels = set(survey[items].to_numpy().ravel()) - {""}
    assert len(labels) > 12  # case and spacing variants
    assert {"Monthly", "Quarterly"} <= set(survey["meetings_per_year"])
    assert survey["meetings_per_year"].str.fullmatch(r"\d+").any()
    assert survey["members"].str.contains(";").all()
    assert len(set(survey["agency"])) >= 15 and {"CPS", "NPS", "CRC", "YOT", "OPCC", "HMCTS"} <= set(survey["agency"])
    assert len(set(survey["role"])) >= 6


def test_respondents_per_area_and_agency_mix(demo, matcher):
    survey = _survey(demo).drop_duplicates("response_id")
    survey["lcjp_id"] = [matcher.lookup(a).lcjp_id for a in survey["area"]]
    per_area = survey.groupby("lcjp_id").size()
    assert len(per_area) == 42 and per_area.between(4, 18).all()
    assert per_area.nunique() > 5
    assert demo.truth["survey"]["respondents_per_area"] == per_area.to_dict()
    agencies_per_area = survey.groupby("lcjp_id")["agency"].apply(lambda s: len(set(s)))
    assert agencies_per_area.nunique() > 3


def test_resubmissions_are_later_with_changed_answers(demo):
    survey = _survey(demo)
    items = list(_read(demo, "survey/codebook.csv")["item"])
    repeated = survey[survey.duplicated("response_id", keep=False)]
    ids = set(repeated["response_id"])
    assert len(ids) >= 5 and ids == set(demo.truth["survey"]["resubmitted_ids"])
    for _, group in repeated.groupby("response_id"):
        assert group["source_file"].nunique() == 2
        first, last = group.sort_values("source_file").to_dict("records")
        assert _parse_time(last["submitted_at"]) > _parse_time(first["submitted_at"])
        assert [_score(first[i]) for i in items] != [_score(last[i]) for i in items]


def test_comments_and_quotes_hold_fake_personal_data(demo):
    comments = " ".join(_survey(demo)["comments"])
    assert EMAIL.search(comments) and PHONE.search(comments)
    assert all(m.group(0).endswith(("example.org", "example.com", "example.net")) for m in EMAIL.finditer(comments))
    segments = _read(demo, "fieldwork/coded_segments.csv")
    approved = segments[segments["segment_id"].isin(_read(demo, "fieldwork/approved_quotes.csv")["segment_id"])]
    pii = approved["excerpt"].map(lambda t: bool(EMAIL.search(t) or PHONE.search(t) or POSTCODE.search(t)))
    assert 1 <= pii.sum() < len(pii)


# ---------------------------------------------------------------------------------------------- fieldwork

def _cohen_kappa(a: list[str], b: list[str]) -> float:
    labels = sorted(set(a) | set(b))
    index = {c: i for i, c in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    for x, y in zip(a, b):
        table[index[x], index[y]] += 1
    table /= table.sum()
    p_o, p_e = np.trace(table), table.sum(1) @ table.sum(0)
    return (p_o - p_e) / (1 - p_e)


def test_double_coded_sample_has_imperfect_agreement(demo, matcher):
    segments = _read(demo, "fieldwork/coded_segments.csv")
    doubled = segments[segments.duplicated("segment_id", keep=False)]
    assert doubled.groupby("segment_id").size().eq(2).all()
    assert doubled.groupby("segment_id")["coder"].nunique().eq(2).all()
    assert doubled["segment_id"].nunique() >= 30
    pairs = doubled.groupby("segment_id")["code"].apply(list)
    kappa = _cohen_kappa([p[0] for p in pairs], [p[1] for p in pairs])
    assert 0.6 < kappa < 0.9
    areas = {matcher.lookup(a).lcjp_id for a in segments["area"]}
    assert areas == set(demo.truth["fieldwork"]["areas"]) and len(areas) == 6


def test_fieldwork_valence_tracks_latent_traits(demo, matcher):
    segments = _read(demo, "fieldwork/coded_segments.csv").drop_duplicates("segment_id")
    codebook = _read(demo, "fieldwork/codebook.csv").set_index("code")
    segments["theme"] = segments["code"].map(codebook["theme"])
    segments["valence"] = segments["code"].map(codebook["valence"]).astype(int)
    segments["lcjp_id"] = [matcher.lookup(a).lcjp_id for a in segments["area"]]
    themed = segments[segments["theme"].isin(demo.truth["features"])]
    share = themed.groupby(["lcjp_id", "theme"])["valence"].mean().rename("valence").reset_index()
    share["trait"] = [demo.truth["latent_traits"][a][f] for a, f in zip(share["lcjp_id"], share["theme"])]
    assert share["valence"].corr(share["trait"]) > 0.4


# ---------------------------------------------------------------------------------------------- planted truth

def test_truth_documents_effects_nulls_and_attenuation(demo):
    truth = demo.truth
    features, measures = truth["features"], truth["measures"]
    assert len(truth["latent_traits"]) == 42
    traits = pd.DataFrame(truth["latent_traits"]).T[features]
    assert np.allclose(traits.mean(), 0, atol=1e-5) and np.allclose(traits.std(ddof=1), 1, atol=1e-4)
    planted = {(e["feature"], e["measure"]) for e in truth["planted_effects"]}
    nulls = {(p["feature"], p["measure"]) for p in truth["null_pairs"]}
    assert len(planted) == 4 and not planted & nulls and len(planted | nulls) == len(features) * len(measures)
    assert {e["strength"] for e in truth["planted_effects"]} == {"strong", "moderate"}
    att = truth["attenuation"]
    assert 0.7 < att["expected_corr_mean_trait"] < 0.95
    assert all(0.6 < r < 0.95 for r in att["realised_corr_mean_trait"].values())
    assert truth["icc1_target"] == truth["design"]["icc1_target"]


def test_effect_scale_zero_plants_nothing():
    null = simulate.generate(3, simulate.SimulationDesign(effect_scale=0.0))
    assert null.truth["planted_effects"] == []
    assert len(null.truth["null_pairs"]) == len(null.truth["features"]) * len(null.truth["measures"])
    assert all(s["structural_effect_per_sd"] == 0 for s in null.truth["implied_slopes"])
    half = simulate.generate(3, simulate.SimulationDesign(effect_scale=0.5))
    full = simulate.generate(3)
    for h, f in zip(half.truth["planted_effects"], full.truth["planted_effects"]):
        assert h["effect_per_sd"] == pytest.approx(f["effect_per_sd"] / 2, abs=1e-3)


def _outcome_by_area(data: simulate.SimulatedData, matcher: AreaMatcher, measure: str, year: int) -> pd.Series:
    """One year's outcome per partnership (rates pooled over forces and quarters from numerators)."""
    frames = [_read(data, k) for k in data.files if k.startswith("outcomes/") and k.endswith(".csv")
              and k != "outcomes/measures.csv"]
    rows = pd.concat(frames)
    rows = rows[(rows["measure"] == measure) & (rows["period"].str[:4] == str(year))].copy()
    rows["lcjp_id"] = [matcher.lookup(a).lcjp_id for a in rows["area"]]
    if (rows["numerator"] != "").all():
        sums = rows.assign(n=rows["numerator"].astype(int), d=rows["denominator"].astype(int)).groupby("lcjp_id")
        return 100 * sums["n"].sum() / sums["d"].sum()
    return rows.assign(v=rows["value"].astype(float)).groupby("lcjp_id")["v"].mean()


def _partial_r(y: np.ndarray, x: np.ndarray, z: np.ndarray) -> float:
    design = np.column_stack([np.ones(len(y)), z])
    ry = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    rx = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
    return float(np.corrcoef(rx, ry)[0, 1])


def test_planted_effects_are_visible_in_the_raw_outcomes(demo, matcher):
    """Latent trait vs the 2018 outcome given the true covariate z: strong effects stand out."""
    truth = demo.truth
    ids = sorted(truth["latent_traits"])
    z = np.array([[truth["covariate_z"][a][k] for k in sorted(truth["covariate_z"][a])] for a in ids])
    for effect in truth["planted_effects"]:
        y = _outcome_by_area(demo, matcher, effect["measure"], 2018).reindex(ids).to_numpy()
        x = np.array([truth["latent_traits"][a][effect["feature"]] for a in ids])
        r = _partial_r(y, x, z)
        assert np.sign(r) == np.sign(effect["effect_per_sd"])
        assert abs(r) > (0.4 if effect["strength"] == "strong" else 0.15), effect


def test_design_knobs_change_the_data():
    base = simulate.generate(8, simulate.SimulationDesign(informative_nonresponse=False))
    assert base.truth["unmeasured_confounder"] is None
    conf = simulate.generate(8, simulate.SimulationDesign(unmeasured_confounder=True))
    assert len(conf.truth["unmeasured_confounder"]) == 42
    biased = [s for s in conf.truth["implied_slopes"] if s["structural_effect_per_sd"] == 0]
    assert max(abs(s["implied_latent_partial_r"]) for s in biased) > 0.2
    informative = simulate.generate(8, simulate.SimulationDesign(informative_nonresponse=True,
                                                                 nonresponse_strength=2.0))
    traits = pd.DataFrame(informative.truth["latent_traits"]).T.mean(axis=1)
    propensity = pd.Series(informative.truth["survey"]["area_response_propensity"])
    assert traits.corr(propensity.reindex(traits.index)) > 0.6
    low = simulate.generate(8, simulate.SimulationDesign(icc1_target=0.02))
    high = simulate.generate(8, simulate.SimulationDesign(icc1_target=0.3))
    lo_icc = np.mean(list(low.truth["attenuation"]["realised_feature_icc1"].values()))
    hi_icc = np.mean(list(high.truth["attenuation"]["realised_feature_icc1"].values()))
    assert lo_icc < 0.1 < 0.25 < hi_icc
    narrow = simulate.generate(8, simulate.SimulationDesign(n_respondents_range=(6, 8)))
    assert set(narrow.truth["survey"]["respondents_per_area"].values()) <= {6, 7, 8}


def test_bad_design_is_rejected():
    with pytest.raises(ValueError, match="icc1_target"):
        simulate.SimulationDesign(icc1_target=1.2)
    with pytest.raises(ValueError, match="n_respondents_range"):
        simulate.SimulationDesign(n_respondents_range=(10, 4))


def test_cli_writes_files_and_truth(tmp_path):
    out, truth = tmp_path / "raw", tmp_path / "truth" / "truth.json"
    assert simulate.main(["--seed", "12", "--out", str(out), "--truth", str(truth)]) == 0
    again = simulate.generate(12, simulate.SimulationDesign(**{k: v for k, v in section("simulate").items()
                                                               if k in simulate.SimulationDesign.__dataclass_fields__}))
    assert (out / "survey" / "survey_2015_wave1.csv").read_bytes() == again.files["survey/survey_2015_wave1.csv"]
    assert json.loads(truth.read_text(encoding="utf-8"))["seed"] == 12


def test_partial_r_must_be_a_correlation():
    with pytest.raises(ValueError, match="strong_partial_r"):
        simulate.SimulationDesign(strong_partial_r=1.0)


def test_without_fieldwork_every_other_file_is_identical():
    """The validation study generates without fieldwork (it never enters the estimates): same bytes otherwise."""
    full = simulate.generate(31, simulate.SimulationDesign(icc1_target=0.1))
    lean = simulate.generate(31, simulate.SimulationDesign(icc1_target=0.1), with_fieldwork=False)
    assert not any(name.startswith("fieldwork/") for name in lean.files)
    assert lean.files == {k: v for k, v in full.files.items() if not k.startswith("fieldwork/")}
    assert lean.truth["fieldwork"] is None
    assert {k: v for k, v in lean.truth.items() if k != "fieldwork"} == \
        {k: v for k, v in full.truth.items() if k != "fieldwork"}
