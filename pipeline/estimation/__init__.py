"""Estimation: do partnership features relate to outcomes? (issue 5).

Public entry points: ``estimate_associations`` (DataFrames in, tidy DataFrame out, no I/O),
``robustness.influence_table`` / ``specification_curve``, ``panel.panel_associations``,
``outputs.combine`` / ``outputs.metrics``. See associations.py and inference.py for the methods.
"""
from .associations import ESTIMATE_COLUMNS, estimate_associations, finish, fit_prepared, prepare

__all__ = ["ESTIMATE_COLUMNS", "estimate_associations", "finish", "fit_prepared", "prepare"]
