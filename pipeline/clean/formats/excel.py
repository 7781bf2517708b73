"""Excel ``.xlsx`` through openpyxl: one sheet (the first, or the one named) as a text table.

Row 1 is the header; every later row that is not entirely blank is a data row, numbered as Excel numbers
it, and the source is called ``path [sheet NAME]``. Cells are taken as Excel stores their values (formulas
as their last computed value): text as is, whole numbers without ``.0``, dates and times as ISO 8601,
TRUE/FALSE as ``true``/``false``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import InputError
from . import XLSX, Table, rel, require, text_of_number, text_of_timestamp


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return text_of_number(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return text_of_timestamp(value) if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    return str(value)


def read_workbook(path: Path, sheet: str | None = None) -> list[Table]:
    path = Path(path)
    name = rel(path)
    openpyxl = require("openpyxl", name, "Excel .xlsx files")  # lazy
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(name, f"the Excel workbook cannot be opened ({type(exc).__name__}: {exc})",
                         "save it again from Excel as .xlsx (Excel Workbook)") from None
    try:
        names = list(book.sheetnames)
        if sheet is None:
            chosen = names[0]
        elif sheet in names:
            chosen = sheet
        else:
            close = [n for n in names if n.strip().lower() == str(sheet).strip().lower()]
            if len(close) == 1:
                chosen = close[0]
            else:
                raise InputError(name, f"the workbook has no sheet '{sheet}' (its sheets: {names})",
                                 f"set excel_sheet under clean_survey in params.yaml to one of {names}, or rename "
                                 "the sheet in Excel")
        rows = list(book[chosen].iter_rows(values_only=True))
    finally:
        book.close()
    label = f"{name} [sheet {chosen}]"
    if not rows or all(v is None for v in rows[0]):
        raise InputError(label, "the sheet is empty or its first row (the header) is blank",
                         "put the column names in row 1 of the sheet", row=1)
    header = [_cell_text(v) for v in rows[0]]
    while header and header[-1] == "":  # trailing formatted-but-empty columns
        header.pop()
    width = len(header)
    body, numbers = [], []
    for number, values in enumerate(rows[1:], start=2):
        cells = [_cell_text(v) for v in values[:width]] + [""] * max(0, width - len(values))
        extra = [v for v in values[width:] if v is not None]
        if extra:
            raise InputError(label, f"row {number} has {len(extra)} value(s) to the right of the last named "
                             "column", "give those columns a name in row 1 or delete the values", row=number)
        if all(c == "" for c in cells):
            continue
        body.append(cells)
        numbers.append(number)
    frame = pd.DataFrame(body, columns=range(width), dtype="string")
    frame.columns = header  # duplicates and blanks are reported by the caller, as for a CSV header
    return [Table(label, frame, np.asarray(numbers, dtype="int64"), XLSX, digest,
                  notes={"format": "Excel .xlsx", "sheet": chosen, "sheets": names})]
