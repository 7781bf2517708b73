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
``aggregation_ok`` (per area x feature) is True when this area's own score is justified: at least
``min_respondents`` respondents and rwg(J) (uniform null) >= rwg_min. It is deliberately independent of
the feature-level verdict (``decision``, ``feature_passes``) so the estimate stage can run an
"exclude low-agreement areas" specification even for a feature kept with a warning.
An undefined statistic (alpha with one item, rwg with no area of two respondents) counts as a fail.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .agreement import area_agreement, feature_icc, random_group_agreement
from .items import canonical_order, check_survey, feature_items, respondent_scores
from .mixed import ENGINES
from .reliability import scale_reliability

DECISIONS = ("kept", "kept with warning", "dropped")
ON_FAIL = {"keep_with_warning": "kept with warning", "drop": "dropped"}

SCORE_COLUMNS = ["lcjp_id", "feature", "score", "ci_low", "ci_high", "raw_mean", "raw_ci_low", "raw_ci_high",
                 "adjusted_score", "n_respondents", "n_agencies", "method", "ci_method", "engine",
                 "area_variance", "residual_variance", "fit_note", "score_pev"]
QUALITY_COLUMNS = ["feature", "n_items", "n_respondents", "n_areas", "alpha", "alpha_ci_low", "alpha_ci_high",
                   "omega", "icc1", "icc2", "k0", "icc_f_p_value", "rwg_j_mean", "rwg_j_median",
                   "rwg_j_skewed_mean", "share_rwg_ok", "share_rwg_skewed_ok", "passes_alpha", "passes_rwg",
                   "passes_icc1", "decision", "reason", "reliability_note",
                   # issue 14: the measurement gate (composition model, small-group-valid agreement, REML variance)
                   "rwg_j_mean_random", "agreement_p", "passes_agreement", "area_variance", "gate_passed",
                   "gate_reason", "composition_model"]
#: The composition model the gate checks (Chan 1998; Kozlowski & Klein 2000).
COMPOSITION_MODEL = ("referent-shift consensus: partners rate their partnership, so an area score needs agreement "
                     "within the area beyond what random groups of the same sizes show (Bliese 2000) and real "
                     "differences between areas (ICC(1) at least the threshold, REML area variance above zero)")
AREA_FEATURE_COLUMNS = ["lcjp_id", "feature", "score", "ci_low", "ci_high", "raw_mean", "n_respondents",
                        "n_agencies", "rwg_j", "rwg_j_skewed", "alpha", "omega", "icc1", "icc2",
                        "aggregation_ok", "decision", "feature_passes", "raw_ci_low", "raw_ci_high", "adjusted_score", "method",
                        "ci_method", "engine", "area_variance", "residual_variance", "fit_note", "score_pev",
                        "gate_passed", "gate_reason"]


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")


