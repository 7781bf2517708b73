"""Survey and fieldwork exports in other formats give the same clean tables as the CSV route.

The fixtures are built at test time from the committed synthetic CSVs (tests/builders/formats.py): the same
responses and codings saved as SPSS, Stata, Excel, a two-header online-survey CSV and a REFI-QDA project.
"""
from __future__ import annotations

import warnings
import zipfile

import pandas as pd
import pytest

from pipeline import paths
from pipeline.areas import AreaMatcher
from pipeline.clean import clean_fieldwork, clean_survey
from pipeline.clean.formats import sniff
from tests.builders import formats as build

SOURCE_COLUMNS = ("source_file", "source_row")


@pytest.fixture(scope="module")
def matcher():
    return AreaMatcher.from_reference()


@pytest.fixture(scope="module")
def csv_survey(matcher):
    return clean_survey(paths.RAW_SURVEY, matcher)


@pytest.fixture(scope="module")
def csv_fieldwork(matcher):
    return clean_fieldwork(paths.RAW_FIELDWORK, matcher)


def without_source(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in SOURCE_COLUMNS if c in frame.columns])


def assert_same_tables(expected, got):
    assert list(expected.outputs()) == list(got.outputs())
    for name, table in expected.outputs().items():
        pd.testing.assert_frame_equal(without_source(table), without_source(got.outputs()[name]), obj=name)
    # the same rows set aside (same ids, same columns), and every file reconciled
    key = "response_id" if "response_id" in expected.quarantine.columns else "segment_id"
    if key in expected.quarantine.columns:
        pairs = sorted(zip(expected.quarantine[key], expected.quarantine["column"]))
        assert pairs == sorted(zip(got.quarantine[key], got.quarantine["column"]))
    else:
        assert len(got.quarantine) == len(expected.quarantine)
    rec = got.reconciliation
    assert (rec["accepted"] + rec["quarantined"] == rec["rows_read"]).all()
    assert rec["rows_read"].sum() == expected.reconciliation["rows_read"].sum()


SURVEY_BUILDERS = {
    "sav": lambda d: build.write_spss(d),
    "zsav": lambda d: build.write_spss(d, compressed=True),
    "dta": build.write_stata,
    "xlsx": build.write_excel,
    "two_header_csv": build.write_two_header,
}


@pytest.mark.parametrize("fmt", sorted(SURVEY_BUILDERS))
def test_survey_format_gives_the_csv_routes_tables(fmt, tmp_path, matcher, csv_survey):
    SURVEY_BUILDERS[fmt](tmp_path)
    got = clean_survey(tmp_path, matcher)
    assert_same_tables(csv_survey, got)
    kinds = got.missing["kind"].value_counts().to_dict()
    assert kinds == csv_survey.missing["kind"].value_counts().to_dict() and kinds["dont_know"] > 0


def test_spss_fixture_really_declares_dont_know_user_missing(tmp_path):
    import pyreadstat
    path = build.write_spss(tmp_path)[0]
    _, meta = pyreadstat.read_sav(str(path), user_missing=True, metadataonly=True)
    assert meta.missing_ranges["q01"] == [{"lo": 8.0, "hi": 8.0}]
    assert meta.variable_value_labels["q01"][8.0] == "Don't know"
    assert meta.original_variable_types["submitted_at"].startswith("DATETIME")


def test_format_is_chosen_by_content_not_name(tmp_path, matcher, csv_survey):
    build.write_spss(tmp_path)
    for path in sorted(tmp_path.glob("*.sav")):
        path.rename(path.with_name(path.stem + "_export.dat"))  # a name that says nothing
    assert {sniff(p) for p in tmp_path.glob("*.dat")} == {"sav"}
    assert_same_tables(csv_survey, clean_survey(tmp_path, matcher))


def test_row_numbers_point_into_the_original_files(tmp_path, matcher, csv_survey):
    expected = csv_survey.quarantine.set_index("response_id")["row_number"]
    build.write_two_header(tmp_path / "two")
    two = clean_survey(tmp_path / "two", matcher).quarantine.set_index("response_id")
    assert (two["row_number"] == expected.reindex(two.index) + 1).all()  # both header rows counted
    build.write_excel(tmp_path / "xlsx")
    xlsx = clean_survey(tmp_path / "xlsx", matcher).quarantine.set_index("response_id")
    assert (xlsx["row_number"] == expected.reindex(xlsx.index)).all()  # Excel's own row numbers
    assert xlsx["source_file"].str.endswith(".xlsx [sheet Responses]").all()
    assert xlsx["reason"].str.contains(r"\.xlsx \[sheet Responses\] row \d+", regex=True).all()


def test_excel_named_sheet_and_first_sheet(tmp_path, matcher, csv_survey):
    build.write_excel(tmp_path, sheets_before=("Read me",))
    assert_same_tables(csv_survey, clean_survey(tmp_path, matcher, excel_sheet="Responses"))
    with warnings.catch_warnings(record=True) as caught, pytest.raises(Exception) as info:
        warnings.simplefilter("always")
        clean_survey(tmp_path, matcher)  # the first sheet is the read-me: not a response export
    assert "no survey response export found" in str(info.value)
    assert any("[sheet Read me]" in str(w.message) for w in caught)


def test_excel_sheet_is_a_param_of_the_clean_stage():
    from pipeline.clean import summary
    assert "excel_sheet" in summary.options_for("survey", {"excel_sheet": "Responses", "on_unknown_area": "error"})


