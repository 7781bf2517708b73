"""Tables behind an area profile (reports/areas/<lcjp_id>.html). Lean: pandas and numpy only."""
from __future__ import annotations

import pandas as pd

from .disclosure import drop_free_text, suppress_small_cells

FEATURE_TABLE_COLUMNS = ["feature", "score", "ci_low", "ci_high", "national_median", "rank", "n_ranked",
                         "n_respondents", "n_agencies", "rwg_j", "decision", "suppressed"]


def area_names(forces: pd.DataFrame) -> dict[str, str]:
    """``lcjp_id`` -> partnership display name from the force reference table."""
    table = forces[["lcjp_id", "lcjp_name"]].drop_duplicates("lcjp_id")
    return dict(zip(table["lcjp_id"].astype(str), table["lcjp_name"].astype(str)))


def published_features(area_features: pd.DataFrame, k_min: int) -> pd.DataFrame:
    """``area_features.csv`` after disclosure control: per-area values from fewer than ``k_min``
    respondents are missing and flagged ``suppressed``; feature-level statistics are kept."""
    feature_level = [c for c in ("alpha", "omega", "icc1", "icc2") if c in area_features.columns]
    return suppress_small_cells(area_features, k_min, count_column="n_respondents", keep_columns=feature_level)


def area_feature_table(published: pd.DataFrame, area_id: str) -> pd.DataFrame:
    """One row per feature for ``area_id``: its score and interval, the national median and its rank
    (1 = highest score) among areas with a published score. Columns: FEATURE_TABLE_COLUMNS."""
    rows = []
    for feature, group in published.groupby("feature", sort=True):
        scores = group["score"].astype(float)
        own = group[group["lcjp_id"] == area_id]
        ranked = group.dropna(subset=["score"]).assign(_s=lambda d: d["score"].astype(float))
        ranks = ranked["_s"].rank(ascending=False, method="min")
        row = {"feature": feature, "national_median": float(scores.median()) if scores.notna().any() else float("nan"),
               "n_ranked": int(len(ranked))}
        if own.empty:
            row.update({"score": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "rank": pd.NA,
                        "n_respondents": pd.NA, "n_agencies": pd.NA, "rwg_j": float("nan"), "decision": "no data",
                        "suppressed": False})
        else:
            r = own.iloc[0]
            own_rank = ranks[ranked["lcjp_id"] == area_id]
            row.update({"score": r["score"], "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high"),
                        "rank": int(own_rank.iloc[0]) if len(own_rank) else pd.NA,
                        "n_respondents": r.get("n_respondents"), "n_agencies": r.get("n_agencies"),
                        "rwg_j": r.get("rwg_j"), "decision": r.get("decision", ""),
                        "suppressed": bool(r.get("suppressed", False))})
        rows.append(row)
    out = pd.DataFrame(rows, columns=FEATURE_TABLE_COLUMNS)
    for name in ("score", "ci_low", "ci_high", "national_median", "rwg_j"):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("Float64")
    for name in ("rank", "n_ranked", "n_respondents", "n_agencies"):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("Int64")
    out["decision"] = out["decision"].astype("string")
    out["suppressed"] = out["suppressed"].astype(bool)
    return out


def area_response(response_rates: pd.DataFrame | None, area_id: str, k_min: int) -> pd.DataFrame:
    """The area's response by agency (suppressing cells under ``k_min`` respondents)."""
    if response_rates is None or response_rates.empty or "lcjp_id" not in response_rates.columns:
        return pd.DataFrame()
    own = response_rates[response_rates["lcjp_id"] == area_id].drop(columns=["lcjp_id"])
    own = drop_free_text(own)
    return suppress_small_cells(own, k_min).reset_index(drop=True)


def area_fieldwork(themes: pd.DataFrame | None, area_id: str) -> pd.DataFrame:
    """Fieldwork theme summary rows of ``area_id`` (empty when the area was not visited)."""
    if themes is None or themes.empty or "lcjp_id" not in themes.columns:
        return pd.DataFrame()
    own = themes[themes["lcjp_id"] == area_id].drop(columns=["lcjp_id"])
    return drop_free_text(own).reset_index(drop=True)


def quality_notes(feature_table: pd.DataFrame, response: pd.DataFrame, k_min: int,
                  rwg_min: float = 0.7) -> pd.DataFrame:
    """Plain-language data-quality notes for the area: columns ``topic, note``."""
    notes = []
    suppressed = feature_table.loc[feature_table["suppressed"], "feature"].tolist()
    if suppressed:
        notes.append(("disclosure", f"Scores for {', '.join(suppressed)} rest on fewer than {k_min} respondents "
                                    "and are not published."))
    low_agreement = feature_table[(feature_table["rwg_j"].astype("Float64") < rwg_min).fillna(False)]["feature"].tolist()
    if low_agreement:
        notes.append(("agreement", f"Respondents in this area agreed less than the usual floor (rwg(J) < {rwg_min}) "
                                   f"on {', '.join(low_agreement)}: the area score hides real disagreement."))
    not_aggregated = feature_table[~feature_table["decision"].fillna("").str.lower().isin(["", "kept", "aggregate", "no data"])]
    for row in not_aggregated.itertuples(index=False):
        notes.append(("aggregation", f"{row.feature}: measurement decision '{row.decision}'."))
    wide = feature_table.assign(width=(feature_table["ci_high"] - feature_table["ci_low"]).astype("Float64"))
    if wide["width"].notna().any():
        widest = wide.sort_values("width", ascending=False).iloc[0]
        notes.append(("precision", f"Widest interval: {widest['feature']} ({float(widest['width']):.2f} points on the "
                                   "1-5 scale); differences between areas smaller than that are not distinguishable."))
    if not response.empty:
        count_col = next((c for c in ("n_respondents", "responded", "n_responses") if c in response.columns), None)
        invited_col = next((c for c in ("n_invited", "invited") if c in response.columns), None)
        if count_col and invited_col:
            responded = pd.to_numeric(response[count_col], errors="coerce")
            invited = pd.to_numeric(response[invited_col], errors="coerce")
            missing_agencies = response.loc[(responded == 0).fillna(False), "agency"].astype(str).tolist() \
                if "agency" in response.columns else []
            if missing_agencies:
                notes.append(("response", "No response from: " + ", ".join(missing_agencies) + "."))
            if invited.sum() > 0 and responded.notna().all():
                notes.append(("response", f"Overall response {responded.sum():.0f} of {invited.sum():.0f} invited "
                                          f"({responded.sum() / invited.sum():.0%})."))
    if not notes:
        notes.append(("none", "No data-quality concern flagged for this area."))
    return pd.DataFrame(notes, columns=["topic", "note"])
