"""Reading raw folders: encodings, header-based file kinds, a manifest of what was read.

Every CSV in a folder is read (sorted by name; subfolders such as ``official/`` are skipped).
A file's type comes from its header (see ``schemas.FileType``), never from its name. Files that
match no type are listed in the manifest and reported with ``warnings.warn``. Raw files are only
ever opened for reading.

Folders that accept other exports (``scan_folder(..., formats=...)``: the survey and fieldwork folders)
also read SPSS/Stata files, Excel workbooks, two-header-row CSVs mapped by a ``columns.csv`` and REFI-QDA
projects, chosen by content (``pipeline.clean.formats.sniff``). Each becomes one or more text tables in
the same shape as a CSV read, then is typed by its (mapped) header like any CSV.
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..errors import InputError
from .schemas import FileType

ENCODINGS = ("utf-8-sig", "cp1252")


class UnrecognisedFileWarning(UserWarning):
    """A CSV in a raw folder whose header matches no known file type (listed, not read)."""


def normalise_header(name: object) -> str:
    """Column name as the pipeline uses it: NFKC, lower case, runs of non-alphanumerics -> '_'."""
    text = unicodedata.normalize("NFKC", str(name)).replace("\ufeff", "").strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


@dataclass
class RawFile:
    """One raw table as text: ``data`` holds every column as strings (blank = ""), plus provenance.

    For a CSV the table is the file. Other exports may give several tables (a workbook sheet, the codes and
    codings of a REFI-QDA project): ``label`` then names the table (``path [sheet S]``) and is what quarantine
    files and errors show. ``rejected`` are rows the format reader set aside (see ``add_rejected``)."""
    path: Path
    file_type: str
    data: pd.DataFrame  # columns normalised; extra columns source_file, source_row
    raw_header: list[str]
    sha256: str
    encoding: str | None
    label: str | None = None
    rejected: pd.DataFrame | None = None  # source_file, source_row, column, reason + original cells
    fmt: str = "csv"
    notes: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.label or paths.rel(self.path)

    @property
    def rows(self) -> int:
        return len(self.data) + (len(self.rejected) if self.rejected is not None else 0)


@dataclass
class FolderScan:
    folder: Path
    files: list[RawFile] = field(default_factory=list)
    ignored: list[dict] = field(default_factory=list)
    mappings: list[dict] = field(default_factory=list)  # columns.csv / code mapping files used by a reader

    def of_type(self, name: str) -> list[RawFile]:
        return [f for f in self.files if f.file_type == name]

    def manifest(self, kind: str, synthetic: bool, extra: dict | None = None) -> dict:
        out = {
            "kind": kind,
            "folder": paths.rel(self.folder),
            "files": [{"path": f.name, "type": f.file_type, "sha256": f.sha256, "rows": f.rows,
                       "encoding": f.encoding, **({"format": f.notes.get("format", f.fmt)} if f.fmt != "csv"
                                                  or f.notes else {})} for f in self.files],
            "ignored": list(self.ignored),
            "synthetic": bool(synthetic),
        }
        if self.mappings:
            out["mappings"] = list(self.mappings)
        out.update(extra or {})
        return out


def decode_bytes(raw: bytes, file: str) -> tuple[str, str]:
    """Text and encoding: UTF-8 (with or without BOM), else Windows-1252; else an InputError
    naming the line that holds the undecodable byte."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf_error:
        try:
            return raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as cp_error:
            position = cp_error.start
            line = raw.count(b"\n", 0, position) + 1
            raise InputError(file, f"byte 0x{raw[position]:02x} at line {line} (byte {position}) is neither "
                             f"UTF-8 (first bad byte at {utf_error.start}) nor Windows-1252",
                             "re-export the file as UTF-8 (in Excel: Save As > CSV UTF-8)", row=line) from None


