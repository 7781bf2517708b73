"""Adapters for published official statistics -> the data contract's long format.

Each adapter knows one published layout (Home Office, MoJ, ONS tables as downloaded), recognises
its files in a folder by their HEADER (CSV, CSV.GZ) or sheet content (XLSX), never by file name,
and returns rows in the contract's shape:

* outcomes: ``area, period, measure, value, numerator, denominator, source``
* covariates: ``area, period, variable, value, source``

plus ``source_file`` (the file, relative to the repo, each row was computed from; rows are aggregates of
many published rows, so there is no single source row: per-file row accounting is in ``OfficialRead.files``).

``area`` is the ONS police force area code (``E23000001``) for per-force rows, or the partnership id
(``london``) where the publication already reports a multi-force partnership as one area (the
MoJ magistrates' court file reports the Metropolitan Police *including* the City of London; the
women's custody table has no City row either). Per-force rows stay per force: the clean stage
combines London's two forces from numerators and denominators, or population-weighted.

Public API (what the clean stage calls)::

    long_df, measures_df = read_outcome_sources(["ho_charge_rate"], paths.RAW_OUTCOMES_OFFICIAL, matcher)
    long_df = read_covariate_sources(["ons_population"], paths.RAW_REFERENCE_OFFICIAL, matcher)
    result = read_official(names, folder, matcher, kind="outcomes")   # + per-file accounting

Rules shared by every adapter:

* headers are normalised (case, spaces and punctuation -> ``_``) before matching, so "Force Name" and
  ``force_name`` are the same column; CSVs are read as UTF-8 (with or without BOM) or Windows-1252;
* a file whose distinctive columns say "this is layout X" but that lacks a required column, holds a
  category code the adapter does not know, or names an area the ``AreaMatcher`` cannot resolve, is an
  ``InputError`` naming the file, the column (and row) and what was expected;
* rows that are not territorial police force areas (British Transport Police, the MoJ's
  "Special/miscellaneous and unknown police forces", national fraud bodies) and regional or national
  totals (ONS codes other than E23/W15) are excluded and counted per file, with the reason, in
  ``OfficialRead.files``; so are fully blank rows and incomplete years (with a warning).
"""
from __future__ import annotations

import gzip
import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import paths
from .areas import AreaMatcher, normalise_name
from .errors import InputError

OUTCOME_COLUMNS = ["area", "period", "measure", "value", "numerator", "denominator", "source"]
COVARIATE_COLUMNS = ["area", "period", "variable", "value", "source"]
MEASURE_COLUMNS = ["measure", "description", "unit", "higher_is_better"]
FILE_COLUMNS = ["adapter", "file", "sheet", "sha256", "rows_read", "rows_used", "rows_excluded",
                "excluded_reasons", "notes"]
SUFFIXES = (".csv", ".csv.gz", ".xlsx")

# Rows of published police tables that are not one of the 43 territorial force areas. Matched after
# pipeline.areas.normalise_name; extend with the ``exclude_names`` argument of read_official.
NON_TERRITORIAL_FORCES = (
    "British Transport Police", "Special/miscellaneous and unknown police forces", "Action Fraud",
    "CIFAS", "UK Finance", "Financial Fraud Action UK", "Central Service Secondments",
)
PFA_CODE = re.compile(r"^(E23|W15)\d{6}$")
ONS_CODE = re.compile(r"^[EWKSNJ]\d{8}$")
# Cells that official tables use for "not available / suppressed": read as missing values.
MISSING_MARKERS = {"", "..", ".", "-", ":", "x", "[x]", "[c]", "[z]", "[low]", "n/a", "na", "*"}
AREA_COLUMN_NAMES = ("police_force_area", "police_force", "force_name", "force", "pfa", "pfa_name",
                     "area", "name", "force_code")


def normalise_column(name: object) -> str:
    """Header as matched by the adapters: lower case, runs of non-alphanumerics -> ``_``."""
    text = str(name).replace("\ufeff", "").strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", text).strip("_")


def _slug(text: object) -> str:
    return normalise_column(text)


# --------------------------------------------------------------------------------------------
# Sniffing headers
# --------------------------------------------------------------------------------------------
@dataclass
class Header:
    """A candidate table: a CSV file, or one sheet of a workbook, with its header row."""
    path: Path
    columns: list[str]            # normalised
    original: dict[str, str]      # normalised -> as written
    sheet: str | None = None
    header_row: int = 1           # 1-based row number of the header (data start below it)
    encoding: str | None = None

    @property
    def file(self) -> str:
        return paths.rel(self.path) + (f" [sheet {self.sheet}]" if self.sheet else "")

    def has(self, *names: str) -> bool:
        return all(n in self.columns for n in names)

    def first(self, candidates: tuple[str, ...] | list[str]) -> str | None:
        return next((c for c in candidates if c in self.columns), None)


def _open_text(path: Path, encoding: str):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def _csv_header(path: Path) -> Header:
    import csv
    last_error: Exception | None = None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            with _open_text(path, encoding) as handle:
                sample = handle.read(1 << 16)
            break
        except UnicodeDecodeError as exc:
            last_error = exc
        except (OSError, EOFError) as exc:
            raise InputError(paths.rel(path), f"cannot be read ({exc})",
                             "replace it with the file as downloaded (CSV, CSV.GZ or XLSX)") from exc
    else:
        raise InputError(paths.rel(path), f"is neither UTF-8 nor Windows-1252 text ({last_error})",
                         "save the file as CSV (UTF-8)")
    first_line = next(csv.reader(sample.splitlines()[:1] or [""]), [])
    original = {}
    for name in first_line:
        original.setdefault(normalise_column(name), name)
    return Header(path, list(original), original, encoding=encoding)


def _xlsx_headers(path: Path, max_scan: int = 30) -> list[Header]:
    """One Header per sheet: the first row (of the first ``max_scan``) that looks like a header."""
    import openpyxl
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for damaged files
        raise InputError(paths.rel(path), f"is not a readable .xlsx workbook ({exc})",
                         "save it again from a spreadsheet program as .xlsx") from exc
    headers = []
    try:
        for sheet in workbook.worksheets:
            for number, row in enumerate(sheet.iter_rows(max_row=max_scan, values_only=True), start=1):
                cells = [c for c in row if c is not None and str(c).strip()]
                if len(cells) < 2:
                    continue
                original = {}
                for cell in row:
                    if cell is not None and str(cell).strip():
                        original.setdefault(normalise_column(cell), str(cell))
                headers.append(Header(path, list(original), original, sheet=sheet.title, header_row=number))
                break
    finally:
        workbook.close()
    return headers


def sniff(path: Path) -> list[Header]:
    """The candidate tables in one file (empty for a file type the adapters do not read)."""
    name = path.name.lower()
    if name.endswith(".xlsx"):
        return _xlsx_headers(path)
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        return [_csv_header(path)]
    return []


