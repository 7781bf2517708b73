"""Fieldwork quotes as published: redacted, then cleared of redaction debris.

A sentence that needed redaction ("Contact [name removed] on [redacted] for details") tells a reader nothing
but that something was removed, so the whole sentence goes; a quote with nothing left is withheld.

ONE call site for the redaction rules: :func:`redact`. It calls ``pipeline.publish.disclosure.redact_text`` today;
the integrator repoints it at ``pipeline.disclosure.redact_text`` (h-safety) when that module lands.
"""
from __future__ import annotations

import re

import pandas as pd

#: markers any redaction step leaves: "[redacted]", "[name removed]", "[e-mail removed]", ...
MARKER_RE = re.compile(r"\[(?:redacted|[a-z\- ]*removed|withheld)[^\]]*\]", re.IGNORECASE)
_SENTENCE_RE = re.compile(r"(?<=[.!?;])\s+")


def redact(text: str) -> tuple[str, list[str]]:
    """The redaction rules (single call site) -> (text, names the rules think are people's names)."""
    from . import disclosure
    out = disclosure.redact_text(text)
    names: list[str] = []
    try:  # h-safety's module, when present
        from .. import disclosure as shared  # type: ignore[attr-defined]
        names = list(shared.probable_names(out))
    except (ImportError, AttributeError):
        pass
    return out, names


def without_debris(text: str) -> str:
    """Drop every sentence that carries a redaction marker; '' when none is left. A lead-in such as
    'Asked about the board:' is kept only with the sentence it introduces."""
    sentences = [s for s in _SENTENCE_RE.split(str(text).strip()) if s]
    kept = [s for s in sentences if not MARKER_RE.search(s)]
    out = " ".join(kept).strip()
    if out.endswith(";"):
        out = out[:-1] + "."
    return "" if re.fullmatch(r"[^:]*:\s*", out or ":") else out


def publishable(quotes: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Approved quotes, redacted and without debris (or names): the table and how many were withheld here."""
    from .disclosure import publishable_quotes
    table = publishable_quotes(quotes)
    shown, withheld = [], 0
    for text in table["quote"].astype(str):
        out, names = redact(text)
        out = without_debris(out)
        if names and any(n in out for n in names):
            out = ""
        shown.append(out)
        withheld += out == ""
    table = table.assign(quote=pd.Series(shown, index=table.index, dtype="string"))
    return table[table["quote"].str.len() > 0].reset_index(drop=True), int(withheld)
