"""The clean stage with official statistics (issue 7 integration): per-file row accounting of the published
files, real vs synthetic per source, partial multi-force partnerships, and one figure per source conflict.

Unit tests use small hand-made files; the integration test copies the real published samples from
../shared/real-data into a temporary raw folder (never into the repo) and skips when they are absent.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from pipeline import paths
from pipeline.areas import AreaMatcher
from pipeline.clean import clean_covariates, clean_outcomes, write_result
from tests.builders import clean_examples as examples
from pipeline.clean.schemas import validate_outputs
from pipeline.errors import InputError

REAL = paths.SHARED / "real-data"
OUTCOME_FILES = ["cj-charts/detection-rates-data.csv.gz", "courtOutcomes/magoutcomes_2018_converted.csv.gz",
                 "womens-imprisonment-PFA/women_imprisonment_rates_2014-2022_final_table.xlsx"]
COVARIATE_FILES = ["lesscrime.info/crime-pressure-force-2022-data.csv.gz",
                   "lesscrime.info/police-uplift-2022-data.csv.gz", "derived/pfa_population_2001_2020.csv"]
SYN = "synthetic: hand-made test rows"


@pytest.fixture(scope="module")
def matcher():
    return AreaMatcher.from_reference()


def digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_reconciles(result) -> None:
    rec = result.reconciliation
    assert (rec["accepted"] + rec["quarantined"] == rec["rows_read"]).all()
    assert (rec["excluded_by_adapter"] <= rec["quarantined"]).all()
    per_file = result.quarantine.groupby("source_file").size()
    listed = rec.set_index("source_file")
    for name, n in per_file.items():  # every quarantined row is in the quarantine file, on its own line
        assert listed.loc[name, "quarantined"] - listed.loc[name, "excluded_by_adapter"] == n
    validate_outputs(result)


# ------------------------------------------------------------------ 3. partial partnerships
def covariates_csv(rows: list[tuple]) -> str:
    return "area,period,variable,value,source\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)


def test_partnership_combined_when_missing_force_is_small(tmp_path, matcher):
    folder = examples.write(tmp_path / "r", {"covariates.csv": covariates_csv([
        ("Kent", "2015", "severity", 10, "src"),
        ("Metropolitan Police", "2015", "severity", 20, "src"),      # City of London absent: 0.09% of London
        ("City of London Police", "2016", "severity", 30, "src"),    # Met absent: 99.9% of London
        ("Metropolitan Police", "2015", "population", 100, "src"),
    ])})
    result = clean_covariates(folder, matcher)
    cv = result.covariates.set_index(["lcjp_id", "period_label", "variable"])
    assert cv.loc[("london", "2015", "severity"), "value"] == 20
    assert cv.loc[("london", "2015", "severity"), "combined_from"] == "E23000001 (E23000034 missing: 0.09% of population)"
    assert cv.loc[("london", "2015", "population"), "value"] == 100  # additive: the sum over the forces present
    assert ("london", "2016", "severity") not in cv.index
    reason = result.quarantine.set_index("row_number").loc[4, "reason"]
    assert "of the forces E23000001+E23000034 of partnership 'london'" in reason and "99.91%" in reason
    assert_reconciles(result)

    strict = clean_covariates(folder, matcher, max_missing_population_share=0.0)
    assert "london" not in set(strict.covariates["lcjp_id"])
    assert len(strict.quarantine) == 3 and strict.quarantine["reason"].str.contains("above max_missing").all()
    assert_reconciles(strict)


def test_partial_outcome_recomputes_from_forces_present(tmp_path, matcher):
    files = examples.outcome_files()
    files["outcomes.csv"] = ("area,period,measure,value,numerator,denominator,source\n"
                             "Metropolitan Police,2014,ineffective_trial_rate,20,200,1000,x\n"
                             "Kent,2014,ineffective_trial_rate,12.5,25,200,x\n")
    result = clean_outcomes(examples.write(tmp_path / "o", files), matcher)
    london = result.outcomes.set_index("lcjp_id").loc["london"]
    assert (london["value"], london["numerator"], london["denominator"]) == (20, 200, 1000)
    assert london["combined_from"].startswith("E23000001 (E23000034 missing: ")
    assert_reconciles(result)


@pytest.mark.parametrize("bad", [-0.1, 1.0, "1%", True])
def test_bad_share_parameter(tmp_path, matcher, bad):
    folder = examples.write(tmp_path / "r", examples.covariate_files())
    with pytest.raises(InputError, match="max_missing_population_share"):
        clean_covariates(folder, matcher, max_missing_population_share=bad)


# ------------------------------------------------------------------ 4. one figure when sources overlap
def test_real_source_supersedes_synthetic(tmp_path, matcher):
    folder = examples.write(tmp_path / "r", {
        "demo.csv": covariates_csv([("Kent", "2015", "officers", 2.0, SYN),
                                    ("Metropolitan Police", "2015", "officers", 3.0, SYN),
                                    ("City of London", "2015", "officers", 9.0, SYN),
                                    ("Kent", "2016", "officers", 2.1, SYN)]),
        "published.csv": covariates_csv([("Kent", "2015", "officers", 1.9, "Home Office workforce"),
                                         ("London", "2015", "officers", 3.3, "Home Office workforce")]),
    })
    result = clean_covariates(folder, matcher)
    cv = result.covariates.set_index(["lcjp_id", "period_label"])
    assert cv.loc[("kent", "2015"), "source"] == "Home Office workforce" and cv.loc[("kent", "2015"), "value"] == 1.9
    assert cv.loc[("london", "2015"), "value"] == 3.3
    assert cv.loc[("kent", "2016"), "source"] == SYN  # no real figure: the synthetic one stays
    q = result.quarantine
    superseded = q[q["reason"] == "superseded by real source Home Office workforce"]
    assert sorted(superseded["area"]) == ["City of London", "Kent", "Metropolitan Police"]  # both London forces
    assert set(superseded["source_file"]) == {paths.rel(folder / "demo.csv")}
    sources = {s["name"]: s for s in result.manifest["sources"]}
    assert sources[SYN]["synthetic"] is True and sources["Home Office workforce"]["synthetic"] is False
    assert (sources[SYN]["rows"], sources[SYN]["rows_output"]) == (4, 1)
    assert result.manifest["synthetic"] is True
    assert_reconciles(result)


def test_two_real_sources_disagreeing_is_an_error(tmp_path, matcher):
    folder = examples.write(tmp_path / "r", {
        "a.csv": covariates_csv([("Kent", "2015", "officers", 1.9, "Home Office workforce")]),
        "b.csv": covariates_csv([("Kent Police", "2015", "officers", 2.2, "HMICFRS value for money")]),
    })
    with pytest.raises(InputError) as info:
        clean_covariates(folder, matcher)
    text = str(info.value)
    assert "Home Office workforce" in text and "HMICFRS value for money" in text and "'officers'" in text
    assert "list only one of them" in info.value.fix and info.value.row == 2


def test_two_real_sources_agreeing_keep_one(tmp_path, matcher):
    files = examples.outcome_files()
    files["outcomes.csv"] = ("area,period,measure,value,numerator,denominator,source\n"
                             "Kent,2014,ineffective_trial_rate,12.5,25,200,HMCTS\n")
    files["more.csv"] = ("area,period,measure,value,numerator,denominator,source\n"
                         "Kent,2014,ineffective_trial_rate,12.5,25,200,MoJ\n")
    result = clean_outcomes(examples.write(tmp_path / "o", files), matcher)
    assert result.outcomes["source"].tolist() == ["HMCTS"]
    assert result.quarantine["reason"].tolist() == ["same figure as real source HMCTS: kept once"]
    assert_reconciles(result)


def test_synthetic_folder_marks_its_csv_sources_only(tmp_path, matcher):
    files = {**examples.outcome_files(), "SYNTHETIC.md": "synthetic"}
    files["outcomes.csv"] = files["outcomes.csv"].replace(",example\nDyfed Powys", ",\nDyfed Powys")  # no source
    folder = examples.write(tmp_path / "o", files)
    result = clean_outcomes(folder, matcher)
    sources = {s["name"]: s for s in result.manifest["sources"]}
    path = paths.rel(folder / "outcomes.csv")
    assert set(sources) == {"example", path}  # the file path names the row without a source
    assert all(s["synthetic"] for s in sources.values()) and result.manifest["synthetic"] is True
    assert all(f["synthetic"] for f in result.manifest["files"])
    (folder / "SYNTHETIC.md").unlink()
    plain = clean_outcomes(folder, matcher)
    assert plain.manifest["synthetic"] is False
    assert not any(s["synthetic"] for s in plain.manifest["sources"])


# ------------------------------------------------------------------ 1. + 2. a real adapter on a small file
CSS_HEADER = "offence_group,code,name,severity_score,year_ending\n"


def test_official_file_accounting_with_real_adapter(tmp_path, matcher):
    """ons_crime_severity on a small file in the published layout: the adapter's exclusions are counted."""
    rows = [("Total recorded crime", "E23000032", "Kent", "10.5", "2016-03-31"),
            ("Total recorded crime", "E23000001", "Metropolitan Police", "20", "2016-03-31"),
            ("Total recorded crime", "E23000034", "\"London, City of\"", ":", "2016-03-31"),
            ("Total recorded crime", "E12000007", "London", "19", "2016-03-31"),
            ("Total recorded crime", "E23000032", "Kent", "11", "2017-03-31")]
    (tmp_path / "ref" / "official").mkdir(parents=True)
    (tmp_path / "ref" / "official" / "css.csv").write_text(CSS_HEADER + "".join(",".join(r) + "\n" for r in rows))
    examples.write(tmp_path / "ref", {"SYNTHETIC.md": "x", "covariates.csv": covariates_csv([
        ("Kent", "2015/16", "crime_severity_total_recorded_crime", 9.0, SYN),
        ("Kent", "2014/15", "crime_severity_total_recorded_crime", 8.0, SYN)])})
    before = digest(tmp_path / "ref")
    result = clean_covariates(tmp_path / "ref", matcher, official_sources=["ons_crime_severity"])
    assert digest(tmp_path / "ref") == before  # raw files never modified
    rec = result.reconciliation.set_index("source_file")
    official_file = paths.rel(tmp_path / "ref" / "official" / "css.csv")
    assert rec.loc[official_file, ["rows_read", "accepted", "quarantined", "excluded_by_adapter"]].tolist() == \
        [5, 3, 2, 2]
    assert rec.loc[official_file, "input"] == "official file"
    output = official_file + " (ons_crime_severity output)"
    assert rec.loc[output, ["rows_read", "accepted", "quarantined"]].tolist() == [3, 3, 0]
    assert rec.loc[paths.rel(tmp_path / "ref" / "covariates.csv"), ["accepted", "quarantined"]].tolist() == [1, 1]
    cv = result.covariates.set_index(["lcjp_id", "period_label"])
    assert cv.loc[("london", "2015/16"), "combined_from"] == "E23000001 (E23000034 missing: 0.09% of population)"
    assert cv.loc[("kent", "2015/16"), "value"] == 10.5 and cv.loc[("kent", "2014/15"), "value"] == 8.0
    files = {f["path"]: f for f in result.manifest["files"]}
    assert "not territorial" not in files[official_file]["excluded_reasons"]
    assert "regional or national total" in files[official_file]["excluded_reasons"]
    assert "not available" in files[official_file]["excluded_reasons"]
    sources = {s["name"]: s for s in result.manifest["sources"]}
    real = sources["ONS, Crime Severity Score (experimental statistics) data tool"]
    assert real == {"name": real["name"], "synthetic": False, "files": [official_file], "rows": 5,
                    "adapters": ["ons_crime_severity"], "rows_output": 3}
    assert sources[SYN]["synthetic"] is True and result.manifest["synthetic"] is True
    assert_reconciles(result)
    # Written manifest: JSON, deterministic.
    write_result(result, "covariates", tmp_path / "out1")
    write_result(clean_covariates(tmp_path / "ref", matcher, official_sources=["ons_crime_severity"]), "covariates",
                 tmp_path / "out2")
    assert sorted(digest(tmp_path / "out1").values()) == sorted(digest(tmp_path / "out2").values())
    manifest = json.loads((tmp_path / "out1" / "inputs_covariates.json").read_text())
    assert [s["name"] for s in manifest["sources"]] == sorted(sources)