# --------------------------------------------------------------------------------------------
# Shared reading helpers
# --------------------------------------------------------------------------------------------
def _require(header: Header, columns: dict[str, str]) -> None:
    """``columns`` maps a required normalised column to what it should hold (for the message)."""
    for column, meaning in columns.items():
        if column not in header.columns:
            raise InputError(header.file, f"the layout changed: column '{column}' ({meaning}) is missing; "
                             f"columns present: {list(header.original.values())}",
                             f"rename the column that holds {meaning} to '{column}', or use the file as "
                             "published", column=column)


def _read_csv(header: Header, columns: list[str], dtypes: dict[str, str] | None = None) -> pd.DataFrame:
    """Read only ``columns`` (normalised names) with compact dtypes; add ``_row`` (spreadsheet row)."""
    usecols = [header.original[c] for c in columns]
    dtypes = {c: t for c, t in (dtypes or {}).items() if c in columns}
    # Categoricals are made after parsing: pandas 3 parses text to Arrow strings quickly, and converting
    # those is faster than letting the C parser build categories from Python objects (measured, see
    # benchmarks/bench_official.py).
    at_read = {header.original[c]: t for c, t in dtypes.items() if t != "category"}
    frame = pd.read_csv(header.path, usecols=usecols, dtype=at_read, encoding=header.encoding,
                        keep_default_na=True)
    frame = frame.rename(columns={header.original[c]: c for c in columns})[columns]
    categorical = [c for c, t in dtypes.items() if t == "category"]
    if categorical:
        frame = frame.astype({c: "category" for c in categorical})
    frame["_row"] = np.arange(len(frame), dtype="int64") + header.header_row + 1
    return frame


def _read_sheet(header: Header) -> pd.DataFrame:
    frame = pd.read_excel(header.path, sheet_name=header.sheet, header=header.header_row - 1,
                          engine="openpyxl", dtype=object)
    frame.columns = [normalise_column(c) for c in frame.columns]
    frame = frame.loc[:, [c for c in frame.columns if c and not c.startswith("unnamed")]]
    frame["_row"] = np.arange(len(frame), dtype="int64") + header.header_row + 1
    return frame


def _numeric(frame: pd.DataFrame, column: str, header: Header, *, original: str | None = None) -> pd.Series:
    """Numbers, with official 'not available' markers as NaN; any other text is an InputError."""
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip().str.replace(",", "", regex=False)
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = number.isna() & text.notna() & ~text.str.lower().isin(MISSING_MARKERS)
    if bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        raise InputError(header.file, f"'{values.iloc[first]}' is not a number",
                         "use a number, or leave the cell blank / '..' when not available",
                         row=int(frame["_row"].iloc[first]), column=original or header.original.get(column, column))
    return number


def financial_year_label(text: object) -> str | None:
    """'2017/18', '2017-18', '2017/2018', 'FY2017/18' -> '2017/18' (None when not a financial year)."""
    match = re.search(r"(\d{4})\s*[/\-–]\s*(\d{2}|\d{4})\b", str(text))
    if not match:
        return None
    start, end = int(match.group(1)), int(match.group(2)[-2:])
    if (start + 1) % 100 != end:
        return None
    return f"{start}/{end:02d}"


def _period_from_date(value: pd.Timestamp) -> str | None:
    """A year ending 31 March (or the March snapshot) -> financial year; 31 December -> calendar year."""
    if pd.isna(value):
        return None
    if value.month == 3:
        return f"{value.year - 1}/{value.year % 100:02d}"
    if value.month == 12:
        return str(value.year)
    return None


@dataclass
class Accounting:
    """Per-file record: rows read, used and excluded with reasons (for inputs_<kind>.json)."""
    header: Header
    adapter: str
    rows_read: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def exclude(self, reason: str, n: int) -> None:
        if n:
            self.excluded[reason] = self.excluded.get(reason, 0) + int(n)

    def row(self) -> dict:
        excluded = sum(self.excluded.values())
        digest = hashlib.sha256(self.header.path.read_bytes()).hexdigest()
        return {"adapter": self.adapter, "file": paths.rel(self.header.path), "sheet": self.header.sheet,
                "sha256": digest, "rows_read": self.rows_read, "rows_used": self.rows_read - excluded,
                "rows_excluded": excluded,
                "excluded_reasons": "; ".join(f"{n} {r}" for r, n in sorted(self.excluded.items())),
                "notes": " ".join(self.notes)}


def _map_unique(values: pd.Series, func) -> pd.Series:
    """``values.map(func)`` computed once per distinct value (files repeat a few labels 100,000s of times)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [func(u) for u in uniques]
    mapped[-1] = None  # code -1 (missing) indexes the last slot
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def _drop_missing_values(frame: pd.DataFrame, acc: Accounting, what: str = "value") -> pd.DataFrame:
    missing = frame["value"].isna()
    acc.exclude(f"rows whose {what} is not available (blank or a marker such as ':' or '..')", int(missing.sum()))
    return frame.loc[~missing]


def _drop_blank(frame: pd.DataFrame, acc: Accounting) -> pd.DataFrame:
    data = frame.drop(columns="_row")
    blank = data.isna().all(axis=1)
    if data.shape[1] and blank.any():
        acc.exclude("blank row(s)", int(blank.sum()))
        frame = frame.loc[~blank]
    return frame


class Context:
    """What an adapter needs besides its file: the matcher, exclusions, and the folder's other tables."""

    def __init__(self, matcher: AreaMatcher, folder: Path, headers: list[Header], exclude_names=()):
        self.matcher = matcher
        self.folder = folder
        self.headers = headers
        self.non_territorial = {normalise_name(n) for n in (*NON_TERRITORIAL_FORCES, *exclude_names)}


