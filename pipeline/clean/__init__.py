"""The clean stage: raw exports in data/raw -> validated, tidy tables in data/processed.

Pure functions (read only, write nothing; safe to call thousands of times in-process)::

    matcher = AreaMatcher.from_reference()
    result = clean_survey(paths.RAW_SURVEY, matcher, on_unknown_area="error")
    result.clean, result.missing, result.codebook, result.invited, result.quarantine, result.reconciliation

and likewise ``clean_fieldwork``, ``clean_outcomes``, ``clean_covariates``; ``write_result(result, kind)``
writes. ``run_clean(kind, **params)`` does both for the notebook with the project's default folders.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotation only; the module is imported where it is used
    from ..areas import AreaMatcher

# name -> submodule: imported on first use (PEP 562), so `import pipeline.clean.periods` or `from pipeline.clean
# import summary` loads only what it needs, not every reader and the official-statistics adapters
_EXPORTS = {
    "clean_survey": "survey", "SurveyResult": "survey",
    "clean_fieldwork": "fieldwork", "FieldworkResult": "fieldwork",
    "clean_outcomes": "outcomes", "OutcomesResult": "outcomes",
    "clean_covariates": "covariates", "CovariatesResult": "covariates",
    "Synonyms": "labels", "normalise_label": "labels",
    "parse_period": "periods", "parse_periods": "periods",
    "redact": "redact", "redact_series": "redact",
    "KINDS": "writer", "output_paths": "writer", "write_result": "writer",
}

__all__ = [*_EXPORTS, "run_clean", "clean_kind"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def clean_kind(kind: str, *, matcher: "AreaMatcher | None" = None, raw_dir: Path | None = None, **params):
    """Clean one kind from its default raw folder (or ``raw_dir``) with params from its params.yaml group."""
    from .. import paths
    from ..areas import AreaMatcher
    from .covariates import clean_covariates
    from .fieldwork import clean_fieldwork
    from .outcomes import clean_outcomes
    from .survey import clean_survey
    from .writer import KINDS
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
    from .writer import write_result
    result = clean_kind(kind, **params)
    apply_gate(result, kind, max_quarantine_share)
    write_result(result, kind)
    return result
