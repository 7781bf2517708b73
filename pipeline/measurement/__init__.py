"""Measurement: from survey respondents and fieldwork to partnership-area features (features stage).

Public, I/O-free functions (the notebook 02_features reads and writes the files):

- ``area_features(survey_clean, codebook, *, method='adjusted'|'raw', engine='fast'|'statsmodels', ...)``
  -> ``area_features.csv``: one row per area x feature with ``lcjp_id, feature, score, ci_low, ci_high,
  raw_mean, n_respondents, n_agencies, rwg_j, rwg_j_skewed, alpha, omega, icc1, icc2, aggregation_ok,
  decision`` and more (``aggregation.AREA_FEATURE_COLUMNS``).
- ``feature_quality(survey_clean, codebook, ...)`` -> ``feature_quality.csv``: one row per feature.
- ``area_scores(...)`` scores only (cheapest; for the simulation study), ``respondent_scores(...)``.
- ``scale_reliability``, ``cronbach_alpha``, ``mcdonald_omega``; ``area_agreement``, ``rwg_j``, ``icc_oneway``.
- ``response_matrix``, ``response_rates``; ``intercoder_reliability``, ``cohens_kappa``,
  ``fieldwork_themes``, ``board_attendance``; ``mice_sensitivity`` (item missingness, MICE).

``decision`` values (one per feature, repeated on every area row; the estimate stage skips 'dropped'):
  ``'kept'`` passes the measurement gate (``gate_passed``: alpha >= alpha_min, agreement beyond random groups
  of the same sizes, ICC(1) >= icc1_min, REML area variance > 0; ``gate_reason`` says why or why not);
  ``'kept with warning'`` fails it and params ``features.on_fail = keep_with_warning`` (its results are then
  exploratory in the estimate stage); ``'dropped'`` fails it and ``on_fail = drop``. Mean rwg(J) against
  ``rwg_min`` (``passes_rwg``) is descriptive only.
``aggregation_ok`` (per row) is area-level: the area has n_respondents >= min_respondents and rwg(J) >= rwg_min
(independent of the feature verdict, which is ``decision`` / ``feature_passes``).
"""
from .aggregation import (AREA_FEATURE_COLUMNS, DECISIONS, QUALITY_COLUMNS, area_features, area_scores, decide,
                          feature_quality)
from .agreement import area_agreement, feature_icc, icc_oneway, rwg_j, uniform_null_variance
from .fieldwork import board_attendance, cohens_kappa, fieldwork_themes, intercoder_reliability
from .items import feature_items, respondent_scores
from .missing import mice_sensitivity
from .reliability import cronbach_alpha, mcdonald_omega, scale_reliability
from .response import response_matrix, response_rates

__all__ = [
    "AREA_FEATURE_COLUMNS", "DECISIONS", "QUALITY_COLUMNS", "area_features", "area_scores", "decide",
    "feature_quality", "area_agreement", "feature_icc", "icc_oneway", "rwg_j", "uniform_null_variance",
    "board_attendance", "cohens_kappa", "fieldwork_themes", "intercoder_reliability", "feature_items",
    "respondent_scores", "cronbach_alpha", "mcdonald_omega", "scale_reliability", "response_matrix",
    "response_rates", "mice_sensitivity",
]