def resolve_areas(frame: pd.DataFrame, column: str, header: Header, ctx: Context, acc: Accounting, *,
                  partnership_when_alone: bool = False, code_column: str | None = None) -> pd.DataFrame:
    """Add ``area`` (pfa_code, or lcjp_id for a partnership) and drop non-area rows (counted in ``acc``).

    ``code_column`` (ONS codes) is preferred to names where present: a region called "West Midlands"
    or "London" has the name of a force or partnership, but not its code. With ``partnership_when_alone``
    a force of a multi-force partnership whose partner forces are absent from the file is taken to
    stand for the whole partnership (the publication's own combination, e.g. Met including City).
    """
    key = code_column or column
    names = frame[key].astype("string").str.strip()
    if code_column is not None and code_column != column:
        # In a table coded by ONS code every force has one; a named row without a code is a grouping
        # (e.g. a collaboration "Beds Cambs Herts"): excluded, and named in the per-file accounting.
        uncoded = names.isna() & frame[column].notna()
        if uncoded.any():
            labels = sorted(frame.loc[uncoded, column].astype(str).unique())
            acc.exclude(f"rows without an ONS code, not police force areas ({', '.join(labels)})", int(uncoded.sum()))
            frame, names = frame.loc[~uncoded], names.loc[~uncoded]
    normalised = _map_unique(names, normalise_name)
    non_area = normalised.isin(ctx.non_territorial)
    acc.exclude("rows for bodies that are not territorial police force areas", int(non_area.sum()))
    is_code = _map_unique(names, lambda v: bool(ONS_CODE.fullmatch(v))).fillna(False).astype(bool)
    aggregate = is_code & ~_map_unique(names, lambda v: bool(PFA_CODE.fullmatch(v))).fillna(False).astype(bool)
    acc.exclude("regional or national total rows (ONS codes other than E23/W15)", int(aggregate.sum()))
    keep = ~(non_area | aggregate)
    frame, names = frame.loc[keep], names.loc[keep]
    codes, uniques = pd.factorize(names, use_na_sentinel=True)
    distinct = ctx.matcher.match_series(pd.Series(list(uniques) + [pd.NA], dtype="string"))
    matched = distinct.iloc[codes].set_axis(frame.index)
    unknown = matched["area_problem"].notna()
    if unknown.any():
        first = unknown.to_numpy().nonzero()[0][0]
        raise InputError(header.file, f"{matched['area_problem'].iloc[first]} (the layout changed or a new "
                         "area name appeared)",
                         "add the name to data/raw/reference/area_aliases.csv (alias,area with a pfa_code "
                         "or lcjp_id), or, for a body that is not a police force area, pass it in exclude_names",
                         row=int(frame["_row"].iloc[first]), column=header.original.get(key, key))
    frame = frame.assign(area=matched["pfa_code"].fillna(matched["lcjp_id"]).astype("string"),
                         _lcjp=matched["lcjp_id"].astype("string"))
    if partnership_when_alone:
        forces = ctx.matcher.forces
        per_lcjp = forces.groupby("lcjp_id")["pfa_code"].apply(set).to_dict()
        present = {lcjp: set(group.unique()) for lcjp, group in frame.groupby("_lcjp", sort=True)["area"]}
        for lcjp, codes in sorted(present.items()):
            expected = per_lcjp.get(lcjp, set())
            if len(expected) > 1 and len(codes & expected) == 1 and not (codes - expected):
                (alone,) = codes & expected
                frame.loc[frame["_lcjp"] == lcjp, "area"] = lcjp
                acc.notes.append(f"{alone} is the only force of partnership '{lcjp}' in this publication, "
                                 f"which reports it including the partner force(s) "
                                 f"{sorted(expected - {alone})}: mapped to the partnership '{lcjp}'.")
    return frame.drop(columns="_lcjp")


def _complete_years(frame: pd.DataFrame, by: list[str], quarter: str, acc: Accounting, what: str) -> pd.DataFrame:
    """Keep (group, period) cells that hold all four quarters; warn about the rest."""
    n_quarters = frame.groupby(by, observed=True)[quarter].transform("nunique")
    partial = n_quarters < 4
    if partial.any():
        periods = sorted(frame.loc[partial, "period"].astype(str).unique())
        acc.exclude(f"rows of incomplete years {periods} (fewer than 4 quarters)", int(partial.sum()))
        warnings.warn(f"{acc.header.file}: {what} for {periods} cover fewer than four quarters for some areas; "
                      "those area-years are left out (a year's rate needs the whole year)", stacklevel=3)
    return frame.loc[~partial]


# --------------------------------------------------------------------------------------------
# Adapters
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Adapter:
    name: str
    kind: str                      # "outcomes" or "covariates"
    source: str                    # value of the ``source`` column: the publication
    published_at: str              # where a user downloads it
    recognise: Callable[[Header], bool]
    read: Callable[[Header, "Context", Accounting], pd.DataFrame]
    measures: tuple[dict, ...] = ()   # outcomes: rows of measures.csv
    needs: tuple[str, ...] = ()       # other adapters whose files it reads from the same folder
    description: str = ""


REGISTRY: dict[str, Adapter] = {}


def register(adapter: Adapter) -> Adapter:
    REGISTRY[adapter.name] = adapter
    return adapter


# --- Home Office police recorded crime outcomes open data -> charge/summons rate -------------
# The Home Office outcome types (Crime Outcomes framework, April 2014 onwards). "charge": counted in the
# numerator; "unassigned": not an outcome (excluded from the denominator); "other": any other outcome.
HO_OUTCOME_TYPES = {
    "0": "unassigned", "1": "charge", "1a": "charge", "2": "other", "3": "other", "4": "other", "5": "other",
    "6": "other", "7": "other", "8": "other", "9": "other", "10": "other", "11": "other", "12": "other",
    "13": "other", "14": "other", "15": "other", "16": "other", "17": "other", "18": "other", "20": "other",
    "21": "other", "22": "other",
}
HO_OUTCOMES_COUNT = "force_outcomes_recorded_in_quarter"
HO_OUTCOMES_REQUIRED = {
    "financial_year": "the financial year, e.g. 2018/19",
    "financial_quarter": "the quarter of the financial year, 1-4",
    "force_name": "the police force name",
    "outcome_type": "the Home Office outcome type code (0-22)",
    "outcome_description": "the outcome type's label",
    HO_OUTCOMES_COUNT: "the number of outcomes the force assigned in the quarter",
}


def _outcome_code(value: object) -> str:
    text = str(value).strip().lower()
    text = re.sub(r"^(outcome|type)\s*", "", text)
    try:
        return str(int(float(text)))
    except ValueError:
        return text


