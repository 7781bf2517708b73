"""The clean stage: rules for each kind, generality (nothing hard-coded), determinism, the demo data."""
from __future__ import annotations

import hashlib
import json
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import paths
from pipeline.areas import AreaMatcher, load_forces
from tests.builders import clean_examples as examples
from pipeline.clean import (clean_covariates, clean_fieldwork, clean_kind, clean_outcomes, clean_survey,
                            parse_periods, write_result)
from pipeline.clean.readers import UnrecognisedFileWarning
from pipeline.clean.schemas import validate_outputs
from pipeline.errors import InputError


@pytest.fixture(scope="module")
def matcher():
    return AreaMatcher.from_reference()


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- survey
def test_survey_example_values(tmp_path, matcher):
    folder = examples.write(tmp_path / "survey", examples.survey_files())
    before = digest(folder)
    result = clean_survey(folder, matcher)
    assert digest(folder) == before  # raw files never modified
    clean = result.clean.set_index("response_id")
    # q03 is reverse-coded in the codebook: "Disagree" (2) -> 4; "Strongly disagree" (1) -> 5.
    assert clean.loc["r001", ["q01", "q02", "q03"]].tolist() == [5.0, 4.0, 4.0]
    assert clean.loc["r003", "q03"] == 5.0
    # "Don't know" and blank are missing and counted separately.
    assert np.isnan(clean.loc["r002", "q02"]) and np.isnan(clean.loc["r002", "q03"])
    assert clean.loc["r002", ["n_dont_know", "n_skipped"]].tolist() == [1, 1]
    missing = result.missing.set_index(["response_id", "item"])["kind"]
    assert missing[("r002", "q02")] == "dont_know" and missing[("r002", "q03")] == "skipped"
    # Areas: force names, abbreviations and the partnership name (pfa_code NA for all of London).
    assert clean.loc["r003", ["lcjp_id", "pfa_code"]].tolist() == ["london", "E23000001"]
    assert clean.loc["r005", "lcjp_id"] == "london" and pd.isna(clean.loc["r005", "pfa_code"])
    # Agencies, roles, meetings, members normalised.
    assert clean.loc["r002", "agency"] == "cps" and clean.loc["r004", "agency"] == "probation"
    assert clean.loc["r003", "role"] == "officer_support"
    assert clean["meetings_per_year"].tolist() == [4.0, 6.0, 12.0, 2.0, 4.0]
    assert clean.loc["r001", "members"] == "courts;cps;police"
    # UK day-first dates and ISO with an offset.
    assert clean.loc["r002", "submitted_at"] == pd.Timestamp("2015-03-03 09:30")
    assert clean.loc["r004", "submitted_at"] == pd.Timestamp("2015-03-05 08:00")
    # Comments are not carried (personal data); only a flag.
    assert "comments" not in result.clean.columns and clean["has_comment"].sum() == 2
    assert not result.clean.astype(str).apply(lambda c: c.str.contains("07700")).any().any()
    # Invited: London's two forces summed into the partnership.
    invited = result.invited.set_index(["lcjp_id", "agency"])["invited"]
    assert invited[("london", "courts")] == 4 and invited[("london", "probation")] == 1
    validate_outputs(result)


def test_label_variants_and_encodings(tmp_path, matcher):
    text = examples.SURVEY_RESPONSES.replace("Don't know", "DON\u2019T  KNOW").replace("Strongly agree", " strongly   AGREE ")
    text = text.replace("Officer/support", "officer / support")
    for encoding, prefix in (("cp1252", b""), ("utf-8", b"\xef\xbb\xbf")):
        folder = tmp_path / encoding
        examples.write(folder, {"codebook.csv": examples.SURVEY_CODEBOOK})
        (folder / "responses.csv").write_bytes(prefix + text.encode(encoding))
        result = clean_survey(folder, matcher)
        assert result.quarantine.empty, result.quarantine
        clean = result.clean.set_index("response_id")
        assert clean.loc["r001", "q01"] == 5.0 and clean.loc["r002", "n_dont_know"] == 1
        assert clean.loc["r003", "role"] == "officer_support"
        assert result.manifest["files"][1]["encoding"] == encoding.replace("utf-8", "utf-8")