# ------------------------------------------------------------------ integration with the real samples
def copy_real(files: list[str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(REAL / f, folder / Path(f).name)  # a temporary copy, never inside the repo


@pytest.mark.realdata
@pytest.mark.skipif(not REAL.is_dir(), reason=f"real-data samples not found at {REAL} (handed to developers "
                    "beside the repo; see INDEX.md there)")
def test_real_official_files_through_clean(tmp_path, matcher):
    # Outcomes: synthetic demo-shaped CSVs beside the real published files.
    out_dir = tmp_path / "outcomes"
    measures = examples.MEASURES + ("charge_summons_rate,Synthetic stand-in for the Home Office charge rate,"
                                    "percent,true\n")
    demo = ("area,period,measure,value,numerator,denominator,source\n"
            f"Kent,2017/18,charge_summons_rate,50,50,100,{SYN}\n"
            f"Kent,2016/17,charge_summons_rate,40,40,100,{SYN}\n"
            f"Kent,2014,ineffective_trial_rate,12.5,25,200,{SYN}\n")
    examples.write(out_dir, {"SYNTHETIC.md": "synthetic", "measures.csv": measures, "demo.csv": demo})
    copy_real(OUTCOME_FILES, out_dir / "official")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcomes = clean_outcomes(out_dir, matcher, official_sources=["ho_charge_rate",
                                                                      "moj_magistrates_conviction_ratio",
                                                                      "moj_women_custody_rate"])
    assert_reconciles(outcomes)
    rec = outcomes.reconciliation.set_index("source_file")
    for f in OUTCOME_FILES:
        path = paths.rel(out_dir / "official" / Path(f).name)
        line = rec.loc[[k for k in rec.index if k.startswith(path) and rec.loc[k, "input"] == "official file"][0]]
        assert line["accepted"] + line["quarantined"] == line["rows_read"] > 0
    detection = paths.rel(out_dir / "official" / "detection-rates-data.csv.gz")
    raw = pd.read_csv(REAL / OUTCOME_FILES[0], usecols=["force_name"])
    assert rec.loc[detection, "rows_read"] == len(raw)
    assert rec.loc[detection, "excluded_by_adapter"] >= int((raw["force_name"] == "British Transport Police").sum()) > 0
    oc = outcomes.outcomes
    kent = oc[(oc["lcjp_id"] == "kent") & (oc["measure"] == "charge_summons_rate")].set_index("period_label")
    assert kent.loc["2017/18", "source"].startswith("Home Office")  # real supersedes the synthetic 50%
    assert kent.loc["2016/17", "source"] == SYN                     # no real figure for that year
    q = outcomes.quarantine
    assert q.loc[q["reason"].str.startswith("superseded by real source Home Office"), "period"].tolist() == ["2017/18"]
    london = oc[(oc["lcjp_id"] == "london") & (oc["measure"] == "charge_summons_rate")]
    assert (london["combined_from"] == "E23000001+E23000034").all()  # the Home Office publishes both forces
    names = {s["name"]: s["synthetic"] for s in outcomes.manifest["sources"]}
    assert names[SYN] is True and sum(not v for v in names.values()) == 3
    assert outcomes.manifest["synthetic"] is True

    # Covariates: the ONS publishes no City of London crime severity score.
    ref = tmp_path / "reference"
    examples.write(ref, {"SYNTHETIC.md": "synthetic", "covariates.csv": covariates_csv([
        ("Kent", "2015/16", "officers_per_1000", 9.9, SYN),
        ("Kent", "2015", "deprivation_score", 20.1, SYN)])})
    copy_real(COVARIATE_FILES, ref / "official")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no population for 2021/2022 in the sample: warned by the adapter
        covariates = clean_covariates(ref, matcher, official_sources=["ons_crime_severity", "ho_officers_per_1000",
                                                                      "ons_population"])
    assert_reconciles(covariates)
    crec = covariates.reconciliation
    assert set(crec.loc[crec["input"] == "official file", "source_file"]) == {
        paths.rel(ref / "official" / Path(f).name) for f in COVARIATE_FILES}
    css_line = crec.set_index("source_file").loc[paths.rel(ref / "official" / "crime-pressure-force-2022-data.csv.gz")]
    assert css_line["excluded_by_adapter"] > 0  # City of London ':' rows, counted as quarantined
    cv = covariates.covariates
    severity = cv[(cv["lcjp_id"] == "london") & cv["variable"].str.startswith("crime_severity_")]
    n_groups = pd.read_csv(REAL / COVARIATE_FILES[0], usecols=["offence_group"])["offence_group"].nunique()
    assert severity["variable"].nunique() == n_groups and len(severity) == n_groups * 20  # 2002/03 .. 2021/22
    assert (severity["combined_from"] == "E23000001 (E23000034 missing: 0.09% of population)").all()
    assert not covariates.quarantine["reason"].str.contains("partnership 'london'").any()
    officers = cv[(cv["lcjp_id"] == "kent") & (cv["variable"] == "officers_per_1000")].set_index("period_label")
    assert officers.loc["2015/16", "source"].startswith("Home Office")
    assert officers.loc["2015/16", "value"] != 9.9
    assert cv[(cv["variable"] == "deprivation_score")]["source"].tolist() == [SYN]
    csources = {s["name"]: s for s in covariates.manifest["sources"]}
    assert csources[SYN]["synthetic"] is True and csources[SYN]["rows_output"] == 1
    real = [s for s in csources.values() if not s["synthetic"]]
    assert len(real) == 3 and all(s["rows"] > 0 and s["rows_output"] > 0 for s in real)