def _read_ho_outcomes(header: Header, ctx: Context, acc: Accounting) -> pd.DataFrame:
    """'ho_charge_rate': Home Office police recorded crime outcomes open data -> charge/summons rate.

    Published: https://www.gov.uk/government/statistics/police-recorded-crime-open-data-tables
    (prc-outcomes-open-data-<month><year>-tables.ods; save the sheet as CSV). Samples checked: FY 2017/18
    (github.com/mpjashby/cj-charts, detection-rates-data.csv.gz) and FY 2018/19 (github.com/mpjashby/
    lesscrime.info, violence-prosecutions-data.csv.gz), whose other count column differs ('offences' vs
    'force_outcomes_for_offences_recorded_in_quarter'); both carry 'force_outcomes_recorded_in_quarter'.
    Definition: numerator = outcomes of type 1/1A (charged/summonsed) the force assigned in the financial
    year; denominator = all outcomes it assigned (types 1-22; type 0 'not yet assigned' is not an outcome),
    all offences, four quarters summed. Outcomes assigned in a year may concern crimes recorded earlier.
    """
    _require(header, HO_OUTCOMES_REQUIRED)
    columns = list(HO_OUTCOMES_REQUIRED)
    frame = _read_csv(header, columns, {"force_name": "category", "financial_year": "category",
                                        "outcome_type": "string", "outcome_description": "category"})
    acc.rows_read = len(frame)
    frame = _drop_blank(frame, acc)
    code = _map_unique(frame["outcome_type"], _outcome_code).astype("string")
    unknown = ~code.isin(list(HO_OUTCOME_TYPES))
    if unknown.any():
        first = unknown.to_numpy().nonzero()[0][0]
        raise InputError(header.file, f"unknown outcome type '{frame['outcome_type'].iloc[first]}'; known types: "
                         f"{sorted(HO_OUTCOME_TYPES, key=lambda c: (len(c), c))}",
                         "check the Home Office outcome framework; if a new type was introduced, add it with "
                         "its class to pipeline.official.HO_OUTCOME_TYPES",
                         row=int(frame["_row"].iloc[first]), column=header.original["outcome_type"])
    cls = code.map(HO_OUTCOME_TYPES)
    described = frame.loc[cls == "charge", "outcome_description"].astype("string").str.lower()
    wrong = ~described.str.contains("charge", regex=False)
    if wrong.any():
        first = wrong.to_numpy().nonzero()[0][0]
        idx = described.index[first]
        raise InputError(header.file, f"outcome type '{frame.at[idx, 'outcome_type']}' is labelled "
                         f"'{frame.at[idx, 'outcome_description']}', expected Charged/Summonsed",
                         "the outcome codes were renumbered: update pipeline.official.HO_OUTCOME_TYPES",
                         row=int(frame.at[idx, "_row"]), column=header.original["outcome_description"])
    frame = frame.assign(_class=cls, _count=_numeric(frame, HO_OUTCOMES_COUNT, header).fillna(0.0))
    periods = _map_unique(frame["financial_year"], financial_year_label).astype("string")
    if periods.isna().any():
        first = periods.isna().to_numpy().nonzero()[0][0]
        raise InputError(header.file, f"'{frame['financial_year'].iloc[first]}' is not a financial year",
                         "use the form 2018/19", row=int(frame["_row"].iloc[first]),
                         column=header.original["financial_year"])
    frame = frame.assign(period=periods)
    frame = resolve_areas(frame, "force_name", header, ctx, acc)
    frame = _complete_years(frame, ["area", "period"], "financial_quarter", acc, "outcomes")
    frame = frame.assign(_charge=frame["_count"].where(frame["_class"] == "charge", 0.0),
                         _assigned=frame["_count"].where(frame["_class"] != "unassigned", 0.0))
    out = frame.groupby(["area", "period"], observed=True)[["_charge", "_assigned"]].sum().reset_index()
    empty = out["_assigned"] <= 0
    if empty.any():
        acc.notes.append(f"{int(empty.sum())} area-year(s) with no outcomes assigned were left out.")
        out = out.loc[~empty]
    return pd.DataFrame({"area": out["area"], "period": out["period"], "measure": "charge_summons_rate",
                         "value": 100.0 * out["_charge"] / out["_assigned"], "numerator": out["_charge"],
                         "denominator": out["_assigned"]})


register(Adapter(
    name="ho_charge_rate", kind="outcomes",
    source="Home Office, Police recorded crime outcomes open data",
    published_at="https://www.gov.uk/government/statistics/police-recorded-crime-open-data-tables "
                 "(prc-outcomes-open-data-*.ods / .csv)",
    recognise=lambda h: h.has("outcome_type", "outcome_description", "financial_quarter"),
    read=_read_ho_outcomes,
    measures=({"measure": "charge_summons_rate",
               "description": "Charge/summons rate: 100 x outcomes of type 1 (charged/summonsed, incl. 1A) / all "
                              "outcomes the force assigned in the financial year (types 1-22, column 'force "
                              "outcomes recorded in quarter', summed over four quarters); all offences; Home "
                              "Office police recorded crime outcomes open data",
               "unit": "percent", "higher_is_better": True},),
    description="Home Office crime outcomes open data (force x quarter x offence x outcome type).",
))


# --- MoJ magistrates' court outcomes by police force area -> conviction ratio ----------------
MAG_REQUIRED = {
    "force_code": "the police force area", "year_of_appearance": "the calendar year",
    "quarter": "the quarter (Q1-Q4)", "convicted_not_convicted": "convicted / not convicted at the magistrates' court",
    "outcome": "the outcome at the magistrates' court", "count": "the number of defendants",
}
MAG_CONVICTED = {"convicted at the magistrates court": True, "not convicted at the magistrates court": False}
# MoJ magistrates' court outcome classification; "committed_for_trial" cases are decided at the Crown Court.
MAG_OUTCOMES = {
    "fta": "not_convicted", "proceeding discontinued": "not_convicted", "discharged sec 6": "not_convicted",
    "withdrawn": "not_convicted", "dismissed": "not_convicted", "committed for trial": "committed_for_trial",
    "committed for sentence": "convicted", "immediate custody": "convicted", "suspended sentence": "convicted",
    "community sentence": "convicted", "fine": "convicted", "absolute discharge": "convicted",
    "conditional discharge": "convicted", "compensation": "convicted", "otherwise dealt with": "convicted",
}


def _label(value: object) -> str:
    """'01: Convicted at the magistrates court' -> 'convicted at the magistrates court'."""
    text = re.sub(r"^\s*\d+\s*[:.)-]\s*", "", str(value)).strip().lower().replace("'", "").replace("\u2019", "")
    return re.sub(r"\s+", " ", text)


def _check_categories(frame: pd.DataFrame, column: str, known: dict, header: Header, what: str) -> pd.Series:
    labels = frame[column].astype("category")
    mapping = {cat: known.get(_label(cat)) for cat in labels.cat.categories}
    for cat, target in mapping.items():
        if target is None:
            first = (labels == cat).to_numpy().nonzero()[0][0]
            raise InputError(header.file, f"unknown {what} '{cat}'; known: {sorted(known)}",
                             f"check the MoJ classification; if it changed, update pipeline.official "
                             f"({'MAG_CONVICTED' if known is MAG_CONVICTED else 'MAG_OUTCOMES'})",
                             row=int(frame["_row"].iloc[first]), column=header.original[column])
    codes = labels.cat.codes.to_numpy()
    values = np.array([mapping[c] for c in labels.cat.categories], dtype=object)
    result = pd.Series(values[codes], index=frame.index, dtype=object)
    result[codes < 0] = None
    return result


def read_magistrates_counts(path: Path) -> pd.DataFrame:
    """Fast read of the MoJ magistrates' outcomes file: 6 of 21 columns, categoricals, int32 counts."""
    header = _csv_header(Path(path))
    _require(header, MAG_REQUIRED)
    return _read_csv(header, list(MAG_REQUIRED), {
        "force_code": "category", "quarter": "category", "convicted_not_convicted": "category",
        "outcome": "category"})


