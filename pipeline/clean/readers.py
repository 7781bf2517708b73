"""Reading raw CSV folders: encodings, header-based file kinds, a manifest of what was read.

Every CSV in a folder is read (sorted by name; subfolders such as ``official/`` are skipped).
A file's type comes from its header (see ``schemas.FileType``), never from its name. Files that
match no type are listed in the manifest and reported with ``warnings.warn``. Raw files are only
ever opened for reading.
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

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
    """One raw CSV as text: ``data`` holds every column as strings (blank = ""), plus provenance."""
    path: Path
    file_type: str
    data: pd.DataFrame  # columns normalised; extra columns source_file, source_row
    raw_header: list[str]
    sha256: str
    encoding: str

    @property
    def name(self) -> str:
        return paths.rel(self.path)

    @property
    def rows(self) -> int:
        return len(self.data)


@dataclass
class FolderScan:
    folder: Path
    files: list[RawFile] = field(default_factory=list)
    ignored: list[dict] = field(default_factory=list)

    def of_type(self, name: str) -> list[RawFile]:
        return [f for f in self.files if f.file_type == name]

    def manifest(self, kind: str, synthetic: bool, extra: dict | None = None) -> dict:
        out = {
            "kind": kind,
            "folder": paths.rel(self.folder),
            "files": [{"path": f.name, "type": f.file_type, "sha256": f.sha256, "rows": f.rows,
                       "encoding": f.encoding} for f in self.files],
            "ignored": list(self.ignored),
            "synthetic": bool(synthetic),
        }
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


def scan_folder(folder: Path, types: tuple[FileType, ...], *, expected_other: tuple[str, ...] = (),
                require_folder: bool = True) -> FolderScan:
    """Read every CSV directly in ``folder`` (sorted by name) and type it by header.

    ``expected_other`` are file names known to live there for other purposes (reference tables):
    they are listed as ignored without a warning.
    """
    folder = Path(folder)
    scan = FolderScan(folder)
    if not folder.is_dir():
        if require_folder:
            raise InputError(paths.rel(folder), "the folder does not exist",
                             "create it and put the exports there (see data/raw/README.md)")
        return scan
    unrecognised = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.suffix.lower() != ".csv":
            if not path.name.startswith(".") and path.name not in ("SYNTHETIC.md", "README.md"):
                scan.ignored.append({"path": paths.rel(path), "reason": "not a .csv file"})
            continue
        frame, raw_header, digest, encoding = read_text_csv(path)
        file_type = identify(list(frame.columns), types)
        if file_type is None:
            if path.name in expected_other:
                scan.ignored.append({"path": paths.rel(path), "reason": "reference table used elsewhere"})
                continue
            known = "; ".join(f"{t.description}: {sorted(t.signature)}" for t in types)
            reason = f"header {raw_header} matches no known file type ({known})"
            scan.ignored.append({"path": paths.rel(path), "reason": reason})
            unrecognised.append(f"{paths.rel(path)}: {reason}")
            continue
        missing = [c for c in file_type.required if c not in frame.columns]
        if missing:
            raise InputError(paths.rel(path), f"looks like a {file_type.description} file but lacks required "
                             f"column(s) {missing}; header is {raw_header}",
                             f"add the column(s) {missing} (the header needs {list(file_type.required)})",
                             row=1, column=missing[0])
        if len(frame) < file_type.min_rows:
            raise InputError(paths.rel(path), f"the {file_type.description} file has no data rows",
                             "fill it in or remove it from the folder", row=2)
        for column in file_type.optional:
            if column not in frame.columns:
                frame[column] = pd.Series("", index=frame.index, dtype="string")
        frame.insert(0, "source_row", pd.RangeIndex(2, len(frame) + 2).to_numpy().astype("int64"))
        frame.insert(0, "source_file", pd.Series(paths.rel(path), index=frame.index, dtype="string"))
        scan.files.append(RawFile(path, file_type.name, frame, raw_header, digest, encoding))
    if unrecognised:
        warnings.warn("Files not recognised and not read:\n  " + "\n  ".join(unrecognised),
                      UnrecognisedFileWarning, stacklevel=2)
    return scan


def folder_is_synthetic(folder: Path) -> bool:
    return (Path(folder) / "SYNTHETIC.md").is_file()


def strip_cells(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """Strip surrounding whitespace of string cells (cheap, vectorised)."""
    frame = frame.copy()
    for column in columns:
        frame[column] = frame[column].str.strip()
    return frame
