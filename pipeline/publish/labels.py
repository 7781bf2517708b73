"""What readers see instead of column and model names: one display-label dictionary and the number formats.

Every published table goes through :func:`display_columns` (``pipeline.report.table_html`` does it), so a raw
``snake_case`` name reaches a page only if nobody gave it a label *and* it could not be turned into words.
Names of features, outcomes and models are data (codebooks, measures.csv, estimates.csv): :func:`humanise`
turns them into words without knowing them, and :func:`feature_direction` says which way each feature points.
"""
from __future__ import annotations

import math
import re

import pandas as pd

#: column name -> header readers see. Add here, never rename columns in the data.
COLUMN_LABELS: dict[str, str] = {
    "lcjp_id": "Area", "area": "Area", "lcjp_name": "Area", "feature": "Feature", "outcome": "Outcome",
    "outcome_period": "Outcome period", "model": "Model", "family": "Family", "label": "Feature → outcome",
    "estimate": "Estimate", "ci_low": "95% interval, low", "ci_high": "95% interval, high",
    "interval": "95% interval", "ci90": "90% interval", "p_value": "p", "p_adjusted": "Adjusted p",
    "p_text": "p (adjusted, method)", "adjustment": "Adjustment", "mde": "Smallest detectable effect",
    "mde_r": "Smallest detectable partial correlation", "mde_unadjusted": "Smallest detectable effect (unadjusted)",
    "sesoi": "Smallest effect of interest", "verdict": "Verdict", "verdict_reason": "Why",
    "n_areas": "Areas in model", "n": "Rows", "n_items": "Items", "n_respondents": "Respondents",
    "n_invited": "Invited", "response_rate": "Response", "n_agencies": "Agencies",
    "n_agencies_responding": "Agencies responding", "core_coverage": "Core agencies covered",
    "core_agencies_missing": "Core agencies missing", "agency": "Agency", "is_core": "Core agency",
    "alpha": "Cronbach's alpha", "alpha_ci_low": "Alpha, low", "alpha_ci_high": "Alpha, high",
    "omega": "McDonald's omega", "icc1": "ICC(1)", "icc2": "ICC(2)", "rwg_j": "Agreement rwg(J)",
    "rwg_j_median": "Median agreement rwg(J)", "share_rwg_ok": "Areas agreeing (rwg(J) ≥ 0.70)",
    "decision": "Measurement decision", "reason": "Reason", "score": "Score", "national_median": "National median",
    "rank": "Rank", "rank_interval": "Rank (95% interval)", "tier": "Against the national median",
    "n_ranked": "Areas ranked", "direction": "Higher score means", "unit": "Unit", "value": "Value",
    "period_label": "Period", "latest_period": "Latest period", "peer_median": "Median of similar areas",
    "higher_is_better": "Higher is better", "peer": "Similar area", "distance": "Distance (SD)",
    "chosen_by": "Chosen by", "theme": "Theme", "code": "Code", "quote": "Quote", "n_segments": "Coded segments",
    "n_positive": "Positive", "n_neutral": "Neutral", "n_negative": "Negative", "net_valence": "Net valence",
    "share_of_area_segments": "Share of the area's segments", "percentile": "Survey percentile",
    "mean_percentile": "Mean survey percentile", "measure": "Measure", "coders": "Coders",
    "interpretation": "Interpretation", "robustness_value": "Robustness value", "e_value": "E-value",
    "placebo": "Pre-survey placebo", "influential_area": "Most influential area",
    "without_area": "Estimate without it", "respondents_there": "Respondents there",
    "missing_there": "Core agencies missing there", "loo_sign_changes": "Sign changes when one area is dropped",
    "n_specifications": "Specifications", "median_estimate": "Median estimate", "min_estimate": "Smallest",
    "max_estimate": "Largest", "share_positive": "Share positive", "share_significant": "Share with p < 0.05",
    "kind": "Input", "synthetic": "Synthetic", "files_read": "Files read", "rows_read": "Rows read",
    "files_ignored": "Files ignored", "topic": "Topic", "note": "Note", "p_method": "p-value method",
    "ci_method": "Interval method", "estimand": "Estimand", "estimand_label": "Scale",
    "what": "What", "detail": "Detail", "count": "Count", "page": "Page", "finding": "What it found",
    "stage": "Stage", "respondents": "Respondents", "agencies": "Agencies", "code3": "Code", "name": "Area",
    "median_abs_estimate": "Median |estimate|", "n_adjusted_below_05": "Adjusted p < 0.05",
    "median_ci_width": "Median interval width", "reliability": "Reliability", "measurement_gate": "Measurement gate",
}