def _read_magistrates(header: Header, ctx: Context, acc: Accounting) -> pd.DataFrame:
    """'moj_magistrates_conviction_ratio': MoJ magistrates' court outcomes by PFA -> conviction ratio.

    Published: MoJ Criminal Justice System statistics quarterly, "Data behind interactive tools"
    (remands-magistrates-court-<year>.csv), e.g. https://assets.publishing.service.gov.uk/government/uploads/
    system/uploads/attachment_data/file/804669/Data-behind-interactive-tools-csv.zip (Dec 2018 edition);
    sample: github.com/odaniel1/courtOutcomes magoutcomes.rda as CSV. Definition: 100 x defendants convicted
    at the magistrates' court / defendants whose case the magistrates' court decided (every outcome except
    'committed for trial' to the Crown Court), calendar year. The MoJ's 'Metropolitan' includes the City
    of London (no City row): mapped to the 'london' partnership. forceregions.csv of the same package is not
    needed (force names are resolved by the AreaMatcher).
    """
    _require(header, MAG_REQUIRED)
    frame = read_magistrates_counts(header.path)
    acc.rows_read = len(frame)
    frame = _drop_blank(frame, acc)
    convicted = _check_categories(frame, "convicted_not_convicted", MAG_CONVICTED, header,
                                  "convicted/not convicted value")
    outcome = _check_categories(frame, "outcome", MAG_OUTCOMES, header, "magistrates' court outcome")
    inconsistent = (outcome == "convicted") != convicted.astype(bool)
    if inconsistent.any():
        first = inconsistent.to_numpy().nonzero()[0][0]
        raise InputError(header.file, f"outcome '{frame['outcome'].iloc[first]}' disagrees with "
                         f"'{frame['convicted_not_convicted'].iloc[first]}'",
                         "the MoJ classification changed: update pipeline.official.MAG_OUTCOMES",
                         row=int(frame["_row"].iloc[first]), column=header.original["outcome"])
    year, count = _numeric(frame, "year_of_appearance", header), _numeric(frame, "count", header)
    for column, values in (("year_of_appearance", year), ("count", count)):
        if values.isna().any():
            first = values.isna().to_numpy().nonzero()[0][0]
            raise InputError(header.file, f"{MAG_REQUIRED[column]} is blank", "fill it in as published",
                             row=int(frame["_row"].iloc[first]), column=header.original[column])
    frame = frame.assign(period=year.astype("int64").astype(str),
                         _convicted=count.where(convicted.astype(bool), 0.0),
                         _decided=count.where(outcome != "committed_for_trial", 0.0))
    frame = resolve_areas(frame, "force_code", header, ctx, acc, partnership_when_alone=True)
    frame = _complete_years(frame, ["area", "period"], "quarter", acc, "defendants")
    out = frame.groupby(["area", "period"], observed=True)[["_convicted", "_decided"]].sum().reset_index()
    out = out.loc[out["_decided"] > 0]
    return pd.DataFrame({"area": out["area"], "period": out["period"], "measure": "magistrates_conviction_ratio",
                         "value": 100.0 * out["_convicted"] / out["_decided"], "numerator": out["_convicted"],
                         "denominator": out["_decided"]})


register(Adapter(
    name="moj_magistrates_conviction_ratio", kind="outcomes",
    source="Ministry of Justice, Criminal Justice System statistics quarterly: magistrates' court outcomes by PFA",
    published_at="https://www.gov.uk/government/collections/criminal-justice-statistics (Data behind interactive "
                 "tools, remands-magistrates-court-<year>.csv)",
    recognise=lambda h: h.has("convicted_not_convicted", "force_code"),
    read=_read_magistrates,
    measures=({"measure": "magistrates_conviction_ratio",
               "description": "Magistrates' court conviction ratio: 100 x defendants convicted at the magistrates' "
                              "court (incl. committed to the Crown Court for sentence) / defendants proceeded against "
                              "there whose case the court decided (all outcomes except 'committed for trial' "
                              "to the Crown Court); calendar year; MoJ CJS statistics. The MoJ reports the "
                              "Metropolitan Police area including the City of London: London's partnership.",
               "unit": "percent", "higher_is_better": True},),
    description="MoJ magistrates' court defendants by PFA x quarter x offence x outcome, with count.",
))


# --- Women sentenced to immediate custody per 100,000 women (MoJ via Prison Reform Trust) ----
def _year_columns(header: Header) -> dict[str, int]:
    out = {}
    for column in header.columns:
        match = re.fullmatch(r"(?:mye|mid|mid_year|population|pop|year|cy)?_?((?:19|20)\d{2})", column)
        if match:
            out[column] = int(match.group(1))
    return out


def _is_area_by_year_sheet(header: Header) -> bool:
    return (header.sheet is not None and header.columns[:1] != [] and header.columns[0] in AREA_COLUMN_NAMES
            and len(_year_columns(header)) >= 2)


def _read_women_custody(header: Header, ctx: Context, acc: Accounting) -> pd.DataFrame:
    """'moj_women_custody_rate': women sentenced to immediate custody per 100,000 women, by PFA and year.

    Published: Prison Reform Trust, github.com/Prison-Reform-Trust/womens-imprisonment-PFA,
    reports/women_imprisonment_rates_2014-2022_final_table.xlsx (MoJ CJS statistics outcomes by offence +
    ONS mid-year estimates). 42 rows: no City of London row, so the Metropolitan Police row is mapped to the
    'london' partnership. A rate only: numerator and denominator are left empty. The table has no title,
    so it is recognised by its layout (first column a force/area name, then year columns) in an .xlsx.
    """
    frame = _read_sheet(header)
    acc.rows_read = len(frame)
    frame = _drop_blank(frame, acc)
    area_column = header.columns[0]
    years = _year_columns(header)
    frame = resolve_areas(frame, area_column, header, ctx, acc, partnership_when_alone=True)
    parts = []
    for column, year in sorted(years.items(), key=lambda kv: kv[1]):
        value = _numeric(frame, column, header)
        if (value < 0).any():
            first = (value < 0).to_numpy().nonzero()[0][0]
            raise InputError(header.file, "a rate is negative", "rates per 100,000 women are >= 0",
                             row=int(frame["_row"].iloc[first]), column=header.original[column])
        parts.append(pd.DataFrame({"area": frame["area"], "period": str(year), "value": value}))
    out = pd.concat(parts, ignore_index=True)
    missing = int(out["value"].isna().sum())
    if missing:
        acc.notes.append(f"{missing} area-year cell(s) are blank or marked not available and are left out.")
    out = out.dropna(subset=["value"])
    return out.assign(measure="women_immediate_custody_rate", numerator=np.nan, denominator=np.nan)


