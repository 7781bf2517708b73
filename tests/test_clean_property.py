"""Property-based: perturbed valid inputs give either a clean result that accounts for every row, or an
InputError; never another exception type and never a lost row."""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.areas import AreaMatcher
from pipeline.clean import clean_outcomes, clean_survey
from tests.builders import clean_examples as examples
from pipeline.errors import InputError

MATCHER = AreaMatcher.from_reference()
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

AREA_VARIANTS = ["Kent", " KENT police ", "Kent Constabulary", "kent cjb", "MPS", "Met", "City of London Police",
                 "London CJB", "Dyfed Powys", "dyfed-powys police", "Devon & Cornwall", "Narnia", ""]
LIKERT = ["Strongly agree", "Agree", "Neither agree nor disagree", "Disagree", "Strongly disagree", "Don't know",
          "Don\u2019t know", "", "Agree-ish", "5"]
junk = st.text(max_size=12)


def rows_of(text: str) -> tuple[list[str], list[list[str]]]:
    reader = list(csv.reader(io.StringIO(text)))
    return reader[0], reader[1:]


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    # RFC 4180 line ends: with "\n" alone Python's writer leaves a lone "\r" in a cell unquoted, a line break to
    # every CSV reader (the file would hold one row more than the test meant)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def encode(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("utf-8")


@st.composite
def cell_edit(draw, columns):
    column = draw(st.sampled_from(columns))
    if column == "area":
        value = draw(st.one_of(st.sampled_from(AREA_VARIANTS), junk))
    elif column.startswith("q"):
        label = draw(st.sampled_from(LIKERT))
        value = draw(st.sampled_from([label, label.upper(), "  " + label.lower() + " ", label.replace(" ", "  ")]))
        value = draw(st.one_of(st.just(value), junk)) if draw(st.integers(0, 9)) == 0 else value
    elif column == "submitted_at":
        value = draw(st.sampled_from(["2015-03-01T10:00:00", "01/03/2015 10:00", "31/02/2015 10:00", "", "tomorrow"]))
    else:
        value = draw(st.one_of(st.just(""), junk, st.sampled_from(["Police", "HMCTS", "yot", "Chair", "Monthly", "7"])))
    return column, value


def run_and_check(clean, folder: Path, expected_rows: dict[str, int], **options):
    try:
        result = clean(folder, MATCHER, **options)
    except InputError:
        return None
    rec = result.reconciliation.set_index("source_file")
    for name, n in expected_rows.items():
        row = rec.loc[[f for f in rec.index if f.endswith("/" + name)][0]]
        assert row["rows_read"] == n
        assert row["accepted"] + row["quarantined"] == n
    return result


@SETTINGS
@given(cell_edits=st.lists(st.tuples(st.integers(0, 4), cell_edit(["area", "agency", "role", "submitted_at", "q01",
                                                                     "q02", "q03", "meetings_per_year", "members"])),
                           max_size=8),
       duplicates=st.lists(st.integers(0, 4), max_size=3),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
       on_unknown_area=st.sampled_from(["error", "quarantine"]))
def test_survey_perturbations(cell_edits, duplicates, encoding, on_unknown_area):
    header, rows = rows_of(examples.SURVEY_RESPONSES)
    for i, (column, value) in cell_edits:
        rows[i][header.index(column)] = value
    rows = rows + [list(rows[i]) for i in duplicates]
    folder = Path(tempfile.mkdtemp())
    try:
        examples.write(folder, {"codebook.csv": examples.SURVEY_CODEBOOK})
        (folder / "responses.csv").write_bytes(encode(to_csv(header, rows), encoding))
        result = run_and_check(clean_survey, folder, {"responses.csv": len(rows), "codebook.csv": 3},
                               on_unknown_area=on_unknown_area)
        if result is not None:
            assert len(result.clean) == result.reconciliation.set_index("source_file").filter(
                like="responses.csv", axis=0)["accepted"].iloc[0]
            assert result.clean["response_id"].is_unique
            items = result.clean[["q01", "q02", "q03"]]
            assert items.isin([1.0, 2.0, 3.0, 4.0, 5.0]).where(items.notna(), True).all().all()
    finally:
        shutil.rmtree(folder)


@SETTINGS
@given(cell_edits=st.lists(st.tuples(st.integers(0, 9), st.sampled_from(["area", "period", "value", "numerator",
                                                                          "denominator", "measure"]),
                                     st.one_of(junk, st.sampled_from(["", "2014", "2014/15", "2014 Q5", "MPS",
                                                                      "London", "-1", "1e9", "12,000", "50%"]))),
                           max_size=6),
       duplicates=st.lists(st.integers(0, 9), max_size=3),
       on_unknown_area=st.sampled_from(["error", "quarantine"]))
def test_outcome_perturbations(cell_edits, duplicates, on_unknown_area):
    header, rows = rows_of(examples.OUTCOMES)
    for i, column, value in cell_edits:
        rows[i][header.index(column)] = value
    rows = rows + [list(rows[i]) for i in duplicates]
    folder = Path(tempfile.mkdtemp())
    try:
        examples.write(folder, {"measures.csv": examples.MEASURES, "outcomes.csv": to_csv(header, rows)})
        result = run_and_check(clean_outcomes, folder, {"outcomes.csv": len(rows)}, on_unknown_area=on_unknown_area)
        if result is not None:
            assert result.outcomes["value"].notna().all()
            assert not result.outcomes.duplicated(["lcjp_id", "period_label", "measure", "source"]).any()
    finally:
        shutil.rmtree(folder)


