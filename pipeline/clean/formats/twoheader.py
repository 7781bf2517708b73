"""Online-survey CSV exports with two header rows, mapped by ``columns.csv``.

Survey tools (SurveyMonkey, Qualtrics, Smart Survey, ...) export one column per question or answer option
under two header rows: the question text (written once above a matrix or multi-choice question, blank
over the rest of its columns) and the sub-question or option. ``columns.csv`` in the same folder says
what each column is::

    export_column,export_subcolumn,maps_to
    Respondent ID,,response_id
    Which agencies sit on the board?,Police,members
    Please say how far you agree.,The board agrees its priorities ...,q01
    IP Address,,

- ``export_column``: the text of header row 1 (blank cells inherit the text to their left);
- ``export_subcolumn``: the text of header row 2, or blank to match any (when row 1 alone names the column);
- ``maps_to``: a contract column (response_id, submitted_at, area, agency, role, meetings_per_year,
  members, comments), a codebook item, or blank to leave the column out (IP addresses, collector ids).

Several columns mapped to ``members`` are one multi-select: a row's answer is the ';'-joined options
chosen (a cell holding the option's text, or 1/yes/true/x/selected for the option named in row 2).
Matching ignores case, spacing and punctuation. Data rows are numbered as in the file: the first data
row is row 3.
"""
from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd

from ...errors import InputError
from . import CSV, Table

MULTI = "members"
TICKED = {"1", "yes", "true", "x", "selected", "checked"}
MAP_FIX = ("add a row for it to columns.csv (export_column = header row 1 text, export_subcolumn = header row 2 "
           "text, maps_to = the contract column or codebook item, or blank to leave the column out)")


def key(text) -> str:
    from ..readers import normalise_header
    return normalise_header(text)


def is_mapping(columns: list[str]) -> bool:
    """A ``columns.csv`` mapping file, recognised by its header (normalised column names)."""
    return {"export_column", "maps_to"} <= set(columns)


def parse_mapping(frame: pd.DataFrame, name: str) -> dict:
    """{(row-1 key, row-2 key or ""): maps_to} from a mapping file read as text (normalised header)."""
    sub = frame["export_subcolumn"] if "export_subcolumn" in frame.columns else pd.Series("", index=frame.index)
    out = {}
    for i, (col, subcol, target) in enumerate(zip(frame["export_column"], sub, frame["maps_to"]), start=2):
        k = (key(col), key(subcol))
        if k[0] == "":
            raise InputError(name, "export_column is blank", "write the text of the export's first header row",
                             row=i, column="export_column")
        if k in out:
            raise InputError(name, f"the column '{col}' / '{subcol}' is mapped twice", "keep one row per export "
                             "column", row=i, column="export_column")
        out[k] = key(target)
    return out


def header_keys(rows: list[list[str]]) -> list[tuple[str, str]]:
    first, second = rows[0], rows[1] if len(rows) > 1 else []
    keys, current = [], ""
    for i, cell in enumerate(first):
        if cell.strip():
            current = cell
        keys.append((key(current), key(second[i] if i < len(second) else "")))
    return keys


def _target(k: tuple[str, str], mapping: dict):
    if k in mapping:
        return mapping[k]
    if (k[0], "") in mapping:
        return mapping[(k[0], "")]
    return None


def matches(rows: list[list[str]], mapping: dict) -> bool:
    """Whether the first two rows of a CSV look like an export this mapping describes (most columns known)."""
    if len(rows) < 2 or not mapping:
        return False
    keys = header_keys(rows)
    known = sum(_target(k, mapping) is not None for k in keys)
    return known >= max(1, len(keys) // 2)


def split_rows(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text))]


def read_two_header(name: str, text: str, digest: str, mapping: dict, mapping_name: str) -> Table:
    rows = split_rows(text)
    keys = header_keys(rows)
    raw_first, raw_second = rows[0], rows[1]
    targets = []
    for i, k in enumerate(keys):
        target = _target(k, mapping)
        if target is None:
            shown = f"'{raw_first[i] or '(blank, under the question to its left)'}' / " \
                    f"'{raw_second[i] if i < len(raw_second) else ''}'"
            raise InputError(name, f"export column {i + 1} ({shown}) is not in {mapping_name}", MAP_FIX, row=1,
                             column=raw_first[i] or f"column {i + 1}")
        targets.append(target)
    mapped = [t for t in targets if t]
    repeated = sorted({t for t in mapped if t != MULTI and mapped.count(t) > 1})
    if repeated:
        raise InputError(mapping_name, f"several export columns of {name} map to {repeated}",
                         f"map one column to each contract column or item (only {MULTI} may take several)")
    width = len(keys)
    body, numbers = [], []
    for number, row in enumerate(rows[2:], start=3):
        if not any(c.strip() for c in row):
            continue
        if len(row) != width:
            raise InputError(name, f"the row has {len(row)} fields but the header has {width}",
                             "check quoting and the number of commas on that line", row=number)
        body.append(row)
        numbers.append(number)
    columns: dict[str, list[str]] = {}
    for t in dict.fromkeys(mapped):
        idx = [i for i, target in enumerate(targets) if target == t]
        if t == MULTI and len(idx) > 1:
            joined = []
            for row in body:
                chosen = []
                for i in idx:
                    cell = row[i].strip()
                    if not cell:
                        continue
                    chosen.append(raw_second[i].strip() if cell.lower() in TICKED else cell)
                joined.append(";".join(chosen))
            columns[t] = joined
        else:
            columns[t] = [row[idx[0]] for row in body]
    frame = pd.DataFrame({t: pd.array(v, dtype="string") for t, v in columns.items()})
    if not body:
        frame = pd.DataFrame({t: pd.Series(dtype="string") for t in columns})
    dropped = [f"{raw_first[i]} / {raw_second[i]}" for i, t in enumerate(targets) if not t]
    return Table(name, frame, np.asarray(numbers, dtype="int64"), CSV, digest,
                 notes={"format": "CSV with two header rows", "mapping": mapping_name, "columns_left_out": dropped})