#: model names that have a plain description (others are humanised).
MODEL_LABELS: dict[str, str] = {
    "ols": "Covariate-adjusted regression",
    "ols_region_fe": "Regression with region fixed effects",
    "ols_crv3_region": "Regression, region-clustered errors (CR3)",
    "panel_placebo_pre": "Panel: pre-survey placebo",
    "panel_twfe_post": "Panel: after the survey (two-way fixed effects)",
    "response_rate_check": "Adjusted for response rate",
}

ADJUSTMENT_LABELS = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg", "bh": "Benjamini-Hochberg",
                     "bonferroni": "Bonferroni", "by": "Benjamini-Yekutieli", "fdr_by": "Benjamini-Yekutieli"}

#: numeric columns shown as percentages when their values are shares in [0, 1].
SHARE_COLUMNS = {"response_rate", "share_rwg_ok", "share_positive", "share_significant", "core_coverage",
                 "share_of_area_segments", "share_rwg_skewed_ok"}

_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def humanise(name: object) -> str:
    """``performance_management`` -> ``Performance management`` (first letter up, underscores to spaces)."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else text


def column_label(name: object) -> str:
    return COLUMN_LABELS.get(str(name), humanise(name))


def model_label(name: object) -> str:
    return MODEL_LABELS.get(str(name), humanise(name))


def adjustment_label(name: object) -> str:
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return "unadjusted"
    return ADJUSTMENT_LABELS.get(str(name).lower(), humanise(name))


def is_snake_case(text: str) -> bool:
    """True if ``text`` contains a raw ``word_word`` name (what no reader should see)."""
    return bool(_SNAKE.search(str(text)))


def display_columns(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its headers as labels."""
    return df.rename(columns={c: column_label(c) for c in df.columns})


def format_p(p: object) -> str:
    """p-values as readers expect: ``< 0.001``, else three decimals; blank when missing."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        return ""
    if math.isnan(value):
        return ""
    if value < 0.001:
        return "< 0.001"
    if value > 0.999:
        return "> 0.999"
    return f"{value:.3f}"


def format_pct(share: object, digits: int = 0) -> str:
    """A share in [0, 1] as a percentage (``0.25`` -> ``25%``); blank when missing."""
    try:
        value = float(share)
    except (TypeError, ValueError):
        return ""
    if math.isnan(value):
        return ""
    return f"{100 * value:.{digits}f}%"


def format_number(value: object, digits: int = 2, *, signed: bool = False) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    if math.isnan(v):
        return ""
    text = f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    return text.replace("-", "−")  # a true minus sign reads better and does not break across lines


def format_interval(low: object, high: object, digits: int = 2) -> str:
    lo, hi = format_number(low, digits), format_number(high, digits)
    return f"{lo} to {hi}" if lo and hi else ""


def unit_words(unit: object) -> str:
    """A measures.csv unit as words after a number: percent -> percentage points."""
    u = "" if unit is None or (isinstance(unit, float) and math.isnan(unit)) else str(unit)
    return {"percent": "percentage points", "days": "days", "ratio": "", "proportion": "(proportion)",
            "score": "points"}.get(u, humanise(u).lower())


def feature_direction(codebook: pd.DataFrame) -> pd.DataFrame:
    """Per feature: which way a higher score points. Columns ``feature, reverse_coded, direction``.

    A feature whose items are *all* reverse-worded in the codebook (e.g. items about barriers) is scored so that a
    higher score means fewer of what the items name; the direction sentence says so.
    """
    rows = []
    if codebook is None or codebook.empty or "feature" not in codebook.columns:
        return pd.DataFrame(columns=["feature", "reverse_coded", "direction"])
    reverse = codebook.get("reverse", pd.Series(False, index=codebook.index))
    reverse = reverse.astype(str).str.lower().isin(["true", "1", "yes"])
    for feature, flags in reverse.groupby(codebook["feature"].astype(str), sort=True):
        words = humanise(feature).lower()
        if flags.all():
            direction = (f"fewer {words} (reverse-coded: every item names a problem, so answers are flipped "
                         "and a higher score is better)")
        elif flags.any():
            direction = (f"stronger {words} ({int(flags.sum())} of {len(flags)} items reverse-worded and "
                         "flipped before scoring)")
        else:
            direction = f"stronger {words} as members rate it"
        rows.append({"feature": feature, "reverse_coded": bool(flags.all()), "direction": direction})
    return pd.DataFrame(rows, columns=["feature", "reverse_coded", "direction"])