register(Adapter(
    name="moj_women_custody_rate", kind="outcomes",
    source="Prison Reform Trust analysis of MoJ Criminal Justice System statistics and ONS mid-year estimates: "
           "women sentenced to immediate custody per 100,000 women",
    published_at="https://github.com/Prison-Reform-Trust/womens-imprisonment-PFA "
                 "(reports/women_imprisonment_rates_2014-2022_final_table.xlsx)",
    recognise=_is_area_by_year_sheet,
    read=_read_women_custody,
    measures=({"measure": "women_immediate_custody_rate",
               "description": "Women sentenced to immediate custody per 100,000 women in the police force area, "
                              "calendar year (MoJ outcomes by offence; ONS mid-year female population); the "
                              "table has no City of London row, so the Metropolitan Police row stands for "
                              "London's partnership. A rate: no numerator or denominator is published.",
               "unit": "per 100,000 women", "higher_is_better": False},),
    description="An .xlsx sheet: first column the police force area, then one column per calendar year.",
))


# --- ONS Crime Severity Score by force -> covariates ----------------------------------------
CSS_REQUIRED = {"offence_group": "the offence group (Total recorded crime, ...)",
                "severity_score": "the crime severity score",
                "year_ending": "the date the 12-month period ends, e.g. 2022-03-31"}


def _read_crime_severity(header: Header, ctx: Context, acc: Accounting) -> pd.DataFrame:
    """'ons_crime_severity': ONS Crime Severity Score by force -> one covariate per offence group.

    Published: ONS, Crime Severity Score (experimental statistics), datatool.xls, https://www.ons.gov.uk/
    peoplepopulationandcommunity/crimeandjustice/datasets/crimeseverityscoreexperimentalstatistics; sample
    in long form: github.com/mpjashby/lesscrime.info crime-pressure-force-2022-data.csv.gz (FY 2002/03 to
    2021/22). The ONS publishes no score for the City of London (':'): those rows are counted as not available.
    """
    _require(header, CSS_REQUIRED)
    area_column = header.first(("name", "force_name", "police_force_area", "area", "force"))
    code_column = header.first(("code", "geo_code", "pfa_code", "area_code"))
    if area_column is None and code_column is None:
        raise InputError(header.file, "no area column (expected 'code' and/or 'name')",
                         "keep the ONS code or name column of the data tool", column="code")
    columns = list(CSS_REQUIRED) + [c for c in (code_column, area_column) if c]
    frame = _read_csv(header, columns, {"offence_group": "string"})
    acc.rows_read = len(frame)
    frame = _drop_blank(frame, acc)
    ends = pd.to_datetime(frame["year_ending"], errors="coerce")
    periods = ends.map(_period_from_date)
    if periods.isna().any():
        first = periods.isna().to_numpy().nonzero()[0][0]
        raise InputError(header.file, f"'{frame['year_ending'].iloc[first]}' is not a year ending 31 March "
                         "or 31 December", "use a date such as 2022-03-31", row=int(frame["_row"].iloc[first]),
                         column=header.original["year_ending"])
    frame = frame.assign(period=periods, value=_numeric(frame, "severity_score", header),
                         variable="crime_severity_" + _map_unique(frame["offence_group"], _slug).astype("string"))
    frame = resolve_areas(frame, area_column or code_column, header, ctx, acc, code_column=code_column)
    missing_areas = sorted(set(frame["area"]) - set(frame.loc[frame["value"].notna(), "area"]))
    if missing_areas:
        acc.notes.append(f"No score is published for {missing_areas} (':' in every year).")
    frame = _drop_missing_values(frame, acc, "severity score")
    return frame[["area", "period", "variable", "value"]]


register(Adapter(
    name="ons_crime_severity", kind="covariates",
    source="ONS, Crime Severity Score (experimental statistics) data tool",
    published_at="https://www.ons.gov.uk/peoplepopulationandcommunity/crimeandjustice/datasets/"
                 "crimeseverityscoreexperimentalstatistics (datatool.xls, reshaped long)",
    recognise=lambda h: h.has("severity_score"),
    read=_read_crime_severity,
    description="Long table: offence_group, code, name, severity_score, year_ending (31 March). One variable "
                "per offence group: crime_severity_<offence group>, e.g. crime_severity_total_recorded_crime.",
))


# --- ONS mid-year population by police force area ------------------------------------------
def _population_layout(header: Header) -> str | None:
    if header.sheet is not None:
        return None
    area = header.first(("pfa_code", "code", "geo_code", "area_code")) or header.first(AREA_COLUMN_NAMES)
    if area is None:
        return None
    if header.has("population", "year"):
        return "long"
    if any(re.fullmatch(r"(mye|mid_?year_?|population_?)\d{4}", c) for c in header.columns):
        return "wide"
    return None


def _read_population(header: Header, ctx: Context, acc: Accounting) -> pd.DataFrame:
    """'ons_population': ONS mid-year population estimates by police force area -> covariate 'population'.

    Long layout (area code and/or name, year, population), e.g. ../shared/real-data/derived/
    pfa_population_2001_2020.csv (ONS LAD mid-year estimates 2001-2020 summed to PFAs with the ONS
    LAD16->CSP16->PFA16 lookup); or wide (code, name, MYE2018, ...), e.g. the ONS "Police force area data
    tables" figures in github.com/M-O-P-D/popm population_data.csv. Local-authority tables are refused
    with an error that says so (they need the lookup first).
    """
    layout = _population_layout(header)
    code_column = header.first(("pfa_code", "code", "geo_code", "area_code"))
    name_column = header.first(("force_name", "pfa_name", "police_force_area", "name", "area", "force"))
    if layout == "long":
        columns = [c for c in (code_column, name_column) if c] + ["year", "population"]
        frame = _read_csv(header, columns, {"year": "string"})
        acc.rows_read = len(frame)
        frame = _drop_blank(frame, acc)
        year = pd.to_numeric(frame["year"].astype("string").str.extract(r"((?:19|20)\d{2})")[0], errors="coerce")
        if year.isna().any():
            first = year.isna().to_numpy().nonzero()[0][0]
            raise InputError(header.file, f"'{frame['year'].iloc[first]}' is not a year", "use e.g. 2018",
                             row=int(frame["_row"].iloc[first]), column=header.original["year"])
        frame = frame.assign(period=year.astype("int64").astype(str), value=_numeric(frame, "population", header))
    else:
        years = {c: int(re.search(r"\d{4}", c).group(0)) for c in header.columns
                 if re.fullmatch(r"(mye|mid_?year_?|population_?)\d{4}", c)}
        columns = [c for c in (code_column, name_column) if c] + list(years)
        wide = _read_csv(header, columns)
        acc.rows_read = len(wide)
        wide = _drop_blank(wide, acc)
        frame = pd.concat([wide.assign(period=str(y), value=_numeric(wide, c, header))
                           for c, y in sorted(years.items(), key=lambda kv: kv[1])], ignore_index=True)
    codes = frame[code_column].astype("string").str.strip() if code_column else None
    if codes is not None:
        is_ons = codes.str.fullmatch(ONS_CODE.pattern).fillna(False).astype(bool)
        is_pfa = codes.str.fullmatch(PFA_CODE.pattern).fillna(False).astype(bool)
        other = is_ons & ~is_pfa & ~codes.str[:3].isin(["K04", "K03", "K02", "E92", "W92", "E12"])
        if other.mean() > 0.5:
            raise InputError(header.file, f"the codes in column '{header.original[code_column]}' are not police force "
                             f"areas (e.g. {codes[other].iloc[0]}): this looks like population by local authority",
                             "aggregate local authority populations to police force areas with the ONS "
                             "LAD->CSP->PFA lookup first (see the README, 'Official statistics')",
                             column=header.original[code_column])
    frame = resolve_areas(frame, name_column or code_column, header, ctx, acc, code_column=code_column)
    if (frame["value"] < 0).any():
        raise InputError(header.file, "a population is negative", "populations are >= 0",
                         column=header.original.get("population", "population"))
    duplicated = frame.duplicated(["area", "period"])
    if duplicated.any():
        first = duplicated.to_numpy().nonzero()[0][0]
        raise InputError(header.file, f"area {frame['area'].iloc[first]} has two populations for "
                         f"{frame['period'].iloc[first]}", "keep one row per area and year",
                         row=int(frame["_row"].iloc[first]))
    frame = _drop_missing_values(frame, acc, "population")
    return frame.assign(variable="population")[["area", "period", "variable", "value"]]


