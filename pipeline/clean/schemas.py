"""The contract's fixed columns per input file type, the canonical label sets, and pandera schemas
for every processed table (validated before writing).

Only *column names and canonical category sets fixed by the data contract / ARCHITECTURE.md* live
here; item, measure, variable and area names always come from the data.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandera.pandas as pa

# Canonical sets fixed by docs/ARCHITECTURE.md (downstream stages rely on them).
CANONICAL_AGENCIES = ("police", "cps", "courts", "probation", "prisons", "youth_offending", "pcc",
                      "local_authority", "voluntary", "health", "other")
CANONICAL_ROLES = ("chair", "board_member", "officer_support", "other")
SOURCE_TYPES = ("interview", "focus_group", "document", "observation")
PERIOD_TYPES = ("calendar_year", "financial_year", "quarter")

# Survey columns that are not questionnaire items: every other column of a response file is an item.
SURVEY_FIXED_COLUMNS = ("response_id", "submitted_at", "area", "agency", "role",
                        "meetings_per_year", "members", "comments")


@dataclass(frozen=True)
class FileType:
    """One kind of CSV inside a raw folder, recognised by its header (never by its file name).

    ``signature`` identifies the type; ``required`` must then all be present (else an InputError
    naming the missing columns); ``optional`` are filled with blanks when absent.
    """
    name: str
    signature: frozenset
    required: tuple
    optional: tuple = ()
    min_rows: int = 0  # reference tables (codebooks, measures) must not be empty
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "signature", frozenset(self.signature))


SURVEY_TYPES = (
    FileType("responses", {"response_id"}, ("response_id", "submitted_at", "area", "agency", "role"),
             ("meetings_per_year", "members", "comments"), description="survey responses"),
    FileType("codebook", {"item", "feature"}, ("item", "feature", "reverse"), ("text",), min_rows=1,
             description="survey codebook (item, feature, text, reverse)"),
    FileType("invited", {"invited"}, ("area", "agency", "invited"), description="members invited per area x agency"),
)
FIELDWORK_TYPES = (
    FileType("coded_segments", {"segment_id", "coder"},
             ("segment_id", "area", "source_type", "source_id", "agency", "coder", "code"), ("excerpt",),
             description="coded fieldwork segments"),
    FileType("codebook", {"code", "theme"}, ("code", "theme", "valence"), ("description",), min_rows=1,
             description="fieldwork codebook (code, theme, description, valence)"),
    FileType("board_meetings", {"meeting_date"}, ("area", "meeting_date", "agency", "attended", "senior"),
             description="board meeting attendance"),
    FileType("approved_quotes", {"segment_id"}, ("segment_id",), description="segments approved for quotation"),
)
OUTCOME_TYPES = (
    FileType("outcomes", {"measure", "period"}, ("area", "period", "measure"),
             ("value", "numerator", "denominator", "source"), description="outcomes, long format"),
    FileType("measures", {"measure", "unit"}, ("measure", "unit", "higher_is_better"), ("description",),
             min_rows=1, description="measure definitions"),
)
COVARIATE_TYPES = (
    FileType("covariates", {"variable", "value", "period"}, ("area", "period", "variable", "value"), ("source",),
             description="covariates, long format"),
)

# ---------------------------------------------------------------------------------------------
# Processed tables (docs/ARCHITECTURE.md). Validated with pandera before writing.

def _s(nullable: bool = False, **kw) -> pa.Column:
    return pa.Column("string", nullable=nullable, **kw)





def _datetime(nullable=False):
    return pa.Column(nullable=nullable, checks=pa.Check(lambda s: s.dtype.kind == "M", element_wise=False,
                                                        error="must be a datetime column"))


def survey_clean_schema(items: list[str]) -> pa.DataFrameSchema:
    cols = {
        "response_id": _s(unique=True), "lcjp_id": _s(), "pfa_code": _s(nullable=True),
        "agency": _s(checks=pa.Check.isin(CANONICAL_AGENCIES)), "role": _s(checks=pa.Check.isin(CANONICAL_ROLES)),
        "submitted_at": _datetime(), "source_file": _s(), "source_row": pa.Column("int64", pa.Check.ge(2)),
        "meetings_per_year": pa.Column("float64", pa.Check.ge(0), nullable=True),
        "members": _s(nullable=True), "n_dont_know": pa.Column("int64", pa.Check.ge(0)),
        "n_skipped": pa.Column("int64", pa.Check.ge(0)), "has_comment": pa.Column(bool),
    }
    for item in items:
        cols[item] = pa.Column("float64", pa.Check.isin([1.0, 2.0, 3.0, 4.0, 5.0]), nullable=True)
    return pa.DataFrameSchema(cols, strict=True, ordered=True)


SURVEY_MISSING = pa.DataFrameSchema({"response_id": _s(), "item": _s(),
                                     "kind": _s(checks=pa.Check.isin(["dont_know", "skipped"]))}, strict=True)
SURVEY_CODEBOOK = pa.DataFrameSchema({"item": _s(unique=True), "feature": _s(), "text": _s(nullable=True),
                                      "reverse": pa.Column(bool)}, strict=True)
INVITED = pa.DataFrameSchema({"lcjp_id": _s(), "agency": _s(checks=pa.Check.isin(CANONICAL_AGENCIES)),
                              "invited": pa.Column("int64", pa.Check.ge(0))}, strict=True,
                             unique=["lcjp_id", "agency"])
FIELDWORK_SEGMENTS = pa.DataFrameSchema({
    "segment_id": _s(), "lcjp_id": _s(), "source_type": _s(checks=pa.Check.isin(SOURCE_TYPES)),
    "source_id": _s(nullable=True), "agency": _s(nullable=True, checks=pa.Check.isin(CANONICAL_AGENCIES)),
    "coder": _s(),
    "code": _s(), "theme": _s(), "valence": pa.Column("int64", pa.Check.isin([-1, 0, 1])),
    "source_file": _s(), "source_row": pa.Column("int64", pa.Check.ge(2)),
}, strict=True, unique=["segment_id", "coder"])
FIELDWORK_CODEBOOK = pa.DataFrameSchema({"code": _s(unique=True), "theme": _s(), "description": _s(nullable=True),
                                         "valence": pa.Column("int64", pa.Check.isin([-1, 0, 1]))}, strict=True)
FIELDWORK_QUOTES = pa.DataFrameSchema({"segment_id": _s(unique=True), "lcjp_id": _s(), "code": _s(),
                                       "theme": _s(), "quote": _s()}, strict=True)
BOARD_MEETINGS = pa.DataFrameSchema({
    "lcjp_id": _s(), "pfa_code": _s(nullable=True), "meeting_date": _datetime(),
    "agency": _s(checks=pa.Check.isin(CANONICAL_AGENCIES)), "attended": pa.Column(bool), "senior": pa.Column(bool),
}, strict=True)
OUTCOMES = pa.DataFrameSchema({
    "lcjp_id": _s(), "period_start": _datetime(), "period_label": _s(),
    "period_type": _s(checks=pa.Check.isin(PERIOD_TYPES)), "year": pa.Column("int64"), "measure": _s(),
    "value": pa.Column("float64", nullable=False), "numerator": pa.Column("float64", nullable=True),
    "denominator": pa.Column("float64", nullable=True), "source": _s(), "combined_from": _s(nullable=True),
}, strict=True, unique=["lcjp_id", "period_label", "measure", "source"])
MEASURES = pa.DataFrameSchema({"measure": _s(unique=True), "description": _s(nullable=True), "unit": _s(),
                               "higher_is_better": pa.Column(bool)}, strict=True)
COVARIATES = pa.DataFrameSchema({
    "lcjp_id": _s(), "period_start": _datetime(), "period_label": _s(),
    "period_type": _s(checks=pa.Check.isin(PERIOD_TYPES)), "year": pa.Column("int64"), "variable": _s(),
    "value": pa.Column("float64"), "source": _s(), "combined_from": _s(nullable=True),
}, strict=True, unique=["lcjp_id", "period_label", "variable", "source"])
QUARANTINE_COLUMNS = ["source_file", "row_number", "column", "reason"]
RECONCILIATION = pa.DataFrameSchema({
    "source_file": _s(unique=True), "rows_read": pa.Column("int64", pa.Check.ge(0)),
    "accepted": pa.Column("int64", pa.Check.ge(0)), "quarantined": pa.Column("int64", pa.Check.ge(0)),
    # outcomes/covariates (see pipeline.clean.sources): rows an official adapter excluded (counted in
    # quarantined) and what the line counts: csv | official file | official adapter output
    "excluded_by_adapter": pa.Column("int64", pa.Check.ge(0), required=False),
    "input": pa.Column("string", pa.Check.isin(["csv", "official file", "official adapter output"]), required=False),
}, strict=True, checks=pa.Check(lambda d: (d["accepted"] + d["quarantined"] == d["rows_read"]).all(),
                                error="accepted + quarantined must equal rows_read"))

OUTPUT_SCHEMAS = {
    "survey_missing.parquet": SURVEY_MISSING, "survey_codebook.parquet": SURVEY_CODEBOOK, "invited.parquet": INVITED,
    "fieldwork_segments.parquet": FIELDWORK_SEGMENTS, "fieldwork_codebook.parquet": FIELDWORK_CODEBOOK,
    "fieldwork_quotes.parquet": FIELDWORK_QUOTES, "board_meetings.parquet": BOARD_MEETINGS,
    "outcomes.parquet": OUTCOMES, "measures.parquet": MEASURES, "covariates.parquet": COVARIATES,
}


def validate_outputs(result) -> None:
    """Validate every processed table of a clean result (and its reconciliation) with pandera.

    Raises ``pandera.errors.SchemaError`` on a violation: that is a bug in pipeline.clean, not bad input.
    """
    for name, frame in result.outputs().items():
        if name == "survey_clean.parquet":
            survey_clean_schema(result.codebook["item"].tolist()).validate(frame)
        else:
            OUTPUT_SCHEMAS[name].validate(frame)
    RECONCILIATION.validate(result.reconciliation)
    missing = [c for c in QUARANTINE_COLUMNS if c not in result.quarantine.columns]
    if missing:
        raise ValueError(f"quarantine table lacks columns {missing}")