def test_resubmission_keeps_later_submission(tmp_path, matcher):
    later = examples.SURVEY_RESPONSES.splitlines()
    later_row = later[1].replace("2015-03-02T10:15:00", "2015-04-01T10:00:00").replace("Strongly agree", "Disagree", 1)
    folder = examples.write(tmp_path / "s", {**examples.survey_files(), "responses_wave2.csv": later[0] + "\n" + later_row + "\n"})
    result = clean_survey(folder, matcher)
    row = result.clean.set_index("response_id").loc["r001"]
    assert row["source_file"].endswith("responses_wave2.csv") and row["q01"] == 2.0
    q = result.quarantine
    assert q["reason"].str.contains("superseded by resubmission in .*responses_wave2.csv row 2", regex=True).sum() == 1
    earliest = clean_survey(folder, matcher, keep_resubmission="earliest").clean.set_index("response_id").loc["r001"]
    assert earliest["source_file"].endswith("responses_wave1.csv")


def test_unrecognised_file_is_listed_and_warned(tmp_path, matcher):
    folder = examples.write(tmp_path / "s", {**examples.survey_files(), "notes.csv": "foo,bar\n1,2\n",
                                             "SYNTHETIC.md": "demo"})
    with pytest.warns(UnrecognisedFileWarning, match="notes.csv"):
        result = clean_survey(folder, matcher)
    assert [i["path"].endswith("notes.csv") for i in result.manifest["ignored"]] == [True]
    assert result.manifest["synthetic"] is True
    assert {f["type"] for f in result.manifest["files"]} == {"codebook", "responses", "invited"}


def test_file_kind_comes_from_header_not_name(tmp_path, matcher):
    files = examples.survey_files()
    folder = examples.write(tmp_path / "s", {"a.csv": files["codebook.csv"], "codebook.csv": files["responses_wave1.csv"]})
    result = clean_survey(folder, matcher)
    types_ = {Path(f["path"]).name: f["type"] for f in result.manifest["files"]}
    assert types_ == {"a.csv": "codebook", "codebook.csv": "responses"}


# ---------------------------------------------------------------- generality: nothing hard-coded
def test_other_codebook_measures_and_aliases_work(tmp_path):
    codebook = ("item,feature,text,reverse\nTrust A,trust,Partners trust each other,no\n"
                "shared-data,data_sharing,We share data,yes\n")
    responses = ("Response ID,Submitted At,Area,Agency,Role,Trust A,shared-data,Members\n"
                 "x1,2016-01-02 10:00,Gotham Board,Police,Chair,Agree,Strongly disagree,Police\n"
                 "x2,2016-01-03 11:00,Kent,Health,Member,Disagree,Agree,\n")
    aliases = pd.DataFrame({"alias": ["Gotham Board"], "area": ["kent"]})
    matcher = AreaMatcher(load_forces(), aliases)
    folder = examples.write(tmp_path / "s", {"cb.csv": codebook, "export.csv": responses})
    result = clean_survey(folder, matcher)
    assert result.codebook["item"].tolist() == ["trust_a", "shared_data"]
    clean = result.clean.set_index("response_id")
    assert clean.loc["x1", "lcjp_id"] == "kent"
    assert clean.loc["x1", ["trust_a", "shared_data"]].tolist() == [4.0, 5.0]  # reverse: 6 - 1
    measures = "measure,description,unit,higher_is_better\nRepeat Victims,Repeat victims,rate per 1000,false\n"
    outcomes = ("area,period,measure,value,numerator,denominator,source\n"
                "Gotham Board,2016 Q1,repeat victims,,30,1000,x\nMetropolitan Police,2016 Q1,Repeat Victims,,50,2000,x\n"
                "City of London Police,2016 Q1,Repeat Victims,,10,500,x\n")
    oc = clean_outcomes(examples.write(tmp_path / "o", {"m.csv": measures, "o.csv": outcomes}), matcher)
    table = oc.outcomes.set_index("lcjp_id")
    assert oc.measures["measure"].tolist() == ["Repeat Victims"]
    assert table.loc["kent", "value"] == pytest.approx(30.0)  # value recomputed from the unit's "per 1000"
    assert table.loc["london", "value"] == pytest.approx(60 / 2500 * 1000)
    assert table.loc["london", "combined_from"] == "E23000001+E23000034"


