"""Free-text labels -> canonical values through a user-extendable synonyms table (data, not code).

``data/raw/reference/label_synonyms.csv`` has columns ``field, variant, canonical``; ``field`` is one
of ``agency``, ``role``, ``likert`` (canonical 1-5 or ``dont_know``) and ``meetings_per_year``
(canonical a number). Matching is insensitive to case, spacing, apostrophes, punctuation (dots
included: "C.P.S." = "CPS"), '&'/'and', a leading "the" and a bracketed abbreviation after the name
("Youth Offending Team (YOT)"): see :func:`label_key`. A canonical agency or role always matches itself. Add rows to that file to accept new spellings.
Numeric Likert codes ("5") are not accepted by default, because their direction depends on the
survey tool; add rows such as ``likert,5,5`` once you have checked the export's coding.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..errors import InputError
from .schemas import CANONICAL_AGENCIES, CANONICAL_ROLES

SYNONYMS_CSV = paths.RAW_REFERENCE / "label_synonyms.csv"
FIELDS = ("agency", "role", "likert", "meetings_per_year")
DONT_KNOW = "dont_know"


def normalise_label(text: object) -> str:
    """Matching key: NFKC, lower case, '&' -> 'and', apostrophes dropped, other punctuation -> space."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return ""
    return _normalised_label_text(str(text))


@functools.lru_cache(maxsize=1 << 16)
def _normalised_label_text(text: str) -> str:
    """``normalise_label`` of a string; cached (agency names, units and answers repeat across thousands of cells)."""
    value = unicodedata.normalize("NFKC", text).lower()
    value = value.replace("&", " and ")
    value = re.sub(r"['\u2018\u2019\u02bc`\u00b4]", "", value)
    value = re.sub(r"[^0-9a-z]+", " ", value)
    return value.strip()


def label_key(text: object) -> str:
    """Lookup key of a label: :func:`normalise_label` without a leading "the" and without any spaces,
    so that "C.P.S.", "c p s" and "CPS" or "Youth-Offending Team" and "youth offending team" are one key."""
    value = normalise_label(text)
    if value.startswith("the "):
        value = value[4:]
    return value.replace(" ", "")


_BRACKETED = re.compile(r"^(?P<name>[^()\[\]]+?)\s*[(\[](?P<inner>[^()\[\]]+)[)\]]\s*$")


class LabelMap(dict):
    """``{label_key: canonical}`` whose ``get`` takes any spelling (the key is computed on lookup).

    A bracketed part ("Youth Offending Team (YOT)") is tried with and without the brackets; when the name
    and the bracketed part name different canonical values, the label is unknown (None), never guessed.
    """

    def __setitem__(self, key, value):
        super().__setitem__(label_key(key), value)

    def get(self, key, default=None):
        if key is None or (isinstance(key, float) and np.isnan(key)) or key is pd.NA:
            return default
        text = str(key)
        found = super().get(label_key(text))
        if found is not None:
            return found
        m = _BRACKETED.match(unicodedata.normalize("NFKC", text).strip())
        if m:
            hits = {super(LabelMap, self).get(label_key(m.group(part))) for part in ("name", "inner")} - {None}
            if len(hits) == 1:
                return hits.pop()
        return default

    def __contains__(self, key):
        return self.get(key) is not None


