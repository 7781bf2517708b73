"""Disclosure control applied before anything is published.

Three rules (data contract, "Fieldwork" and "Survey"):

1. No figure or table cell built from fewer than ``k_min`` respondents: such values are set to
   missing and the row is marked ``suppressed`` (shown as "suppressed (n < k)").
2. No survey comment ever: report code never reads free-text survey columns, and
   :func:`drop_free_text` removes any that slip into a table.
3. Only approved fieldwork quotes, redacted again here (e-mail addresses, phone numbers,
   postcodes) whatever the clean stage already did.

:func:`find_pii` scans rendered HTML (visible text only) for anything that looks like an e-mail
address, phone number or postcode; tests run it over every report.
"""
from __future__ import annotations

import functools
import html as html_lib
import importlib.util
import re
from collections.abc import Iterable

import pandas as pd

# Count columns recognised by name (the interface names of docs/ARCHITECTURE.md and common variants).
RESPONDENT_COUNT_COLUMNS = ("n_respondents", "n_responses", "responded", "respondents", "n_responded")
SUPPRESSED_LABEL = "suppressed (n < {k})"

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# A UK phone number: +44 or 0, then 9-10 more digits, allowing spaces, hyphens, dots and brackets.
PHONE_RE = re.compile(r"(?<![\w+])(?:\+\s?44[\s.\-]?(?:\(0\)[\s.\-]?)?|\(?0)(?:[\s.\-()]{0,2}\d){8,11}(?!\w)")
# Deliberately wider than the Royal Mail letter rules (pseudo-postcodes such as "ZZ99 3VZ" are used in
# health and justice records and must go too): one or two letters, a digit, an optional letter or digit,
# optional space, a digit and two letters.
POSTCODE_RE = re.compile(r"\b(?:GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})\b", re.IGNORECASE)
REDACTION_MARK = {"email": "[e-mail removed]", "phone": "[phone removed]", "postcode": "[postcode removed]",
                  "name": "[name removed]"}
# A person's name given as a contact ("contact Jo Bloggs", "ask for Sam Smith"): approval of a quote covers
# what was said, not who to ring, so such names go too. Names elsewhere in an approved quote are left to
# the people who approve quotes.
CONTACT_NAME_RE = re.compile(
    r"\b((?i:contact|ask for|speak to|talk to|ring|call|phone|e-?mail|write to)\s+)"
    r"((?:Mr|Mrs|Ms|Miss|Dr)\.?\s+)?[A-Z][a-z'\-]+(?:\s+[A-Z][a-z'\-]+){1,2}\b")


def _phone_digits_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return 10 <= len(digits) <= 13


@functools.lru_cache(maxsize=1)
def _upstream_redactor():
    """The clean stage's redaction function (``pipeline/clean/redact.py``) when present, else None.

    Loaded from its file, not through ``pipeline.clean`` (whose package import pulls in pandera and
    costs seconds per area profile).
    """
    from pathlib import Path
    source = Path(__file__).resolve().parent.parent / "clean" / "redact.py"
    if not source.is_file():
        return None
    try:
        spec = importlib.util.spec_from_file_location("_instep_upstream_redact", source)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception:  # broken upstream module: our own redaction below still runs
        return None
    for name in ("redact_text", "redact"):
        func = getattr(module, name, None)
        if callable(func):
            return func
    return None


def redact_text(text: object) -> str:
    """Text with e-mail addresses, UK phone numbers and postcodes replaced by a marker.

    Applies the clean stage's redaction first when available, then this module's own patterns,
    so a quote is safe even if the processed file was produced by an older clean stage.
    """
    if text is None or (isinstance(text, float) and pd.isna(text)) or text is pd.NA:
        return ""
    out = str(text)
    upstream = _upstream_redactor()
    if upstream is not None:
        try:
            result = upstream(out)
            out = result if isinstance(result, str) else out
        except Exception:
            pass
    out = EMAIL_RE.sub(REDACTION_MARK["email"], out)
    out = PHONE_RE.sub(lambda m: REDACTION_MARK["phone"] if _phone_digits_ok(m.group(0)) else m.group(0), out)
    out = POSTCODE_RE.sub(REDACTION_MARK["postcode"], out)
    out = CONTACT_NAME_RE.sub(_redact_contact_name, out)
    return out


def _redact_contact_name(match: re.Match) -> str:
    return match.group(1) + REDACTION_MARK["name"]


def visible_text(page_html: str) -> str:
    """The text a reader sees in an HTML page: no styles, scripts, tags or embedded data URIs."""
    text = re.sub(r"(?is)<(style|script)\b.*?</\1>", " ", page_html)
    text = re.sub(r"data:[\w/+.\-]+;base64,[A-Za-z0-9+/=\s]+", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return html_lib.unescape(text)


def find_pii(text: str, *, is_html: bool = True) -> pd.DataFrame:
    """Everything in ``text`` that looks like an e-mail address, phone number or postcode.

    Columns: ``kind, match, position``. For HTML only the visible text is scanned.
    """
    body = visible_text(text) if is_html else text
    rows = []
    for kind, pattern in (("email", EMAIL_RE), ("phone", PHONE_RE), ("postcode", POSTCODE_RE)):
        for m in pattern.finditer(body):
            if kind == "phone" and not _phone_digits_ok(m.group(0)):
                continue
            rows.append({"kind": kind, "match": m.group(0), "position": m.start()})
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
    out = out[out["quote"].str.strip().str.len() > 0]
    return out.sort_values(["lcjp_id", "theme", "segment_id"], ignore_index=True)
