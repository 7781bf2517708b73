"""Official-statistics adapters (pipeline.official): layouts, errors, and the real published samples.

Small hand-made files in each published layout test the logic and every layout-change error without the
real data; tests marked ``realdata`` read the samples in ../shared/real-data (never copied into the repo:
they are symlinked into tmp_path) and compare the adapters' figures with plain-pandas computations.
"""
from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from pipeline import official, paths
from pipeline.areas import AreaMatcher
from pipeline.errors import InputError

REAL = paths.SHARED / "real-data"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real-data samples not found at {REAL} "
                                "(they are handed to developers beside the repo; see INDEX.md there)")

OUTCOMES = ["ho_charge_rate", "moj_magistrates_conviction_ratio", "moj_women_custody_rate"]
COVARIATES = ["ons_crime_severity", "ho_officers_per_1000", "ons_population"]


@pytest.fixture(scope="module")
def matcher() -> AreaMatcher:
    return AreaMatcher.from_reference()


# ------------------------------------------------------------------------------------------
# Small files in the published layouts
# ------------------------------------------------------------------------------------------
HO_FORCES = ["Kent", "Surrey", "Metropolitan Police", "London, City of", "British Transport Police"]


def ho_outcomes_frame(year="2018/19", forces=HO_FORCES, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for force in forces:
        for quarter in (1, 2, 3, 4):
            for code, label in ((0, "Not yet assigned an outcome"), (1, "Charged/Summonsed"),
                                (8, "Community Resolution"), (18, "Investigation complete – no suspect identified")):
                for offence in ("Robbery of personal property", "Shoplifting"):
                    rows.append({"financial_year": year, "financial_quarter": quarter, "force_name": force,
                                 "offence_description": offence, "offence_group": "g", "offence_subgroup": "s",
                                 "offence_code": "34B", "offence_code_expired": False,
                                 "outcome_description": label, "outcome_group": label, "outcome_type": code,
                                 "force_outcomes_for_offences_recorded_in_quarter": int(rng.integers(0, 50)),
                                 "force_outcomes_recorded_in_quarter":
                                     np.nan if code == 0 else int(rng.integers(0, 200))})
    return pd.DataFrame(rows)


def mag_frame(forces=("Kent", "Metropolitan", "Special/miscellaneous and unknown police forces"), seed=2):
    rng = np.random.default_rng(seed)
    outcomes = [("01: Convicted at the magistrates court", "11: Fine"),
                ("01: Convicted at the magistrates court", "07: Committed for sentence"),
                ("02: Not convicted at the magistrates court", "04: Withdrawn"),
                ("02: Not convicted at the magistrates court", "06: Committed for trial")]
    rows = []
    for force in forces:
        for q in ("Q1", "Q2", "Q3", "Q4"):
            for convicted, outcome in outcomes:
                rows.append({"appearance_period": "2018-03-31", "year_of_appearance": 2018, "quarter": q,
                             "country": "England", "region": "r", "force_code": force, "sex": "01: Males",
                             "convicted_not_convicted": convicted, "outcome": outcome,
                             "count": int(rng.integers(1, 100))})
    return pd.DataFrame(rows)


def write_women_xlsx(path: Path, rows: list[tuple]) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Police Force Area", "2014", "2015"])
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)


def population_frame() -> pd.DataFrame:
    rows = []
    for code, name, base in (("E23000032", "Kent", 1_800_000), ("E23000031", "Surrey", 1_150_000)):
        for year in range(2017, 2020):
            rows.append({"pfa_code": code, "force_name": name, "region": "South East", "year": year,
                         "population": base + 1000 * (year - 2017)})
    return pd.DataFrame(rows)


def workforce_frame() -> pd.DataFrame:
    rows = []
    for code, name in (("E23000032", "Kent"), ("E23000031", "Surrey")):
        for date in ("2018-03-01", "2019-03-01"):
            for worker, rank, fte in (("police officer", "Constable", 2500.5), ("police officer", "Sergeant", 400.0),
                                      ("police staff", "Police Staff", 1800.0)):
                rows.append({"date": date, "geo_code": code, "force_name": name, "region": "South East",
                             "sex": "Female", "rank_description": rank, "worker_type": worker,
                             "total_headcount": int(fte), "total_fte": fte + (1 if name == "Surrey" else 0)})
    return pd.DataFrame(rows)