def read_text_csv(path: Path) -> tuple[pd.DataFrame, list[str], str, str]:
    """All cells as strings ("" for blank), header normalised. Returns (data, raw header, sha256, encoding)."""
    path = Path(path)
    name = paths.rel(path)
    if not path.is_file():
        raise InputError(name, "the file does not exist", "check the path and the folder layout in data/raw/README.md")
    with open(path, "rb") as handle:  # read-only
        raw = handle.read()
    digest = hashlib.sha256(raw).hexdigest()
    text, encoding = decode_bytes(raw, name)
    if not text.strip():
        raise InputError(name, "the file is empty (no header row)",
                         "export the file again with its header row, or remove it from the folder")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype="string", keep_default_na=False, na_filter=False,
                            skipinitialspace=False, skip_blank_lines=True)
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise InputError(name, f"the CSV cannot be parsed ({exc})",
                         "check quoting and the number of commas on that line; every row needs as many fields "
                         "as the header", row=int(match.group(1)) if match else None) from None
    raw_header = [str(c) for c in frame.columns]
    normalised = [normalise_header(c) for c in raw_header]
    if any(c == "" or c.startswith("unnamed") for c in normalised):
        bad = [raw_header[i] for i, c in enumerate(normalised) if c == "" or c.startswith("unnamed")]
        raise InputError(name, f"the header has blank column name(s) {bad}", "name every column in the header row",
                         row=1)
    duplicates = sorted({c for c in normalised if normalised.count(c) > 1})
    if duplicates:
        raise InputError(name, f"the header repeats column(s) {duplicates} (after normalising case and spacing)",
                         "keep one column of each name", row=1)
    frame.columns = normalised
    if any(dtype != "string" for dtype in frame.dtypes) or frame.isna().to_numpy().any():
        frame = frame.astype("string").fillna("")
    return frame, raw_header, digest, encoding


def identify(columns: list[str], types: tuple[FileType, ...]) -> FileType | None:
    """The most specific file type whose signature columns are all in ``columns``."""
    present = set(columns)
    candidates = [t for t in types if t.signature <= present]
    if not candidates:
        return None
    return max(candidates, key=lambda t: (len(t.signature), len(t.required)))


NOT_DATA = ("SYNTHETIC.md", "README.md")


def _type_table(name: str, frame: pd.DataFrame, raw_header: list[str], types: tuple[FileType, ...],
                header_row: int = 1) -> FileType | None:
    """The file type of a table read from ``name`` (None: no type matches); InputError when it is one
    type's table but lacks a required column, or a reference table without rows."""
    file_type = identify(list(frame.columns), types)
    if file_type is None:
        return None
    missing = [c for c in file_type.required if c not in frame.columns]
    if missing:
        raise InputError(name, f"looks like a {file_type.description} file but lacks required "
                         f"column(s) {missing}; header is {raw_header}",
                         f"add the column(s) {missing} (the header needs {list(file_type.required)})",
                         row=header_row, column=missing[0])
    if len(frame) < file_type.min_rows:
        raise InputError(name, f"the {file_type.description} file has no data rows",
                         "fill it in or remove it from the folder", row=header_row + 1)
    return file_type


def _finish(frame: pd.DataFrame, file_type: FileType, name: str, source_row) -> pd.DataFrame:
    for column in file_type.optional:
        if column not in frame.columns:
            frame[column] = pd.Series("", index=frame.index, dtype="string")
    frame.insert(0, "source_row", np.asarray(source_row, dtype="int64"))
    frame.insert(0, "source_file", pd.Series(name, index=frame.index, dtype="string"))
    return frame


def _normalised_columns(table_name: str, raw_header: list[str], header_row: int = 1) -> list[str]:
    normalised = [normalise_header(c) for c in raw_header]
    if any(c == "" or c.startswith("unnamed") for c in normalised):
        bad = [raw_header[i] for i, c in enumerate(normalised) if c == "" or c.startswith("unnamed")]
        raise InputError(table_name, f"the header has blank column name(s) {bad}", "name every column in the "
                         "header row", row=header_row)
    duplicates = sorted({c for c in normalised if normalised.count(c) > 1})
    if duplicates:
        raise InputError(table_name, f"the header repeats column(s) {duplicates} (after normalising case and "
                         "spacing)", "keep one column of each name", row=header_row)
    return normalised


