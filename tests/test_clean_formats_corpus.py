"""Bad inputs per export format (beside tests/bad_inputs, whose cases are CSV overlays): each gives an
InputError naming the file, the place and the fix, or quarantines exactly the rows affected, with the
place (row, sheet, GUID) and the fix in the reason, and the per-file reconciliation still holds.

Binary fixtures cannot live in tests/bad_inputs as text, so each case builds its broken file at test time from
the committed synthetic data (tests/builders/formats.py) and states what it expects here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from pipeline import paths
from pipeline.areas import AreaMatcher
from pipeline.clean import clean_fieldwork, clean_survey
from pipeline.clean.labels import Synonyms
from pipeline.clean.readers import read_text_csv
from pipeline.errors import InputError
from tests.builders import formats as build


@dataclass
class Case:
    kind: str
    make: Callable[[Path], None]
    error: tuple[str, ...] = ()                 # substrings of the InputError message
    quarantine: str | None = None               # substring of the quarantine reason
    reason_has: tuple[str, ...] = ()            # more substrings every matching reason holds (place, fix)
    column: str | None = None
    file_endswith: str | None = None
    rows: Callable[[], int] | None = None       # how many rows that reason should quarantine
    options: dict = field(default_factory=dict)


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _count_label(item: str, score: str) -> int:
    """Response rows whose answer to ``item`` means ``score`` in the committed CSVs."""
    synonyms, total = Synonyms.load(), 0
    for _, frame, _ in build.response_exports(paths.RAW_SURVEY):
        total += int((synonyms.map_series("likert", frame[item].str.strip()) == score).sum())
    return total


def _sav_broken(d: Path) -> None:
    for p in build.write_spss(d):
        _truncate(p, 0.3)


def _two_header_unmapped(d: Path) -> None:
    build.write_two_header(d)
    mapping = pd.read_csv(d / "columns.csv", dtype=str, keep_default_na=False)
    mapping[mapping["export_column"] != "IP Address"].to_csv(d / "columns.csv", index=False)


def _qdpx(edit=None, **kw):
    def make(d: Path) -> None:
        path = build.write_qdpx(d, **kw)
        if edit:
            build.rewrite_project(path, edit)
    return make


def _qdpx_corrupt(d: Path) -> None:
    _truncate(build.write_qdpx(d), 0.6)


def _first_selection_outside(text: str) -> str:
    return re.sub(r'endPosition="\d+"', 'endPosition="99999999"', text, count=1)


def _drop_first_user(text: str) -> str:
    return re.sub(r"<User [^>]*/>", "", text, count=1)


def _first_source_without_type(text: str) -> str:
    source_type_guid = build.guid("variable", "source_type")
    return re.sub(r'<VariableValue><VariableRef targetGUID="' + source_type_guid + r'"/><TextValue>[^<]*</TextValue>'
                  r"</VariableValue>", "", text, count=1)


def _codings_of_first_user() -> int:
    frame, _, _, _ = read_text_csv(paths.RAW_FIELDWORK / "coded_segments.csv")
    return int((frame["coder"].str.strip() == sorted(frame["coder"].str.strip().unique())[0]).sum())


def _codings_of_code(code: str) -> int:
    frame, _, _, _ = read_text_csv(paths.RAW_FIELDWORK / "coded_segments.csv")
    return int((frame["code"].str.strip() == code).sum())


def _codings_of_first_source() -> int:
    frame, _, _, _ = read_text_csv(paths.RAW_FIELDWORK / "coded_segments.csv")
    return int((frame["source_id"].str.strip() == sorted(frame["source_id"].str.strip().unique())[0]).sum())


CASES = {
    "sav_value_without_label": Case(
        "survey", lambda d: build.write_spss(d, drop_label=("q05", 4)),
        quarantine="value 4 in 'q05' has no value label", reason_has=("Variable View > Values",), column="q05",
        file_endswith=".sav", rows=lambda: _count_label("q05", "4")),
    "dta_value_without_label": Case(
        "survey", lambda d: build.write_stata(d, drop_label=("q11", 2)),
        quarantine="value 2 in 'q11' has no value label", reason_has=("label define",), column="q11",
        file_endswith=".dta", rows=lambda: _count_label("q11", "2")),
    "sav_truncated": Case("survey", _sav_broken, error=("cannot be read", ".sav")),
    "xlsx_sheet_not_there": Case("survey", build.write_excel, options={"excel_sheet": "Answers"},
                                 error=("no sheet 'Answers'", "Responses", "excel_sheet")),
    "two_header_column_not_mapped": Case("survey", _two_header_unmapped,
                                         error=("export column 1 ('IP Address'", "columns.csv", "row 1")),
    "qdpx_code_with_no_theme": Case(
        "fieldwork", _qdpx(themeless_code="talking_shop"), quarantine="so its codings cannot be placed",
        reason_has=("code 'talking_shop' (guid ", "has no theme", "fix:"), file_endswith="fieldwork.qdpx [codings]",
        rows=lambda: _codings_of_code("talking_shop"), column="code"),
    "qdpx_code_with_no_theme_in_codebook": Case(
        "fieldwork", _qdpx(themeless_code="talking_shop"), quarantine="no mapping gives one); fix:",
        reason_has=("code 'talking_shop' (guid ", "has no theme (it sits at the top of the code system", "qda_codes"),
        column="theme",
        file_endswith="fieldwork.qdpx [codes]", rows=lambda: 1),
    "qdpx_corrupt_zip": Case("fieldwork", _qdpx_corrupt, error=("cannot be opened", "fieldwork.qdpx")),
    "qdpx_not_well_formed": Case("fieldwork", _qdpx(lambda t: t.replace("</Users>", "", 1)),
                                 error=("not well-formed XML", "project.qde", "row ")),
    "qdpx_selection_outside_text": Case(
        "fieldwork", _qdpx(_first_selection_outside), quarantine="outside the",
        reason_has=("PlainTextSelection guid ", "fix:"), column="excerpt", file_endswith="[codings]"),
    "qdpx_coder_not_in_users": Case(
        "fieldwork", _qdpx(_drop_first_user), quarantine="which is not in the project's Users",
        reason_has=("coding guid ",), column="coder", rows=_codings_of_first_user),
    "qdpx_source_without_source_type": Case(
        "fieldwork", _qdpx(_first_source_without_type), quarantine="has no source_type variable",
        reason_has=("(guid ",), rows=_codings_of_first_source),
}
CLEAN = {"survey": clean_survey, "fieldwork": clean_fieldwork}


@pytest.fixture(scope="module")
def matcher():
    return AreaMatcher.from_reference()


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_export_gives_clear_outcome(name, tmp_path, matcher):
    case = CASES[name]
    case.make(tmp_path)
    clean = CLEAN[case.kind]
    if case.error:
        with pytest.raises(InputError) as info:
            clean(tmp_path, matcher, **case.options)
        message = str(info.value)
        for text in case.error:
            assert text in message, message
        assert info.value.file and "How to fix" in message
        return
    result = clean(tmp_path, matcher, **case.options)
    q = result.quarantine
    hits = q[q["reason"].str.contains(case.quarantine, regex=False)]
    assert len(hits), q["reason"].tolist()[:5]
    for text in case.reason_has:
        assert hits["reason"].str.contains(text, regex=False).all(), hits["reason"].tolist()[:3]
    if case.column:
        assert hits["column"].str.split("; ").map(lambda cols: case.column in cols).all(), hits["column"]
    if case.file_endswith:
        assert hits["source_file"].str.endswith(case.file_endswith).all(), hits["source_file"].unique()
    if case.rows:
        assert len(hits) == case.rows(), (len(hits), case.rows())
    rec = result.reconciliation
    assert (rec["accepted"] + rec["quarantined"] == rec["rows_read"]).all()
    assert rec["quarantined"].sum() == len(q)


def test_every_format_has_a_bad_input_case():
    names = " ".join(CASES)
    for fmt in ("sav", "dta", "xlsx", "two_header", "qdpx"):
        assert fmt in names