register(Adapter(
    name="ons_population", kind="covariates",
    source="ONS, mid-year population estimates by police force area",
    published_at="https://www.ons.gov.uk/peoplepopulationandcommunity/populationandmigration/populationestimates "
                 "(mid-year estimates by local authority, summed to police force areas)",
    recognise=lambda h: _population_layout(h) is not None,
    read=_read_population,
    description="Long (area code/name, year, population) or wide (code, name, MYE2018, ...) table; period = "
                "calendar year of the 30 June estimate.",
))


# --- Home Office police workforce -> officers per 1,000 population --------------------------
WORKFORCE_REQUIRED = {"date": "the snapshot date (31 March)", "worker_type": "the worker type (police officer, ...)",
                      "total_fte": "full-time equivalent strength"}
WORKFORCE_OFFICER = "police officer"


def _read_officers(header: Header, ctx: Context, acc: Accounting) -> pd.DataFrame:
    """'ho_officers_per_1000': Home Office police workforce -> police officers (FTE) per 1,000 residents.

    Published: https://www.gov.uk/government/statistics/police-workforce-open-data-tables
    (open-data-table-police-workforce-<date>.ods, as CSV); sample: github.com/mpjashby/lesscrime.info
    police-uplift-2022-data.csv.gz (31 March 2007-2022). Officers = worker type 'police officer', FTE summed
    over ranks and sexes at 31 March; period = the financial year ending that day; population = the
    'ons_population' table in the same folder, mid-year estimate of that calendar year (3 months later, the
    nearest estimate). Years without a population estimate are left out with a warning.
    """
    _require(header, WORKFORCE_REQUIRED)
    code_column = header.first(("geo_code", "pfa_code", "code", "force_code"))
    name_column = header.first(("force_name", "force", "police_force_area", "name"))
    if code_column is None and name_column is None:
        raise InputError(header.file, "no force column (expected 'geo_code' and/or 'force_name')",
                         "keep the force name column of the open data table", column="force_name")
    columns = list(WORKFORCE_REQUIRED) + [c for c in (code_column, name_column) if c]
    frame = _read_csv(header, columns, {"worker_type": "category"})
    acc.rows_read = len(frame)
    frame = _drop_blank(frame, acc)
    worker = frame["worker_type"].astype("string").str.strip().str.lower()
    officer = worker == WORKFORCE_OFFICER
    if not officer.any():
        raise InputError(header.file, f"no row has worker type '{WORKFORCE_OFFICER}'; values present: "
                         f"{sorted(worker.dropna().unique())}", "use the Home Office open data table as published",
                         column=header.original["worker_type"])
    acc.exclude("rows for other worker types (staff, PCSOs, specials, designated officers, volunteers)",
                int((~officer).sum()))
    frame = frame.loc[officer]
    dates = pd.to_datetime(frame["date"], errors="coerce")
    periods = dates.map(_period_from_date)
    not_march = periods.isna() | ~periods.astype("string").str.contains("/").fillna(False)
    if not_march.any():
        acc.exclude("rows of snapshots other than 31 March", int(not_march.sum()))
    frame = frame.loc[~not_march].assign(period=periods[~not_march],
                                         _pop_year=dates[~not_march].dt.year.astype(str),
                                         _fte=_numeric(frame.loc[~not_march], "total_fte", header))
    frame = resolve_areas(frame, name_column or code_column, header, ctx, acc, code_column=code_column)
    officers = frame.groupby(["area", "period", "_pop_year"], observed=True)["_fte"].sum().reset_index()
    population = _population_for(ctx, header)
    merged = officers.merge(population.rename(columns={"period": "_pop_year", "value": "_population"}),
                            on=["area", "_pop_year"], how="left")
    missing = merged["_population"].isna()
    if missing.any():
        years = sorted(merged.loc[missing, "_pop_year"].unique())
        acc.notes.append(f"No population for {years}: officers per 1,000 left out for those years.")
        warnings.warn(f"{header.file}: no population estimate for {years} in {paths.rel(ctx.folder)}; "
                      "officers per 1,000 population left out for those years", stacklevel=3)
    merged = merged.loc[~missing]
    acc.notes.append("Officers: full-time equivalent police officers at 31 March; population: ONS mid-year "
                     "estimate of the calendar year that 31 March falls in (the nearest estimate).")
    return pd.DataFrame({"area": merged["area"], "period": merged["period"], "variable": "officers_per_1000",
                         "value": merged["_fte"] / merged["_population"] * 1000.0})


def _population_for(ctx: Context, asking: Header) -> pd.DataFrame:
    adapter = REGISTRY["ons_population"]
    found = [h for h in ctx.headers if adapter.recognise(h)]
    if not found:
        raise InputError(paths.rel(ctx.folder), "officers per 1,000 population needs a population table in the "
                         f"same folder as {asking.file}, and there is none",
                         "put the ONS mid-year population by police force area (adapter 'ons_population') "
                         "in the same folder")
    parts = [adapter.read(h, ctx, Accounting(h, adapter.name)) for h in found]
    population = pd.concat(parts, ignore_index=True)
    return population.drop_duplicates(["area", "period"], keep="last")[["area", "period", "value"]]