# ---------------------------------------------------------------- fieldwork
def test_fieldwork_example(tmp_path, matcher):
    folder = examples.write(tmp_path / "f", examples.fieldwork_files())
    result = clean_fieldwork(folder, matcher)
    assert len(result.segments) == 4 and "excerpt" not in result.segments.columns
    assert set(result.segments["theme"]) == {"priority_setting", "barriers", "engagement"}
    quotes = result.quotes.set_index("segment_id")["quote"]
    assert list(quotes.index) == ["s001", "s002"]  # only approved, one per segment
    assert "jo@kent.gov.uk" not in quotes["s001"] and "[redacted]" in quotes["s001"]
    assert "01234 567890" not in quotes["s002"]
    # Excerpts of segments not approved go nowhere.
    for frame in result.outputs().values():
        assert not frame.astype(str).apply(lambda c: c.str.contains("SA31")).any().any()
    bm = result.board_meetings
    assert bm["attended"].tolist() == [True, True, False] and bm["senior"].tolist() == [False, True, False]
    assert bm["meeting_date"].tolist()[2] == pd.Timestamp("2015-04-14")
    validate_outputs(result)


# ---------------------------------------------------------------- outcomes and covariates
def test_outcome_combination_rules(tmp_path, matcher):
    result = clean_outcomes(examples.write(tmp_path / "o", examples.outcome_files()), matcher)
    oc = result.outcomes.set_index(["lcjp_id", "measure"])
    pop = load_forces().set_index("pfa_code")["population_2011"]
    rate = oc.loc[("london", "ineffective_trial_rate")]
    assert (rate["numerator"], rate["denominator"]) == (210.0, 1100.0)
    assert rate["value"] == pytest.approx(210 / 1100 * 100)  # recomputed on the rows' percent scale
    days = oc.loc[("london", "days_offence_to_completion")]
    expected = (160 * pop["E23000001"] + 100 * pop["E23000034"]) / (pop["E23000001"] + pop["E23000034"])
    assert days["value"] == pytest.approx(expected)  # population-weighted
    assert oc.loc[("london", "offences_brought_to_justice"), "value"] == 9100  # counts summed
    assert oc.loc[("kent", "ineffective_trial_rate"), "combined_from"] is pd.NA
    assert oc.loc[("dyfed-powys", "ineffective_trial_rate"), "period_type"] == "financial_year"
    assert set(result.outcomes["period_label"]) == {"2014", "2014/15", "2014 Q3"}
    validate_outputs(result)


def test_partnership_row_taken_as_is(tmp_path, matcher):
    text = examples.OUTCOMES + "London,2014,ineffective_trial_rate,18,,,example\n"
    result = clean_outcomes(examples.write(tmp_path / "o", {"measures.csv": examples.MEASURES, "o.csv": text}), matcher)
    row = result.outcomes.set_index(["lcjp_id", "measure", "period_label"]).loc[("london", "ineffective_trial_rate", "2014")]
    assert row["value"] == 18 and pd.isna(row["combined_from"])
    assert result.quarantine["reason"].str.contains("partnership figure given directly").sum() == 2


def test_covariates_combination(tmp_path, matcher):
    result = clean_covariates(examples.write(tmp_path / "r", examples.covariate_files()), matcher)
    cv = result.covariates.set_index(["lcjp_id", "variable"])["value"]
    pop = load_forces().set_index("pfa_code")["population_2011"]
    assert cv[("london", "population")] == 8_509_000
    w = pop[["E23000001", "E23000034"]]
    assert cv[("london", "crime_per_1000")] == pytest.approx((90 * w.iloc[0] + 300 * w.iloc[1]) / w.sum())
    assert cv[("london", "urban_share")] == 1.0
    summed = clean_covariates(tmp_path / "r", matcher, additive_variables=["crime_per_1000"]).covariates
    assert summed.set_index(["lcjp_id", "variable"])["value"][("london", "crime_per_1000")] == 390


def test_reference_tables_are_not_warned_about(tmp_path, matcher):
    files = {**examples.covariate_files(), "police_force_areas.csv": paths.FORCES_CSV.read_text(),
             "other_covariates.csv": "Area,Period,Variable,Value,Source\nKent,2015,urban_share,0.7,x\n"}
    folder = examples.write(tmp_path / "r", files)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnrecognisedFileWarning)
        result = clean_covariates(folder, matcher)
    assert len(result.reconciliation) == 2  # both covariate-shaped files, recognised by header
    assert [Path(i["path"]).name for i in result.manifest["ignored"]] == ["police_force_areas.csv"]


