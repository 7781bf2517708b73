"""Helpers shared by the four clean kinds: area matching with the on_unknown_area rule, options."""
from __future__ import annotations

import pandas as pd

from ..areas import AreaMatcher
from ..errors import InputError
from .quarantine import Issues

AREA_FIX = ("use a police force or partnership name from data/raw/reference/police_force_areas.csv, or add the "
            "variant to data/raw/reference/area_aliases.csv (columns alias, area)")


def check_option(name: str, value, allowed) -> None:
    if value not in allowed:
        raise InputError("params.yaml", f"parameter {name} is {value!r}", f"use one of {list(allowed)}")


def match_areas(frame: pd.DataFrame, matcher: AreaMatcher, issues: Issues, on_unknown_area: str,
                column: str = "area") -> pd.DataFrame:
    """``lcjp_id, pfa_code`` per row. Unknown/ambiguous names raise an InputError listing the closest
    known names (``on_unknown_area='error'``) or quarantine the row (``'quarantine'``)."""
    check_option("on_unknown_area", on_unknown_area, ("error", "quarantine"))
    matched = matcher.match_series(frame[column].astype("string").str.strip())
    problem = matched["area_problem"]
    bad = problem.notna()
    if bad.any() and on_unknown_area == "error":
        first = bad.to_numpy().nonzero()[0][0]
        row = frame.iloc[first]
        others = frame.loc[bad, column].astype("string").unique().tolist()
        more = f" ({int(bad.sum())} row(s) in all with unmatched names: {others[:10]})" if int(bad.sum()) > 1 else ""
        raise InputError(row["source_file"], str(problem.iloc[first]) + more,
                         AREA_FIX + "; or set on_unknown_area: quarantine in params.yaml to set such rows aside",
                         row=int(row["source_row"]), column=column)
    issues.flag(bad, column, lambda: problem + ". Fix: " + AREA_FIX)
    return matched[["lcjp_id", "pfa_code"]]


def concat_files(files, columns: list[str]) -> pd.DataFrame:
    """Raw text rows of several files of one type, aligned on ``columns`` (+ source_file, source_row)."""
    keep = ["source_file", "source_row", *columns]
    if not files:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "source_row" else "string") for c in keep})
    frames = [f.data.reindex(columns=keep, fill_value="") for f in files]
    out = pd.concat(frames, ignore_index=True)
    for c in keep:
        if c != "source_row" and (out[c].dtype != "string" or out[c].hasnans):
            out[c] = out[c].astype("string").fillna("")
    return out


def join_names(names: list[str]) -> str:
    return ", ".join(names)