@pytest.mark.parametrize("inline_text", [False, True], ids=["text_in_sources", "text_inline"])
def test_qdpx_gives_the_csv_routes_tables(inline_text, tmp_path, matcher, csv_fieldwork):
    build.write_qdpx(tmp_path, inline_text=inline_text)
    for name in ("coded_segments.csv", "codebook.csv"):
        assert not (tmp_path / name).exists()
    got = clean_fieldwork(tmp_path, matcher)
    assert_same_tables(csv_fieldwork, got)
    assert got.segments["source_file"].str.endswith("fieldwork.qdpx [codings]").all()
    double = got.segments.groupby("segment_id")["coder"].nunique()
    expected = csv_fieldwork.segments.groupby("segment_id")["coder"].nunique()
    assert (double == 2).sum() == (expected == 2).sum() > 0
    assert set(got.segments["source_type"]) == {"interview", "focus_group", "document", "observation"}


def test_qdpx_fixture_validates_against_the_refi_qda_schema(tmp_path):
    from lxml import etree
    schema = etree.XMLSchema(etree.parse(str(build.xsd_path())))
    for inline in (False, True):
        path = build.write_qdpx(tmp_path / str(inline), inline_text=inline)
        document = etree.fromstring(zipfile.ZipFile(path).read("project.qde"))
        assert schema.validate(document), schema.error_log
    assert "MIT" in build.xsd_path().read_text(encoding="utf-8")[:3000]


def test_qdpx_fixture_holds_both_forms_of_double_coding(tmp_path):
    from lxml import etree
    path = build.write_qdpx(tmp_path)
    root = etree.fromstring(zipfile.ZipFile(path).read("project.qde"))
    ns = {"q": "urn:QDA-XML:project:1.0"}
    selections = root.findall(".//q:PlainTextSelection", ns)
    assert any(len(s.findall("q:Coding", ns)) == 2 for s in selections)  # one selection, two coders
    spans = pd.Series([(s.get("name"), s.get("startPosition")) for s in selections])
    assert spans.duplicated().any()  # two selections of the same span by different users


def test_qdpx_code_mapping_file(tmp_path, matcher, csv_fieldwork):
    renamed = {"talking_shop": "Talking shop (no influence)", "shared_data": "Shared data"}
    build.write_qdpx(tmp_path, code_names=renamed)
    pd.DataFrame({"qda_code": list(renamed.values()), "code": list(renamed)}).to_csv(tmp_path / "qda_codes.csv",
                                                                                   index=False)
    got = clean_fieldwork(tmp_path, matcher)
    assert_same_tables(csv_fieldwork, got)
    assert [m["type"] for m in got.manifest["mappings"]] == ["REFI-QDA code mapping"]


def test_csv_route_manifest_unchanged(csv_survey):
    for entry in csv_survey.manifest["files"]:
        assert set(entry) == {"path", "type", "sha256", "rows", "encoding"}
    assert "mappings" not in csv_survey.manifest


def test_demo_data_stays_csv():
    for folder in (paths.RAW_SURVEY, paths.RAW_FIELDWORK):
        assert {p.suffix for p in folder.iterdir() if p.is_file()} <= {".csv", ".md"}


def test_files_of_other_formats_are_listed_not_read(tmp_path, matcher, csv_survey):
    build.write_spss(tmp_path)
    (tmp_path / "old_wave.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    build.write_qdpx(tmp_path / "fw")
    (tmp_path / "fw" / "fieldwork.qdpx").rename(tmp_path / "coding.qdpx")
    with pytest.warns(UserWarning) as caught:
        got = clean_survey(tmp_path, matcher)
    assert_same_tables(csv_survey, got)
    ignored = {entry["path"].rsplit("/", 1)[-1]: entry["reason"] for entry in got.manifest["ignored"]}
    assert "save workbooks as .xlsx" in ignored["old_wave.xls"]
    assert "REFI-QDA .qdpx file, which this folder does not read" in ignored["coding.qdpx"]
    assert any("old_wave.xls" in str(w.message) for w in caught)


def test_two_header_ticked_options_and_left_out_columns():
    from pipeline.clean.formats import twoheader
    text = ("Respondent ID,Board members,,IP Address\r\n,Police,CPS,\r\n"
            "R1,1,,192.0.2.1\r\nR2,Yes,CPS,192.0.2.2\r\n,,,\r\n")
    mapping = {("respondent_id", ""): "response_id", ("board_members", ""): "members", ("ip_address", ""): ""}
    table = twoheader.read_two_header("x.csv", text, "0" * 64, mapping, "columns.csv")
    assert table.frame.to_dict("list") == {"response_id": ["R1", "R2"], "members": ["Police", "Police;CPS"]}
    assert table.source_row.tolist() == [3, 4]  # both header rows counted; the blank line skipped
    assert table.notes["columns_left_out"] == ["IP Address / "]


def test_missing_reader_package_is_a_clear_error(monkeypatch):
    import sys
    from pipeline.clean.formats import require
    from pipeline.errors import InputError
    monkeypatch.setitem(sys.modules, "pyreadstat", None)  # as if not installed: importing it raises ImportError
    with pytest.raises(InputError, match="needs the Python package pyreadstat") as info:
        require("pyreadstat", "data/raw/survey/x.sav", "SPSS .sav files")
    assert "pip install pyreadstat" in str(info.value)
