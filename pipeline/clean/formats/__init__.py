"""Survey and fieldwork exports other than the contract's plain CSV, read into the same text tables.

Each reader turns one file into one or more :class:`Table` s: every cell as text (blank = ""), exactly what
a CSV in the contract's shape would hold, plus where each row sits in the original file. From there the
clean stage treats them as it treats CSV rows (``pipeline.clean.readers.scan_folder``), so synonyms,
reverse-coding, quarantine and reconciliation are the same whatever the format.

The format is chosen by content (:func:`sniff`), never by the file name:

- SPSS ``.sav`` (``$FL2``) / ``.zsav`` (``$FL3``) and Stata ``.dta`` (117+ ``<stata_dta>``, or the 104-115
  binary header) -> :mod:`.statfile` (pyreadstat; value labels become the answer text);
- Excel ``.xlsx`` (a zip holding ``xl/workbook.xml``) -> :mod:`.excel` (openpyxl);
- REFI-QDA ``.qdpx`` (a zip holding ``project.qde``) -> :mod:`.refiqda` (lxml);
- text -> CSV (the ordinary route, or :mod:`.twoheader` when a ``columns.csv`` mapping describes it).

Modules are imported lazily: a CSV-only project never imports pyreadstat, openpyxl or lxml.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import InputError

SAV, ZSAV, DTA, XLSX, QDPX, CSV, ZIP, OLE = "sav", "zsav", "dta", "xlsx", "qdpx", "csv", "zip", "ole"
FORMAT_NAMES = {SAV: "SPSS .sav", ZSAV: "SPSS .zsav", DTA: "Stata .dta", XLSX: "Excel .xlsx",
                QDPX: "REFI-QDA .qdpx", CSV: "CSV"}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old binary Office (.xls, .doc)
_TEXT_SUFFIXES = (".csv",)  # other text files (notes, READMEs) are not data


@dataclass
class Table:
    """One table read from an export: text cells as a CSV read gives them, and each row's place.

    ``label`` is what quarantine files and errors call the source (the path, or ``path [sheet S]`` for a
    workbook sheet, ``path [codes]`` / ``path [codings]`` for the two tables of a REFI-QDA project).
    ``rejected`` holds rows the reader itself could not turn into text (a code without a value label, an
    unreadable coded selection): ``source_row, column, reason`` plus their cells; they go to quarantine.
    """
    label: str
    frame: pd.DataFrame            # string cells, the export's column names
    source_row: np.ndarray         # int64, one per row of ``frame``
    fmt: str
    sha256: str
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["source_row", "column", "reason"]))
    notes: dict = field(default_factory=dict)  # extra manifest facts (sheet, mapping file, ...)


def sniff(path: Path) -> str | None:
    """The format of ``path`` from its first bytes (and, for zips, the members' names); None if not data.

    A zip that cannot be opened, or holds neither a workbook nor a REFI-QDA project, raises InputError."""
    from ... import paths
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head.startswith(b"$FL2"):
        return SAV
    if head.startswith(b"$FL3"):
        return ZSAV
    if head.startswith(b"<stata_dta>") or (len(head) > 4 and head[0] in range(104, 116) and head[1] in (1, 2)
                                           and head[2] == 1 and path.suffix.lower() != ".csv"):
        return DTA
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(paths.rel(path), f"the file starts like a zip archive (.xlsx or .qdpx) but cannot be "
                             f"opened as one ({exc})", "export it again from the survey tool or the qualitative "
                             "analysis software, or copy it again (it may be truncated)") from None
        if "project.qde" in names:
            return QDPX
        if "xl/workbook.xml" in names:
            return XLSX
        return ZIP
    if head.startswith(_OLE_MAGIC):
        return OLE
    if path.suffix.lower() in _TEXT_SUFFIXES:
        return CSV
    return None


def rel(path: Path) -> str:
    from ... import paths
    return paths.rel(path)


def text_of_number(value: float) -> str:
    """A number as a CSV would show it: whole numbers without a decimal point, others in shortest repr."""
    if value != value:  # NaN
        return ""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def text_of_timestamp(value) -> str:
    """A timestamp as ISO 8601 text (``2015-09-14T08:04:20``), blank when missing."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return ""
    return stamp.isoformat()


def require(module: str, file: str, what: str):
    """Import ``module`` for reading ``file``, or an InputError saying which package to install."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        package = {"lxml.etree": "lxml"}.get(module, module)
        raise InputError(file, f"reading {what} needs the Python package {package}, which is not installed",
                         f"run make setup (requirements.lock lists it), or .venv/bin/pip install {package}") from None
