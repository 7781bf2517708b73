"""Survey and fieldwork exports in the formats real projects send, built from the project's own synthetic CSVs.

Every builder reads a folder in the contract's CSV shape (by default the committed demo data, data/raw/...)
and writes the same content as another tool would save it, so a test can check that the clean stage gives
the same tables whatever the format:

- ``write_spss`` (.sav, or .zsav with ``compressed=True``) and ``write_stata`` (.dta): Likert items as numeric
  codes with value labels (1 = Strongly disagree .. 5 = Strongly agree) and "Don't know" as a user-missing code
  (SPSS: 8 declared in missing_ranges; Stata: extended missing .a), blank answers as system-missing,
  ``submitted_at`` as a datetime variable, the other columns as text;
- ``write_excel`` (.xlsx): one workbook per export, the responses on a sheet (optionally behind other sheets),
  timestamps as Excel datetimes and numeric cells as numbers;
- ``write_two_header`` (online-survey CSV with two header rows) and its ``columns.csv``;
- ``write_qdpx`` (REFI-QDA project, the schema Project-mrt2019.xsd) for the fieldwork coding.

Reference tables (codebook.csv, invited.csv; board_meetings.csv, approved_quotes.csv) are copied as CSV.
"""
from __future__ import annotations

import shutil
import uuid
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd

from pipeline import paths
from pipeline.clean.labels import DONT_KNOW, Synonyms, parse_timestamps
from pipeline.clean.readers import read_text_csv

LIKERT_LABELS = {1: "Strongly disagree", 2: "Disagree", 3: "Neither agree nor disagree", 4: "Agree",
                 5: "Strongly agree"}
SPSS_DONT_KNOW = 8
UNLABELLED_CODE = 9  # what a survey file holds for an answer text the pipeline does not know (no label)
FIXED = ["response_id", "submitted_at", "area", "agency", "role", "meetings_per_year", "members", "comments"]
SURVEY_REFERENCE = ("codebook.csv", "invited.csv")
FIELDWORK_REFERENCE = ("board_meetings.csv", "approved_quotes.csv")


def response_exports(survey_dir: Path | None = None) -> list[tuple[str, pd.DataFrame, list[str]]]:
    """(file stem, text table, item columns) of every response export in a CSV survey folder, sorted by name."""
    survey_dir = Path(survey_dir or paths.RAW_SURVEY)
    out = []
    for path in sorted(survey_dir.glob("*.csv")):
        frame, _, _, _ = read_text_csv(path)
        if "response_id" in frame.columns:
            items = [c for c in frame.columns if c not in FIXED]
            out.append((path.stem, frame, items))
    return out


def copy_reference(src: Path, dest: Path, names) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (Path(src) / name).is_file():
            shutil.copyfile(Path(src) / name, dest / name)
    marker = Path(src) / "SYNTHETIC.md"
    if marker.is_file():
        shutil.copyfile(marker, dest / "SYNTHETIC.md")


def likert_codes(frame: pd.DataFrame, items: list[str], synonyms: Synonyms | None = None) -> pd.DataFrame:
    """Codes per item cell: 1-5, 'dk' for Don't know, NaN for blank, 9 (unlabelled) for unknown text."""
    synonyms = synonyms or Synonyms.load()
    codes = {}
    for item in items:
        text = frame[item].str.strip()
        canon = synonyms.map_series("likert", text)
        values = pd.to_numeric(canon.where(canon != DONT_KNOW), errors="coerce").astype("float64")
        values = values.where(text != "", np.nan)
        values = values.mask((text != "") & canon.isna(), float(UNLABELLED_CODE))
        dont_know = (canon == DONT_KNOW).fillna(False).astype(bool)
        codes[item] = values.astype("object").mask(dont_know, "dk")
    return pd.DataFrame(codes, index=frame.index)


def _stat_frame(frame: pd.DataFrame, items: list[str], dont_know) -> pd.DataFrame:
    codes = likert_codes(frame, items)
    out = pd.DataFrame({"response_id": frame["response_id"].astype(str)})
    out["submitted_at"] = parse_timestamps(frame["submitted_at"]).astype("datetime64[us]")
    for c in ("area", "agency", "role"):
        out[c] = frame[c].astype(str)
    for item in items:
        col = codes[item].map(lambda v: dont_know if v == "dk" else v)
        out[item] = col.astype("float64") if not isinstance(dont_know, str) else col.astype("object")
    for c in ("meetings_per_year", "members", "comments"):
        out[c] = frame[c].astype(str) if c in frame.columns else ""
    return out