def css_frame() -> pd.DataFrame:
    rows = []
    for group in ("Total recorded crime", "Robbery"):
        for code, name in (("K04000001", "ENGLAND AND WALES"), ("E12000005", "West Midlands"),
                           ("E23000014", "West Midlands"), ("E23000034", "City of London")):
            for end in ("2018-03-31", "2019-03-31"):
                score = ":" if code == "E23000034" else f"{len(group) + len(name) / 10 + int(end[:4]) - 2000:.3f}"
                rows.append({"offence_group": group, "code": code, "name": name,
                             "year": f"Apr '{int(end[2:4]) - 1:02d} to \nMar '{end[2:4]}", "severity_score": score,
                             "year_ending": end})
    return pd.DataFrame(rows)


def write_gz(frame: pd.DataFrame, path: Path) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=False)
    return path


# ------------------------------------------------------------------------------------------
# Logic on small files
# ------------------------------------------------------------------------------------------
def test_charge_rate_small(tmp_path, matcher):
    raw = ho_outcomes_frame()
    write_gz(raw, tmp_path / "outcomes.csv.gz")
    data, measures = official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)
    assert list(data.columns[:7]) == official.OUTCOME_COLUMNS
    assert set(data["area"]) == {"E23000032", "E23000031", "E23000001", "E23000034"}  # BTP excluded, City kept
    kent = raw[raw["force_name"] == "Kent"]
    numerator = kent.loc[kent["outcome_type"] == 1, "force_outcomes_recorded_in_quarter"].sum()
    denominator = kent.loc[kent["outcome_type"] != 0, "force_outcomes_recorded_in_quarter"].sum()
    row = data[data["area"] == "E23000032"].iloc[0]
    assert row["period"] == "2018/19"
    assert (row["numerator"], row["denominator"]) == (numerator, denominator)
    assert row["value"] == pytest.approx(100 * numerator / denominator)
    assert list(measures["measure"]) == ["charge_summons_rate"] and measures.loc[0, "unit"] == "percent"
    assert not data["source"].str.lower().str.startswith("synthetic").any()


def test_headers_are_normalised_and_cp1252_is_read(tmp_path, matcher):
    raw = ho_outcomes_frame()
    raw.columns = [c.replace("_", " ").title() for c in raw.columns]  # "Force Name", as gov.uk publishes
    raw.to_csv(tmp_path / "outcomes.csv", index=False, encoding="cp1252")
    data, _ = official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)
    assert len(data) == 4


def test_incomplete_year_is_left_out_with_warning(tmp_path, matcher):
    raw = ho_outcomes_frame()
    raw = raw[~((raw["force_name"] == "Kent") & (raw["financial_quarter"] == 4))]
    write_gz(raw, tmp_path / "o.csv.gz")
    with pytest.warns(UserWarning, match="fewer than four quarters"):
        result = official.read_official(["ho_charge_rate"], tmp_path, matcher, "outcomes")
    assert "E23000032" not in set(result.data["area"])
    files = result.files.set_index("adapter").loc["ho_charge_rate"]
    assert files["rows_read"] == len(raw)
    assert files["rows_used"] + files["rows_excluded"] == files["rows_read"]
    assert "incomplete years" in files["excluded_reasons"]


def test_magistrates_small_maps_met_alone_to_london(tmp_path, matcher):
    raw = mag_frame()
    raw.to_csv(tmp_path / "mag.csv", index=False)
    result = official.read_official(["moj_magistrates_conviction_ratio"], tmp_path, matcher, "outcomes")
    data = result.data.set_index("area")
    assert set(data.index) == {"E23000032", "london"}
    kent = raw[raw["force_code"] == "Kent"]
    convicted = kent.loc[kent["convicted_not_convicted"].str.startswith("01"), "count"].sum()
    decided = kent.loc[kent["outcome"] != "06: Committed for trial", "count"].sum()
    assert data.loc["E23000032", "numerator"] == convicted
    assert data.loc["E23000032", "denominator"] == decided
    assert data.loc["E23000032", "value"] == pytest.approx(100 * convicted / decided)
    assert "mapped to the partnership 'london'" in " ".join(result.files["notes"].dropna())


