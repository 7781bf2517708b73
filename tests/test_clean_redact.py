"""Redaction of e-mail addresses, UK phone numbers and postcodes (reused by the publishing code)."""
from __future__ import annotations

import pandas as pd
import pytest

from pipeline.clean.redact import REDACTED, contains_personal_data, redact, redact_series


@pytest.mark.parametrize("text, secret", [
    ("write to jo.bloggs@kent.pnn.police.uk today", "jo.bloggs@kent.pnn.police.uk"),
    ("mail A.Person+lcjb@example.org.", "A.Person+lcjb@example.org"),
    ("mobile 07700 900123", "07700 900123"),
    ("call 020 7946 0958 please", "020 7946 0958"),
    ("office +44 (0)161 496 0000", "+44 (0)161 496 0000"),
    ("or 0044 1632 960000", "0044 1632 960000"),
    ("ring 01632-960-001", "01632-960-001"),
    ("at SW1A 1AA", "SW1A 1AA"),
    ("postcode m1 1ae here", "m1 1ae"),
    ("CR26XH is ours", "CR26XH"),
    ("near BS1 4DJ.", "BS1 4DJ"),
])
def test_personal_details_are_redacted(text, secret):
    out = redact(text)
    assert secret not in out and REDACTED in out
    assert not contains_personal_data(out)


@pytest.mark.parametrize("text", [
    "In 2015 the board met 12 times and 10% of 1000 trials cracked.",
    "Force E23000001 and financial year 2014/15, quarter 2014 Q3.",
    "Priorities were set in April; Section 17 of the Crime and Disorder Act 1998.",
])
def test_ordinary_text_is_untouched(text):
    assert redact(text) == text


def test_missing_and_series():
    assert redact(None) == "" and redact(float("nan")) == ""
    out = redact_series(pd.Series(["a@b.co", pd.NA, "plain"], dtype="string"))
    assert out.tolist() == [REDACTED, "", "plain"]
