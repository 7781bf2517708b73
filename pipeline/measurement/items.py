"""Codebook -> features -> items, and respondent feature scores.

Every item and feature name comes from the codebook (``survey_codebook.parquet``: ``item, feature,
text, reverse``); nothing here knows the names of the demo questionnaire.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

SURVEY_FILE = "data/processed/survey_clean.parquet"
CODEBOOK_FILE = "data/processed/survey_codebook.parquet"


def feature_items(codebook: pd.DataFrame, survey: pd.DataFrame | None = None, *,
                  codebook_file: str = CODEBOOK_FILE, survey_file: str = SURVEY_FILE) -> dict[str, list[str]]:
    """``{feature: [items in codebook order]}``, features sorted by name.

    Checks the codebook has ``item`` and ``feature`` columns, no item twice, and (when ``survey``
    is given) that every item is a numeric column of the survey.
    """
    for column in ("item", "feature"):
        if column not in codebook.columns:
            raise InputError(codebook_file, f"the codebook has no '{column}' column (columns: "
                             f"{', '.join(map(str, codebook.columns))})",
                             "re-run the clean_survey stage, whose codebook has columns item, feature, text, reverse",
                             column=column)
    book = codebook[["item", "feature"]].astype("string")
    for position, row in enumerate(book.itertuples(index=False)):
        if pd.isna(row.item) or pd.isna(row.feature) or not str(row.item).strip() or not str(row.feature).strip():
            raise InputError(codebook_file, "an item or feature name is blank",
                             "give every codebook row an item and a feature", row=position + 2,
                             column="item" if pd.isna(row.item) else "feature")
    duplicated = book["item"][book["item"].duplicated()]
    if len(duplicated):
        row = int(duplicated.index[0]) + 2
        raise InputError(codebook_file, f"item '{duplicated.iloc[0]}' is listed twice",
                         "keep one codebook row per item", row=row, column="item")
    if survey is not None:
        for item in book["item"]:
            if item not in survey.columns:
                raise InputError(survey_file, f"codebook item '{item}' has no column in the survey",
                                 "re-run clean_survey with the codebook that matches the survey export",
                                 column=str(item))
            if not pd.api.types.is_numeric_dtype(survey[item]):
                raise InputError(survey_file, f"item column '{item}' is not numeric ({survey[item].dtype})",
                                 "item columns must hold the 1-5 codes written by clean_survey", column=str(item))
    out: dict[str, list[str]] = {}
    for item, feature in zip(book["item"], book["feature"]):
        out.setdefault(str(feature), []).append(str(item))
    return {feature: out[feature] for feature in sorted(out)}


def check_survey(survey: pd.DataFrame, *, survey_file: str = SURVEY_FILE, need_agency: bool = True) -> None:
    """The respondent table has the id columns the measurement needs."""
    needed = ["response_id", "lcjp_id"] + (["agency"] if need_agency else [])
    for column in needed:
        if column not in survey.columns:
            raise InputError(survey_file, f"no '{column}' column", "re-run the clean_survey stage", column=column)
    missing_area = survey["lcjp_id"].isna()
    if missing_area.any():
        row = int(np.flatnonzero(missing_area.to_numpy())[0]) + 2
        raise InputError(survey_file, "a response has no lcjp_id", "re-run clean_survey (it maps every area)",
                         row=row, column="lcjp_id")


def respondent_scores(survey: pd.DataFrame, codebook: pd.DataFrame, *, min_items: int = 1) -> pd.DataFrame:
    """One row per respondent x feature: the mean of the respondent's answered items in the feature.

    Columns: ``response_id, lcjp_id, agency, feature, score, n_items_answered, n_items``. Respondents who
    answered fewer than ``min_items`` items of a feature are left out of that feature.
    """
    check_survey(survey)
    groups = feature_items(codebook, survey)
    frames = []
    ids = survey[["response_id", "lcjp_id", "agency"]].astype("string").reset_index(drop=True)
    for feature, items in groups.items():
        values = survey[items].to_numpy(dtype=float)
        answered = (~np.isnan(values)).sum(axis=1)
        with np.errstate(invalid="ignore"):
            score = np.where(answered > 0, np.nansum(values, axis=1) / np.maximum(answered, 1), np.nan)
        frame = ids.copy()
        frame["feature"] = feature
        frame["score"] = score
        frame["n_items_answered"] = answered.astype("int64")
        frame["n_items"] = len(items)
        frames.append(frame[answered >= max(min_items, 1)])
    columns = ["response_id", "lcjp_id", "agency", "feature", "score", "n_items_answered", "n_items"]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "score" else "string") for c in columns})
    out = pd.concat(frames, ignore_index=True)[columns]
    out["feature"] = out["feature"].astype("string")
    return out.sort_values(["feature", "lcjp_id", "response_id"], kind="mergesort").reset_index(drop=True)


def canonical_order(survey: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by area and response id, so results do not depend on input row order (float sums)."""
    keys = [c for c in ("lcjp_id", "response_id") if c in survey.columns]
    order = np.lexsort([survey[c].astype("string").fillna("").to_numpy(dtype=str) for c in reversed(keys)])
    return survey.iloc[order].reset_index(drop=True)