def test_magistrates_with_city_row_keeps_forces(tmp_path, matcher):
    mag_frame(forces=("Metropolitan", "City of London")).to_csv(tmp_path / "mag.csv", index=False)
    data, _ = official.read_outcome_sources(["moj_magistrates_conviction_ratio"], tmp_path, matcher)
    assert set(data["area"]) == {"E23000001", "E23000034"}


def test_women_custody_small(tmp_path, matcher):
    write_women_xlsx(tmp_path / "table.xlsx", [("Kent", 20.5, 19.0), ("Metropolitan Police", 30.1, ".."),
                                                ("Surrey", 5, 4.5)])
    data, measures = official.read_outcome_sources(["moj_women_custody_rate"], tmp_path, matcher)
    assert len(data) == 5  # the '..' cell is not available
    value = data.set_index(["area", "period"])["value"]
    assert value[("london", "2014")] == 30.1 and value[("E23000032", "2015")] == 19.0
    assert data["numerator"].isna().all() and data["denominator"].isna().all()
    assert not bool(measures.loc[0, "higher_is_better"])


def test_crime_severity_small_uses_codes_not_names(tmp_path, matcher):
    raw = css_frame()
    write_gz(raw, tmp_path / "css.csv.gz")
    result = official.read_official(["ons_crime_severity"], tmp_path, matcher, "covariates")
    data = result.data
    # "West Midlands" is both a region (E12000005) and a force (E23000014): only the force's code is kept.
    assert set(data["area"]) == {"E23000014"}
    assert set(data["period"]) == {"2017/18", "2018/19"}
    assert set(data["variable"]) == {"crime_severity_total_recorded_crime", "crime_severity_robbery"}
    expected = float(raw[(raw["code"] == "E23000014") & (raw["offence_group"] == "Robbery")
                         & (raw["year_ending"] == "2019-03-31")]["severity_score"].iloc[0])
    got = data.set_index(["variable", "period"]).loc[("crime_severity_robbery", "2018/19"), "value"]
    assert got == pytest.approx(expected)
    files = result.files.iloc[0]
    assert files["rows_used"] + files["rows_excluded"] == files["rows_read"] == len(raw)


def test_officers_per_1000_small(tmp_path, matcher):
    population_frame().to_csv(tmp_path / "pop.csv", index=False)
    workforce = workforce_frame()
    workforce.to_csv(tmp_path / "workforce.csv", index=False)
    result = official.read_official(["ho_officers_per_1000"], tmp_path, matcher, "covariates")
    data = result.data.set_index(["area", "period"])["value"]
    officers = workforce[(workforce["force_name"] == "Kent") & (workforce["worker_type"] == "police officer")
                         & (workforce["date"] == "2019-03-01")]["total_fte"].sum()
    population = population_frame().query("force_name == 'Kent' and year == 2019")["population"].iloc[0]
    assert data[("E23000032", "2018/19")] == pytest.approx(officers / population * 1000)
    assert len(data) == 4
    assert "companion" in " ".join(result.files["status"])


def test_officers_without_population_is_an_error(tmp_path, matcher):
    workforce_frame().to_csv(tmp_path / "workforce.csv", index=False)
    with pytest.raises(InputError, match="population"):
        official.read_covariate_sources(["ho_officers_per_1000"], tmp_path, matcher)


def test_population_long_and_wide(tmp_path, matcher):
    population_frame().to_csv(tmp_path / "pop.csv", index=False)
    long_df = official.read_covariate_sources(["ons_population"], tmp_path, matcher)
    assert len(long_df) == 6 and set(long_df["variable"]) == {"population"}
    (tmp_path / "pop.csv").unlink()
    pd.DataFrame({"code": ["K04000001", "E23000032", "W15000001"], "name": ["E&W", "Kent", "North Wales"],
                  "MYE2018": [59_000_000, 1_850_000, 700_000], "SNHP2017": [1, 2, 3]}).to_csv(
        tmp_path / "wide.csv", index=False)
    wide = official.read_covariate_sources(["ons_population"], tmp_path, matcher)
    assert list(wide["area"]) == ["E23000032", "W15000001"] and set(wide["period"]) == {"2018"}


