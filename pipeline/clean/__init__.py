"""The clean stage: raw exports in data/raw -> validated, tidy tables in data/processed.

Pure functions (read only, write nothing; safe to call thousands of times in-process)::

    matcher = AreaMatcher.from_reference()
    result = clean_survey(paths.RAW_SURVEY, matcher, on_unknown_area="error")
    result.clean, result.missing, result.codebook, result.invited, result.quarantine, result.reconciliation

and likewise ``clean_fieldwork``, ``clean_outcomes``, ``clean_covariates``; ``write_result(result, kind)``
writes. ``run_clean(kind, **params)`` does both for the notebook with the project's default folders.
"""
from __future__ import annotations

from pathlib import Path

from .. import paths
from ..areas import AreaMatcher
from .covariates import CovariatesResult, clean_covariates
from .fieldwork import FieldworkResult, clean_fieldwork
from .labels import Synonyms, normalise_label
from .outcomes import OutcomesResult, clean_outcomes
from .periods import parse_period, parse_periods
from .redact import redact, redact_series
from .survey import SurveyResult, clean_survey
from .writer import KINDS, output_paths, write_result

__all__ = ["clean_survey", "clean_fieldwork", "clean_outcomes", "clean_covariates", "write_result", "run_clean",
           "SurveyResult", "FieldworkResult", "OutcomesResult", "CovariatesResult", "Synonyms", "normalise_label",
           "parse_period", "parse_periods", "redact", "redact_series", "KINDS", "output_paths", "clean_kind"]


def clean_kind(kind: str, *, matcher: AreaMatcher | None = None, raw_dir: Path | None = None, **params):
    """Clean one kind from its default raw folder (or ``raw_dir``) with params from its params.yaml group."""
    matcher = matcher or AreaMatcher.from_reference()
    params = {k: v for k, v in params.items() if k != "kind"}
    if kind == "survey":
        return clean_survey(raw_dir or paths.RAW_SURVEY, matcher, **params)
    if kind == "fieldwork":
        return clean_fieldwork(raw_dir or paths.RAW_FIELDWORK, matcher, **params)
    if kind == "outcomes":
        return clean_outcomes(raw_dir or paths.RAW_OUTCOMES, matcher, official_folder=paths.RAW_OUTCOMES_OFFICIAL,
                              **params)
    if kind == "covariates":
        return clean_covariates(raw_dir or paths.RAW_REFERENCE, matcher,
                                official_folder=paths.RAW_REFERENCE_OFFICIAL, **params)
    raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")


def run_clean(kind: str, *, max_quarantine_share: float = 0.02, **params):
    """Clean one kind from data/raw, stop at the quarantine gate (InputError when one reason sets aside more
    than ``max_quarantine_share`` of the rows), write its outputs to data/processed; returns the result."""
    from .quarantine import apply_gate
    result = clean_kind(kind, **params)
    apply_gate(result, kind, max_quarantine_share)
    write_result(result, kind)
    return result
