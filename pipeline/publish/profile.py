"""Tables behind an area profile (reports/areas/<lcjp_id>.html). Lean: pandas and numpy only."""
from __future__ import annotations

import numpy as np
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


# --- What a manager needs first (issue 15): at a glance, tiers, notes that lead with what matters ----------------

TIER_WORDS = {"higher": "higher than the national median", "similar": "similar to the national median",
              "lower": "lower than the national median"}


def survey_period(survey: pd.DataFrame | None, area_id: str) -> str:
    """When this area's members answered ('September to October 2015'); '' when unknown."""
    if survey is None or survey.empty or "submitted_at" not in survey.columns:
        return ""
    dates = pd.to_datetime(survey.loc[survey["lcjp_id"] == area_id, "submitted_at"], errors="coerce").dropna()
    if dates.empty:
        return ""
    first, last = dates.min(), dates.max()
    a, b = first.strftime("%B %Y"), last.strftime("%B %Y")
    if a == b:
        return a
    if first.year == last.year:
        return f"{first.strftime('%B')} to {b}"
    return f"{a} to {b}"


def score_tiers(published: pd.DataFrame, area_id: str) -> pd.DataFrame:
    """Per feature: the area's tier against the national median from its own 95% score interval (higher: the
    whole interval above the median of all areas' published scores; lower: below; else similar). Columns
    ``feature, national_mean, tier`` (``national_mean`` holds that median: the figure the tier compares with)."""
    rows = []
    for feature, group in published.groupby("feature", sort=True):
        mean = pd.to_numeric(group["score"], errors="coerce").median()
        own = group[group["lcjp_id"] == area_id]
        tier = pd.NA
        if len(own) and pd.notna(own["score"].iloc[0]) and pd.notna(own["ci_low"].iloc[0]):
            lo, hi = float(own["ci_low"].iloc[0]), float(own["ci_high"].iloc[0])
            tier = "higher" if lo > mean else ("lower" if hi < mean else "similar")
        rows.append({"feature": feature, "national_mean": mean, "tier": tier})
    return pd.DataFrame(rows, columns=["feature", "national_mean", "tier"])


def rank_intervals(area_ranks: pd.DataFrame | None, area_id: str) -> pd.DataFrame:
    """The features stage's rank intervals for the area (``area_ranks.csv``): ``feature, rank_interval, tier``;
    empty when the file is not in this build."""
    cols = ["feature", "rank_interval", "ranks_tier"]
    if area_ranks is None or area_ranks.empty:
        return pd.DataFrame(columns=cols)
    own = area_ranks[area_ranks["lcjp_id"] == area_id]
    if "level" in own.columns and own["level"].notna().any():
        own = own[own["level"] == own["level"].dropna().iloc[0]]
    out = pd.DataFrame({
        "feature": own["feature"].astype(str),
        "rank_interval": [f"{int(lo)} to {int(hi)} of {int(n)}" if pd.notna(lo) and pd.notna(hi) else ""
                          for lo, hi, n in zip(own["rank_low"], own["rank_high"], own["n_areas"])],
        "ranks_tier": own["tier"].astype("string") if "tier" in own.columns else pd.NA})
    return out.reset_index(drop=True)


def standout_points(table: pd.DataFrame, max_points: int = 3) -> list[str]:
    """The two or three things that stand out: features whose interval lies wholly above or below the national
    average, furthest first, each with its interval; one sentence when none does."""
    from .labels import format_interval, format_number, humanise
    marked = table[table["tier"].isin(["higher", "lower"])].copy()
    if marked.empty:
        return ["No feature score differs clearly from the national median: every interval includes it."]
    marked["gap"] = (marked["score"].astype(float) - marked["national_mean"].astype(float)).abs()
    points = []
    for r in marked.sort_values(["gap", "feature"], ascending=[False, True]).head(max_points).itertuples(index=False):
        rank = f"; rank {r.rank_interval}" if isinstance(getattr(r, "rank_interval", ""), str) and r.rank_interval else ""
        points.append(f"{humanise(r.feature)}: {format_number(r.score)} (95% interval "
                      f"{format_interval(r.ci_low, r.ci_high)}), {TIER_WORDS[r.tier]} of "
                      f"{format_number(r.national_mean)}{rank}.")
    return points