def _format_file(path: Path, table, types, scan: FolderScan, unrecognised: list[str],
                 encoding: str | None = None) -> None:
    """Type one table of a non-CSV export and add it to the scan (or list it as not recognised)."""
    raw_header = [str(c) for c in table.frame.columns]
    header_row = 2 if table.notes.get("format") == "CSV with two header rows" else 1
    frame = table.frame.copy()
    frame.columns = _normalised_columns(table.label, raw_header, header_row)
    frame = frame.astype("string").fillna("")
    file_type = _type_table(table.label, frame, raw_header, types, header_row)
    if file_type is None:
        known = "; ".join(f"{t.description}: {sorted(t.signature)}" for t in types)
        reason = f"columns {raw_header} match no known file type ({known})"
        scan.ignored.append({"path": table.label, "reason": reason})
        unrecognised.append(f"{table.label}: {reason}")
        return
    frame = _finish(frame, file_type, table.label, table.source_row)
    rejected = table.rejected
    if rejected is not None and len(rejected):
        rejected = rejected.copy()
        rejected.columns = [c if c in ("source_row", "column", "reason") else normalise_header(c)
                            for c in rejected.columns]
        rejected.insert(0, "source_file", pd.Series(table.label, index=rejected.index, dtype="string"))
    else:
        rejected = None
    scan.files.append(RawFile(Path(path), file_type.name, frame, raw_header, table.sha256, encoding, label=table.label,
                              rejected=rejected, fmt=table.fmt, notes=dict(table.notes)))


def add_rejected(quarantine, scan: FolderScan) -> None:
    """Quarantine the rows that format readers set aside (a value without a label, an unreadable coded
    selection): call once per clean, before the row checks, so the per-file reconciliation holds."""
    for f in scan.files:
        if f.rejected is not None and len(f.rejected):
            raw = f.rejected.drop(columns=["column", "reason"])
            quarantine.add(raw, f.rejected["column"].astype("string"), f.rejected["reason"].astype("string"))


def scan_folder(folder: Path, types: tuple[FileType, ...], *, expected_other: tuple[str, ...] = (),
                require_folder: bool = True, formats: tuple[str, ...] = (),
                excel_sheet: str | None = None) -> FolderScan:
    """Read every CSV directly in ``folder`` (sorted by name) and type it by header.

    ``expected_other`` are file names known to live there for other purposes (reference tables):
    they are listed as ignored without a warning. ``formats`` (names from ``pipeline.clean.formats``) are the
    other exports this folder accepts, recognised by content; ``excel_sheet`` names the workbook sheet to
    read (default: the first).
    """
    folder = Path(folder)
    scan = FolderScan(folder)
    if not folder.is_dir():
        if require_folder:
            raise InputError(paths.rel(folder), "the folder does not exist",
                             "create it and put the exports there (see data/raw/README.md)")
        return scan
    unrecognised = []
    entries = sorted(p for p in folder.iterdir() if p.is_file())
    if formats:
        from . import formats as fmt_mod
        from .formats import refiqda, twoheader
        kinds = {}
        for path in entries:
            if path.name.startswith(".") or path.name in NOT_DATA:
                continue
            kinds[path] = fmt_mod.sniff(path)
        # Mapping files first (CSV, recognised by header): the readers of other exports need them.
        column_map, code_map, pending = {}, {}, []
        column_map_name = None
        for path in entries:
            kind = kinds.get(path)
            if kind != fmt_mod.CSV:
                if path in kinds:
                    if kind is None:
                        scan.ignored.append({"path": paths.rel(path), "reason": "not a data file the pipeline "
                                             "reads (CSV, SPSS .sav/.zsav, Stata .dta, Excel .xlsx, REFI-QDA "
                                             ".qdpx)"})
                    elif kind not in formats:
                        reason = (f"a {fmt_mod.FORMAT_NAMES.get(kind, kind)} file, which this folder does not read"
                                  if kind in fmt_mod.FORMAT_NAMES else
                                  "an archive or old binary Office file this folder does not read (save "
                                  "workbooks as .xlsx)")
                        scan.ignored.append({"path": paths.rel(path), "reason": reason})
                        unrecognised.append(f"{paths.rel(path)}: {reason}")
                continue
            first = _first_row(path)
            if twoheader.is_mapping(first):
                frame, raw_header, digest, _ = read_text_csv(path)
                column_map.update(twoheader.parse_mapping(frame, paths.rel(path)))
                column_map_name = paths.rel(path)
                scan.mappings.append({"path": paths.rel(path), "type": "export column mapping", "sha256": digest,
                                      "rows": len(frame)})
            elif refiqda.is_code_mapping(first):
                frame, raw_header, digest, _ = read_text_csv(path)
                code_map.update(refiqda.parse_code_mapping(frame, paths.rel(path)))
                scan.mappings.append({"path": paths.rel(path), "type": "REFI-QDA code mapping", "sha256": digest,
                                      "rows": len(frame)})
            else:
                pending.append(path)
        for path in entries:
            kind = kinds.get(path)
            if path in pending:
                if column_map and fmt_mod.CSV in formats and _is_two_header(path, types, column_map):
                    with open(path, "rb") as handle:
                        raw = handle.read()
                    text, encoding = decode_bytes(raw, paths.rel(path))
                    table = twoheader.read_two_header(paths.rel(path), text, hashlib.sha256(raw).hexdigest(),
                                                      column_map, column_map_name)
                    _format_file(path, table, types, scan, unrecognised, encoding=encoding)
                    continue
                _read_csv_into(path, types, expected_other, scan, unrecognised)
            elif kind in formats and kind != fmt_mod.CSV:
                for table in _read_export(path, kind, excel_sheet, code_map):
                    _format_file(path, table, types, scan, unrecognised)
    else:
        for path in entries:
            if path.suffix.lower() != ".csv":
                if not path.name.startswith(".") and path.name not in NOT_DATA:
                    scan.ignored.append({"path": paths.rel(path), "reason": "not a .csv file"})
                continue
            _read_csv_into(path, types, expected_other, scan, unrecognised)
    if unrecognised:
        warnings.warn("Files not recognised and not read:\n  " + "\n  ".join(unrecognised),
                      UnrecognisedFileWarning, stacklevel=2)
    return scan