# --- spellings and punctuation: a perturbation that keeps the meaning keeps the result ---------------------------

def _dotted(text: str) -> str:
    """'CPS' -> 'C.P.S.'; longer words keep their letters with dots at word ends ('Crown. Court.')."""
    return ".".join(text) + "." if text.isalpha() and len(text) <= 5 else " ".join(w + "." for w in text.split())


SPELLING_TRANSFORMS = {
    "upper": str.upper, "lower": str.lower, "title": str.title,
    "dots": _dotted,
    "hyphens": lambda t: t.replace(" ", "-"),
    "no spaces": lambda t: t.replace(" ", ""),
    "double spaces": lambda t: "  " + t.replace(" ", "   ") + " ",
    "ampersand": lambda t: t.replace(" and ", " & "),
    "and": lambda t: t.replace("&", "and"),
    "the": lambda t: "The " + t,
    "trailing punctuation": lambda t: t + ".",
    "underscores": lambda t: t.replace(" ", "_"),
}


@SETTINGS
@given(transforms=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["agency", "role", "area", "members", "q01"]),
                                     st.lists(st.sampled_from(sorted(SPELLING_TRANSFORMS)), min_size=1, max_size=3)),
                           min_size=1, max_size=10))
def test_spelling_and_punctuation_perturbations_keep_the_result(transforms):
    """Case, dots, spacing, hyphens, '&'/'and', a leading 'the' and trailing punctuation change nothing."""
    header, rows = rows_of(examples.SURVEY_RESPONSES)
    base_folder, folder = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    try:
        for f in (base_folder, folder):
            examples.write(f, {"codebook.csv": examples.SURVEY_CODEBOOK})
        (base_folder / "responses.csv").write_text(to_csv(header, rows), encoding="utf-8")
        per_cell: dict[tuple[int, str], list[str]] = {}
        for i, column, names in transforms:  # each transform at most once per cell ("The The Police" is no spelling)
            cell = per_cell.setdefault((i, column), [])
            cell.extend(n for n in names if n not in cell)
        for (i, column), names in per_cell.items():
            # a leading "the" goes on last: "ThePolice" (the, then no spaces) is no spelling anyone writes
            names = sorted(names, key=lambda name: name == "the")
            j = header.index(column)
            value = rows[i][j]
            for name in names:
                if column == "members":
                    value = ";".join(SPELLING_TRANSFORMS[name](p) for p in value.split(";")) if value else value
                elif column == "q01" and name in ("dots", "the"):
                    continue  # an answer label is a phrase, not an abbreviation or a name
                else:
                    value = SPELLING_TRANSFORMS[name](value)
            rows[i][j] = value
        (folder / "responses.csv").write_text(to_csv(header, rows), encoding="utf-8")
        expected = clean_survey(base_folder, MATCHER)
        result = clean_survey(folder, MATCHER)
        assert result.quarantine.empty, (rows, result.quarantine[["column", "reason"]].to_dict("records"))
        columns = ["response_id", "lcjp_id", "pfa_code", "agency", "role", "members", "q01", "q02", "q03"]
        assert result.clean[columns].equals(expected.clean[columns]), rows
    finally:
        shutil.rmtree(base_folder)
        shutil.rmtree(folder)


@SETTINGS
@given(new_names=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["Victim Support", "Ministry of Magic",
                                                                        "Fire and Rescue", "Witness Care Unit"])),
                          max_size=5),
       share=st.sampled_from([0.0, 0.02, 0.2, 0.5, 1.0]))
def test_quarantine_gate_stops_or_lists_every_new_name(new_names, share):
    """Above the share the gate stops with a line per new name; at or below it the set-aside table lists them."""
    from pipeline.clean.quarantine import apply_gate
    header, rows = rows_of(examples.SURVEY_RESPONSES)
    for i, name in new_names:
        rows[i][header.index("agency")] = name
    folder = Path(tempfile.mkdtemp())
    try:
        examples.write(folder, {"codebook.csv": examples.SURVEY_CODEBOOK})
        (folder / "responses.csv").write_text(to_csv(header, rows), encoding="utf-8")
        result = clean_survey(folder, MATCHER)
        names = sorted({rows[i][header.index("agency")] for i, _ in new_names})
        bad_rows = sum(1 for r in rows if r[header.index("agency")] in names)
        try:
            table = apply_gate(result, "survey", share)
        except InputError as error:
            assert bad_rows / len(rows) > share
            for name in names:
                assert f"agency,{name},<" in str(error), str(error)
        else:
            assert bad_rows / len(rows) <= share
            assert int(table.loc[table["reason_kind"] == "unknown agency", "rows"].sum()) == bad_rows
            for name in names:
                assert table["fix"].str.contains(f"agency,{name},<", regex=False).any()
    finally:
        shutil.rmtree(folder)
