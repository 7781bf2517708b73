"""Row-level problems, the quarantine table and the per-file reconciliation (read = accepted + quarantined).

Quarantine files hold raw values (possibly personal data): they are never published.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .schemas import QUARANTINE_COLUMNS

KEY = ["source_file", "source_row"]


class Issues:
    """Collects problems per row of one raw table; a row with any problem is quarantined.

    Several problems on one row are all reported (columns and reasons joined with '; ').
    """

    def __init__(self, index: pd.Index):
        self.index = index
        self.column = pd.Series(pd.NA, index=index, dtype="string")
        self.reason = pd.Series(pd.NA, index=index, dtype="string")

    def flag(self, mask: pd.Series, column: str, reason) -> None:
        """Flag the rows where ``mask`` is True. ``reason``: a string, a Series per row, or a callable
        returning either (called only when a row is flagged: row-level messages are costly to build)."""
        if not bool(mask.any()):  # most checks flag nothing (NA counts as not flagged, as below)
            return
        mask = mask.reindex(self.index, fill_value=False).fillna(False).astype(bool)
        if not mask.any():
            return
        if callable(reason):
            reason = reason()
        if isinstance(reason, pd.Series):
            text = reason.reindex(self.index).astype("string")[mask]
        else:
            text = pd.Series(reason, index=self.index[mask.to_numpy()], dtype="string")
        current_c, current_r = self.column[mask], self.reason[mask]
        self.column.loc[mask] = current_c.where(current_c.isna(), current_c + "; " + column).fillna(column)
        self.reason.loc[mask] = current_r.where(current_r.isna(), current_r + "; " + text).fillna(text)

    @property
    def bad(self) -> pd.Series:
        return self.reason.notna()


class Quarantine:
    """The quarantine table of one kind: ``source_file, row_number, column, reason`` + original columns."""

    def __init__(self):
        self._parts: list[pd.DataFrame] = []

    def add(self, raw: pd.DataFrame, column, reason) -> None:
        """Quarantine the rows of ``raw`` (raw text with source_file, source_row); column/reason: str or Series."""
        if raw.empty:
            return
        part = pd.DataFrame({
            "source_file": raw["source_file"].astype("string"),
            "row_number": raw["source_row"].astype("int64"),
            "column": column if isinstance(column, pd.Series) else pd.Series(column, index=raw.index, dtype="string"),
            "reason": reason if isinstance(reason, pd.Series) else pd.Series(reason, index=raw.index, dtype="string"),
        }, index=raw.index)
        originals = raw.drop(columns=[c for c in KEY if c in raw.columns]).astype("string")
        originals = originals.rename(columns={c: f"raw_{c}" for c in originals.columns if c in QUARANTINE_COLUMNS})
        self._parts.append(pd.concat([part, originals], axis=1))

    def add_issues(self, raw: pd.DataFrame, issues: Issues) -> None:
        bad = issues.bad
        self.add(raw.loc[bad], issues.column[bad], issues.reason[bad])

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row_number" else "string")
                                 for c in QUARANTINE_COLUMNS})
        out = pd.concat(self._parts, ignore_index=True)
        other = [c for c in out.columns if c not in QUARANTINE_COLUMNS]  # original order, files sorted by name
        out = out[QUARANTINE_COLUMNS + other]
        for column in other:
            out[column] = out[column].astype("string").fillna("")
        return out.sort_values(["source_file", "row_number", "column"], kind="stable").reset_index(drop=True)


def reconcile(rows_read: dict[str, int], accepted: pd.DataFrame, quarantine: pd.DataFrame) -> pd.DataFrame:
    """Per input file: ``source_file, rows_read, accepted, quarantined``.

    ``accepted`` lists the (source_file, source_row) of every input row that reached processed data.
    Raises RuntimeError when a row is lost, counted twice, or both accepted and quarantined.
    """
    files = pd.concat([accepted["source_file"].astype("string"), quarantine["source_file"].astype("string")],
                      ignore_index=True)
    source_row = np.concatenate([accepted["source_row"].to_numpy(dtype="int64"),
                                 quarantine["row_number"].to_numpy(dtype="int64")])
    is_accepted = np.arange(len(files)) < len(accepted)
    # integer codes instead of a groupby / duplicated on strings (the same counts, a tenth of the time);
    # a missing file name has code -1: counted nowhere (as groupby drops it) but still checked for repeats
    file_code, file_names = pd.factorize(files)
    problems = []
    if len(files):
        span = int(source_row.max() - source_row.min()) + 1
        pair = (file_code.astype("int64") + 1) * span + (source_row - source_row.min())  # one integer per (file, row)
        _, pair_code, pair_count = np.unique(pair, return_inverse=True, return_counts=True)
        repeated = pair_count[pair_code] > 1
        if repeated.any():
            both = pd.DataFrame({"source_file": files.to_numpy(dtype=object), "source_row": source_row,
                                 "accepted": is_accepted})
            example = both[repeated].sort_values(KEY).head(2).to_dict("records")
            problems.append(f"{int(repeated.sum())} row(s) counted more than once (accepted twice, quarantined "
                            f"twice, or both), e.g. {example}")
    named = file_code >= 0
    n_acc = _counts(file_code[named & is_accepted], file_names)
    n_qua = _counts(file_code[named & ~is_accepted], file_names)
    rows = []
    for name in sorted(rows_read):
        a, q = int(n_acc.get(name, 0)), int(n_qua.get(name, 0))
        if a + q != rows_read[name]:
            problems.append(f"{name}: read {rows_read[name]} rows but accepted {a} + quarantined {q}")
        rows.append((name, rows_read[name], a, q))
    unknown = (set(n_acc) | set(n_qua)) - set(rows_read)
    if unknown:
        problems.append(f"rows from files never read: {sorted(unknown)}")
    if problems:
        raise RuntimeError("Reconciliation failed (a bug in pipeline.clean, not in the data): " + "; ".join(problems))
    names, *counts = zip(*rows) if rows else ((), (), (), ())
    return pd.DataFrame({"source_file": pd.array(list(names), dtype="string"),
                         **{column: np.array(values, dtype="int64")
                            for column, values in zip(["rows_read", "accepted", "quarantined"], counts)}})


def _counts(codes: np.ndarray, names) -> dict[str, int]:
    """Rows per name for the names that occur (``codes`` index ``names``)."""
    counts = np.bincount(codes, minlength=len(names))
    return {str(names[i]): int(counts[i]) for i in np.flatnonzero(counts)}
