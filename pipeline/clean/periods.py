"""Period labels -> period_start, period_label, period_type, year.

Accepted forms (spacing and case free; an optional ``FY`` prefix on financial years):
``2014`` calendar year; ``2014/15``, ``2014-15``, ``2014/2015`` financial year starting 1 April
(``year`` = the calendar year it starts in); ``2014 Q3``, ``2014Q3``, ``2014-Q3``, ``Q3 2014``
calendar quarter. Anything else is unparseable (``period_problem`` says why).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

_CALENDAR = re.compile(r"^(\d{4})(?:\.0+)?$")
_FINANCIAL = re.compile(r"^(?:fy\s*)?(\d{4})\s*[/-]\s*(\d{2}|\d{4})$")
_QUARTER = re.compile(r"^(?:(\d{4})\s*[-/ ]?\s*q([1-4])|q([1-4])\s*[-/ ]?\s*(\d{4}))$")
COLUMNS = ["period_start", "period_label", "period_type", "year", "period_problem"]


def parse_period(text: object) -> tuple:
    """(period_start, period_label, period_type, year, problem) for one label."""
    raw = "" if text is None or text is pd.NA else str(text)
    value = re.sub(r"\s+", " ", raw.strip().lower())
    if not value:
        return (pd.NaT, None, None, None, "period is blank")
    if m := _CALENDAR.match(value):
        year = int(m.group(1))
        return (pd.Timestamp(year, 1, 1), str(year), "calendar_year", year, None)
    if m := _FINANCIAL.match(value):
        year, end = int(m.group(1)), m.group(2)
        end_year = int(end) if len(end) == 4 else (year // 100) * 100 + int(end)
        if len(end) == 2 and end_year < year:
            end_year += 100
        if end_year != year + 1:
            return (pd.NaT, None, None, None, f"period '{raw}' is not a financial year (the second year must "
                    "follow the first, e.g. 2014/15)")
        return (pd.Timestamp(year, 4, 1), f"{year}/{str(year + 1)[-2:]}", "financial_year", year, None)
    if m := _QUARTER.match(value):
        year = int(m.group(1) or m.group(4))
        quarter = int(m.group(2) or m.group(3))
        return (pd.Timestamp(year, 3 * quarter - 2, 1), f"{year} Q{quarter}", "quarter", year, None)
    return (pd.NaT, None, None, None, f"unparseable period '{raw}': use 2014 (calendar year), 2014/15 or "
            "2014-15 (financial year from 1 April) or 2014 Q3 (calendar quarter)")


def parse_periods(values: pd.Series) -> pd.DataFrame:
    """Vectorised over unique labels: columns ``period_start, period_label, period_type, year, period_problem``.

    Each distinct label is parsed (and its start converted to a datetime) once; the rows then take
    their label's values by position (a file has thousands of rows but a few dozen labels).
    """
    codes, uniques = pd.factorize(values.astype("object"))  # each label parsed once; missing -> code -1
    parsed = [parse_period(v) for v in uniques] + [parse_period(pd.NA)]  # code -1 takes the last (blank) entry
    columns = {name: np.asarray([p[i] for p in parsed], dtype=object) for i, name in enumerate(COLUMNS)}
    starts = pd.to_datetime(pd.Series(columns["period_start"], dtype=object)).astype("datetime64[us]")
    out = pd.DataFrame({"period_start": starts.to_numpy()[codes]}, index=values.index)
    for column in ("period_label", "period_type"):
        out[column] = pd.array(columns[column][codes], dtype="string")
    out["year"] = pd.Series(columns["year"][codes], index=values.index, dtype=object).astype("Int64")
    out["period_problem"] = pd.array(columns["period_problem"][codes], dtype="string")
    return out[COLUMNS]