def test_official_sources_go_through_the_same_rules(tmp_path, matcher, monkeypatch):
    """A fake adapter module: its output rows meet the CSV rules; the published file is accounted for too."""
    calls = {}

    def read_official(names, folder, matcher, kind):
        calls["names"], calls["folder"], calls["kind"] = names, folder, kind
        data = pd.DataFrame({"area": ["Kent", "Kent"], "period": ["2015", "Spring"], "measure": ["reoffending"] * 2,
                             "value": [30.0, 31.0], "numerator": [np.nan] * 2, "denominator": [np.nan] * 2,
                             "source": ["MoJ proven reoffending"] * 2, "source_file": ["official/reoff.csv"] * 2})
        measures = pd.DataFrame({"measure": ["reoffending"], "description": ["Proven reoffending"],
                                 "unit": ["percent"], "higher_is_better": [False]})
        files = pd.DataFrame([{"adapter": "moj", "file": "official/reoff.csv", "sheet": None, "sha256": "ab",
                               "rows_read": 40, "rows_used": 37, "rows_excluded": 3,
                               "excluded_reasons": "3 rows for bodies that are not territorial police force areas",
                               "notes": "", "status": "read"},
                              {"adapter": "", "file": "official/notes.txt", "sheet": None, "status":
                               "ignored: not a .csv, .csv.gz or .xlsx file"}])
        return types.SimpleNamespace(data=data, measures=measures, files=files)

    fake = types.ModuleType("pipeline.official")
    fake.read_official = read_official
    monkeypatch.setitem(sys.modules, "pipeline.official", fake)
    import pipeline
    monkeypatch.setattr(pipeline, "official", fake, raising=False)
    folder = examples.write(tmp_path / "o", examples.outcome_files())
    result = clean_outcomes(folder, matcher, official_sources=["moj"], official_folder=tmp_path / "official")
    assert calls == {"names": ["moj"], "folder": tmp_path / "official", "kind": "outcomes"}
    rec = result.reconciliation.set_index("source_file")
    cols = ["rows_read", "accepted", "quarantined", "excluded_by_adapter", "input"]
    assert rec.loc["official/reoff.csv", cols].tolist() == [40, 37, 3, 3, "official file"]
    assert rec.loc["official/reoff.csv (moj output)", cols].tolist() == [2, 1, 1, 0, "official adapter output"]
    assert (rec["accepted"] + rec["quarantined"] == rec["rows_read"]).all()
    assert "reoffending" in set(result.outcomes["measure"])
    bad = result.quarantine[result.quarantine["reason"].str.contains("unparseable period 'Spring'")]
    assert bad[["source_file", "row_number"]].values.tolist() == [["official/reoff.csv (moj output)", 2]]
    files = {f["path"]: f for f in result.manifest["files"]}
    assert files["official/reoff.csv"]["rows_excluded"] == 3 and files["official/reoff.csv"]["synthetic"] is False
    assert {"path": "official/notes.txt", "reason": "ignored: not a .csv, .csv.gz or .xlsx file"} in \
        result.manifest["ignored"]
    sources = {s["name"]: s for s in result.manifest["sources"]}
    assert sources["MoJ proven reoffending"] == {"name": "MoJ proven reoffending", "synthetic": False,
                                                 "files": ["official/reoff.csv"], "rows": 40, "adapters": ["moj"],
                                                 "rows_output": 1}
    validate_outputs(result)


REAL_POPULATION = paths.SHARED / "real-data" / "derived" / "pfa_population_2001_2020.csv"


