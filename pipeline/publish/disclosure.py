"""Disclosure control applied before anything is published.

Three rules (data contract, "Fieldwork" and "Survey"):

1. No figure or table cell built from fewer than ``k_min`` respondents: such values are set to
   missing and the row is marked ``suppressed`` (shown as "suppressed (n < k)").
2. No survey comment ever: report code never reads free-text survey columns, and
   :func:`drop_free_text` removes any that slip into a table.
3. Only approved fieldwork quotes, redacted again here by :mod:`pipeline.disclosure` (the one rule set
   for e-mail addresses, phone numbers, postcodes and personal names) whatever the clean stage already
   did; a quote in which a probable personal name remains is withheld (fail closed).

:func:`find_pii` scans rendered HTML (visible text only) for anything :mod:`pipeline.disclosure` would
remove; tests run it over every report.
"""
from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable

import pandas as pd

from .. import disclosure as _rules

# Count columns recognised by name (the interface names of docs/ARCHITECTURE.md and common variants).
RESPONDENT_COUNT_COLUMNS = ("n_respondents", "n_responses", "responded", "respondents", "n_responded")
SUPPRESSED_LABEL = "suppressed (n < {k})"
REDACTION_MARK = _rules.MARKS
EMAIL_RE = _rules.EMAIL_RE
POSTCODE_RE = _rules.POSTCODE_RE


def redact_text(text: object) -> str:
    """Text with e-mail addresses, phone numbers, postcodes and titled or contacted names replaced by a
    marker (:func:`pipeline.disclosure.redact_text` without the findings)."""
    return _rules.redact_text(text)[0]


