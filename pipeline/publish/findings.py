"""Tables behind the findings report (reports/findings.html): tidy, with explicit columns.

No feature, outcome or model name is fixed here: they come from ``estimates.csv`` and params.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .disclosure import drop_free_text, suppress_small_cells

HEADLINE_COLUMNS = ["feature", "outcome", "outcome_period", "family", "label", "estimate", "ci_low", "ci_high",
                    "std_estimate", "std_ci_low", "std_ci_high", "p_value", "p_adjusted", "n_areas", "mde", "verdict"]


def inputs_table(manifests: dict[str, dict]) -> pd.DataFrame:
    """What each clean stage read: ``kind, synthetic, files_read, rows_read, files_ignored``."""
    rows = []
    for kind, manifest in sorted(manifests.items()):
        files = manifest.get("files") or manifest.get("read") or []
        ignored = manifest.get("ignored") or []
        rows_read = sum(int(f.get("rows") or 0) for f in files if isinstance(f, dict))
        rows.append({"kind": kind, "synthetic": bool(manifest.get("synthetic")), "files_read": len(files),
                     "rows_read": rows_read, "files_ignored": len(ignored)})
    return pd.DataFrame(rows, columns=["kind", "synthetic", "files_read", "rows_read", "files_ignored"])


def choose_headline_model(estimates: pd.DataFrame, headline_model: str = "auto", primary_model: str | None = None) -> str:
    """The model shown in the forest plot: ``headline_model`` from params; with ``auto`` the estimate
    stage's declared primary model (``primary_model``, from reports/metrics.json) when present in the
    table, else the model with the most rows (ties: first by name)."""
    models = estimates["model"].astype(str)
    if headline_model != "auto":
        if headline_model not in set(models):
            raise ValueError(f"publish.headline_model '{headline_model}' is not among the models in estimates.csv: "
                             f"{sorted(models.unique())}; set it to one of them or to 'auto'")
        return headline_model
    if primary_model and primary_model in set(models):
        return primary_model
    counts = models.value_counts()
    best = counts[counts == counts.max()].index
    return sorted(best)[0]


def headline_table(estimates: pd.DataFrame, model: str) -> pd.DataFrame:
    """One row per feature x outcome (x outcome period) of ``model``, sorted, with a plot label."""
    rows = estimates[estimates["model"].astype(str) == model].copy()
    if "outcome_period" not in rows.columns:
        rows["outcome_period"] = ""
    rows["outcome_period"] = rows["outcome_period"].astype("string").fillna("")
    for name in ("p_adjusted", "mde", "verdict", "n_areas", "family"):
        if name not in rows.columns:
            rows[name] = pd.NA
    # On a common scale (outcome SDs per SD of feature) when the outcome's SD is known, so that outcomes
    # in different units can share one axis.
    sd = pd.to_numeric(rows["sd_outcome"], errors="coerce") if "sd_outcome" in rows.columns else pd.Series(np.nan, index=rows.index)
    for name in ("estimate", "ci_low", "ci_high"):
        rows[f"std_{name}"] = rows[name].astype(float) / sd.where(sd > 0)
    periods = rows["outcome_period"].nunique() > 1
    rows["label"] = (rows["feature"].astype(str) + " → " + rows["outcome"].astype(str)
                     + (" (" + rows["outcome_period"].astype(str) + ")" if periods else ""))
    rows = rows.sort_values(["outcome", "outcome_period", "feature"], ignore_index=True)
    return rows[HEADLINE_COLUMNS]


def significance_counts(headline: pd.DataFrame, alpha: float) -> dict[str, int]:
    """How many associations pass ``alpha`` before and after adjustment."""
    p = pd.to_numeric(headline["p_value"], errors="coerce")
    padj = pd.to_numeric(headline["p_adjusted"], errors="coerce")
    return {"n_tests": int(len(headline)), "n_raw_below_alpha": int((p < alpha).sum()),
            "n_adjusted_below_alpha": int((padj < alpha).sum())}


def mde_table(estimates: pd.DataFrame, model: str) -> pd.DataFrame:
    """Minimal detectable effects per outcome: ``outcome, outcome_period, unit, n_areas, mde, mde_r,
    median_ci_width`` (mde in the outcome's unit per SD of a feature; mde_r as a partial correlation)."""
    rows = estimates[estimates["model"].astype(str) == model].copy()
    if "outcome_period" not in rows.columns:
        rows["outcome_period"] = ""
    if "unit" not in rows.columns:
        rows["unit"] = ""
    rows["ci_width"] = rows["ci_high"].astype(float) - rows["ci_low"].astype(float)
    grouped = rows.groupby(["outcome", "outcome_period"], dropna=False, sort=True)
    out = grouped.agg(unit=("unit", "first"), n_areas=("n_areas", "median"), mde=("mde", "median"),
                      mde_r=("mde_r", "median"), median_ci_width=("ci_width", "median")).reset_index()
    return out[["outcome", "outcome_period", "unit", "n_areas", "mde", "mde_r", "median_ci_width"]]


def robustness_table(headline: pd.DataFrame, estimates: pd.DataFrame, model: str, *, top: int = 10) -> pd.DataFrame:
    """The ``top`` associations with the smallest p-values and their sensitivity figures:
    ``label, estimate, p_adjusted, robustness_value, e_value``."""
    rows = estimates[estimates["model"].astype(str) == model].copy()
    if "outcome_period" not in rows.columns:
        rows["outcome_period"] = ""
    for name in ("robustness_value", "e_value"):
        if name not in rows.columns:
            rows[name] = np.nan
    rows["outcome_period"] = rows["outcome_period"].astype("string").fillna("")
    merged = headline.merge(rows[["feature", "outcome", "outcome_period", "robustness_value", "e_value"]],
                            on=["feature", "outcome", "outcome_period"], how="left")
    merged = merged.sort_values(["p_value", "label"], kind="mergesort").head(top)
    return merged[["label", "estimate", "p_value", "p_adjusted", "robustness_value", "e_value"]].reset_index(drop=True)


def model_agreement(estimates: pd.DataFrame) -> pd.DataFrame:
    """Per model: how many associations, median |estimate|, how many with adjusted p below 0.05 and
    the same sign as the headline model's (columns ``model, n, median_abs_estimate, n_adjusted_below_05``)."""
    data = estimates.copy()
    data["abs_estimate"] = data["estimate"].astype(float).abs()
    data["below"] = pd.to_numeric(data.get("p_adjusted"), errors="coerce") < 0.05
    out = data.groupby("model", sort=True).agg(n=("estimate", "size"), median_abs_estimate=("abs_estimate", "median"),
                                               n_adjusted_below_05=("below", "sum")).reset_index()
    return out


def specification_summary(spec: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Per feature x outcome (x outcome period when given) across specifications: ``feature, outcome,
    [outcome_period,] n_specifications, median_estimate, min_estimate, max_estimate, share_positive,
    share_p_below_alpha``, sorted."""
    keys = [k for k in ("feature", "outcome", "outcome_period") if k in spec.columns]  # never pool periods
    data = spec.copy()
    data["estimate"] = data["estimate"].astype(float)
    data["positive"] = data["estimate"] > 0
    p = pd.to_numeric(data["p_value"], errors="coerce") if "p_value" in data.columns else pd.Series(np.nan, index=data.index)
    data["p_below"] = (p < alpha).where(p.notna())
    out = data.groupby(keys, sort=True).agg(
        n_specifications=("estimate", "size"), median_estimate=("estimate", "median"),
        min_estimate=("estimate", "min"), max_estimate=("estimate", "max"), share_positive=("positive", "mean"),
        share_p_below_alpha=("p_below", "mean")).reset_index()
    return out


def primary_flag(spec: pd.DataFrame) -> pd.Series | None:
    """Boolean Series marking the primary specification, when the table says which one it is."""
    for name in ("primary", "is_primary"):
        if name in spec.columns:
            return spec[name].astype(str).str.lower().isin(["true", "1", "yes"])
    return None


def response_summary(response_rates: pd.DataFrame, k_min: int) -> pd.DataFrame:
    """National summary of area response: ``statistic, value`` (areas, respondents, median and range of
    the response rate, areas under k_min respondents)."""
    data = suppress_small_cells(response_rates, k_min)
    rate = pd.to_numeric(data.get("response_rate"), errors="coerce") if "response_rate" in data.columns else None
    counts = pd.to_numeric(response_rates.get("n_respondents"), errors="coerce") \
        if "n_respondents" in response_rates.columns else None
    rows = [("areas", f"{response_rates['lcjp_id'].nunique()}")]
    if counts is not None:
        rows.append(("respondents (all areas)", f"{counts.sum():.0f}"))
        rows.append((f"areas with fewer than {k_min} respondents", f"{int((counts < k_min).sum())}"))
    if rate is not None and rate.notna().any():
        rows.append(("median response rate", f"{rate.median():.0%}"))
        rows.append(("lowest / highest response rate", f"{rate.min():.0%} / {rate.max():.0%}"))
    return pd.DataFrame(rows, columns=["statistic", "value"])


def triangulation_table(themes: pd.DataFrame, published: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Fieldwork areas: net valence of coded segments (positive minus negative, share of segments) beside
    the area's mean survey score and mean percentile across features. Columns ``lcjp_id, area,
    n_segments, net_valence, mean_score, mean_percentile``."""
    cols = ["lcjp_id", "area", "n_segments", "net_valence", "mean_score", "mean_percentile"]
    if themes is None or themes.empty:
        return pd.DataFrame(columns=cols)
    t = themes.copy()
    t["n_segments"] = pd.to_numeric(t["n_segments"], errors="coerce")
    t["weighted"] = pd.to_numeric(t["net_valence"], errors="coerce") * t["n_segments"]
    valence = t.groupby("lcjp_id", sort=True).agg(n_segments=("n_segments", "sum"), weighted=("weighted", "sum"))
    valence["net_valence"] = valence["weighted"] / valence["n_segments"].where(valence["n_segments"] > 0)
    scores = published.dropna(subset=["score"]).copy()
    scores["score"] = scores["score"].astype(float)
    scores["percentile"] = scores.groupby("feature")["score"].rank(pct=True) * 100
    survey = scores.groupby("lcjp_id").agg(mean_score=("score", "mean"), mean_percentile=("percentile", "mean"))
    out = valence[["n_segments", "net_valence"]].join(survey, how="left").reset_index()
    out["area"] = out["lcjp_id"].map(lambda i: names.get(i, i))
    return out[cols]


def generic_table(df: pd.DataFrame, k_min: int, preferred: list[str] | None = None) -> pd.DataFrame:
    """A processed table ready to publish: free text dropped, small cells suppressed, and, when
    ``preferred`` columns are present, only those (in that order)."""
    data = drop_free_text(df, allowed=("reason", "reliability_note", "interpretation", "note"))
    if preferred:
        keep = [c for c in preferred if c in data.columns]
        if keep:
            data = data[keep]
    return suppress_small_cells(data, k_min)


def validation_summary(path: Path) -> pd.DataFrame | None:
    """The simulation study's summary table when it exists (optional input), else None."""
    path = Path(path)
    if not path.is_file():
        return None
    return pd.read_csv(path)


def write_plot_data(headline: pd.DataFrame, spec: pd.DataFrame, out_dir: Path) -> list[Path]:
    """CSV behind `dvc plots show` (declared in dvc.yaml): the headline estimates and the
    specification curve, sorted, written deterministically."""
    from ..io import write_csv

    out_dir = Path(out_dir)
    head = headline[["label", "feature", "outcome", "estimate", "ci_low", "ci_high", "p_value", "p_adjusted"]]
    head_path = out_dir / "headline_estimates.csv"
    write_csv(head.sort_values(["label"], ignore_index=True), head_path)
    spec_path = out_dir / "specification_curve.csv"
    columns = ["spec_rank", "feature", "outcome", "estimate", "ci_low", "ci_high"]
    if spec is None or spec.empty:
        curve = pd.DataFrame(columns=columns)
    else:
        curve = spec.copy()
        for name in ("feature", "outcome", "ci_low", "ci_high"):
            if name not in curve.columns:
                curve[name] = pd.NA
        curve["estimate"] = curve["estimate"].astype(float)
        curve = curve.sort_values(["estimate", "feature", "outcome"], kind="mergesort", ignore_index=True)
        curve["spec_rank"] = range(1, len(curve) + 1)
        curve = curve[columns]
    write_csv(curve, spec_path)
    return [head_path, spec_path]


def focus_pairs(headline: pd.DataFrame, *, n: int = 6) -> pd.DataFrame:
    """The pairs to examine closely: the confirmatory family when one is declared, else the ``n`` with
    the smallest p-values. Columns ``feature, outcome, outcome_period, label``."""
    confirmatory = headline[headline["family"].astype("string").fillna("").str.lower() == "confirmatory"]
    chosen = confirmatory if len(confirmatory) else headline.sort_values(["p_value", "label"], kind="mergesort").head(n)
    return chosen[["feature", "outcome", "outcome_period", "label"]].reset_index(drop=True)


def specification_rows(spec: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Specification-curve rows of the given pairs (matching ``outcome_period`` when both tables have it),
    with their ``label``."""
    keys = ["feature", "outcome"] + (["outcome_period"] if "outcome_period" in spec.columns else [])
    right = pairs[keys + ["label"]].copy()
    left = spec.copy()
    for key in keys:
        left[key] = left[key].astype("string")
        right[key] = right[key].astype("string")
    return left.merge(right, on=keys, how="inner")


def influence_summary(influence: pd.DataFrame, pairs: pd.DataFrame, model: str) -> pd.DataFrame:
    """For each focus pair, the area whose removal moves the estimate most: ``label, lcjp_id, estimate,
    estimate_without, change`` (empty when influence.csv lacks those columns)."""
    needed = {"feature", "outcome", "lcjp_id", "estimate", "estimate_without"}
    columns = ["label", "lcjp_id", "estimate", "estimate_without", "change"]
    if influence is None or influence.empty or not needed <= set(influence.columns):
        return pd.DataFrame(columns=columns)
    data = influence.copy()
    if "model" in data.columns:
        data = data[data["model"].astype(str) == model]
    data["change"] = data["estimate_without"].astype(float) - data["estimate"].astype(float)
    rows = specification_rows(data, pairs)
    if rows.empty:
        return pd.DataFrame(columns=columns)
    rows["abs_change"] = rows["change"].abs()
    top = rows.sort_values(["label", "abs_change", "lcjp_id"], ascending=[True, False, True]).groupby("label").head(1)
    return top[columns].reset_index(drop=True)


def theme_feature_table(themes: pd.DataFrame, published: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Fieldwork themes that share a name with a survey feature, per visited area: coded net valence beside
    the area's score and percentile on that feature. Columns ``lcjp_id, area, theme, n_segments,
    net_valence, score, percentile`` (empty when no theme matches a feature)."""
    columns = ["lcjp_id", "area", "theme", "n_segments", "net_valence", "score", "percentile"]
    if themes is None or themes.empty:
        return pd.DataFrame(columns=columns)
    scores = published.dropna(subset=["score"]).copy()
    scores["score"] = scores["score"].astype(float)
    scores["percentile"] = scores.groupby("feature")["score"].rank(pct=True) * 100
    left = themes[["lcjp_id", "theme", "n_segments", "net_valence"]].copy()
    left["theme"] = left["theme"].astype("string")
    right = scores[["lcjp_id", "feature", "score", "percentile"]].rename(columns={"feature": "theme"})
    right["theme"] = right["theme"].astype("string")
    out = left.merge(right, on=["lcjp_id", "theme"], how="inner")
    out["area"] = out["lcjp_id"].map(lambda i: names.get(i, i))
    return out[columns].sort_values(["theme", "lcjp_id"], ignore_index=True)


VALIDATION_MEASURES = ("coverage", "type1_error_per_test", "power_per_test", "power_per_test_adjusted", "fdr", "fwer")


def validation_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The simulation study's long summary condensed: per role, inference, estimand and performance
    measure, the range over simulated scenarios with the largest Monte Carlo SE. Columns ``[role,
    inference, estimand,] measure, n_scenarios, n_sim_min, min, median, max, max_mcse``."""
    if not {"measure", "value"} <= set(summary.columns):
        return summary
    data = summary[summary["measure"].astype(str).isin(VALIDATION_MEASURES)].copy()
    data["value"] = pd.to_numeric(data["value"], errors="coerce")
    data["mcse"] = pd.to_numeric(data["mcse"], errors="coerce") if "mcse" in data.columns else np.nan
    data["n_sim"] = pd.to_numeric(data["n_sim"], errors="coerce") if "n_sim" in data.columns else np.nan
    keys = [c for c in ("role", "inference", "estimand") if c in data.columns] + ["measure"]
    out = data.groupby(keys, sort=True).agg(n_scenarios=("value", "size"), n_sim_min=("n_sim", "min"),
                                            min=("value", "min"), median=("value", "median"), max=("value", "max"),
                                            max_mcse=("mcse", "max")).reset_index()
    return out


def triangulation_agreement(matched: pd.DataFrame) -> dict[str, float]:
    """How often fieldwork and survey point the same way, by the stated rule: a pair with positive net valence and an
    above-median (percentile > 50) score, or negative valence and a below-median score, agrees; pairs with zero
    valence or a score exactly at the median point neither way and are not counted. ``chance`` is the share that
    would agree if the two sources were unrelated (0.5)."""
    valence = pd.to_numeric(matched["net_valence"], errors="coerce")
    pct = pd.to_numeric(matched["percentile"], errors="coerce")
    assessed = (valence != 0) & (pct != 50) & valence.notna() & pct.notna()
    agree = ((valence > 0) == (pct > 50)) & assessed
    return {"n_pairs": int(len(matched)), "n_assessed": int(assessed.sum()), "n_neutral": int((~assessed).sum()),
            "n_agree": int(agree.sum()), "chance": 0.5}