@pytest.mark.realdata
@pytest.mark.skipif(not REAL_POPULATION.is_file(), reason=f"real-data sample not found at {REAL_POPULATION}")
def test_real_official_adapter_through_clean(tmp_path, matcher):
    """The real ONS population adapter (pipeline.official) feeding the clean stage's rules."""
    examples.write(tmp_path / "ref", examples.covariate_files())
    (tmp_path / "official").mkdir()
    (tmp_path / "official" / "population.csv").write_bytes(REAL_POPULATION.read_bytes())
    # The example's 2014 populations are real-looking but differ from the ONS's: two real sources disagree.
    with pytest.raises(InputError, match="two real sources give variable 'population'") as info:
        clean_covariates(tmp_path / "ref", matcher, official_sources=["ons_population"],
                         official_folder=tmp_path / "official")
    assert "'example'" in str(info.value) and "ONS, mid-year population" in str(info.value)
    assert "official_sources" in info.value.fix
    # Marked as the generator's synthetic folder, the example rows give way to the real source.
    (tmp_path / "ref" / "SYNTHETIC.md").write_text("synthetic")
    result = clean_covariates(tmp_path / "ref", matcher, official_sources=["ons_population"],
                              official_folder=tmp_path / "official")
    rec = result.reconciliation.set_index("source_file")
    official_file = [f for f in rec.index if f.endswith("population.csv")][0]
    real_rows = len(pd.read_csv(REAL_POPULATION))
    assert rec.loc[official_file, ["rows_read", "accepted", "quarantined"]].tolist() == [real_rows, real_rows, 0]
    assert rec.loc[official_file + " (ons_population output)", "accepted"] == real_rows
    superseded = result.quarantine[result.quarantine["reason"].str.startswith("superseded by real source ONS")]
    assert sorted(superseded["area"]) == ["City of London Police", "Kent", "Metropolitan Police"]
    assert {s["name"]: s["synthetic"] for s in result.manifest["sources"]} == {
        "example": True, "ONS, mid-year population estimates by police force area": False}
    cv = result.covariates
    official_rows = cv[cv["source"] != "example"]
    london = official_rows[(official_rows["lcjp_id"] == "london") & (official_rows["year"] == 2011)]
    assert len(london) == 1 and london["combined_from"].iloc[0] == "E23000001+E23000034"
    real = pd.read_csv(REAL_POPULATION)
    expected = real[(real["year"] == 2011) & real["pfa_code"].isin(["E23000001", "E23000034"])]["population"].sum()
    assert london["value"].iloc[0] == pytest.approx(expected)  # population summed across the two forces
    assert official_rows["lcjp_id"].nunique() == 42


def test_bad_option_is_an_input_error(tmp_path, matcher):
    folder = examples.write(tmp_path / "s", examples.survey_files())
    with pytest.raises(InputError, match="on_unknown_area"):
        clean_survey(folder, matcher, on_unknown_area="guess")


def test_periods():
    out = parse_periods(pd.Series(["2014", "2014/15", "2014-15", "FY2014/2015", "2014 Q3", "Q1 2015", "1999/00",
                                   "2014/16", "x"]))
    assert out["period_type"].tolist()[:7] == ["calendar_year"] + ["financial_year"] * 3 + ["quarter"] * 2 + [
        "financial_year"]
    assert out["period_start"].tolist()[:7] == [pd.Timestamp(s) for s in (
        "2014-01-01", "2014-04-01", "2014-04-01", "2014-04-01", "2014-07-01", "2015-01-01", "1999-04-01")]
    assert out["period_label"].tolist()[:7] == ["2014", "2014/15", "2014/15", "2014/15", "2014 Q3", "2015 Q1", "1999/00"]
    assert out["period_problem"].notna().tolist() == [False] * 7 + [True, True]


# ---------------------------------------------------------------- determinism and writing
def test_writer_is_deterministic(tmp_path, matcher):
    for kind, files in (("survey", examples.survey_files()), ("outcomes", examples.outcome_files())):
        folder = examples.write(tmp_path / kind, files)
        fn = clean_survey if kind == "survey" else clean_outcomes
        write_result(fn(folder, matcher), kind, tmp_path / "out1")
        write_result(fn(folder, matcher), kind, tmp_path / "out2")
    assert digest(tmp_path / "out1") == digest(tmp_path / "out2")
    manifest = json.loads((tmp_path / "out1" / "inputs_survey.json").read_text())
    assert {"files", "ignored", "synthetic"} <= set(manifest)
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])


# ---------------------------------------------------------------- the demo data in data/raw
DEMO = {kind: folder for kind, folder in (("survey", paths.RAW_SURVEY), ("fieldwork", paths.RAW_FIELDWORK),
                                          ("outcomes", paths.RAW_OUTCOMES), ("covariates", paths.RAW_REFERENCE))}


@pytest.mark.parametrize("kind", list(DEMO))
def test_demo_data_cleans(kind, matcher):
    if kind == "covariates" and not (paths.RAW_REFERENCE / "covariates.csv").is_file() or \
            kind != "covariates" and not DEMO[kind].is_dir():
        pytest.skip(f"no demo data in {DEMO[kind]} (run pipeline.simulate first)")
    result = clean_kind(kind, matcher=matcher)
    validate_outputs(result)
    rec = result.reconciliation
    assert (rec["accepted"] + rec["quarantined"] == rec["rows_read"]).all() and rec["rows_read"].sum() > 0
    for frame in result.outputs().values():
        if "lcjp_id" in frame.columns:
            assert frame["lcjp_id"].notna().all()


