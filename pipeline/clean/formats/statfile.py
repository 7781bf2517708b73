"""SPSS ``.sav``/``.zsav`` and Stata ``.dta`` through pyreadstat: one text table per file.

Value labels become the cell text (``1`` -> ``"Strongly agree"``), so labelled answers go through the same
synonyms and reverse-coding as CSV text. User-missing codes (SPSS ``missing_ranges``/discrete missing values,
Stata ``.a``-``.z``) are kept as their labels ("Don't know" -> the ``dont_know`` kind); system-missing
(SPSS sysmis, Stata ``.``) is a blank cell (= skipped). A value of a labelled variable that has no label,
and a user-missing code without a label, send the case to quarantine with the variable, the value and
the fix. Dates and datetimes are written as ISO 8601.

Row numbers: a case is numbered as it would be in a CSV export of the file with its header row
(case 1 = row 2), so errors and quarantine rows point at the same place in SPSS Data View (case 1 = row 1
there) or Stata's Data Editor (observation 1) minus one.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import InputError
from . import DTA, FORMAT_NAMES, Table, rel, require, text_of_number, text_of_timestamp

FIX_LABEL = {"sav": "give the value a label in SPSS (Variable View > Values) or correct the case's value",
             "zsav": "give the value a label in SPSS (Variable View > Values) or correct the case's value",
             "dta": "give the value a label in Stata (label define ... , add; label values ...) or correct the value"}


def _labels_text(labels: dict) -> str:
    shown = [f"{text_of_number(k) if isinstance(k, (int, float)) else '.' + str(k)}={v}"
             for k, v in list(labels.items())[:8]]
    return ", ".join(shown) + (", ..." if len(labels) > 8 else "")


def read_stat_file(path: Path, fmt: str) -> list[Table]:
    path = Path(path)
    name = rel(path)
    pyreadstat = require("pyreadstat", name, FORMAT_NAMES[fmt] + " files")  # lazy: only for these files
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    reader = pyreadstat.read_dta if fmt == DTA else pyreadstat.read_sav
    try:
        frame, meta = reader(str(path), user_missing=True)
    except Exception as exc:  # pyreadstat raises its own ReadstatError / PyreadstatError
        raise InputError(name, f"the {FORMAT_NAMES[fmt]} file cannot be read ({type(exc).__name__}: {exc})",
                         "save it again from SPSS/Stata (File > Save As), or export it again from the survey "
                         "tool") from None
    labels_of = meta.variable_value_labels or {}
    user_missing = {}
    for column, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        user_missing[column] = ranges
    source_row = np.arange(2, len(frame) + 2, dtype="int64")
    text = pd.DataFrame(index=frame.index)
    problems = pd.Series("", index=frame.index, dtype="object")
    problem_columns = pd.Series("", index=frame.index, dtype="object")
    for column in frame.columns:
        values = frame[column]
        labels = labels_of.get(column)
        if labels:
            cells, unlabelled = _labelled(values, labels)
            if unlabelled.any():
                for i in np.flatnonzero(unlabelled.to_numpy()):
                    value = values.iloc[i]
                    shown = text_of_number(value) if isinstance(value, (int, float, np.number)) else f".{value}"
                    kind = "user-missing code" if _is_user_missing(value, user_missing.get(column)) else "value"
                    reason = (f"{kind} {shown} in '{column}' has no value label in {name} (labels: "
                              f"{_labels_text(labels)}); fix: {FIX_LABEL[fmt]}")
                    problems.iloc[i] = reason if not problems.iloc[i] else problems.iloc[i] + "; " + reason
                    problem_columns.iloc[i] = column if not problem_columns.iloc[i] else (
                        problem_columns.iloc[i] + "; " + column)
        elif pd.api.types.is_datetime64_any_dtype(values):
            cells = values.map(text_of_timestamp)
        elif values.dtype == object and len(values) and any(isinstance(v, (pd.Timestamp, np.datetime64))
                                                             or hasattr(v, "isoformat") for v in values.dropna()):
            cells = values.map(lambda v: text_of_timestamp(v) if v is not None else "")
        elif pd.api.types.is_numeric_dtype(values):
            cells = values.map(text_of_number)
        else:
            cells = values.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else
                               (text_of_number(v) if isinstance(v, (int, float, np.number)) else str(v)))
        text[column] = pd.array(cells.astype("object").tolist(), dtype="string")
    bad = problems != ""
    rejected = text[bad.to_numpy()].copy()
    rejected.insert(0, "reason", problems[bad].astype("string"))
    rejected.insert(0, "column", problem_columns[bad].astype("string"))
    rejected.insert(0, "source_row", source_row[bad.to_numpy()])
    keep = ~bad.to_numpy()
    table = Table(name, text[keep].reset_index(drop=True), source_row[keep], fmt, digest,
                  rejected.reset_index(drop=True),
                  {"format": FORMAT_NAMES[fmt], "labelled_variables": sorted(labels_of)})
    return [table]


def _is_user_missing(value, ranges) -> bool:
    if isinstance(value, str):  # Stata .a-.z arrive as their letter
        return True
    for r in ranges or []:
        if isinstance(value, (int, float, np.number)) and r["lo"] <= value <= r["hi"]:
            return True
    return False


def _labelled(values: pd.Series, labels: dict) -> tuple[pd.Series, pd.Series]:
    """Cell text from the value labels; a flag where a non-missing value has no label."""
    lookup = {}
    for key, label in labels.items():
        lookup[key] = str(label)
        if isinstance(key, (int, float, np.number)):
            lookup[float(key)] = str(label)
    out, unlabelled = [], []
    for value in values.tolist():
        if value is None or (isinstance(value, float) and value != value):
            out.append("")
            unlabelled.append(False)
            continue
        key = float(value) if isinstance(value, (int, float, np.number)) else value
        label = lookup.get(key)
        out.append(label if label is not None else
                   (text_of_number(value) if isinstance(value, (int, float, np.number)) else f".{value}"))
        unlabelled.append(label is None)
    return pd.Series(out, index=values.index), pd.Series(unlabelled, index=values.index)
