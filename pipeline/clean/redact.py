"""Redaction for the clean stage: a thin user of :mod:`pipeline.disclosure` (the one rule set)."""
from __future__ import annotations

import pandas as pd

from ..disclosure import MARKS, contains_personal_data, probable_names, redact_text

__all__ = ["redact", "redact_series", "contains_personal_data", "probable_names", "MARKS"]


def redact(text: object) -> str:
    """``text`` with contact details and titled or contacted names replaced by markers."""
    return redact_text(text)[0]


def redact_series(values: pd.Series) -> pd.Series:
    return values.astype("object").map(redact).astype("string")
