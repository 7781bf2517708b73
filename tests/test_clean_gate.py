"""The quarantine gate and the set-aside table (pipeline.clean.quarantine), and the clean page's sentences."""
from __future__ import annotations

import pandas as pd
import pytest

from pipeline.areas import AreaMatcher
from pipeline.clean import summary
from pipeline.clean.labels import Synonyms
from pipeline.clean.quarantine import SUPERSEDED, check_gate, reason_kind, set_aside_table
from pipeline.errors import InputError


def quarantine(rows):
    return pd.DataFrame(rows, columns=["source_file", "row_number", "column", "reason", "agency", "area"])


Q = quarantine([
    ("s/a.csv", 2, "agency", "unknown agency 'Victim Support': add the spelling to x", "Victim Support", "Kent"),
    ("s/a.csv", 3, "area; agency", "unknown area 'Kentt'; closest known names: Kent. Fix: use a known name; "
     "unknown agency 'Witness Care': add the spelling to x", "Witness Care", "Kentt"),
    ("s/a.csv", 4, "response_id", "superseded by resubmission in s/b.csv row 9 (kept the latest submitted_at)",
     "Police", "Kent"),
    ("s/a.csv", 5, "response_id", "duplicate response_id 'r007' within this file (first at row 3)", "Police", "Kent"),
])
MANIFEST = {"files": [{"path": "s/a.csv", "type": "responses", "rows": 100}, {"path": "s/b.csv", "type": "responses",
                                                                              "rows": 100}]}


@pytest.fixture(scope="module")
def table():
    return set_aside_table(Q, synonyms=Synonyms.load(), matcher=AreaMatcher.from_reference())


def test_reason_kinds():
    assert reason_kind("unknown agency 'X': add") == "unknown agency"
    assert reason_kind("unknown or blank agency '': add") == "unknown agency"
    assert reason_kind("superseded by resubmission in f row 2") == SUPERSEDED
    assert reason_kind("duplicate response_id 'r1' within this file (first at row 3)") == \
        "duplicate response_id within this file"
    assert reason_kind("meeting_date '31/02/2015' is not a date: use 2015-03-31") == "meeting_date is not a date"


def test_set_aside_table_counts_and_fixes(table):
    by_kind = table.set_index("reason_kind")
    assert by_kind.loc["unknown agency", "rows"] == 2  # a row with two problems counts under each
    assert "agency,Victim Support,<" in by_kind.loc["unknown agency", "fix"]
    assert "agency,Witness Care,<" in by_kind.loc["unknown agency", "fix"]
    assert "area_aliases.csv: Kentt,E23000032" in by_kind.loc["unknown area", "fix"]
    assert by_kind.loc[SUPERSEDED, "fix"].startswith("none needed")
    assert "r007" not in by_kind.loc["duplicate response_id within this file", "example_reason"]  # masked
    assert list(table.columns) == ["source_file", "reason_kind", "rows", "example_reason", "fix"]


def test_gate_threshold_per_reason_kind(table):
    check_gate(table, MANIFEST, 0.01, "survey")  # 2 of 200 = 1 %: at the share, passes
    with pytest.raises(InputError) as caught:
        check_gate(table, MANIFEST, 0.004, "survey")  # 1 area row = 0.5 % also crosses
    message = str(caught.value)
    assert "unknown agency: 2 of 200 responses rows (1.0%)" in message and "unknown area: 1 of 200" in message
    assert "agency,Victim Support,<" in message and "area_aliases.csv: Kentt,E23000032" in message
    assert SUPERSEDED not in message  # superseded resubmissions never count toward the gate
    with pytest.raises(InputError, match="between 0 and 1"):
        check_gate(table, MANIFEST, -0.1, "survey")


def test_clean_page_sentences(table):
    assert "set aside for a problem in the data" in summary.set_aside_sentence(table, 0.02)
    assert "1 superseded resubmission" in summary.set_aside_sentence(table, 0.02)
    only_superseded = table[table["reason_kind"] == SUPERSEDED]
    assert summary.set_aside_sentence(only_superseded, 0.02).startswith("**Nothing was set aside")
    assert list(summary.set_aside_display(table).columns) == ["File", "Reason", "Rows", "Example", "How to fix"]