def _read_export(path: Path, kind: str, excel_sheet, code_map) -> list:
    from . import formats as fmt_mod
    if kind in (fmt_mod.SAV, fmt_mod.ZSAV, fmt_mod.DTA):
        from .formats.statfile import read_stat_file
        return read_stat_file(path, kind)
    if kind == fmt_mod.XLSX:
        from .formats.excel import read_workbook
        return read_workbook(path, excel_sheet)
    if kind == fmt_mod.QDPX:
        from .formats.refiqda import read_project
        return read_project(path, code_map)
    raise ValueError(kind)


def _first_row(path: Path) -> list[str]:
    """The normalised first row of a text file (its header, if it is a CSV); [] if it cannot be decoded."""
    import csv
    with open(path, "rb") as handle:
        raw = handle.read(65536)
    try:
        text, _ = decode_bytes(raw, paths.rel(path))
    except InputError:
        return []
    line = next(csv.reader(io.StringIO(text)), [])
    return [normalise_header(c) for c in line]


def _is_two_header(path: Path, types, column_map: dict) -> bool:
    from .formats import twoheader
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text, _ = decode_bytes(raw, paths.rel(path))
    except InputError:
        return False
    rows = twoheader.split_rows(text)[:2]
    if not rows:
        return False
    first = [normalise_header(c) for c in rows[0]]
    if identify([c for c in first if c], types) is not None and all(first):
        return False  # an ordinary export in the contract's shape
    return twoheader.matches(rows, column_map)


def _read_csv_into(path: Path, types, expected_other, scan: FolderScan, unrecognised: list[str]) -> None:
    frame, raw_header, digest, encoding = read_text_csv(path)
    file_type = identify(list(frame.columns), types)
    if file_type is None:
        if path.name in expected_other:
            scan.ignored.append({"path": paths.rel(path), "reason": "reference table used elsewhere"})
            return
        known = "; ".join(f"{t.description}: {sorted(t.signature)}" for t in types)
        reason = f"header {raw_header} matches no known file type ({known})"
        scan.ignored.append({"path": paths.rel(path), "reason": reason})
        unrecognised.append(f"{paths.rel(path)}: {reason}")
        return
    file_type = _type_table(paths.rel(path), frame, raw_header, types)
    frame = _finish(frame, file_type, paths.rel(path), pd.RangeIndex(2, len(frame) + 2).to_numpy())
    scan.files.append(RawFile(path, file_type.name, frame, raw_header, digest, encoding))


def folder_is_synthetic(folder: Path) -> bool:
    return (Path(folder) / "SYNTHETIC.md").is_file()


def strip_cells(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """Strip surrounding whitespace of string cells (cheap, vectorised)."""
    frame = frame.copy()
    for column in columns:
        frame[column] = frame[column].str.strip()
    return frame
