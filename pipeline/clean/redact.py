"""Redaction of personal contact details from free text before anything is published.

E-mail addresses, UK telephone numbers (landline and mobile, national or +44 form, common
spacing/punctuation) and UK postcodes become ``[redacted]``. Used by the clean stage for approved
fieldwork quotes and reusable by the publishing code for any text that reaches a report.
"""
from __future__ import annotations

import re

import pandas as pd

REDACTED = "[redacted]"

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+\s*(?:@|\(at\)|\[at\])\s*[A-Za-z0-9-]+(?:\s*(?:\.|\(dot\)|\[dot\])\s*"
                   r"[A-Za-z0-9-]+)+", re.IGNORECASE)
# +44 / 0044 / 0 followed by 9-10 further digits, allowing spaces, dashes, dots and a bracketed (0) or area code.
PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)\s*44\s*(?:\(0\)\s*)?|\(?0)(?:[\s\-.()]*\d){9,10}(?!\d)")
# UK postcodes: outward code (A9, A99, A9A, AA9, AA99, AA9A) + inward code (9AA); also GIR 0AA.
POSTCODE = re.compile(r"\b(?:GIR\s*0AA|[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
                      r"\s*[0-9][ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE)


def redact(text: object) -> str:
    """``text`` with e-mail addresses, UK phone numbers and UK postcodes replaced by ``[redacted]``."""
    if text is None or text is pd.NA or (isinstance(text, float) and text != text):
        return ""
    value = str(text)
    value = EMAIL.sub(REDACTED, value)
    value = PHONE.sub(REDACTED, value)
    value = POSTCODE.sub(REDACTED, value)
    return value


def redact_series(values: pd.Series) -> pd.Series:
    return values.astype("object").map(redact).astype("string")


def contains_personal_data(text: object) -> bool:
    """True when ``text`` still holds something ``redact`` would remove."""
    value = "" if text is None or text is pd.NA else str(text)
    return bool(EMAIL.search(value) or PHONE.search(value) or POSTCODE.search(value))