def write_spss(dest: Path, survey_dir: Path | None = None, *, compressed: bool = False,
               drop_label: tuple[str, int] | None = None) -> list[Path]:
    """One .sav (or .zsav) per response export, with the reference CSVs. ``drop_label=(item, code)`` leaves
    that code without a value label (a broken file for the bad-input tests)."""
    import pyreadstat
    survey_dir = Path(survey_dir or paths.RAW_SURVEY)
    dest = Path(dest)
    copy_reference(survey_dir, dest, SURVEY_REFERENCE)
    written = []
    for stem, frame, items in response_exports(survey_dir):
        data = _stat_frame(frame, items, float(SPSS_DONT_KNOW))
        labels = {item: {**{float(k): v for k, v in LIKERT_LABELS.items()}, float(SPSS_DONT_KNOW): "Don't know"}
                  for item in items}
        if drop_label:
            labels[drop_label[0]].pop(float(drop_label[1]), None)
        path = dest / f"{stem}.{'zsav' if compressed else 'sav'}"
        pyreadstat.write_sav(data, str(path), compress=compressed, variable_value_labels=labels,
                             missing_ranges={item: [float(SPSS_DONT_KNOW)] for item in items},
                             column_labels={"submitted_at": "Date and time submitted"},
                             variable_format={"submitted_at": "DATETIME20"})
        written.append(path)
    return written


def write_stata(dest: Path, survey_dir: Path | None = None, *,
                drop_label: tuple[str, int] | None = None) -> list[Path]:
    """One .dta per response export; "Don't know" is Stata's extended missing value .a with a label.
    ``drop_label=(item, code)`` leaves that code without a value label."""
    import pyreadstat
    survey_dir = Path(survey_dir or paths.RAW_SURVEY)
    dest = Path(dest)
    copy_reference(survey_dir, dest, SURVEY_REFERENCE)
    written = []
    for stem, frame, items in response_exports(survey_dir):
        data = _stat_frame(frame, items, "a")
        for item in items:  # floats, with the letter for .a (pyreadstat writes NaN in an int column as 0)
            data[item] = data[item].map(lambda v: v if v == "a" else float(v)).astype("object")
        labels = {item: {**{k: v for k, v in LIKERT_LABELS.items()}, "a": "Don't know"} for item in items}
        if drop_label:
            labels[drop_label[0]].pop(drop_label[1], None)
        path = dest / f"{stem}.dta"
        pyreadstat.write_dta(data, str(path), variable_value_labels=labels,
                             missing_user_values={item: ["a"] for item in items})
        written.append(path)
    return written


def write_excel(dest: Path, survey_dir: Path | None = None, *, sheet: str = "Responses",
                sheets_before: tuple[str, ...] = ()) -> list[Path]:
    """One .xlsx per response export: the responses on ``sheet`` (after ``sheets_before``, e.g. a read-me)."""
    import openpyxl
    survey_dir = Path(survey_dir or paths.RAW_SURVEY)
    dest = Path(dest)
    copy_reference(survey_dir, dest, SURVEY_REFERENCE)
    written = []
    for stem, frame, items in response_exports(survey_dir):
        book = openpyxl.Workbook()
        first = book.active
        for i, name in enumerate(sheets_before):
            ws = first if i == 0 else book.create_sheet(name)
            ws.title = name
            ws.append(["This workbook holds the survey responses on the sheet " + sheet])
        ws = book.create_sheet(sheet) if sheets_before else first
        ws.title = sheet
        ws.append(list(frame.columns))
        stamps = parse_timestamps(frame["submitted_at"])
        for i, rec in enumerate(frame.to_dict("records")):
            row = []
            for column, value in rec.items():
                if column == "submitted_at" and pd.notna(stamps.iloc[i]):
                    row.append(stamps.iloc[i].to_pydatetime())
                elif column == "meetings_per_year" and value.strip().isdigit():
                    row.append(int(value.strip()))
                else:
                    row.append(value if value != "" else None)
            ws.append(row)
        path = dest / f"{stem}.xlsx"
        book.save(path)
        written.append(path)
    return written


QUESTION = {"response_id": "Respondent ID", "submitted_at": "Date submitted",
            "area": "Which criminal justice partnership area do you work in?",
            "agency": "Which agency do you represent?", "role": "What is your role on the board?",
            "meetings_per_year": "How often does the board meet?",
            "members": "Which agencies are represented on the board?", "comments": "Any other comments?"}
MATRIX = "How far do you agree with each statement about your local board?"