register(Adapter(
    name="ho_officers_per_1000", kind="covariates",
    source="Home Office, Police workforce open data tables; ONS mid-year population estimates",
    published_at="https://www.gov.uk/government/statistics/police-workforce-open-data-tables "
                 "(open-data-table-police-workforce-*.ods, as CSV)",
    recognise=lambda h: h.has("worker_type", "total_fte"),
    read=_read_officers,
    needs=("ons_population",),
    description="Police officers (FTE) at 31 March per 1,000 residents; period = the financial year ending then.",
))


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
@dataclass
class OfficialRead:
    data: pd.DataFrame       # OUTCOME_COLUMNS or COVARIATE_COLUMNS
    measures: pd.DataFrame   # MEASURE_COLUMNS (empty for covariates)
    files: pd.DataFrame      # FILE_COLUMNS plus 'status' (read / ignored / not recognised)


def adapters_table() -> pd.DataFrame:
    """The registered adapters: name, kind, source, published_at, description."""
    rows = [{"name": a.name, "kind": a.kind, "source": a.source, "published_at": a.published_at,
             "description": a.description} for a in REGISTRY.values()]
    return pd.DataFrame(rows, columns=["name", "kind", "source", "published_at", "description"]).sort_values(
        ["kind", "name"], ignore_index=True)


def _check_names(names, kind: str) -> list[str]:
    if isinstance(names, str):
        names = [names]
    names = list(names or [])
    known = sorted(a.name for a in REGISTRY.values() if a.kind == kind)
    for name in names:
        adapter = REGISTRY.get(name)
        if adapter is None or adapter.kind != kind:
            other = f" (it is a {adapter.kind} adapter)" if adapter else ""
            raise InputError("params.yaml", f"unknown {kind} official source '{name}'{other}",
                             f"list only these in clean_{kind}.official_sources: {known}",
                             column=f"clean_{kind}.official_sources")
    if len(set(names)) != len(names):
        raise InputError("params.yaml", f"an official source is listed twice: {names}",
                         "list each adapter once", column=f"clean_{kind}.official_sources")
    return names


def read_official(names, folder: Path, matcher: AreaMatcher, kind: str, *, exclude_names=()) -> OfficialRead:
    """Read every file in ``folder`` that the adapters ``names`` recognise; see the module docstring."""
    names = _check_names(names, kind)
    folder = Path(folder)
    columns = OUTCOME_COLUMNS if kind == "outcomes" else COVARIATE_COLUMNS
    empty = OfficialRead(pd.DataFrame({c: pd.Series(dtype="float64" if c in ("value", "numerator", "denominator")
                                                     else "string") for c in columns + ["source_file"]}),
                         pd.DataFrame(columns=MEASURE_COLUMNS), pd.DataFrame(columns=FILE_COLUMNS + ["status"]))
    if not names:
        return empty
    if not folder.is_dir():
        raise InputError(paths.rel(folder), "the folder for official statistics does not exist",
                         f"create it and put the downloaded files for {names} in it (see the README, "
                         "'Official statistics')")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(SUFFIXES))
    others = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.lower().endswith(SUFFIXES)
                    and not p.name.startswith("."))
    headers = [h for p in files for h in sniff(p)]
    ctx = Context(matcher, folder, headers, exclude_names)
    used_by_needs = {n for name in names for n in REGISTRY[name].needs}
    file_rows, parts, measures = [], [], []
    for name in names:
        adapter = REGISTRY[name]
        mine = [h for h in headers if adapter.recognise(h)]
        if not mine:
            raise InputError(paths.rel(folder), f"no file has the layout of official source '{name}' "
                             f"({adapter.description})",
                             f"download it from {adapter.published_at} into {paths.rel(folder)}; files present: "
                             f"{[p.name for p in files] or 'none'}")
        for header in mine:
            acc = Accounting(header, name)
            part = adapter.read(header, ctx, acc)
            part = part.assign(source=adapter.source, source_file=paths.rel(header.path))
            if part.duplicated(["area", "period", "measure" if kind == "outcomes" else "variable"]).any():
                raise InputError(header.file, "the same area and period appear twice for one measure (after "
                                 "mapping names to areas)", "check for two names of the same force")
            parts.append(part[columns + ["source_file"]])
            file_rows.append({**acc.row(), "status": "read"})
        measures.extend(adapter.measures)
    for header in headers:
        claimed = [a.name for a in REGISTRY.values() if a.recognise(header)]
        if any(n in names for n in claimed):
            continue
        if set(claimed) & used_by_needs:
            status = f"read by {sorted(set(names))} as a companion table ({claimed[0]})"
        elif claimed:
            status = f"ignored: layout of {claimed}, not listed in clean_{kind}.official_sources"
        else:
            status = "not recognised by any official-statistics adapter"
            warnings.warn(f"{header.file}: not recognised by any official-statistics adapter; ignored", stacklevel=2)
        file_rows.append({"adapter": ",".join(claimed), "file": paths.rel(header.path), "sheet": header.sheet,
                          "status": status})
    for path in others:
        warnings.warn(f"{paths.rel(path)}: not a .csv, .csv.gz or .xlsx file; ignored", stacklevel=2)
        file_rows.append({"adapter": "", "file": paths.rel(path), "sheet": None,
                          "status": "ignored: not a .csv, .csv.gz or .xlsx file"})
    data = pd.concat(parts, ignore_index=True)
    key = "measure" if kind == "outcomes" else "variable"
    duplicated = data.duplicated(["area", "period", key], keep=False)
    if duplicated.any():
        clash = data.loc[duplicated].iloc[0]
        raise InputError(paths.rel(folder), f"two files give {clash[key]} for {clash['area']} {clash['period']}",
                         "keep one copy of each publication in the folder (or files covering different years)")
    for column in columns + ["source_file"]:
        if column in ("value", "numerator", "denominator"):
            data[column] = data[column].astype("float64")
        else:
            data[column] = data[column].astype("string")
    data = data.sort_values([key, "area", "period", "source"], ignore_index=True)
    measures_df = pd.DataFrame(measures, columns=MEASURE_COLUMNS).drop_duplicates("measure")
    measures_df = measures_df.astype({"measure": "string", "description": "string", "unit": "string",
                                      "higher_is_better": "bool"}).sort_values("measure", ignore_index=True)
    files_df = pd.DataFrame(file_rows, columns=FILE_COLUMNS + ["status"]).sort_values(
        ["file", "sheet", "adapter"], na_position="first", ignore_index=True)
    return OfficialRead(data, measures_df, files_df)


def read_outcome_sources(names, folder: Path | None, matcher: AreaMatcher, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Outcomes in the contract's long format and their measures table, from the listed adapters."""
    result = read_official(names, folder or paths.RAW_OUTCOMES_OFFICIAL, matcher, "outcomes", **kw)
    return result.data, result.measures


def read_covariate_sources(names, folder: Path | None, matcher: AreaMatcher, **kw) -> pd.DataFrame:
    """Covariates in the contract's long format (``area, period, variable, value, source``)."""
    return read_official(names, folder or paths.RAW_REFERENCE_OFFICIAL, matcher, "covariates", **kw).data
