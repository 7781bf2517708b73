"""Assembling the stage's outputs: estimates.csv rows from every model, and reports/metrics.json."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .associations import ESTIMATE_COLUMNS
from .latent import ESTIMAND_LABELS, LATENT, MEASURED


def combine(primary: pd.DataFrame, *others: pd.DataFrame, influence_summary: pd.DataFrame | None = None,
            benchmarks: pd.DataFrame | None = None) -> pd.DataFrame:
    """One table in the estimates.csv layout (ESTIMATE_COLUMNS first), rows sorted; joins the
    leave-one-out summary (``loo_min, loo_max, most_influential_area, max_abs_change``) and the
    covariate benchmarks of the robustness value (``strongest_covariate, covariate_r2_feature,
    covariate_r2_outcome, rv_beyond_strongest_covariate``) where given."""
    parts = [p for p in (primary, *others) if p is not None and len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else primary.iloc[0:0]
    for c in ESTIMATE_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    # rows of other analyses (panel, response-rate check) are on the measured-score scale
    out["estimand"] = out["estimand"].astype("string").fillna(MEASURED)
    out["estimand_label"] = out["estimand_label"].astype("string").fillna(out["estimand"].map(ESTIMAND_LABELS))
    if influence_summary is not None and len(influence_summary):
        keys = ["feature", "outcome", "outcome_period", "model"]
        out = out.merge(influence_summary, on=keys, how="left")
    if benchmarks is not None and len(benchmarks):
        keys = ["feature", "outcome", "outcome_period", "model"]
        out = out.merge(benchmarks, on=keys, how="left")
        strongest = np.maximum(out["covariate_r2_feature"].astype(float), out["covariate_r2_outcome"].astype(float))
        out["rv_beyond_strongest_covariate"] = (out["robustness_value"].astype(float) > strongest).where(
            strongest.notna()).astype("boolean")
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].astype("string")
    rest = [c for c in out.columns if c not in ESTIMATE_COLUMNS]
    out = out[ESTIMATE_COLUMNS + rest]
    return out.sort_values(["model", "outcome_period", "feature", "outcome", "estimand"], ignore_index=True)


def _num(x, digits: int = 6):
    if x is None or (isinstance(x, float) and not np.isfinite(x)) or pd.isna(x):
        return None
    return float(f"{float(x):.{digits}g}")


def _block(p: pd.DataFrame, alpha: float, n_top: int) -> dict:
    disc = p[p["p_adjusted"] < alpha]
    top = p.sort_values(["p_adjusted", "p_value", "feature", "outcome", "outcome_period"]).head(n_top)
    conf = p[p["family"] == "confirmatory"]
    return {
        "n_pairs": int(len(p)),
        "n_features": int(p["feature"].nunique()),
        "n_outcomes": int(p["outcome"].nunique()),
        "n_areas_max": int(p["n_areas"].max()) if len(p) else 0,
        "n_areas_min": int(p["n_areas"].min()) if len(p) else 0,
        "n_discoveries_q05": int(len(disc)),
        "n_confirmatory": int(len(conf)),
        "n_confirmatory_associated": int((conf["p_adjusted"] < alpha).sum()),
        "verdicts": {str(k): int(v) for k, v in p["verdict"].value_counts().sort_index().items()},
        "mde_r_median": _num(p["mde_r"].median()),
        "mde_r_bivariate": _num(p["mde_r_bivariate"].median()),
        "mde_confirmatory_median": _num(conf["mde"].median()) if len(conf) else None,
        "alpha_decision_confirmatory": _num(conf["alpha_decision"].min()) if len(conf) else None,
        "p_method": str(p["p_method"].dropna().iloc[0]) if p["p_method"].notna().any() else None,
        "ci_method": str(p["ci_method"].dropna().iloc[0]) if p["ci_method"].notna().any() else None,
        "strongest": [{"feature": str(r.feature), "outcome": str(r.outcome), "period": str(r.outcome_period),
                       "estimate": _num(r.estimate), "ci_low": _num(r.ci_low), "ci_high": _num(r.ci_high),
                       "p_value": _num(r.p_value), "p_adjusted": _num(r.p_adjusted), "family": str(r.family),
                       "verdict": str(r.verdict)} for r in top.itertuples()],
    }


def metrics(estimates: pd.DataFrame, *, primary_model: str = "ols", alpha: float = 0.05, n_top: int = 5) -> dict:
    """Headline figures for ``dvc metrics``: computed from ``estimates``; deterministic (6 significant digits).

    Top-level figures are the primary estimand's (latent trait, when present); ``measured`` holds the same for
    the secondary estimand (per SD of the measured score).
    Statistics only: what they were computed from is recorded beside them (pipeline.provenance.write_record), so
    the same statistics give the same bytes whatever the input files are called.
    """
    p = estimates[estimates["model"] == primary_model]
    estimand = p["estimand"].astype("string") if "estimand" in p.columns else pd.Series(MEASURED, index=p.index)
    primary_estimand = LATENT if (estimand == LATENT).any() else MEASURED
    out = {"primary_model": primary_model, "primary_estimand": primary_estimand,
           "estimand_label": ESTIMAND_LABELS[primary_estimand],
           **_block(p[estimand == primary_estimand], alpha, n_top)}
    if primary_estimand != MEASURED:
        out["measured"] = _block(p[estimand == MEASURED], alpha, n_top)
    return out
