"""Estimation: do partnership features relate to outcomes? (issue 5). See associations.py."""
from .associations import ESTIMATE_COLUMNS, estimate_associations, fit_prepared, finish, prepare

__all__ = ["ESTIMATE_COLUMNS", "estimate_associations", "fit_prepared", "finish", "prepare"]
