"""Row-level problems, the quarantine table and the per-file reconciliation (read = accepted + quarantined).

Quarantine files hold raw values (possibly personal data): they are never published.
"""
from __future__ import annotations

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
    acc = pd.DataFrame({"source_file": accepted["source_file"].astype("string").to_numpy(),
                        "source_row": accepted["source_row"].to_numpy(dtype="int64")})
    qua = pd.DataFrame({"source_file": quarantine["source_file"].astype("string").to_numpy(),
                        "source_row": quarantine["row_number"].to_numpy(dtype="int64")})
    problems = []
    both = pd.concat([acc.assign(accepted=True), qua.assign(accepted=False)], ignore_index=True)
    repeated = both.duplicated(KEY, keep=False)
    if repeated.any():
        example = both[repeated].sort_values(KEY).head(2).to_dict("records")
        problems.append(f"{int(repeated.sum())} row(s) counted more than once (accepted twice, quarantined twice, "
                        f"or both), e.g. {example}")
    n_acc = acc.groupby("source_file").size()
    n_qua = qua.groupby("source_file").size()
    rows = []
    for name in sorted(rows_read):
        a, q = int(n_acc.get(name, 0)), int(n_qua.get(name, 0))
        if a + q != rows_read[name]:
            problems.append(f"{name}: read {rows_read[name]} rows but accepted {a} + quarantined {q}")
        rows.append((name, rows_read[name], a, q))
    unknown = (set(n_acc.index) | set(n_qua.index)) - set(rows_read)
    if unknown:
        problems.append(f"rows from files never read: {sorted(unknown)}")
    if problems:
        raise RuntimeError("Reconciliation failed (a bug in pipeline.clean, not in the data): " + "; ".join(problems))
    out = pd.DataFrame(rows, columns=["source_file", "rows_read", "accepted", "quarantined"])
    out["source_file"] = out["source_file"].astype("string")
    return out.astype({"rows_read": "int64", "accepted": "int64", "quarantined": "int64"})
