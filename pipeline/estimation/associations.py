"""Feature x outcome associations across partnership areas: the estimate stage's core.

``estimate_associations`` takes DataFrames, does no I/O and is fast enough to be called thousands
of times by the simulation study. Each row is one feature x outcome x outcome period x model:
``estimate`` is the change in the outcome (its own unit) per SD of the feature across the areas
in the fit, adjusted for the covariates; associational, never causal.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import confounding, design, inference, latent, multiplicity, power, verdicts
from .blocks import blocks as _blocks, controls as _controls
from ..errors import InputError
from .design import AREA

ESTIMATE_COLUMNS = [
    "feature", "outcome", "model", "estimate", "ci_low", "ci_high", "p_value", "p_adjusted", "n_areas",
    "se_hc3", "t", "df_resid", "beta_std", "partial_r", "p_holm", "q_bh", "mde", "mde_r", "ci_method", "p_method",
    "family", "robustness_value", "e_value", "verdict",
    # extras
    "outcome_period", "unit", "higher_is_better", "sd_outcome", "ci_low_hc3", "ci_high_hc3", "p_hc3",
    "mde_r_bivariate", "e_value_ci", "n_draws", "covariates", "aggregation", "areas_set_aside", "note",
    # issue 14: estimand, decisions at the adjusted alpha, equivalence test, measurement gate
    "estimand", "estimand_label", "adjustment", "alpha_decision", "mde_unadjusted", "sesoi", "ci90_low",
    "ci90_high", "p_tost", "p_tost_adjusted", "verdict_reason", "measurement_gate", "reliability",
]
STRING_COLUMNS = ("feature", "outcome", "model", "outcome_period", "family", "verdict", "ci_method", "p_method",
                  "covariates", "aggregation", "areas_set_aside", "note", "unit", "estimand", "estimand_label",
                  "adjustment", "verdict_reason", "measurement_gate")
P_METHOD = {"freedman_lane": "Freedman-Lane permutation of reduced-model residuals, HC3 t, B={B}",
            "wild_webb": "restricted wild bootstrap (Webb weights), HC3 t, B={B}"}
CI_METHOD = {"freedman_lane": "inversion of the Freedman-Lane permutation test (HC3 t)",
             "wild_webb": "inversion of the restricted wild bootstrap test (Webb, HC3 t)"}
MODELS = ("ols", "ols_region_fe", "ols_crv3_region")
#: ``note`` of a row without an estimate starts with this, followed by the reason
NOT_ESTIMABLE = inference.NOT_ESTIMABLE


def _join_notes(*notes: str) -> str:
    return "; ".join(filter(None, notes))


def _not_estimable_rows(common: dict, outcomes, why: str) -> list[dict]:
    """One row per outcome for a feature reported without an estimate; its ``note`` gives the reason."""
    return [{**common, "outcome": o, "note": _join_notes(common["note"], f"{NOT_ESTIMABLE}: {why}")}
            for o in outcomes]


def _set_aside(problems: np.ndarray, commons: list[dict], outcomes) -> tuple[list[dict], np.ndarray]:
    """Rows for the features with a problem (``problems[j] != ""``, the reason) and which features are kept."""
    rows = [row for j in np.flatnonzero(problems != "") for row in _not_estimable_rows(commons[j], outcomes, problems[j])]
    return rows, problems == ""


@dataclass
class Prepared:
    """Inputs reshaped once: features (area x feature), targets per period (area x measure), covariates."""
    features: pd.DataFrame
    targets: dict[str, pd.DataFrame]
    cov: design.AreaCovariates
    measures: pd.DataFrame | None
    aggregation: str
    dropped_features: list[str]
    notes: list[str] = field(default_factory=list)
    #: respondent feature scores (``measurement.respondent_scores``): enables the latent-trait rows
    respondents: pd.DataFrame | None = None
    #: per feature: "passed" | "failed: <reason>" | "not assessed" (features stage's measurement gate)
    gates: dict[str, str] = field(default_factory=dict)
    #: per feature: mean reliability 1 - PEV/tau^2 of the measured area score (features stage)
    reliability: dict[str, float] = field(default_factory=dict)
    calibrations: dict[tuple, dict] = field(default_factory=dict)

    def calibration(self, controls: pd.DataFrame) -> dict:
        """Measurement models with the covariates ``controls`` (cached per covariate set)."""
        key = tuple(controls.columns)
        if key not in self.calibrations:
            self.calibrations[key] = latent.calibrate(self.respondents, controls, list(self.features.columns))
        return self.calibrations[key]


def prepare(area_features, outcomes, covariates, reference, *, level_year: int, baseline_year: int,
            aggregation: str = "adjusted", periods=("level", "change"), measures=None,
            covariate_year: int | None = None, yearly: pd.DataFrame | None = None,
            respondents: pd.DataFrame | None = None) -> Prepared:
    """Validate and reshape the inputs (see design.py for the yearly aggregation rule).

    Covariates are taken at ``covariate_year`` (default ``baseline_year``: before the survey, so
    they cannot be consequences of partnership working measured later).
    ``respondents`` (respondent feature scores) adds the primary, latent-trait rows (``latent.py``);
    without it only the measured-score rows are estimated.
    """
    feats, dropped = design.feature_table(area_features, aggregation)
    yearly = design.aggregate_outcomes(outcomes) if yearly is None else yearly
    long = design.outcome_targets(yearly, int(level_year), int(baseline_year), tuple(periods))
    targets = {p: g.pivot(index=AREA, columns="measure", values="value").astype("float64")
               for p, g in long.groupby("outcome_period", sort=True)}
    for p, t in targets.items():
        t.index = t.index.astype(str)
        t.columns = [str(c) for c in t.columns]
    cov = design.area_covariates(covariates, reference, int(covariate_year or baseline_year))
    notes = list(cov.notes)
    if dropped:
        notes.append(f"features dropped upstream (decision 'dropped'): {dropped}")
    if not targets:
        years = sorted(int(y) for y in yearly["year"].unique())
        raise InputError("outcomes.parquet", f"no outcome has values for the level year {level_year}"
                         + (f" and the baseline year {baseline_year}" if "change" in periods else "")
                         + f"; years present: {years}",
                         "set params.yaml estimate.level_year / baseline_year to years the outcomes cover",
                         column="year")
    missing_periods = [p for p in periods if p not in targets]
    if missing_periods:
        notes.append(f"no outcome data for period(s) {missing_periods} (level {level_year}, baseline {baseline_year})")
    return Prepared(feats, targets, cov, measures, aggregation, dropped, notes, respondents=respondents,
                    gates=design.feature_gates(area_features), reliability=design.score_reliability(area_features))


def _crv3(Z, x, Y, groups, alpha):
    """statsmodels CRV3 by cluster (G - 1 df); a loop over outcomes (few fits, not resampled)."""
    import statsmodels.api as sm
    _, codes = np.unique(groups, return_inverse=True)
    # a control constant within every cluster (e.g. a country indicator when the country is one
    # region) is not identified once its cluster is left out: CRV3 cannot use it, so it is dropped
    nested = [j for j in range(1, Z.shape[1])
              if all(np.ptp(Z[codes == g, j]) == 0 for g in np.unique(codes)) and np.ptp(Z[:, j]) > 0]
    X = np.column_stack([np.delete(Z, nested, axis=1), x])
    res = {k: [] for k in ("estimate", "se", "p", "lo", "hi")}
    for j in range(Y.shape[1]):
        f = sm.OLS(Y[:, j], X).fit(cov_type="cluster-crv3", cov_kwds={"groups": codes}, use_t=True)
        lo, hi = f.conf_int(alpha)[-1]
        for k, v in zip(res, (f.params[-1], f.bse[-1], f.pvalues[-1], lo, hi)):
            res[k].append(v)
    return {k: np.array(v) for k, v in res.items()}, len(np.unique(codes))


def fit_prepared(prep: Prepared, *, n_permutations: int, seed: int, covariates_spec="auto", model: str = "ols",
                 method: str = "freedman_lane", alpha: float = 0.05, power_level: float = 0.8,
                 interval: bool = True, features: list[str] | None = None) -> pd.DataFrame:
    """Unadjusted rows (no family, q or verdict yet) for one model over all features x outcomes."""
    if model not in MODELS:
        raise ValueError(f"unknown model '{model}'; use one of {MODELS}")
    controls = _controls(prep, covariates_spec, model)
    cov_names = ";".join(design.resolve_covariates(covariates_spec, prep.cov))
    draw_cache: dict[int, np.ndarray] = {}
    latent_on = model == "ols" and prep.respondents is not None
    calibration = prep.calibration(controls) if latent_on else None
    rows = []
    for blk in _blocks(prep, controls, features or list(prep.features.columns)):
        idx, Z, outs, feats = blk["idx"], blk["Z"], blk["outs"], blk["features"]
        n, k = Z.shape
        df_fit = n - k - 1
        commons = [{"feature": f, "outcome_period": blk["period"], "model": model, "estimand": latent.MEASURED,
                    "n_areas": n, "reliability": prep.reliability.get(f, np.nan),
                    "covariates": cov_names, "aggregation": prep.aggregation,
                    "areas_set_aside": ";".join(blk["set_aside"][f]), "note": "; ".join(blk["notes"])} for f in feats]
        if latent_on and df_fit >= 3:
            if n_permutations and n not in draw_cache:
                draw_cache[n] = inference.draws(n, int(n_permutations), seed, method)
            rows += _latent_rows(prep, calibration, blk, cov_names, model, draw_cache.get(n) if n_permutations else None,
                                 n_permutations=n_permutations, method=method, alpha=alpha, power_level=power_level,
                                 interval=interval)
        X_raw = prep.features.loc[idx, feats].to_numpy("float64")
        sd_x = X_raw.std(axis=0, ddof=1) if n > 1 else np.zeros(len(feats))
        usable = ~inference.constant_columns(X_raw) if n > 1 else np.zeros(len(feats), bool)
        if df_fit < 3 or not usable.any():
            why = "too few areas to fit" if df_fit < 3 else "feature constant across areas"
            rows += [row for cm in commons for row in _not_estimable_rows(cm, outs, why)]
            continue
        for j in np.flatnonzero(~usable):
            rows += _not_estimable_rows(commons[j], outs, "feature constant across areas")
        feats_u = [f for f, u in zip(feats, usable) if u]
        commons = [cm for cm, u in zip(commons, usable) if u]
        Xs = (X_raw[:, usable] - X_raw[:, usable].mean(axis=0)) / sd_x[usable]
        Y = prep.targets[blk["period"]].loc[idx, outs].to_numpy("float64")
        sd_y = Y.std(axis=0, ddof=1)
        if model == "ols_crv3_region":
            set_aside, keep = _set_aside(inference.feature_problems(Z, Xs), commons, outs)
            rows += set_aside
            if not keep.any():
                continue
            Xs, feats_u = Xs[:, keep], [f for f, k_ in zip(feats_u, keep) if k_]
            commons = [cm for cm, k_ in zip(commons, keep) if k_]
            r = {key: [] for key in ("estimate", "se_hc3", "t", "t_classic", "df_resid", "p_value", "ci_low",
                                     "ci_high")}
            for j in range(len(feats_u)):
                res, G = _crv3(Z, Xs[:, j], Y, prep.cov.region.loc[idx].to_numpy(), alpha)
                fit = inference.ols_hc3(Z, Xs[:, j], Y)
                for key, val in (("estimate", res["estimate"]), ("se_hc3", fit["se"]),
                                 ("t", res["estimate"] / res["se"]), ("t_classic", fit["t_classic"]),
                                 ("df_resid", np.full(len(outs), G - 1)), ("p_value", res["p"]),
                                 ("ci_low", res["lo"]), ("ci_high", res["hi"])):
                    r[key].append(val)
            r = {key: np.array(val) for key, val in r.items()}
            nan = np.full(r["estimate"].shape, np.nan)
            r.update(p_hc3=nan, ci_low_hc3=nan, ci_high_hc3=nan)
            p_method, ci_method, n_draws = (f"CRV3 clustered by region, t with G-1={G - 1} df",
                                            "CRV3 t interval (G-1 df)", 0)
        else:
            if n_permutations and n not in draw_cache:
                draw_cache[n] = inference.draws(n, int(n_permutations), seed, method)
            r = inference.infer_block(Z, Xs, Y, draw=draw_cache.get(n) if n_permutations else None,
                                      method=method, alpha=alpha, interval=interval)
            set_aside, keep = _set_aside(r.pop("not_estimable"), commons, outs)
            rows += set_aside
            if not keep.any():
                continue
            if not keep.all():
                r = {key: val[keep] for key, val in r.items()}
                feats_u = [f for f, k_ in zip(feats_u, keep) if k_]
                commons = [cm for cm, k_ in zip(commons, keep) if k_]
            if not n_permutations:
                r["p_value"] = r["p_hc3"]
                p_method, n_draws = "HC3 t (secondary)", 0
            else:
                p_method, n_draws = P_METHOD[method].format(B=int(n_permutations)), int(n_permutations)
            if not (n_permutations and interval):
                r["ci_low"], r["ci_high"] = r["ci_low_hc3"], r["ci_high_hc3"]
                ci_method = "HC3 t interval (secondary)"
            else:
                ci_method = CI_METHOD[method]
        rows += _emit_rows(r, commons, outs, sd_y, df_fit, n, alpha, power_level, p_method, ci_method, n_draws)
    return pd.DataFrame(rows)


def _emit_rows(r: dict, commons: list[dict], outs, sd_y, df_fit: int, n: int, alpha: float, power_level: float,
               p_method: str, ci_method: str, n_draws: int, extra: dict | None = None) -> list[dict]:
    """Row dicts (one per feature x outcome) from an inference result ``r`` (arrays n_features x n_outcomes)."""
    mde = power.mde_estimate(r["se_hc3"], df_fit, alpha, power_level)
    tcl = r["t_classic"]
    partial_r = tcl / np.sqrt(tcl ** 2 + df_fit)
    rv = confounding.robustness_value(tcl, df_fit)
    beta_std = r["estimate"] / sd_y[None, :]
    ev = confounding.e_value_from_d(beta_std)
    ev_ci = confounding.e_value_ci(r["ci_low"], r["ci_high"], sd_y[None, :])
    mde_r, mde_rb = power.mde_partial_r(df_fit, alpha, power_level), power.mde_r_bivariate(n, alpha, power_level)
    rows = []
    for i, cm in enumerate(commons):
        for j, o in enumerate(outs):
            row = {
                **cm, "outcome": o, "estimate": r["estimate"][i, j], "ci_low": r["ci_low"][i, j],
                "ci_high": r["ci_high"][i, j], "p_value": r["p_value"][i, j], "se_hc3": r["se_hc3"][i, j],
                "t": r["t"][i, j], "df_resid": int(r["df_resid"][i, j]), "beta_std": beta_std[i, j],
                "partial_r": partial_r[i, j], "sd_outcome": sd_y[j], "ci_low_hc3": r["ci_low_hc3"][i, j],
                "ci_high_hc3": r["ci_high_hc3"][i, j], "p_hc3": r["p_hc3"][i, j], "mde": mde[i, j],
                "mde_r": mde_r, "mde_r_bivariate": mde_rb, "robustness_value": rv[i, j],
                "e_value": ev[i, j], "e_value_ci": ev_ci[i, j], "p_method": p_method, "ci_method": ci_method,
                "n_draws": n_draws}
            if extra:
                row.update({key: val[i, j] for key, val in extra.items()})
            rows.append(row)
    return rows


def _latent_rows(prep: Prepared, calibration: dict, blk: dict, cov_names: str, model: str, draw, *,
                 n_permutations: int, method: str, alpha: float, power_level: float, interval: bool) -> list[dict]:
    """The primary rows of one block: regression calibration on the latent trait (see latent.py)."""
    idx, Z, outs, feats = blk["idx"], blk["Z"], blk["outs"], blk["features"]
    n, k = Z.shape
    df_fit = n - k - 1
    commons = [{"feature": f, "outcome_period": blk["period"], "model": model, "estimand": latent.LATENT,
                "n_areas": n, "covariates": cov_names, "aggregation": "latent (regression calibration)",
                "areas_set_aside": ";".join(blk["set_aside"][f]), "note": "; ".join(blk["notes"]),
                "reliability": calibration[f].reliability if f in calibration else np.nan,
                "latent_sd": calibration[f].latent_sd if f in calibration else np.nan} for f in feats]
    X, reasons = latent.predictors(calibration, feats, idx)
    reasons = np.array(reasons, dtype=object)
    rows: list[dict] = []
    bad, ok = _set_aside(reasons, commons, outs)
    rows += bad
    if not ok.any():
        return rows
    commons = [cm for cm, u in zip(commons, ok) if u]
    feats_u = [f for f, u in zip(feats, ok) if u]
    Y = prep.targets[blk["period"]].loc[idx, outs].to_numpy("float64")
    sd_y = Y.std(axis=0, ddof=1)
    r = inference.infer_block(Z, X[:, ok], Y, draw=draw, method=method, alpha=alpha, interval=interval)
    bad, keep = _set_aside(r.pop("not_estimable"), commons, outs)
    rows += bad
    if not keep.any():
        return rows
    if not keep.all():
        r = {key: val[keep] for key, val in r.items()}
        feats_u = [f for f, k_ in zip(feats_u, keep) if k_]
        commons = [cm for cm, k_ in zip(commons, keep) if k_]
    if draw is None:
        r["p_value"] = r["p_hc3"]
        p_method, n_draws = "HC3 t (secondary)", 0
    else:
        p_method, n_draws = P_METHOD[method].format(B=int(n_permutations)), int(n_permutations)
    if draw is None or not interval:
        r["ci_low"], r["ci_high"] = r["ci_low_hc3"], r["ci_high_hc3"]
        ci_method = "HC3 t interval (secondary)"
    else:
        ci_method = CI_METHOD[method]
    ci_method += "; regression calibration, widened for the measurement model's uncertainty (delta method, log tau^2/sigma^2)"
    Qz, _ = np.linalg.qr(Z)
    sd_meas = np.vstack([latent.measurement_sd(calibration[f], Qz, idx, Y) for f in feats_u])
    tc = inference.t_crit(df_fit, alpha)
    r["ci_low"], r["ci_high"] = latent.widen(r["estimate"], r["ci_low"], r["ci_high"], sd_meas, tc)
    r["ci_low_hc3"], r["ci_high_hc3"] = latent.widen(r["estimate"], r["ci_low_hc3"], r["ci_high_hc3"], sd_meas, tc)
    return rows + _emit_rows(r, commons, outs, sd_y, df_fit, n, alpha, power_level, p_method, ci_method, n_draws,
                             extra={"se_measurement": sd_meas})


def finish(rows: pd.DataFrame, prep: Prepared | None, *, confirmatory=(), fdr_method="fdr_bh",
           alpha: float = 0.05, primary_models=("ols",), power_level: float = 0.8,
           sesoi: dict | None = None) -> pd.DataFrame:
    """Families, q-values, Holm, verdicts, measure units; the binding column order; sorted rows.

    Families are declared per estimand (latent rows and measured rows are adjusted apart). A
    confirmatory row whose feature failed the features stage's measurement gate becomes exploratory
    (``measurement_gate`` says why, and so does ``note``). Verdicts: ``verdicts.decide``.
    """
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in ESTIMATE_COLUMNS})
    out = rows.copy()
    if "estimand" not in out.columns:
        out["estimand"] = latent.MEASURED
    out["estimand"] = out["estimand"].fillna(latent.MEASURED)
    out["estimand_label"] = out["estimand"].map(latent.ESTIMAND_LABELS)
    gates = prep.gates if prep is not None else {}
    out["measurement_gate"] = out["feature"].astype(str).map(gates).fillna("not assessed")
    out["family"] = multiplicity.assign_families(out, confirmatory, primary_models)
    demoted = (out["family"] == "confirmatory") & out["measurement_gate"].str.startswith("failed")
    if demoted.any():
        out.loc[demoted, "family"] = "exploratory"
        out.loc[demoted, "note"] = [_join_notes(n if isinstance(n, str) else "",
                                                f"registered as confirmatory; exploratory because the measurement "
                                                f"gate {g}") for n, g in zip(out.loc[demoted, "note"],
                                                                             out.loc[demoted, "measurement_gate"])]
    out = multiplicity.adjust(out, fdr_method)
    measures = prep.measures if prep is not None else None
    if measures is not None and {"measure", "unit", "higher_is_better"} <= set(measures.columns):
        m = measures.drop_duplicates("measure").set_index("measure")
        out["unit"] = out["outcome"].map(m["unit"].astype("string"))
        out["higher_is_better"] = out["outcome"].map(m["higher_is_better"])
    for c in ESTIMATE_COLUMNS:
        if c not in out.columns:
            out[c] = pd.NA if c in ("unit", "higher_is_better") else np.nan
    out = verdicts.decide(out, alpha=alpha, power_level=power_level, sesoi=sesoi, fdr_method=fdr_method)
    for c in STRING_COLUMNS:
        out[c] = out[c].astype("string")
    out = out[ESTIMATE_COLUMNS + [c for c in out.columns if c not in ESTIMATE_COLUMNS]]
    return out.sort_values(["model", "outcome_period", "feature", "outcome", "estimand"], ignore_index=True)


def estimate_associations(area_features: pd.DataFrame, outcomes: pd.DataFrame, covariates: pd.DataFrame | None,
                          reference: pd.DataFrame, *, n_permutations: int, seed: int, level_year: int,
                          baseline_year: int, covariates_spec="auto", aggregation: str = "adjusted",
                          method: str = "freedman_lane", alpha: float = 0.05, power: float = 0.8,
                          confirmatory=(), fdr_method: str = "fdr_bh", periods=("level", "change"),
                          models=("ols",), measures: pd.DataFrame | None = None, interval: bool = True,
                          covariate_year: int | None = None, respondents: pd.DataFrame | None = None,
                          sesoi: dict | None = None) -> pd.DataFrame:
    """All feature x outcome associations (columns ``ESTIMATE_COLUMNS``); no I/O.

    ``models``: 'ols' (primary: covariates, HC3, resampling p and interval), 'ols_region_fe'
    (plus region fixed effects, same inference), 'ols_crv3_region' (CRV3 clustered by region).
    ``n_permutations=0`` gives HC3-t results only (labelled secondary). Families: the primary
    model's rows named in ``confirmatory`` (Holm), its other rows (BH), other models apart.
    """
    prep = prepare(area_features, outcomes, covariates, reference, level_year=level_year,
                   baseline_year=baseline_year, aggregation=aggregation, periods=periods, measures=measures,
                   covariate_year=covariate_year, respondents=respondents)
    with inference.single_thread_blas():
        parts = [fit_prepared(prep, n_permutations=n_permutations, seed=seed, covariates_spec=covariates_spec,
                              model=m, method=method, alpha=alpha, power_level=power, interval=interval)
                 for m in models]
    rows = pd.concat([p for p in parts if not p.empty], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame()
    return finish(rows, prep, confirmatory=confirmatory, fdr_method=fdr_method, alpha=alpha, power_level=power,
                  sesoi=sesoi)