def visible_text(page_html: str) -> str:
    """The text a reader sees in an HTML page: no styles, scripts, tags or embedded data URIs."""
    text = re.sub(r"(?is)<(style|script)\b.*?</\1>", " ", page_html)
    text = re.sub(r"data:[\w/+.\-]+;base64,[A-Za-z0-9+/=\s]+", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return html_lib.unescape(text)


def find_pii(text: str, *, is_html: bool = True, kinds: Iterable[str] = ("email", "phone", "postcode")) -> pd.DataFrame:
    """Everything in ``text`` that :func:`pipeline.disclosure.redact_text` would remove, of ``kinds``
    (add ``"name"`` for titled or contacted names). Columns: ``kind, match, position``. For HTML only the
    visible text is scanned (positions refer to it)."""
    body = visible_text(text) if is_html else text
    wanted = set(kinds)
    rows = [{"kind": f.kind, "match": f.text, "position": f.start}
            for f in _rules.redact_text(body)[1] if f.kind in wanted]
    return pd.DataFrame(rows, columns=["kind", "match", "position"]).sort_values(
        ["position", "kind"], ignore_index=True)


def respondent_count_column(df: pd.DataFrame, count_column: str | None = None) -> str | None:
    """The column counting respondents behind each row (given, or recognised by name)."""
    if count_column is not None:
        if count_column not in df.columns:
            raise KeyError(f"count column '{count_column}' not in table columns {list(df.columns)}")
        return count_column
    for name in RESPONDENT_COUNT_COLUMNS:
        if name in df.columns:
            return name
    return None


def suppress_small_cells(df: pd.DataFrame, k_min: int, *, count_column: str | None = None,
                         value_columns: Iterable[str] | None = None,
                         keep_columns: Iterable[str] = ()) -> pd.DataFrame:
    """Copy of ``df`` where rows built from fewer than ``k_min`` respondents are blanked.

    ``value_columns`` (default: every numeric column except the count and ``keep_columns``) are
    set to missing on those rows, the count itself too, and a boolean ``suppressed`` column is
    added. A table without a recognisable count column is returned with ``suppressed`` False;
    callers that know which column counts respondents should pass ``count_column``.
    """
    if k_min < 1:
        raise ValueError(f"k_min must be >= 1, got {k_min}")
    out = df.copy()
    column = respondent_count_column(out, count_column)
    if column is None:
        out["suppressed"] = False
        return out
    counts = pd.to_numeric(out[column], errors="coerce")
    small = (counts < k_min) | counts.isna()
    keep = set(keep_columns) | {column, "suppressed"}
    if value_columns is None:
        value_columns = [c for c in out.columns if c not in keep and pd.api.types.is_numeric_dtype(out[c])
                         and not pd.api.types.is_bool_dtype(out[c])]
    for name in list(value_columns) + [column]:
        if pd.api.types.is_numeric_dtype(out[name]) and not pd.api.types.is_bool_dtype(out[name]):
            out[name] = out[name].astype("Float64").mask(small)
        else:
            out[name] = out[name].astype("string").mask(small)
    out["suppressed"] = small.to_numpy(dtype=bool)
    return out


def display_table(df: pd.DataFrame, k_min: int, *, digits: int = 2, count_column: str | None = None) -> pd.DataFrame:
    """Strings for an HTML table: numbers rounded, suppressed cells labelled, no ``suppressed`` column.

    Expects the output of :func:`suppress_small_cells` (a ``suppressed`` column) or a table with
    nothing to suppress.
    """
    label = SUPPRESSED_LABEL.format(k=k_min)
    suppressed = df["suppressed"].to_numpy(dtype=bool) if "suppressed" in df.columns else None
    shown = df.drop(columns=["suppressed"], errors="ignore")
    out = pd.DataFrame(index=shown.index)
    for name in shown.columns:
        col = shown[name]
        if pd.api.types.is_bool_dtype(col):
            text = col.map(lambda v: "" if pd.isna(v) else ("yes" if v else "no"))
        elif pd.api.types.is_integer_dtype(col):
            text = col.map(lambda v: "" if pd.isna(v) else f"{int(v)}")
        elif pd.api.types.is_numeric_dtype(col):
            values = col.dropna()
            count_like = name in RESPONDENT_COUNT_COLUMNS or str(name).startswith("n_") or name in ("rank", "invited")
            whole = count_like and len(values) > 0 and bool((values.astype(float) % 1 == 0).all())
            text = col.map(lambda v: "" if pd.isna(v) else (f"{int(v)}" if whole else f"{float(v):.{digits}f}"))
        else:
            text = col.astype("string").fillna("")
        text = text.astype("string")
        if suppressed is not None:
            blank = suppressed & (shown[name].isna().to_numpy())
            text = text.mask(pd.Series(blank, index=text.index), label)
        out[name] = text
    return out


def drop_free_text(df: pd.DataFrame, *, max_chars: int = 80, allowed: Iterable[str] = ()) -> pd.DataFrame:
    """Drop text columns that look like free text (any value longer than ``max_chars`` or a column
    named like a comment), except ``allowed`` ones. A guard against publishing survey comments."""
    allowed = set(allowed)
    drop = []
    for name in df.columns:
        if name in allowed:
            continue
        lowered = str(name).lower()
        if any(word in lowered for word in ("comment", "excerpt", "free_text", "verbatim", "remark")):
            drop.append(name)
            continue
        col = df[name]
        if pd.api.types.is_string_dtype(col) or col.dtype == object:
            lengths = col.dropna().astype(str).str.len()
            if len(lengths) and int(lengths.max()) > max_chars:
                drop.append(name)
    return df.drop(columns=drop)


def publishable_quotes(quotes: pd.DataFrame, *, approved_segment_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Approved fieldwork quotes, redacted again: columns ``segment_id, lcjp_id, code, theme, quote``.

    A quote in which a probable personal name remains after redaction is dropped (fail closed; the clean
    stage has already withheld such quotes and listed them in ``quotes_withheld.csv``).

    ``quotes`` is ``fieldwork_quotes.parquet`` (already approved and redacted by the clean stage).
    When ``approved_segment_ids`` is given, any quote whose segment is not in it is dropped; when
    the table carries an ``approved`` column, only rows marked true are kept.
    """
    columns = ["segment_id", "lcjp_id", "code", "theme", "quote"]
    if quotes is None or quotes.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    text_column = "quote" if "quote" in quotes.columns else None
    if text_column is None:
        raise KeyError(f"fieldwork quotes need a 'quote' column; found {list(quotes.columns)}")
    out = quotes.copy()
    if "approved" in out.columns:
        out = out[out["approved"].fillna(False).astype(bool)]
    if approved_segment_ids is not None:
        allowed = {str(s) for s in approved_segment_ids}
        out = out[out["segment_id"].astype("string").isin(allowed)]
    for name in columns:
        if name not in out.columns:
            out[name] = pd.NA
    out = out[columns].copy()
    out["quote"] = out["quote"].map(redact_text).astype("string")
    withheld = out["quote"].map(lambda q: bool(_rules.probable_names(q))).astype(bool)
    out = out[~withheld & (out["quote"].str.strip().str.len() > 0)]
    return out.sort_values(["lcjp_id", "theme", "segment_id"], ignore_index=True)