def test_population_by_local_authority_is_refused(tmp_path, matcher):
    pd.DataFrame({"code": ["E06000047", "E07000244", "E08000001"], "name": ["County Durham", "x", "Bolton"],
                  "year": 2020, "population": [1, 2, 3]}).to_csv(tmp_path / "lad.csv", index=False)
    with pytest.raises(InputError, match="local authority"):
        official.read_covariate_sources(["ons_population"], tmp_path, matcher)


def test_deterministic(tmp_path, matcher):
    write_gz(ho_outcomes_frame(), tmp_path / "a.csv.gz")
    write_gz(ho_outcomes_frame(year="2017/18", seed=5), tmp_path / "b.csv.gz")
    first, _ = official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)
    second, _ = official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)
    pd.testing.assert_frame_equal(first, second)
    assert first.equals(first.sort_values(["measure", "area", "period"], ignore_index=True))
    assert sorted(first["period"].unique()) == ["2017/18", "2018/19"]


def test_empty_names_give_empty_frames(tmp_path, matcher):
    data, measures = official.read_outcome_sources([], tmp_path / "absent", matcher)
    assert data.empty and list(data.columns[:7]) == official.OUTCOME_COLUMNS and measures.empty


# ------------------------------------------------------------------------------------------
# Errors a user can act on
# ------------------------------------------------------------------------------------------
def test_unknown_adapter_lists_known(tmp_path, matcher):
    with pytest.raises(InputError) as info:
        official.read_outcome_sources(["ho_charge_rates"], tmp_path, matcher)
    for name in OUTCOMES:
        assert name in str(info.value)
    with pytest.raises(InputError, match="covariates adapter"):
        official.read_outcome_sources(["ons_population"], tmp_path, matcher)


def test_no_file_for_adapter(tmp_path, matcher):
    population_frame().to_csv(tmp_path / "pop.csv", index=False)
    with pytest.raises(InputError, match="no file has the layout of official source 'ho_charge_rate'") as info:
        official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)
    assert "pop.csv" in str(info.value) and "gov.uk" in str(info.value)


def test_unrecognised_file_warns(tmp_path, matcher):
    write_gz(ho_outcomes_frame(), tmp_path / "o.csv.gz")
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(tmp_path / "notes.csv", index=False)
    with pytest.warns(UserWarning, match="notes.csv: not recognised"):
        result = official.read_official(["ho_charge_rate"], tmp_path, matcher, "outcomes")
    assert "not recognised" in result.files.set_index("file").filter(like="notes", axis=0)["status"].iloc[0]


def test_renamed_column(tmp_path, matcher):
    write_gz(ho_outcomes_frame().rename(columns={"force_name": "police_force"}), tmp_path / "o.csv.gz")
    with pytest.raises(InputError) as info:
        official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)
    assert info.value.column == "force_name" and "o.csv.gz" in info.value.file
    assert "police_force" in str(info.value)  # lists the columns present


def test_unknown_outcome_code(tmp_path, matcher):
    raw = ho_outcomes_frame()
    raw.loc[17, "outcome_type"] = 99
    write_gz(raw, tmp_path / "o.csv.gz")
    with pytest.raises(InputError, match="unknown outcome type '99'") as info:
        official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)
    assert info.value.column == "outcome_type" and info.value.row == 17 + 2


def test_renumbered_charge_code(tmp_path, matcher):
    raw = ho_outcomes_frame()
    raw.loc[raw["outcome_type"] == 1, "outcome_description"] = "Caution – adults"
    write_gz(raw, tmp_path / "o.csv.gz")
    with pytest.raises(InputError, match="expected Charged/Summonsed"):
        official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)


def test_unknown_force_name(tmp_path, matcher):
    raw = ho_outcomes_frame()
    raw.loc[raw["force_name"] == "Surrey", "force_name"] = "Surreyy Constabulary"
    write_gz(raw, tmp_path / "o.csv.gz")
    with pytest.raises(InputError) as info:
        official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)
    message = str(info.value)
    assert info.value.column == "force_name" and "Surreyy Constabulary" in message
    assert "Surrey" in message.split("closest known names:")[1]
    assert info.value.row == int(raw.index[raw["force_name"] == "Surreyy Constabulary"][0]) + 2
    assert "area_aliases.csv" in message