def write_two_header(dest: Path, survey_dir: Path | None = None) -> list[Path]:
    """Online-survey CSVs (UTF-8 with BOM): row 1 question text, row 2 sub-question or option; the Likert
    items as one matrix question, members as one column per agency option; plus ``columns.csv``."""
    survey_dir = Path(survey_dir or paths.RAW_SURVEY)
    dest = Path(dest)
    copy_reference(survey_dir, dest, SURVEY_REFERENCE)
    codebook, _, _, _ = read_text_csv(survey_dir / "codebook.csv")
    text_of = dict(zip(codebook["item"].str.strip(), codebook["text"].str.strip()))
    mapping = [("IP Address", "", ""), *[(QUESTION[c], "", c) for c in FIXED if c != "members"],
               (QUESTION["members"], "", "members")]
    mapping += [(MATRIX, text_of[i], i) for i in sorted(text_of)]
    written = []
    for stem, frame, items in response_exports(survey_dir):
        options = sorted({p.strip() for cell in frame["members"] for p in cell.split(";") if p.strip()})
        row1, row2, columns = ["IP Address"], [""], [pd.Series("192.0.2.1", index=frame.index)]
        for c in ("response_id", "submitted_at", "area", "agency", "role"):
            row1.append(QUESTION[c]); row2.append("" if c in ("response_id", "submitted_at") else "Response")
            columns.append(frame[c])
        for j, item in enumerate(items):
            row1.append(MATRIX if j == 0 else ""); row2.append(text_of[item]); columns.append(frame[item])
        row1.append(QUESTION["meetings_per_year"]); row2.append("Response"); columns.append(frame["meetings_per_year"])
        for j, option in enumerate(options):
            row1.append(QUESTION["members"] if j == 0 else ""); row2.append(option)
            chosen = frame["members"].map(lambda cell: option if option in {p.strip() for p in cell.split(";")}
                                          else "")
            columns.append(chosen)
        row1.append(QUESTION["comments"]); row2.append("Open-Ended Response"); columns.append(frame["comments"])
        body = pd.concat(columns, axis=1)
        body.columns = range(body.shape[1])
        header = pd.DataFrame([row1, row2])
        path = dest / f"{stem}_export.csv"
        text = pd.concat([header, body.astype(str)], ignore_index=True).to_csv(index=False, header=False,
                                                                              lineterminator="\r\n")
        path.write_bytes(("\ufeff" + text).encode("utf-8"))
        written.append(path)
    pd.DataFrame(mapping, columns=["export_column", "export_subcolumn", "maps_to"]).to_csv(
        dest / "columns.csv", index=False)
    return written


# ---------------------------------------------------------------------------------------------------------
# REFI-QDA

NS = "urn:QDA-XML:project:1.0"
VALENCE_SET = {1: "positive", 0: "neutral", -1: "negative"}


def guid(*parts) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "instep-fixture:" + ":".join(map(str, parts))))


