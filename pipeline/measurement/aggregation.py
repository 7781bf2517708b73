"""Area scores per feature (agency-mix adjusted or raw) and the aggregation decision.

Respondent feature score = mean of the respondent's answered items in the feature (1-5 scale).

``method='adjusted'`` (default): per feature a random-intercept mixed model
``score ~ C(agency) + (1 | lcjp_id)`` by REML (see ``pipeline.measurement.mixed``). The area score
is the fixed part evaluated at the *national* agency mix (the share of each agency among all
respondents to the feature) plus the area's BLUP, so areas are compared as if the same mix of
agencies had answered everywhere. Interval: score +- z * sqrt(prediction-error variance) from
Henderson's equations at the REML variance components (``ci_method = 'blup_pev'``). Areas with few
respondents are shrunk towards the national mean; that is the intended behaviour.

``method='raw'``: the mean of respondent scores in the area with a t interval (``ci_method = 't'``).

Both are always reported side by side (``score`` is the chosen one, ``raw_mean`` the raw mean).

Aggregation decision per feature (``decision`` column, read by the estimate stage):
- ``'kept'``: passes all three justifications: alpha >= alpha_min, mean rwg(J) (uniform null) across
  areas >= rwg_min, ICC(1) >= icc1_min;
- ``'kept with warning'``: fails one or more and params ``on_fail = keep_with_warning``;
- ``'dropped'``: fails one or more and ``on_fail = drop`` (rows stay in the file, marked, so the
  report can show them; the estimate stage skips them).
``aggregation_ok`` (per area x feature) is True when the feature passes all three and this area has
at least ``min_respondents`` respondents and rwg(J) >= rwg_min.
An undefined statistic (alpha with one item, rwg with no area of two respondents) counts as a fail.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .agreement import area_agreement, feature_icc
from .items import check_survey, feature_items, respondent_scores
from .mixed import ENGINES
from .reliability import scale_reliability

DECISIONS = ("kept", "kept with warning", "dropped")
ON_FAIL = {"keep_with_warning": "kept with warning", "drop": "dropped"}

SCORE_COLUMNS = ["lcjp_id", "feature", "score", "ci_low", "ci_high", "raw_mean", "raw_ci_low", "raw_ci_high",
                 "adjusted_score", "n_respondents", "n_agencies", "method", "ci_method", "engine",
                 "area_variance", "residual_variance", "fit_note"]
QUALITY_COLUMNS = ["feature", "n_items", "n_respondents", "n_areas", "alpha", "alpha_ci_low", "alpha_ci_high",
                   "omega", "icc1", "icc2", "k0", "icc_f_p_value", "rwg_j_mean", "rwg_j_median",
                   "rwg_j_skewed_mean", "share_rwg_ok", "share_rwg_skewed_ok", "passes_alpha", "passes_rwg",
                   "passes_icc1", "decision", "reason", "reliability_note"]
AREA_FEATURE_COLUMNS = ["lcjp_id", "feature", "score", "ci_low", "ci_high", "raw_mean", "n_respondents",
                        "n_agencies", "rwg_j", "rwg_j_skewed", "alpha", "omega", "icc1", "icc2",
                        "aggregation_ok", "decision", "raw_ci_low", "raw_ci_high", "adjusted_score", "method",
                        "ci_method", "engine", "area_variance", "residual_variance", "fit_note"]


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")


def _raw_table(scores: pd.DataFrame, ci_level: float) -> pd.DataFrame:
    grouped = scores.groupby(["feature", "lcjp_id"], sort=True)
    table = grouped.agg(raw_mean=("score", "mean"), raw_sd=("score", "std"), n_respondents=("score", "size"),
                        n_agencies=("agency", "nunique")).reset_index()
    n = table["n_respondents"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + ci_level / 2, np.where(n > 1, n - 1, np.nan)) * table["raw_sd"] / np.sqrt(n)
    table["raw_ci_low"] = table["raw_mean"] - half
    table["raw_ci_high"] = table["raw_mean"] + half
    return table.drop(columns="raw_sd")


def _adjusted_feature(block: pd.DataFrame, engine: str, ci_level: float) -> pd.DataFrame:
    """Agency-adjusted scores for one feature's respondent rows."""
    areas = np.array(sorted(block["lcjp_id"].astype(str).unique()))
    agencies = sorted(block["agency"].astype(str).unique())
    group_index = np.searchsorted(areas, block["lcjp_id"].astype(str).to_numpy())
    agency = block["agency"].astype(str).to_numpy()
    X = np.column_stack([np.ones(len(block))] + [(agency == level).astype(float) for level in agencies[1:]])
    national_mix = X.mean(axis=0)  # [1, share of agency 2, ..., share of agency K]
    out = pd.DataFrame({"lcjp_id": areas})
    if len(areas) < 2:
        out["adjusted_score"] = np.nan
        out["adj_pev"] = np.nan
        out["engine"] = engine
        out["area_variance"] = np.nan
        out["residual_variance"] = np.nan
        out["fit_note"] = "fewer than two areas: no mixed model"
        return out
    fit = ENGINES[engine](block["score"].to_numpy(dtype=float), X, group_index, len(areas))
    point, pev = fit.predict_with_pev(national_mix)
    out["adjusted_score"] = point
    out["adj_pev"] = pev
    out["engine"] = fit.engine
    out["area_variance"] = fit.area_variance
    out["residual_variance"] = fit.sigma2
    out["fit_note"] = fit.note
    return out


