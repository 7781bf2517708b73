"""Area names -> police force area codes and partnership ids, deterministically.

Names arrive as respondents typed them ("Avon & Somerset Constabulary", "MPS", "london cjb ").
A name is normalised (case, spacing, '&', punctuation, organisational suffixes such as "Police"
or "Criminal Justice Board") and looked up among: force names, partnership names and ids, ONS
codes, and the user-extendable alias table ``data/raw/reference/area_aliases.csv``. Anything
else is an error listing the closest known names: a name is never guessed.
"""
from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import paths
from .errors import InputError

FORCE_COLUMNS = ["pfa_code", "pfa_name", "lcjp_id", "lcjp_name", "region", "country", "population_2011"]

# Organisational words that do not change which area is meant (stripped from the end).
_SUFFIXES = [
    "local criminal justice partnership", "local criminal justice board", "criminal justice partnership",
    "criminal justice board", "criminal justice area", "lcjp", "lcjb", "cjp", "cjb",
    "police and crime commissioner", "pcc", "opcc",
    "police service", "police force", "constabulary", "police", "heddlu", "partnership", "board", "area",
]
_PREFIXES = ["the ", "heddlu "]


def normalise_name(name: object) -> str:
    """Canonical form of an area name used for matching (not for display)."""
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return ""
    return _normalised_name_text(str(name))


@functools.lru_cache(maxsize=1 << 16)
def _normalised_name_text(name: str) -> str:
    """``normalise_name`` of a string; cached, because the same few hundred spellings come back in every
    file (and, in the validation study, in every replicate)."""
    text = unicodedata.normalize("NFKC", name).lower()
    text = text.replace("&", " and ").replace("\u2019", "").replace("'", "").replace(".", "")
    text = re.sub(r"[^0-9a-z]+", " ", text).strip()
    changed = True
    while changed and text:
        changed = False
        for prefix in _PREFIXES:
            if text.startswith(prefix) and len(text) > len(prefix):
                text, changed = text[len(prefix):].strip(), True
        for suffix in _SUFFIXES:
            if text.endswith(" " + suffix):
                text, changed = text[: -len(suffix)].strip(), True
    return text


_COMPACT_SUFFIXES = sorted({s.replace(" ", "") for s in _SUFFIXES}, key=len, reverse=True)


@functools.lru_cache(maxsize=1 << 16)
def _compact_key(normalised: str) -> str:
    key = normalised.replace(" ", "")
    changed = True
    while changed:
        changed = False
        for suffix in _COMPACT_SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix) + 2:
                key, changed = key[: -len(suffix)], True
    return key


def area_key(name: object) -> str:
    """Lookup key of an area name: :func:`normalise_name` without spaces and without organisational suffixes
    written together ("West-Mercia" = "westmercia", "KentPolice" = "kent")."""
    return _compact_key(normalise_name(name))


@dataclass(frozen=True)
class AreaMatch:
    lcjp_id: str
    pfa_code: str | None  # None when the name means a partnership spanning several forces (London)


def load_forces(path: Path | None = None) -> pd.DataFrame:
    """The 43 police force areas with their partnership (``lcjp_id``), region and 2011 population."""
    path = Path(path or paths.FORCES_CSV)
    if not path.is_file():
        raise InputError(paths.rel(path), "the police force area reference table is missing",
                         "restore data/raw/reference/police_force_areas.csv from git")
    forces = pd.read_csv(path, dtype={"pfa_code": "string"})
    missing = [c for c in FORCE_COLUMNS if c not in forces.columns]
    if missing:
        raise InputError(paths.rel(path), f"missing column(s) {missing}",
                         f"the table needs columns {FORCE_COLUMNS}")
    return forces[FORCE_COLUMNS].sort_values("pfa_code").reset_index(drop=True)


def load_partnerships(path: Path | None = None) -> pd.DataFrame:
    """One row per partnership area: id, name, region, country, forces and summed 2011 population."""
    forces = load_forces(path)
    grouped = forces.groupby("lcjp_id", sort=True)
    out = grouped.agg(
        lcjp_name=("lcjp_name", "first"),
        region=("region", "first"),
        country=("country", "first"),
        population_2011=("population_2011", "sum"),
        n_forces=("pfa_code", "size"),
        pfa_codes=("pfa_code", lambda s: ";".join(sorted(s))),
    ).reset_index()
    return out