def write_qdpx(dest: Path, fieldwork_dir: Path | None = None, *, name: str = "fieldwork.qdpx",
               inline_text: bool = False, themeless_code: str | None = None,
               code_names: dict[str, str] | None = None) -> Path:
    """The fieldwork coding as a REFI-QDA project, plus the CSVs a project does not hold (board meetings, approved
    quotes). Codes sit under one theme code each and in a positive/neutral/negative set; every source has
    the variables area, source_type and agency; a segment coded by two coders is, alternately, one selection
    with two codings and two selections of the same span. ``themeless_code`` moves that code to the top of the
    code system (no theme: a broken project for the bad-input tests); ``code_names`` renames codes in the
    project (for the mapping-file test). Text lives in ``sources/<guid>.txt`` unless ``inline_text``."""
    fieldwork_dir = Path(fieldwork_dir or paths.RAW_FIELDWORK)
    dest = Path(dest)
    copy_reference(fieldwork_dir, dest, FIELDWORK_REFERENCE)
    segments, _, _, _ = read_text_csv(fieldwork_dir / "coded_segments.csv")
    codebook, _, _, _ = read_text_csv(fieldwork_dir / "codebook.csv")
    code_names = code_names or {}
    seg = segments.assign(**{c: segments[c].str.strip() for c in segments.columns})
    coders = sorted(seg["coder"].unique())
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             f'<Project xmlns="{NS}" name="In Step fieldwork (synthetic)" origin="In Step test builders" '
             'creationDateTime="2015-12-01T09:00:00Z">', "<Users>"]
    lines += [f'<User guid="{guid("user", c)}" name={quoteattr(c)}/>' for c in coders]
    lines += ["</Users>", "<CodeBook>", "<Codes>"]
    book = codebook.assign(code=codebook["code"].str.strip(), theme=codebook["theme"].str.strip())
    for theme, group in book.groupby("theme", sort=True):
        inner = []
        for rec in group.to_dict("records"):
            if rec["code"] == themeless_code:
                continue
            inner.append(_code_xml(rec, code_names))
        lines.append(f'<Code guid="{guid("theme", theme)}" name={quoteattr(theme)} isCodable="false">')
        lines += inner
        lines.append("</Code>")
    for rec in book.to_dict("records"):
        if rec["code"] == themeless_code:
            lines.append(_code_xml(rec, code_names))
    lines += ["</Codes>", "</CodeBook>", "<Variables>"]
    for var in ("area", "source_type", "agency"):
        lines.append(f'<Variable guid="{guid("variable", var)}" name="{var}" typeOfVariable="Text"/>')
    lines += ["</Variables>", "<Sources>"]
    members = {}
    pair = 0
    for source_id, group in seg.groupby("source_id", sort=True):
        first = group.iloc[0]
        sguid = guid("source", source_id)
        unique = group.drop_duplicates("segment_id")
        text, spans, position = [], {}, 0
        for rec in unique.to_dict("records"):
            spans[rec["segment_id"]] = (position, position + len(rec["excerpt"]))
            text.append(rec["excerpt"])
            position += len(rec["excerpt"]) + 2
        body = "\n\n".join(text)
        attrs = f'guid="{sguid}" name={quoteattr(source_id)}'
        if inline_text:
            lines.append(f"<TextSource {attrs}>")
            lines.append(f"<PlainTextContent>{escape(body)}</PlainTextContent>")
        else:
            lines.append(f'<TextSource {attrs} plainTextPath="internal://{sguid}.txt">')
            members[f"sources/{sguid}.txt"] = body
        for segment_id, rows in group.groupby("segment_id", sort=False):
            start, end = spans[segment_id]
            records = rows.to_dict("records")
            together = len(records) > 1 and pair % 2 == 0
            pair += len(records) > 1
            groups = [records] if together else [[r] for r in records]
            for k, chunk in enumerate(groups):
                owner = chunk[0]["coder"]
                lines.append(f'<PlainTextSelection guid="{guid("selection", segment_id, k)}" '
                             f'name={quoteattr(segment_id)} startPosition="{start}" endPosition="{end}" '
                             f'creatingUser="{guid("user", owner)}">')
                for r in chunk:
                    lines.append(f'<Coding guid="{guid("coding", segment_id, r["coder"], r["code"])}" '
                                 f'creatingUser="{guid("user", r["coder"])}">'
                                 f'<CodeRef targetGUID="{guid("code", r["code"])}"/></Coding>')
                lines.append("</PlainTextSelection>")
        for var in ("area", "source_type", "agency"):
            lines.append(f'<VariableValue><VariableRef targetGUID="{guid("variable", var)}"/>'
                         f"<TextValue>{escape(first[var])}</TextValue></VariableValue>")
        lines.append("</TextSource>")
    lines += ["</Sources>", "<Sets>"]
    for value, set_name in VALENCE_SET.items():
        codes = book[pd.to_numeric(book["valence"].str.replace("+", "", regex=False)) == value]["code"]
        lines.append(f'<Set guid="{guid("set", set_name)}" name="{set_name}">')
        lines += [f'<MemberCode targetGUID="{guid("code", c)}"/>' for c in codes]
        lines.append("</Set>")
    lines += ["</Sets>", "</Project>"]
    path = dest / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("project.qde", date_time=(2015, 12, 1, 9, 0, 0)), "\n".join(lines) + "\n")
        for member, body in sorted(members.items()):
            archive.writestr(zipfile.ZipInfo(member, date_time=(2015, 12, 1, 9, 0, 0)), body)
    return path


def rewrite_project(path: Path, edit) -> None:
    """Replace project.qde inside a .qdpx by ``edit(text) -> text`` (to break a project for a test)."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    members["project.qde"] = edit(members["project.qde"].decode("utf-8")).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2015, 12, 1, 9, 0, 0)), body)


def _code_xml(rec: dict, code_names: dict) -> str:
    shown = code_names.get(rec["code"], rec["code"])
    desc = f"<Description>{escape(rec['description'])}</Description>" if rec["description"].strip() else ""
    return (f'<Code guid="{guid("code", rec["code"])}" name={quoteattr(shown)} isCodable="true">{desc}</Code>')


def xsd_path() -> Path:
    """The REFI-QDA project schema (MIT licence, REFI; shipped with the tests)."""
    return Path(__file__).resolve().parent.parent / "schemas" / "Project-mrt2019.xsd"


BUILDERS = {"sav": lambda d: write_spss(d), "zsav": lambda d: write_spss(d, compressed=True), "dta": write_stata,
            "xlsx": write_excel, "two-header": write_two_header, "qdpx": write_qdpx}


def main(argv=None) -> int:
    """``python -m tests.builders.formats FORMAT DEST``: the demo survey (or fieldwork, for qdpx) in that format."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("format", choices=sorted(BUILDERS))
    parser.add_argument("dest", type=Path, help="an empty folder to write to (not data/raw itself)")
    args = parser.parse_args(argv)
    written = BUILDERS[args.format](args.dest)
    for path in ([written] if isinstance(written, Path) else written):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