def area_scores(survey_clean: pd.DataFrame, codebook: pd.DataFrame, *, method: str = "adjusted",
                engine: str = "fast", ci_level: float = 0.95, min_items: int = 1,
                scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per area x feature with the chosen score and its interval (``SCORE_COLUMNS``). No I/O.

    ``engine`` ('fast' or 'statsmodels') only matters for ``method='adjusted'``; both give the same
    REML estimates (tested). ``scores`` may pass precomputed ``respondent_scores`` output.
    """
    _check_choice("method", method, {"adjusted", "raw"})
    _check_choice("engine", engine, set(ENGINES))
    if scores is None:
        scores = respondent_scores(survey_clean, codebook, min_items=min_items)
    scores = scores.assign(agency=scores["agency"].fillna("(agency not recorded)"))
    table = _raw_table(scores, ci_level)
    z = stats.norm.ppf(0.5 + ci_level / 2)
    if method == "adjusted":
        adjusted = []
        for feature, block in scores.groupby("feature", sort=True):
            part = _adjusted_feature(block, engine, ci_level)
            part.insert(0, "feature", feature)
            adjusted.append(part)
        adj = pd.concat(adjusted, ignore_index=True)
        adj["feature"] = adj["feature"].astype("string")
        adj["lcjp_id"] = adj["lcjp_id"].astype("string")
        table = table.merge(adj, on=["feature", "lcjp_id"], how="left", validate="one_to_one")
        half = z * np.sqrt(table["adj_pev"])
        table["score"] = table["adjusted_score"]
        table["ci_low"] = table["score"] - half
        table["ci_high"] = table["score"] + half
        table["ci_method"] = "blup_pev"
        table = table.drop(columns="adj_pev")
    else:
        table["adjusted_score"] = np.nan
        table["score"] = table["raw_mean"]
        table["ci_low"] = table["raw_ci_low"]
        table["ci_high"] = table["raw_ci_high"]
        table["ci_method"] = "t"
        table["engine"] = pd.NA
        table["area_variance"] = np.nan
        table["residual_variance"] = np.nan
        table["fit_note"] = ""
    table["method"] = method
    for column in ("method", "ci_method", "engine", "fit_note", "feature", "lcjp_id"):
        table[column] = table[column].astype("string")
    table["n_respondents"] = table["n_respondents"].astype("int64")
    table["n_agencies"] = table["n_agencies"].astype("int64")
    return table[SCORE_COLUMNS].sort_values(["feature", "lcjp_id"], kind="mergesort").reset_index(drop=True)


def decide(passes_all: pd.Series, on_fail: str) -> pd.Series:
    """Feature decision from the pass flags and the ``on_fail`` param (values in ``DECISIONS``)."""
    _check_choice("on_fail", on_fail, set(ON_FAIL))
    return pd.Series(np.where(passes_all.to_numpy(dtype=bool), "kept", ON_FAIL[on_fail]),
                     index=passes_all.index, dtype="string")


def feature_quality(survey_clean: pd.DataFrame, codebook: pd.DataFrame, *, alpha_min: float = 0.70,
                    rwg_min: float = 0.70, icc1_min: float = 0.05, on_fail: str = "keep_with_warning",
                    ci_level: float = 0.95, scale_points: int = 5, skewed_null_variance: float = 1.34,
                    min_items: int = 1, with_omega: bool = True, agreement: pd.DataFrame | None = None,
                    scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per feature (``QUALITY_COLUMNS``): reliability, agreement, ICCs, pass flags, decision. No I/O.

    ``share_rwg_ok`` is the share of areas (with >= 2 respondents) whose rwg(J) >= rwg_min;
    ``passes_rwg`` uses the mean rwg(J) across those areas (uniform null).
    """
    _check_choice("on_fail", on_fail, set(ON_FAIL))
    if agreement is None:
        agreement = area_agreement(survey_clean, codebook, scale_points=scale_points,
                                   skewed_null_variance=skewed_null_variance)
    if scores is None:
        scores = respondent_scores(survey_clean, codebook, min_items=min_items)
    reliability = scale_reliability(survey_clean, codebook, ci_level=ci_level, with_omega=with_omega)
    icc = feature_icc(scores)
    rwg = agreement.dropna(subset=["rwg_j"]).groupby("feature", sort=True).agg(
        rwg_j_mean=("rwg_j", "mean"), rwg_j_median=("rwg_j", "median"), rwg_j_skewed_mean=("rwg_j_skewed", "mean"),
        share_rwg_ok=("rwg_j", lambda s: float((s >= rwg_min).mean())),
        share_rwg_skewed_ok=("rwg_j_skewed", lambda s: float((s >= rwg_min).mean()))).reset_index()
    out = reliability.merge(icc[["feature", "n_areas", "icc1", "icc2", "k0", "f_p_value"]], on="feature", how="left")
    out = out.rename(columns={"f_p_value": "icc_f_p_value"}).merge(rwg, on="feature", how="left")
    out["passes_alpha"] = (out["alpha"] >= alpha_min).fillna(False).astype(bool)
    out["passes_rwg"] = (out["rwg_j_mean"] >= rwg_min).fillna(False).astype(bool)
    out["passes_icc1"] = (out["icc1"] >= icc1_min).fillna(False).astype(bool)
    out["decision"] = decide(out["passes_alpha"] & out["passes_rwg"] & out["passes_icc1"], on_fail)

    def reason(row) -> str:
        parts = []
        if not row.passes_alpha:
            parts.append(f"alpha {row.alpha:.2f} < {alpha_min:g}" if pd.notna(row.alpha) else "alpha undefined")
        if not row.passes_rwg:
            parts.append(f"mean rwg(J) {row.rwg_j_mean:.2f} < {rwg_min:g}" if pd.notna(row.rwg_j_mean)
                         else "rwg(J) undefined")
        if not row.passes_icc1:
            parts.append(f"ICC(1) {row.icc1:.3f} < {icc1_min:g}" if pd.notna(row.icc1) else "ICC(1) undefined")
        return "; ".join(parts) if parts else "passes alpha, rwg(J) and ICC(1)"

    out["reason"] = pd.Series([reason(row) for row in out.itertuples(index=False)], index=out.index, dtype="string")
    out["n_areas"] = out["n_areas"].fillna(0).astype("int64")
    return out[QUALITY_COLUMNS].sort_values("feature", kind="mergesort").reset_index(drop=True)


def area_features(survey_clean: pd.DataFrame, codebook: pd.DataFrame, *, method: str = "adjusted",
                  engine: str = "fast", quality: pd.DataFrame | None = None, alpha_min: float = 0.70,
                  rwg_min: float = 0.70, icc1_min: float = 0.05, on_fail: str = "keep_with_warning",
                  min_respondents: int = 3, ci_level: float = 0.95, scale_points: int = 5,
                  skewed_null_variance: float = 1.34, min_items: int = 1, with_omega: bool = True,
                  areas: list[str] | None = None) -> pd.DataFrame:
    """The ``area_features.csv`` table (``AREA_FEATURE_COLUMNS``): one row per area x feature. No I/O.

    ``quality`` may pass a precomputed ``feature_quality`` table (the stage does, to write both from
    one computation). ``areas`` (e.g. all 42 ids) adds rows with NaN scores for areas without any
    respondent to a feature. For the in-process simulation study the cheapest call is
    ``with_omega=False`` (omega needs a factor-analysis fit per feature); see
    ``benchmarks/bench_measurement.py`` for timings.
    """
    check_survey(survey_clean)
    scores = respondent_scores(survey_clean, codebook, min_items=min_items)
    agreement = area_agreement(survey_clean, codebook, scale_points=scale_points,
                               skewed_null_variance=skewed_null_variance)
    if quality is None:
        quality = feature_quality(survey_clean, codebook, alpha_min=alpha_min, rwg_min=rwg_min, icc1_min=icc1_min,
                                  on_fail=on_fail, ci_level=ci_level, scale_points=scale_points,
                                  skewed_null_variance=skewed_null_variance, min_items=min_items,
                                  with_omega=with_omega, agreement=agreement, scores=scores)
    table = area_scores(survey_clean, codebook, method=method, engine=engine, ci_level=ci_level, scores=scores)
    if areas is not None:
        features = list(feature_items(codebook))
        grid = pd.MultiIndex.from_product([pd.Index(features, dtype="string"),
                                           pd.Index(sorted(set(map(str, areas))), dtype="string")],
                                          names=["feature", "lcjp_id"]).to_frame(index=False)
        unknown = sorted(set(table["lcjp_id"]) - set(grid["lcjp_id"]))
        if unknown:
            raise ValueError(f"survey areas not in the given area list: {unknown}")
        table = grid.merge(table, on=["feature", "lcjp_id"], how="left")
        table["n_respondents"] = table["n_respondents"].fillna(0).astype("int64")
        table["n_agencies"] = table["n_agencies"].fillna(0).astype("int64")
    table = table.merge(agreement[["feature", "lcjp_id", "rwg_j", "rwg_j_skewed"]], on=["feature", "lcjp_id"],
                        how="left")
    passes_all = quality["passes_alpha"] & quality["passes_rwg"] & quality["passes_icc1"]
    feature_level = quality[["feature", "alpha", "omega", "icc1", "icc2", "decision"]].assign(
        feature_passes=passes_all.to_numpy(dtype=bool))
    table = table.merge(feature_level, on="feature", how="left", validate="many_to_one")
    table["aggregation_ok"] = (table["feature_passes"].fillna(False).astype(bool)
                               & (table["n_respondents"] >= min_respondents)
                               & (table["rwg_j"] >= rwg_min).fillna(False).astype(bool))
    for column in ("method", "ci_method", "fit_note", "decision", "engine"):
        table[column] = table[column].astype("string")
    return (table[AREA_FEATURE_COLUMNS].sort_values(["feature", "lcjp_id"], kind="mergesort")
            .reset_index(drop=True))