class AreaMatcher:
    """Maps free-text area names to ``AreaMatch``; see the module docstring for the rules."""

    def __init__(self, forces: pd.DataFrame, aliases: pd.DataFrame | None = None):
        self.forces = forces
        self._index: dict[str, set[AreaMatch]] = {}
        self._display: dict[str, str] = {}
        by_lcjp = forces.groupby("lcjp_id")["pfa_code"].apply(list).to_dict()
        for row in forces.itertuples(index=False):
            force = AreaMatch(row.lcjp_id, row.pfa_code)
            self._add(row.pfa_code, force)
            self._add(row.pfa_name, force)
            partnership = AreaMatch(row.lcjp_id, row.pfa_code if len(by_lcjp[row.lcjp_id]) == 1 else None)
            self._add(row.lcjp_id, partnership)
            self._add(row.lcjp_name, partnership)
        if aliases is not None:
            codes = {r.pfa_code: AreaMatch(r.lcjp_id, r.pfa_code) for r in forces.itertuples(index=False)}
            for alias, target in zip(aliases["alias"], aliases["area"]):
                target = str(target).strip()
                if target in codes:
                    self._add(alias, codes[target])
                elif target in by_lcjp:
                    pfa = by_lcjp[target][0] if len(by_lcjp[target]) == 1 else None
                    self._add(alias, AreaMatch(target, pfa))
                else:
                    raise InputError("data/raw/reference/area_aliases.csv",
                                     f"alias '{alias}' points to unknown area '{target}'",
                                     "use a pfa_code (E23000001) or lcjp_id (london) from police_force_areas.csv")

    def _add(self, name: str, match: AreaMatch) -> None:
        key = area_key(name)
        if not key:
            return
        self._index.setdefault(key, set()).add(match)
        self._display.setdefault(key, str(name))

    @classmethod
    def from_reference(cls, forces_csv: Path | None = None, aliases_csv: Path | None = None) -> "AreaMatcher":
        forces = load_forces(forces_csv)
        aliases_path = Path(aliases_csv) if aliases_csv else paths.RAW_REFERENCE / "area_aliases.csv"
        aliases = pd.read_csv(aliases_path, dtype="string") if aliases_path.is_file() else None
        return cls(forces, aliases)

    def lookup(self, name: object) -> AreaMatch | None:
        """The match for ``name``, or None if it is unknown or ambiguous."""
        found = self._index.get(area_key(name), set())
        return next(iter(found)) if len(found) == 1 else None

    def closest(self, name: object, n: int = 5) -> list[str]:
        """Display names of the known areas closest to ``name`` (for error messages)."""
        key = area_key(name)
        cache = self.__dict__.setdefault("_closest_cache", {})  # difflib over every known name: ~4 ms a call
        if (key, n) not in cache:
            keys = difflib.get_close_matches(key, list(self._index), n=n, cutoff=0.0)
            cache[(key, n)] = [self._display[k] for k in keys]
        return list(cache[(key, n)])

    def problem(self, name: object) -> str | None:
        """Why ``name`` cannot be matched (None if it can)."""
        key = area_key(name)
        found = self._index.get(key, set())
        if len(found) == 1:
            return None
        if not key:
            return "area is blank"
        if len(found) > 1:
            options = sorted({m.lcjp_id for m in found})
            return f"area '{name}' is ambiguous: it could mean {options}"
        return f"unknown area '{name}'; closest known names: {', '.join(self.closest(name))}"

    def match(self, name: object, *, file: str | None = None, row: int | None = None,
              column: str = "area") -> AreaMatch:
        """Match one name or raise an ``InputError`` that lists the closest known names."""
        found = self.lookup(name)
        if found is None:
            raise InputError(file, self.problem(name), "use a police force or partnership name from "
                             "data/raw/reference/police_force_areas.csv, or add the variant to "
                             "data/raw/reference/area_aliases.csv", row=row, column=column)
        return found

    def match_series(self, names: pd.Series) -> pd.DataFrame:
        """Vectorised: columns ``lcjp_id``, ``pfa_code`` and ``area_problem`` (None where matched)."""
        codes, uniques = pd.factorize(names.astype("object"))  # each name matched once; missing -> code -1
        cols: tuple[list, list, list] = ([], [], [])
        for value in [*uniques, pd.NA]:
            hit = self.lookup(value)
            cols[0].append(hit.lcjp_id if hit else None)
            cols[1].append(hit.pfa_code if hit else None)
            cols[2].append(None if hit else self.problem(value))
        return pd.DataFrame({name: pd.array(np.asarray(col, dtype=object)[codes], dtype="string")
                             for name, col in zip(["lcjp_id", "pfa_code", "area_problem"], cols)}, index=names.index)
