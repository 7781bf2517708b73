"""Row-level problems, the quarantine table, the per-file reconciliation (read = accepted + quarantined),
what was set aside by reason (``set_aside_<kind>.csv``, publishable) and the quarantine gate
(``clean_<kind>.max_quarantine_share``: too many rows set aside for one reason stops the stage).

Quarantine files hold raw values (possibly personal data): they are never published.
"""
from __future__ import annotations

import csv
import difflib
import io
import re

import numpy as np
import pandas as pd

from ..errors import InputError
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


# --- what was set aside, by reason, and the quarantine gate ------------------------------------------------------

SUPERSEDED = "superseded resubmission"
SET_ASIDE_COLUMNS = ["source_file", "reason_kind", "rows", "example_reason", "fix"]
SYNONYMS_FILE = "data/raw/reference/label_synonyms.csv"
ALIASES_FILE = "data/raw/reference/area_aliases.csv"
_LABEL_FIELDS = {"agency", "role", "likert", "meetings_per_year"}


def reason_kind(reason: str) -> str:
    """The kind of one quarantine reason, without its values: "unknown agency", "superseded resubmission"..."""
    text = str(reason).strip()
    if text.startswith("superseded by resubmission"):
        return SUPERSEDED
    if text.startswith("unknown agency name(s)"):
        return "unknown agency (members)"
    m = re.match(r"unknown (?:or blank )?(\w+) '", text)
    if m:
        return f"unknown {m.group(1)}"
    if text.startswith("unrecognised answer"):
        return "unrecognised answer (likert)"
    masked = re.sub(r"'[^']*'", "", text)
    masked = re.split(r":|\. Fix|\(|;", masked)[0]
    masked = re.sub(r"\d+(\.\d+)?", "#", masked)
    return re.sub(r"\s+", " ", masked).strip() or "other"


_REASON_START = re.compile(r"^(?:unknown|unrecognised|duplicate|superseded|approved|segment|area is|the |no |"
                           r"[A-Za-z_]+ (?:is|are|has|'|appears|coded)\b|[A-Za-z_]+ '|[A-Za-z_]+: )")


def _split(column: object, reason: object) -> list[tuple[str, str]]:
    """(column, reason) pairs of one quarantine row (several problems are joined with '; ', and a reason may
    itself hold '; ', as "unknown area 'X'; closest known names: ...": a part that does not start like a
    reason belongs to the one before)."""
    columns = [c.strip() for c in str(column).split("; ")]
    parts: list[str] = []
    for fragment in str(reason).split("; "):
        if parts and (len(parts) >= len(columns) or not _REASON_START.match(fragment.strip())):
            parts[-1] += "; " + fragment
        else:
            parts.append(fragment.strip())
    if len(columns) == len(parts):
        return list(zip(columns, parts))
    return [(columns[0], str(reason))]