class Synonyms:
    """Lookup tables per field, built once from the synonyms CSV."""

    def __init__(self, table: pd.DataFrame, source: str = "label_synonyms.csv"):
        self.source = source
        missing = [c for c in ("field", "variant", "canonical") if c not in table.columns]
        if missing:
            raise InputError(source, f"missing column(s) {missing}", "the table needs columns field, variant, canonical")
        self.maps: dict[str, LabelMap] = {f: LabelMap() for f in FIELDS}
        allowed = {"agency": set(CANONICAL_AGENCIES), "role": set(CANONICAL_ROLES),
                   "likert": {"1", "2", "3", "4", "5", DONT_KNOW}}
        for canon_set_field in ("agency", "role"):
            for value in allowed[canon_set_field]:
                self.maps[canon_set_field][normalise_label(value)] = value
        for i, (fld, variant, canonical) in enumerate(zip(table["field"], table["variant"], table["canonical"])):
            fld, canonical = str(fld).strip(), str(canonical).strip()
            row = i + 2
            if fld not in self.maps:
                raise InputError(source, f"unknown field '{fld}'", f"use one of {list(FIELDS)}", row=row,
                                 column="field")
            if fld in allowed and canonical not in allowed[fld]:
                raise InputError(source, f"canonical value '{canonical}' is not allowed for {fld}",
                                 f"use one of {sorted(allowed[fld])}", row=row, column="canonical")
            if fld == "meetings_per_year":
                try:
                    float(canonical)
                except ValueError:
                    raise InputError(source, f"canonical value '{canonical}' is not a number", "give meetings "
                                     "per year as a number", row=row, column="canonical") from None
            key = label_key(variant)
            previous = dict.get(self.maps[fld], key)
            if previous is not None and previous != canonical:
                raise InputError(source, f"variant '{variant}' of {fld} maps to both '{previous}' and '{canonical}'",
                                 "keep one row per variant", row=row, column="variant")
            self.maps[fld][key] = canonical

    @classmethod
    def load(cls, path: Path | None = None) -> "Synonyms":
        path = Path(path or SYNONYMS_CSV)
        if not path.is_file():
            raise InputError(paths.rel(path), "the label synonyms table is missing",
                             "restore data/raw/reference/label_synonyms.csv from git")
        table = pd.read_csv(path, dtype="string", keep_default_na=False, encoding="utf-8-sig")
        return cls(table, paths.rel(path))

    def map_series(self, field: str, values: pd.Series) -> pd.Series:
        """Canonical value per cell (NA where blank or unknown); unique values are matched once."""
        table = self.maps[field]
        uniques = pd.unique(values.astype("object"))
        lookup = {v: table.get(v) for v in uniques}
        return values.astype("object").map(lookup).astype("string")

    def known(self, field: str) -> list[str]:
        return sorted(set(self.maps[field]))


def is_blank(values: pd.Series) -> pd.Series:
    return values.fillna("").astype("string").str.strip() == ""


def parse_bool(values: pd.Series) -> pd.Series:
    """Y/N, yes/no, true/false, 1/0 (any case) -> boolean; NA where unrecognised or blank."""
    table = {"y": True, "yes": True, "true": True, "t": True, "1": True,
             "n": False, "no": False, "false": False, "f": False, "0": False}
    keys = values.fillna("").astype("string").str.strip().str.lower()
    return keys.map(table).astype("boolean")


def parse_number(values: pd.Series) -> pd.Series:
    """Numbers as text -> float (thousands separators and a trailing % allowed); NaN where not a number."""
    text = values.fillna("").astype("string").str.strip()
    out = pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64")
    retry = out.isna() & (text != "")
    if retry.any():  # slow path only for cells such as "12,000" or "50%"
        cleaned = text[retry].str.replace(",", "", regex=False).str.replace(r"\s*%$", "", regex=True)
        out.loc[retry] = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    return out


def parse_timestamps(values: pd.Series) -> pd.Series:
    """ISO 8601 (offsets converted to UTC, then made naive) or UK day-first ``dd/mm/yyyy HH:MM[:SS]``.
    Naive times are kept as given. NaT where unparseable."""
    text = values.fillna("").astype("string").str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    iso_like = text.str.match(r"^\d{4}-\d{2}-\d{2}")
    if iso_like.any():
        parsed = pd.to_datetime(text[iso_like].astype("object"), format="ISO8601", errors="coerce", utc=True)
        out.loc[iso_like] = parsed.dt.tz_convert(None).astype("datetime64[us]")
    uk = ~iso_like & text.str.match(r"^\d{1,2}/\d{1,2}/\d{4}")
    for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y"):
        todo = uk & out.isna()
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo].astype("object"), format=fmt, errors="coerce")
        out.loc[todo] = parsed.astype("datetime64[us]")
    return out