def test_notebook_parameters_match_params_yaml_and_no_outputs():
    import ast

    import nbformat

    from pipeline.config import load_params
    nb = nbformat.read(paths.NOTEBOOKS / "01_clean.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(not c.get("outputs") for c in code), "commit the notebook without outputs"
    defaults = {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(code[0].source).body
                if isinstance(node, ast.Assign)}
    params = load_params()
    for group in ("clean_survey", "clean_fieldwork", "clean_outcomes", "clean_covariates"):
        for key, value in params[group].items():
            assert defaults[key] == value, (group, key)
    assert "report.banner" in code[1].source and "report.footer" in code[-1].source


def test_parse_periods_takes_each_rows_label_values():
    """parse_periods parses distinct labels once and takes them by position: the same as one parse per row."""
    from pipeline.clean.periods import COLUMNS, parse_period, parse_periods
    labels = ["2014", " 2014/15", "2014 Q3", "Q3 2014", "FY2014-2015", "2014.0", "2013/15", "bad", "", None, "2014"]
    values = pd.Series(labels * 2, dtype="string", index=range(10, 10 + 2 * len(labels)))
    out = parse_periods(values)
    assert list(out.columns) == COLUMNS and out.index.equals(values.index)
    for label, (_, row) in zip(values, out.iterrows()):
        start, text, kind, year, problem = parse_period(label)
        assert (pd.isna(row["period_start"]) and pd.isna(start)) or row["period_start"] == start
        assert (pd.isna(row["period_label"]) and text is None) or row["period_label"] == text
        assert (pd.isna(row["period_type"]) and kind is None) or row["period_type"] == kind
        assert (pd.isna(row["year"]) and year is None) or row["year"] == year
        assert (pd.isna(row["period_problem"]) and problem is None) or row["period_problem"] == problem
    assert str(out["period_start"].dtype) == "datetime64[us]" and str(out["year"].dtype) == "Int64"
    assert parse_periods(pd.Series([], dtype="string")).empty


def test_reconcile_counts_and_failures():
    """reconcile's integer-coded counting: per-file counts, and every inconsistency still raises."""
    from pipeline.clean.quarantine import reconcile
    accepted = pd.DataFrame({"source_file": pd.array(["a", "a", "b", None], dtype="string"), "source_row": [2, 3, 2, 5]})
    quarantined = pd.DataFrame({"source_file": pd.array(["a", "c"], dtype="string"), "row_number": [4, 2]})
    out = reconcile({"a": 3, "b": 1, "c": 1}, accepted, quarantined)
    assert out.to_dict("records") == [{"source_file": "a", "rows_read": 3, "accepted": 2, "quarantined": 1},
                                      {"source_file": "b", "rows_read": 1, "accepted": 1, "quarantined": 0},
                                      {"source_file": "c", "rows_read": 1, "accepted": 0, "quarantined": 1}]
    assert out.dtypes.astype(str).tolist() == ["string", "int64", "int64", "int64"]
    with pytest.raises(RuntimeError, match="rows from files never read: \\['c'\\]"):
        reconcile({"a": 3, "b": 1}, accepted, quarantined)
    with pytest.raises(RuntimeError, match="a: read 2 rows but accepted 2 \\+ quarantined 1"):
        reconcile({"a": 2, "b": 1, "c": 1}, accepted, quarantined)
    with pytest.raises(RuntimeError, match="2 row\\(s\\) counted more than once"):  # a row accepted and quarantined
        reconcile({"a": 3, "b": 1, "c": 1}, accepted, quarantined.assign(row_number=[3, 2]))
    with pytest.raises(RuntimeError, match="2 row\\(s\\) counted more than once"):  # file name missing twice
        reconcile({"a": 3, "b": 1, "c": 1}, pd.concat([accepted, accepted.iloc[3:]]), quarantined)
    empty = reconcile({}, accepted.iloc[:0], quarantined.iloc[:0])
    assert empty.empty and empty.dtypes.astype(str).tolist() == ["string", "int64", "int64", "int64"]
