"""What readers see instead of column and model names: the display-label dictionary and number formats.

They live in :mod:`pipeline.report` (every stage's tables go through ``report.table_html``, and the stages that do not
publish must not depend on this package); this module is their name inside ``pipeline.publish``.
"""
from __future__ import annotations

from ..report import (ADJUSTMENT_LABELS, COLUMN_LABELS, MODEL_LABELS, SHARE_COLUMNS, adjustment_label,  # noqa: F401
                      column_label, display_columns, feature_direction, format_interval, format_number, format_p,
                      format_pct, humanise, is_snake_case, model_label, unit_words)