def _labels_and_codes(series: pd.Series, missing_label: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    values = series.astype("string")
    if missing_label is not None:
        values = values.fillna(missing_label)
    labels, codes = np.unique(values.to_numpy(dtype=str), return_inverse=True)
    return labels, codes.astype(np.int64)


def _feature_arrays(survey: pd.DataFrame, codebook: pd.DataFrame, min_items: int,
                    scores: pd.DataFrame | None):
    """Yield (feature, score array, area codes, agency codes) per feature, plus the label arrays."""
    if scores is None:
        check_survey(survey)
        groups = feature_items(codebook, survey)
        area_labels, area_codes = _labels_and_codes(survey["lcjp_id"])
        agency_labels, agency_codes = _labels_and_codes(survey["agency"], "(agency not recorded)")
        per_feature = []
        for feature, items in groups.items():
            values = survey[items].to_numpy(dtype=float)
            answered = (~np.isnan(values)).sum(axis=1)
            keep = answered >= max(min_items, 1)
            score = np.nansum(values[keep], axis=1) / answered[keep]
            per_feature.append((feature, score, area_codes[keep], agency_codes[keep]))
        return per_feature, area_labels, agency_labels
    area_labels, area_codes = _labels_and_codes(scores["lcjp_id"])
    agency_labels, agency_codes = _labels_and_codes(scores["agency"], "(agency not recorded)")
    feature_values = scores["feature"].astype("string").to_numpy(dtype=str)
    score_values = scores["score"].to_numpy(dtype=float)
    per_feature = []
    for feature in sorted(set(feature_values)):
        keep = feature_values == feature
        per_feature.append((feature, score_values[keep], area_codes[keep], agency_codes[keep]))
    return per_feature, area_labels, agency_labels


def _score_feature(y, g, a, n_areas_total, n_agencies_total, method, engine, ci_level):
    """Columns for the areas present in one feature's respondent rows (numpy only)."""
    n = np.bincount(g, minlength=n_areas_total).astype(float)
    present = np.flatnonzero(n > 0)
    n = n[present]
    remap = np.full(n_areas_total, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    gi = remap[g]
    total = np.bincount(gi, weights=y, minlength=len(present))
    mean = total / n
    squares = np.bincount(gi, weights=(y - mean[gi]) ** 2, minlength=len(present))
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(squares / (n - 1))
        half = stats.t.ppf(0.5 + ci_level / 2, np.where(n > 1, n - 1, np.nan)) * sd / np.sqrt(n)
    pairs = np.unique(gi * n_agencies_total + a)
    n_agencies = np.bincount(pairs // n_agencies_total, minlength=len(present))
    cols = {"area_index": present, "raw_mean": mean, "raw_ci_low": mean - half, "raw_ci_high": mean + half,
            "n_respondents": n.astype(np.int64), "n_agencies": n_agencies.astype(np.int64)}
    nan = np.full(len(present), np.nan)
    if method == "raw":
        cols.update(adjusted_score=nan, score=mean, ci_low=mean - half, ci_high=mean + half, engine=None,
                    area_variance=nan, residual_variance=nan, fit_note="", score_pev=nan)
        return cols
    if len(present) < 2:
        cols.update(adjusted_score=nan, score=nan, ci_low=nan, ci_high=nan, engine=engine, area_variance=nan,
                    residual_variance=nan, fit_note="fewer than two areas: no mixed model", score_pev=nan)
        return cols
    levels = np.unique(a)
    X = np.empty((len(y), len(levels)))
    X[:, 0] = 1.0
    for column, level in enumerate(levels[1:], start=1):
        X[:, column] = a == level
    national_mix = X.mean(axis=0)  # [1, share of agency 2, ..., share of agency K]
    fit = ENGINES[engine](y, X, gi, len(present))
    point, pev = fit.predict_with_pev(national_mix)
    z = stats.norm.ppf(0.5 + ci_level / 2)
    cols.update(adjusted_score=point, score=point, ci_low=point - z * np.sqrt(pev), ci_high=point + z * np.sqrt(pev),
                engine=fit.engine, area_variance=fit.area_variance, residual_variance=fit.sigma2, fit_note=fit.note,
                score_pev=pev)
    return cols


def area_scores(survey_clean: pd.DataFrame, codebook: pd.DataFrame, *, method: str = "adjusted",
                engine: str = "fast", ci_level: float = 0.95, min_items: int = 1,
                scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per area x feature with the chosen score and its interval (``SCORE_COLUMNS``). No I/O.

    ``engine`` ('fast' or 'statsmodels') only matters for ``method='adjusted'``; both give the same
    REML estimates (tested). ``scores`` may pass precomputed ``respondent_scores`` output. Numpy
    throughout (one DataFrame at the end) because the simulation study calls this thousands of times.
    """
    _check_choice("method", method, {"adjusted", "raw"})
    _check_choice("engine", engine, set(ENGINES))
    if scores is None:
        check_survey(survey_clean)
        survey_clean = canonical_order(survey_clean)
    per_feature, area_labels, agency_labels = _feature_arrays(survey_clean, codebook, min_items, scores)
    frames = []
    for feature, y, g, a in per_feature:
        if len(y) == 0:
            continue
        cols = _score_feature(y, g, a, len(area_labels), len(agency_labels), method, engine, ci_level)
        frame = pd.DataFrame({key: value for key, value in cols.items() if key != "area_index"})
        frame.insert(0, "lcjp_id", area_labels[cols["area_index"]])
        frame.insert(1, "feature", feature)
        frames.append(frame)
    if not frames:
        raise ValueError("no respondent answered any item: nothing to score")
    table = pd.concat(frames, ignore_index=True)
    table["method"] = method
    table["ci_method"] = "blup_pev" if method == "adjusted" else "t"
    for column in ("method", "ci_method", "engine", "fit_note", "feature", "lcjp_id"):
        table[column] = table[column].astype("string")
    return table[SCORE_COLUMNS]


def decide(passes_all: pd.Series, on_fail: str) -> pd.Series:
    """Feature decision from the pass flags and the ``on_fail`` param (values in ``DECISIONS``)."""
    _check_choice("on_fail", on_fail, set(ON_FAIL))
    return pd.Series(np.where(passes_all.to_numpy(dtype=bool), "kept", ON_FAIL[on_fail]),
                     index=passes_all.index, dtype="string")


def feature_quality(survey_clean: pd.DataFrame, codebook: pd.DataFrame, *, alpha_min: float = 0.70,
                    rwg_min: float = 0.70, icc1_min: float = 0.05, on_fail: str = "keep_with_warning",
                    ci_level: float = 0.95, scale_points: int = 5, skewed_null_variance: float = 1.34,
                    min_items: int = 1, with_omega: bool = True, agreement: pd.DataFrame | None = None,
                    scores: pd.DataFrame | None = None, agreement_draws: int = 199, seed: int = 0,
                    agreement_level: float = 0.05) -> pd.DataFrame:
    """One row per feature (``QUALITY_COLUMNS``): reliability, agreement, ICCs, pass flags, decision. No I/O.

    ``share_rwg_ok`` is the share of areas (with >= 2 respondents) whose rwg(J) >= rwg_min;
    ``passes_rwg`` uses the mean rwg(J) across those areas (uniform null): descriptive only, since a fixed
    0.70 is not valid with 3 items and 4-18 respondents.

    The measurement gate (``gate_passed``, ``gate_reason``; it sets ``decision``) checks the composition
    model ``COMPOSITION_MODEL``: alpha >= alpha_min, agreement beyond random groups of the same sizes
    (``agreement.random_group_agreement``, ``agreement_p`` < ``agreement_level``), ICC(1) >= icc1_min and
    a REML area variance above zero (else the agency-adjusted scores are all the national mean).
    """
    _check_choice("on_fail", on_fail, set(ON_FAIL))
    check_survey(survey_clean)
    survey_clean = canonical_order(survey_clean)
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
    random_groups = random_group_agreement(survey_clean, codebook, scale_points=scale_points,
                                           n_draws=agreement_draws, seed=seed)
    out = out.merge(random_groups[["feature", "rwg_j_mean_random", "agreement_p"]], on="feature", how="left")
    out["passes_agreement"] = (out["agreement_p"] < agreement_level).fillna(False).astype(bool)
    variances = area_scores(survey_clean, codebook, method="adjusted", scores=scores).groupby(
        "feature", sort=True)["area_variance"].first()
    out["area_variance"] = out["feature"].map(variances).astype("float64")
    out["gate_passed"] = (out["passes_alpha"] & out["passes_agreement"] & out["passes_icc1"]
                          & (out["area_variance"] > 0).fillna(False)).astype(bool)
    out["decision"] = decide(out["gate_passed"], on_fail)

    def reason(row) -> str:
        parts = []
        if not row.passes_alpha:
            parts.append(f"alpha {row.alpha:.2f} < {alpha_min:g}" if pd.notna(row.alpha) else "alpha undefined")
        if not row.passes_agreement:
            parts.append(f"within-area agreement not beyond random groups (mean rwg(J) {row.rwg_j_mean:.2f} vs "
                         f"{row.rwg_j_mean_random:.2f} in random groups, p = {row.agreement_p:.3f})"
                         if pd.notna(row.agreement_p) else "agreement undefined")
        if not row.passes_icc1:
            parts.append(f"ICC(1) {row.icc1:.3f} < {icc1_min:g}" if pd.notna(row.icc1) else "ICC(1) undefined")
        if not (pd.notna(row.area_variance) and row.area_variance > 0):
            parts.append("REML puts the area variance at zero (every agency-adjusted score is the national mean)"
                         if pd.notna(row.area_variance) else "no area variance estimate")
        if parts:
            return "; ".join(parts)
        return (f"alpha {row.alpha:.2f} >= {alpha_min:g}; agreement beyond random groups (p = {row.agreement_p:.3f}); "
                f"ICC(1) {row.icc1:.3f} >= {icc1_min:g}; REML area variance > 0")

    out["gate_reason"] = pd.Series([reason(row) for row in out.itertuples(index=False)], index=out.index,
                                   dtype="string")
    out["reason"] = out["gate_reason"]
    out["composition_model"] = pd.Series(COMPOSITION_MODEL, index=out.index, dtype="string")
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
    survey_clean = canonical_order(survey_clean)
    scores = None
    agreement = area_agreement(survey_clean, codebook, scale_points=scale_points,
                               skewed_null_variance=skewed_null_variance)
    if quality is None:
        scores = respondent_scores(survey_clean, codebook, min_items=min_items)
        quality = feature_quality(survey_clean, codebook, alpha_min=alpha_min, rwg_min=rwg_min, icc1_min=icc1_min,
                                  on_fail=on_fail, ci_level=ci_level, scale_points=scale_points,
                                  skewed_null_variance=skewed_null_variance, min_items=min_items,
                                  with_omega=with_omega, agreement=agreement, scores=scores)
    table = area_scores(survey_clean, codebook, method=method, engine=engine, ci_level=ci_level, min_items=min_items,
                        scores=scores)
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
    passes_all = quality["gate_passed"] if "gate_passed" in quality.columns else (
        quality["passes_alpha"] & quality["passes_rwg"] & quality["passes_icc1"])
    feature_level = quality[["feature", "alpha", "omega", "icc1", "icc2", "decision"]].assign(
        feature_passes=passes_all.to_numpy(dtype=bool), gate_passed=passes_all.to_numpy(dtype=bool),
        gate_reason=(quality["gate_reason"] if "gate_reason" in quality.columns else quality["reason"]).astype("string"))
    table = table.merge(feature_level, on="feature", how="left", validate="many_to_one")
    table["feature_passes"] = table["feature_passes"].fillna(False).astype(bool)
    table["gate_passed"] = table["gate_passed"].fillna(False).astype(bool)
    table["aggregation_ok"] = ((table["n_respondents"] >= min_respondents)
                               & (table["rwg_j"] >= rwg_min).fillna(False).astype(bool))
    for column in ("method", "ci_method", "fit_note", "decision", "engine", "gate_reason"):
        table[column] = table[column].astype("string")
    return (table[AREA_FEATURE_COLUMNS].sort_values(["feature", "lcjp_id"], kind="mergesort")
            .reset_index(drop=True))