def test_magistrates_new_outcome_code(tmp_path, matcher):
    raw = mag_frame()
    raw.loc[5, "outcome"] = "16: Deferred sentence"
    raw.to_csv(tmp_path / "mag.csv", index=False)
    with pytest.raises(InputError, match="Deferred sentence") as info:
        official.read_outcome_sources(["moj_magistrates_conviction_ratio"], tmp_path, matcher)
    assert info.value.column == "outcome" and info.value.row == 7


def test_magistrates_renamed_count(tmp_path, matcher):
    mag_frame().rename(columns={"count": "defendants"}).to_csv(tmp_path / "mag.csv", index=False)
    with pytest.raises(InputError) as info:
        official.read_outcome_sources(["moj_magistrates_conviction_ratio"], tmp_path, matcher)
    assert info.value.column == "count"


def test_women_unknown_force_and_text_value(tmp_path, matcher):
    write_women_xlsx(tmp_path / "t.xlsx", [("Kent", 1.0, 2.0), ("Gotham", 3.0, 4.0)])
    with pytest.raises(InputError, match="Gotham") as info:
        official.read_outcome_sources(["moj_women_custody_rate"], tmp_path, matcher)
    assert info.value.row == 3 and info.value.column == "Police Force Area"
    write_women_xlsx(tmp_path / "t.xlsx", [("Kent", 1.0, "twelve")])
    with pytest.raises(InputError, match="'twelve' is not a number") as info:
        official.read_outcome_sources(["moj_women_custody_rate"], tmp_path, matcher)
    assert info.value.column == "2015"


def test_crime_severity_renamed_column(tmp_path, matcher):
    write_gz(css_frame().rename(columns={"year_ending": "period_end"}), tmp_path / "css.csv.gz")
    with pytest.raises(InputError) as info:
        official.read_covariate_sources(["ons_crime_severity"], tmp_path, matcher)
    assert info.value.column == "year_ending"


def test_two_copies_of_one_publication(tmp_path, matcher):
    write_gz(ho_outcomes_frame(), tmp_path / "a.csv.gz")
    write_gz(ho_outcomes_frame(), tmp_path / "b.csv.gz")
    with pytest.raises(InputError, match="keep one copy"):
        official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)