def _csv_line(*values: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


def _suggest(field: str, value: str, synonyms) -> str:
    """The canonical value a new spelling most probably means, or the list to choose from."""
    from .labels import label_key
    table = synonyms.maps[field]
    keys = {k: v for k, v in dict.items(table)}
    close = difflib.get_close_matches(label_key(value), list(keys), n=1, cutoff=0.8)
    if close:
        return keys[close[0]]
    allowed = sorted(set(keys.values())) if field != "likert" else ["1", "2", "3", "4", "5", "dont_know"]
    return "<" + "|".join(allowed) + ">"


def _fix_lines(kind: str, column: str, row: pd.Series, synonyms, matcher) -> list[str]:
    """The lines to add to the synonyms or aliases table for one quarantined cell (may be none)."""
    value = str(row.get(column, row.get(f"raw_{column}", "")) or "").strip()
    if kind == "unknown area" and matcher is not None and value:
        closest = matcher.closest(value, 1)
        target = matcher.lookup(closest[0]) if closest else None
        code = (target.pfa_code or target.lcjp_id) if target else "<pfa_code or lcjp_id>"
        return [f"{ALIASES_FILE}: " + _csv_line(value, code)]
    if synonyms is None or not value:
        return []
    if kind == "unknown agency (members)":
        parts = [p.strip() for p in value.split(";") if p.strip()]
        return [f"{SYNONYMS_FILE}: " + _csv_line("agency", p, _suggest("agency", p, synonyms))
                for p in parts if synonyms.maps["agency"].get(p) is None]
    if kind == "unrecognised answer (likert)":
        return [f"{SYNONYMS_FILE}: " + _csv_line("likert", value, _suggest("likert", value, synonyms))]
    field = kind.replace("unknown ", "") if kind.startswith("unknown ") else column
    if field in _LABEL_FIELDS and (kind.startswith("unknown") or column == "meetings_per_year"):
        if field == "meetings_per_year":
            return [f"{SYNONYMS_FILE}: " + _csv_line(field, value, "<meetings per year as a number>")]
        return [f"{SYNONYMS_FILE}: " + _csv_line(field, value, _suggest(field, value, synonyms))]
    return []


def _safe(text: str) -> str:
    """Published text (the set-aside table is shown on pages): contact details and names removed."""
    from .. import disclosure
    out = disclosure.redact_text(text)[0]
    for name in disclosure.probable_names(out):
        out = out.replace(name, disclosure.MARKS["name"])
    return out


def set_aside_table(quarantine: pd.DataFrame, *, synonyms=None, matcher=None) -> pd.DataFrame:
    """What was set aside, by file and reason kind: ``source_file, reason_kind, rows, example_reason, fix``.

    A row with several problems counts once under each of its reason kinds. ``fix`` is the exact lines to
    add to the synonyms or aliases table (when the problem is a spelling), else the fix the reason gives;
    raw values other than label spellings are masked, so the table can be published.
    """
    records: dict[tuple[str, str], dict] = {}
    for _, row in quarantine.iterrows():
        seen = set()
        for column, reason in _split(row["column"], row["reason"]):
            kind = reason_kind(reason)
            key = (str(row["source_file"]), kind)
            entry = records.setdefault(key, {"rows": 0, "example": reason, "lines": [], "fix": ""})
            if kind not in seen:
                entry["rows"] += 1
                seen.add(kind)
            for line in _fix_lines(kind, column, row, synonyms, matcher):
                if line not in entry["lines"]:
                    entry["lines"].append(line)
            if not entry["fix"]:
                parts = re.split(r"Fix: |: (?=add |use |write |give |correct |remove )", reason, maxsplit=1)
                entry["fix"] = parts[1] if len(parts) > 1 else ""
    rows = []
    for (source_file, kind), entry in sorted(records.items()):
        example = re.sub(r"'[^']*'", "'…'", entry["example"]) if not kind.startswith(("unknown", "unrecognised")) \
            else entry["example"]
        if kind == SUPERSEDED:
            fix = "none needed: the resubmission is kept (keep_resubmission in params.yaml chooses which)"
        else:
            fix = " | ".join(entry["lines"]) if entry["lines"] else (entry["fix"] or "correct the row in the raw file")
        rows.append({"source_file": source_file, "reason_kind": kind, "rows": entry["rows"],
                     "example_reason": _safe(example), "fix": _safe(fix)})
    out = pd.DataFrame(rows, columns=SET_ASIDE_COLUMNS)
    return out.astype({"source_file": "string", "reason_kind": "string", "rows": "int64", "example_reason": "string",
                       "fix": "string"})


def gate_problems(set_aside: pd.DataFrame, manifest: dict, max_share: float,
                  reconciliation: pd.DataFrame | None = None) -> pd.DataFrame:
    """Reason kinds (other than superseded resubmissions) above ``max_share`` of the rows read in files of
    that type: ``file_type, reason_kind, rows, rows_read, share, fix``. Rows read come from the reconciliation
    (else the manifest); a file of no known type (an official source) is its own type."""
    columns = ["file_type", "reason_kind", "rows", "rows_read", "share", "fix"]
    counted = set_aside[set_aside["reason_kind"] != SUPERSEDED]
    if counted.empty:
        return pd.DataFrame(columns=columns)
    type_of = {f["path"]: f.get("type") or f["path"] for f in manifest.get("files", [])}
    if reconciliation is not None and len(reconciliation):
        read = dict(zip(reconciliation["source_file"].astype(str), reconciliation["rows_read"].astype(int)))
    else:
        read = {f["path"]: int(f.get("rows") or 0) for f in manifest.get("files", [])}
    read_by_type: dict[str, int] = {}
    for name, n in read.items():
        read_by_type[type_of.get(name, name)] = read_by_type.get(type_of.get(name, name), 0) + n
    frame = counted.assign(file_type=counted["source_file"].map(lambda s: type_of.get(str(s), str(s))))
    rows = []
    for (file_type, kind), group in frame.groupby(["file_type", "reason_kind"], sort=True):
        n = int(group["rows"].sum())
        total = max(read_by_type.get(file_type, 0), n)
        lines = []
        for fix in group["fix"]:
            for line in str(fix).split(" | "):
                if line and line not in lines:
                    lines.append(line)
        if n / total > max_share:
            rows.append({"file_type": file_type, "reason_kind": kind, "rows": n, "rows_read": total,
                         "share": n / total, "fix": lines})
    return pd.DataFrame(rows, columns=columns)


def check_gate(set_aside: pd.DataFrame, manifest: dict, max_share: float, kind: str,
               reconciliation: pd.DataFrame | None = None) -> None:
    """Raise an InputError when a reason kind sets aside more than ``max_share`` of the rows of a file type.

    The message lists each such reason with its count and the exact lines to add (or the fix)."""
    if not 0 <= float(max_share) <= 1:
        raise InputError("params.yaml", f"clean_{kind}.max_quarantine_share is {max_share!r}",
                         "give a share between 0 and 1 (default 0.02)")
    problems = gate_problems(set_aside, manifest, float(max_share), reconciliation)
    if problems.empty:
        return
    parts, fixes = [], []
    for p in problems.itertuples(index=False):
        parts.append(f"{p.reason_kind}: {p.rows} of {p.rows_read} {p.file_type} rows ({p.share:.1%})")
        fixes.extend(line for line in p.fix if line not in fixes)
    files = sorted(set(set_aside.loc[set_aside["reason_kind"].isin(problems["reason_kind"]), "source_file"]))
    raise InputError(", ".join(files),
                     f"too many rows set aside (more than clean_{kind}.max_quarantine_share = {float(max_share):g} "
                     "of the rows of a file type, per reason): " + "; ".join(parts),
                     ("add these lines (where a line shows <a|b|...>, write the one value it means), then re-run:\n  "
                      + "\n  ".join(fixes)) if fixes else
                     f"correct the rows listed in data/processed/quarantine/{kind}.csv, or raise "
                     f"clean_{kind}.max_quarantine_share in params.yaml if setting them aside is intended")


def set_aside_for(result) -> pd.DataFrame:
    """The set-aside table of a clean result (computed once, kept on the result)."""
    table = getattr(result, "set_aside", None)
    if table is None:
        from ..areas import AreaMatcher
        from .labels import Synonyms
        try:
            synonyms, matcher = Synonyms.load(), AreaMatcher.from_reference()
        except InputError:  # reference tables absent (a test folder): fixes without suggestions
            synonyms = matcher = None
        table = set_aside_table(result.quarantine, synonyms=synonyms, matcher=matcher)
        result.set_aside = table
    return table


def apply_gate(result, kind: str, max_quarantine_share: float = 0.02) -> pd.DataFrame:
    """The set-aside table of ``result``; raises InputError when the gate (see :func:`check_gate`) is crossed."""
    table = set_aside_for(result)
    check_gate(table, result.manifest, max_quarantine_share, kind, getattr(result, "reconciliation", None))
    return table