def agency_response_table(matrix: pd.DataFrame | None, area_id: str, k_min: int) -> tuple[pd.DataFrame, str]:
    """Response by agency, never a table that is all suppressed: by agency when every shown row has at least
    ``k_min`` respondents or none; else collapsed to core and other agencies; else one sentence. Returns
    (table, sentence) with one of them empty."""
    from .labels import format_pct, humanise
    if matrix is None or matrix.empty:
        return pd.DataFrame(), "No response-by-agency table is available for this build."
    own = matrix[matrix["lcjp_id"] == area_id].copy()
    own["n_respondents"] = pd.to_numeric(own["n_respondents"], errors="coerce").fillna(0)
    own["n_invited"] = pd.to_numeric(own["n_invited"], errors="coerce")
    answered = own[own["n_respondents"] > 0]
    def shape(groups: pd.DataFrame, name: str) -> pd.DataFrame:
        rate = groups["n_respondents"] / groups["n_invited"].where(groups["n_invited"] > 0)
        return pd.DataFrame({"agency": groups[name], "n_respondents": groups["n_respondents"].astype(int).astype(str),
                             "n_invited": groups["n_invited"].map(lambda v: "" if pd.isna(v) else f"{int(v)}"),
                             "response_rate": rate.map(format_pct)})
    if not answered.empty and (answered["n_respondents"] >= k_min).all():
        return shape(answered.assign(agency=answered["agency"].map(humanise)), "agency").reset_index(drop=True), ""
    core = own.get("is_core", pd.Series(False, index=own.index)).astype(str).str.lower().isin(["true", "1"])
    groups = (own.assign(group=np.where(core, "Core agencies", "Other agencies"))
              .groupby("group", sort=True)[["n_respondents", "n_invited"]].sum(min_count=1).reset_index())
    if (groups["n_respondents"] >= k_min).all():
        return shape(groups, "group"), ""
    total = int(own["n_respondents"].sum())
    return pd.DataFrame(), (f"{total} members answered in all; split by agency, or even into core and other "
                            f"agencies, some groups would rest on fewer than {k_min} respondents, so no breakdown "
                            "is published.")


def lead_quality_notes(response_row: pd.Series | None, feature_table: pd.DataFrame, k_min: int, *,
                       rwg_min: float, low_response: float, few_respondents: int) -> list[str]:
    """Data-quality notes, what matters most first, each said once: missing core agencies, low response, few
    respondents, low agreement, suppressed scores, the widest interval."""
    from .labels import format_pct, humanise
    notes: list[str] = []
    if response_row is not None:
        missing = response_row.get("core_agencies_missing")
        if isinstance(missing, str) and missing.strip():
            names = [humanise(m) if "_" in m else m.upper() if len(m) <= 4 else m for m in missing.split(";") if m]
            notes.append(f"No respondent from these core agencies: {', '.join(names)}. Scores describe the "
                         "partnership as the other members see it.")
        rate = pd.to_numeric(pd.Series([response_row.get("response_rate")]), errors="coerce").iloc[0]
        n = pd.to_numeric(pd.Series([response_row.get("n_respondents")]), errors="coerce").iloc[0]
        if pd.notna(rate) and rate < low_response:
            notes.append(f"Low response: {format_pct(rate)} of those invited answered (below {format_pct(low_response)}).")
        if pd.notna(n) and n < few_respondents:
            notes.append(f"Few respondents: {int(n)} in all, so every score here is imprecise.")
    low = feature_table[(pd.to_numeric(feature_table["rwg_j"], errors="coerce") < rwg_min).fillna(False)]["feature"]
    if len(low):
        notes.append(f"Members disagreed more than usual (agreement rwg(J) below {rwg_min:.2f}) on "
                     f"{', '.join(humanise(f).lower() for f in low)}: the average hides real disagreement.")
    hidden = feature_table.loc[feature_table["suppressed"], "feature"].tolist()
    if hidden:
        notes.append(f"Not published (fewer than {k_min} respondents): {', '.join(humanise(f).lower() for f in hidden)}.")
    width = (feature_table["ci_high"] - feature_table["ci_low"]).astype("Float64")
    if width.notna().any():
        i = width.idxmax()
        notes.append(f"Widest interval: {humanise(feature_table.loc[i, 'feature']).lower()} ({float(width[i]):.2f} "
                     "points on the 1-5 scale); differences between areas smaller than that cannot be told apart.")
    return notes


def peer_note(peer_table: pd.DataFrame, *, close: float = 1.0) -> str:
    """A sentence when no computed peer is close on the covariates (nearest distance above ``close`` SD)."""
    computed = peer_table[peer_table["chosen_by"].astype(str) != "params"] if "chosen_by" in peer_table.columns else peer_table
    d = pd.to_numeric(computed.get("distance"), errors="coerce").dropna() if len(computed) else pd.Series(dtype=float)
    if d.empty or d.min() <= close:
        return ""
    return (f"No area is close to this one on the covariates: even the most similar is {d.min():.1f} standard "
            f"deviations away on average (closer than {close:.1f} would count as similar), so read the comparison "
            "with similar areas loosely.")


def multi_force_note(forces: pd.DataFrame, area_id: str) -> str:
    """For a partnership covering more than one police force (London): which, and how figures are combined."""
    own = forces[forces["lcjp_id"] == area_id]
    if len(own) < 2:
        return ""
    names = own.sort_values("population_2011", ascending=False)["pfa_name"].astype(str).tolist() \
        if "population_2011" in own.columns else own["pfa_name"].astype(str).tolist()
    return (f"This partnership covers {len(own)} police force areas ({', '.join(names)}). Outcome figures published "
            "per force are combined for the partnership, and its survey answers are pooled; indicators that only "
            "this area has (covering several forces) are set aside in the national models.")