# ------------------------------------------------------------------------------------------
# The real published samples
# ------------------------------------------------------------------------------------------
def link(src: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / src.name
    try:
        target.symlink_to(src)
    except OSError:
        shutil.copyfile(src, target)
    return target


def read_real(path: Path, **kw) -> pd.DataFrame:
    return pd.read_csv(path, **kw)


@pytest.mark.realdata
@needs_real
def test_real_charge_rates(tmp_path, matcher):
    files = [REAL / "cj-charts" / "detection-rates-data.csv.gz",
             REAL / "lesscrime.info" / "violence-prosecutions-data.csv.gz"]
    for f in files:
        link(f, tmp_path)
    result = official.read_official(["ho_charge_rate"], tmp_path, matcher, "outcomes")
    data = result.data
    assert data.groupby("period")["area"].nunique().to_dict() == {"2017/18": 43, "2018/19": 43}
    assert set(data["area"]) == set(matcher.forces["pfa_code"])
    for f, period in zip(files, ("2017/18", "2018/19")):
        raw = read_real(f)
        for force, code in (("Kent", "E23000032"), ("London, City of", "E23000034"), ("Dyfed-Powys", "W15000004")):
            rows = raw[raw["force_name"] == force]
            num = rows.loc[rows["outcome_type"] == 1, "force_outcomes_recorded_in_quarter"].sum()
            den = rows.loc[rows["outcome_type"] != 0, "force_outcomes_recorded_in_quarter"].sum()
            got = data[(data["area"] == code) & (data["period"] == period)].iloc[0]
            assert (got["numerator"], got["denominator"]) == (num, den)
            assert got["value"] == pytest.approx(100 * num / den)
        accounted = result.files.set_index("file").loc[paths.rel(tmp_path / f.name)]
        assert accounted["rows_read"] == len(raw)
        assert accounted["rows_used"] + accounted["rows_excluded"] == accounted["rows_read"]
        assert accounted["rows_excluded"] >= (raw["force_name"] == "British Transport Police").sum()
    assert data["value"].between(0, 100).all()


@pytest.mark.realdata
@needs_real
def test_real_magistrates(tmp_path, matcher):
    f = link(REAL / "courtOutcomes" / "magoutcomes_2018_converted.csv.gz", tmp_path)
    data, measures = official.read_outcome_sources(["moj_magistrates_conviction_ratio"], tmp_path, matcher)
    assert len(data) == 42 and set(data["period"]) == {"2018"}
    assert "london" in set(data["area"]) and not {"E23000001", "E23000034"} & set(data["area"])
    raw = read_real(f, usecols=["force_code", "convicted_not_convicted", "outcome", "count"])
    for force, area in (("Metropolitan", "london"), ("Kent", "E23000032"), ("Gwent", "W15000002")):
        rows = raw[raw["force_code"] == force]
        convicted = rows.loc[rows["convicted_not_convicted"].str.contains("01: Convicted"), "count"].sum()
        decided = rows.loc[~rows["outcome"].str.contains("Committed for trial"), "count"].sum()
        got = data.set_index("area").loc[area]
        assert (got["numerator"], got["denominator"]) == (convicted, decided)
    assert data["value"].between(50, 100).all()
    assert "magistrates_conviction_ratio" in set(measures["measure"])


@pytest.mark.realdata
@needs_real
def test_real_women_custody(tmp_path, matcher):
    f = link(REAL / "womens-imprisonment-PFA" / "women_imprisonment_rates_2014-2022_final_table.xlsx", tmp_path)
    data, _ = official.read_outcome_sources(["moj_women_custody_rate"], tmp_path, matcher)
    sheet = openpyxl.load_workbook(f, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    years = [str(y) for y in rows[0][1:]]
    assert len(data) == 42 * len(years) and sorted(set(data["period"])) == years
    assert data["area"].nunique() == 42 and "london" in set(data["area"])
    by_name = {r[0]: r[1:] for r in rows[1:]}
    value = data.set_index(["area", "period"])["value"]
    assert value[("london", years[0])] == pytest.approx(by_name["Metropolitan Police"][0])
    assert value[("E23000031", years[-1])] == pytest.approx(by_name["Surrey"][-1])


@pytest.mark.realdata
@needs_real
def test_real_covariates(tmp_path, matcher):
    css = link(REAL / "lesscrime.info" / "crime-pressure-force-2022-data.csv.gz", tmp_path)
    workforce = link(REAL / "lesscrime.info" / "police-uplift-2022-data.csv.gz", tmp_path)
    pop = link(REAL / "derived" / "pfa_population_2001_2020.csv", tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no population for 2021/2022: warned, tested below
        result = official.read_official(COVARIATES, tmp_path, matcher, "covariates")
    data = result.data
    population = data[data["variable"] == "population"]
    raw_pop = read_real(pop)
    assert len(population) == len(raw_pop) and population["area"].nunique() == 43
    assert population.groupby("period")["value"].sum()["2011"] == raw_pop.query("year == 2011")["population"].sum()

    severity = data[data["variable"].str.startswith("crime_severity_")]
    raw_css = read_real(css)
    assert severity["variable"].nunique() == raw_css["offence_group"].nunique()
    assert severity["area"].nunique() == 42  # the ONS publishes no score for the City of London (':')
    assert severity["period"].min() == "2002/03" and severity["period"].max() == "2021/22"
    pick = raw_css[(raw_css["code"] == "E23000032") & (raw_css["offence_group"] == "Total recorded crime")
                   & (raw_css["year_ending"] == "2019-03-31")]["severity_score"].astype(float).iloc[0]
    got = severity.set_index(["area", "variable", "period"])["value"]
    assert got[("E23000032", "crime_severity_total_recorded_crime", "2018/19")] == pytest.approx(pick)

    officers = data[data["variable"] == "officers_per_1000"]
    assert officers["area"].nunique() == 43
    raw_wf = read_real(workforce)
    kent = raw_wf[(raw_wf["geo_code"] == "E23000032") & (raw_wf["worker_type"] == "police officer")
                  & (raw_wf["date"] == "2019-03-01")]["total_fte"].sum()
    kent_pop = raw_pop.query("pfa_code == 'E23000032' and year == 2019")["population"].iloc[0]
    assert officers.set_index(["area", "period"])["value"][("E23000032", "2018/19")] == pytest.approx(
        kent / kent_pop * 1000)
    assert officers["period"].max() == "2019/20"  # 2021 and 2022 have no population in the sample
    for row in result.files[result.files["status"] == "read"].itertuples():
        assert row.rows_used + row.rows_excluded == row.rows_read


@pytest.mark.realdata
@needs_real
def test_real_small_copy_with_unknown_force(tmp_path, matcher):
    raw = read_real(REAL / "cj-charts" / "detection-rates-data.csv.gz", nrows=3000, dtype=str)
    raw.loc[raw.index[1500], "force_name"] = "Avon and Somerset Police Authority Area X"
    write_gz(raw, tmp_path / "small.csv.gz")
    with pytest.raises(InputError, match="closest known names") as info:
        official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)
    assert info.value.row == 1502 and info.value.column == "force_name"


@pytest.mark.realdata
@needs_real
def test_real_population_wide_layout_with_aggregates(tmp_path, matcher):
    """popm/population_data.csv: code, name, MYE2018, SNHP2017 with region totals and an uncoded grouping."""
    f = link(REAL / "popm" / "population_data.csv", tmp_path)
    result = official.read_official(["ons_population"], tmp_path, matcher, "covariates")
    data = result.data
    raw = read_real(f)
    assert data["area"].nunique() == 43 and set(data["period"]) == {"2018"}
    kent = raw.loc[raw["code"] == "E23000032", "MYE2018"].iloc[0]
    assert data.set_index("area").loc["E23000032", "value"] == kent
    accounted = result.files.iloc[0]
    assert accounted["rows_read"] == len(raw) and accounted["rows_used"] == 43
    uncoded = raw.loc[raw["code"].isna(), "name"].tolist()
    for name in uncoded:
        assert name in accounted["excluded_reasons"]
    assert not raw["name"].str.contains("households", case=False).any()  # SNHP2017 is not read as a population
    assert data["value"].sum() == raw.loc[raw["code"].str.match(r"^(E23|W15)", na=False), "MYE2018"].sum()


@pytest.mark.realdata
@needs_real
def test_real_population_by_local_authority_is_refused(tmp_path, matcher):
    link(REAL / "lesscrime.info" / "crime-pressure-force-2022-pop-data.csv.gz", tmp_path)
    with pytest.raises(InputError, match="local authority") as info:
        official.read_covariate_sources(["ons_population"], tmp_path, matcher)
    assert info.value.column == "code"


def test_byte_identical_parquet(tmp_path, matcher):
    from pipeline.io import write_parquet
    folder = tmp_path / "in"
    folder.mkdir()
    write_gz(ho_outcomes_frame(), folder / "a.csv.gz")
    mag_frame().to_csv(folder / "mag.csv", index=False)
    blobs = []
    for i in range(2):
        data, measures = official.read_outcome_sources(["moj_magistrates_conviction_ratio", "ho_charge_rate"],
                                                       folder, matcher)
        write_parquet(data, tmp_path / f"o{i}.parquet")
        write_parquet(measures, tmp_path / f"m{i}.parquet")
        blobs.append(((tmp_path / f"o{i}.parquet").read_bytes(), (tmp_path / f"m{i}.parquet").read_bytes()))
    assert blobs[0] == blobs[1]


def test_exclude_names_extends_non_territorial(tmp_path, matcher):
    raw = ho_outcomes_frame(forces=["Kent", "Ministry of Defence Police"])
    write_gz(raw, tmp_path / "o.csv.gz")
    with pytest.raises(InputError, match="Ministry of Defence Police"):
        official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher)
    data, _ = official.read_outcome_sources(["ho_charge_rate"], tmp_path, matcher,
                                            exclude_names=["Ministry of Defence Police"])
    assert list(data["area"]) == ["E23000032"]


def test_adapters_table_names_sources():
    table = official.adapters_table()
    assert set(table["name"]) == set(OUTCOMES) | set(COVARIATES)
    assert table["published_at"].str.len().gt(0).all()
    assert not table["source"].str.lower().str.startswith("synthetic").any()
