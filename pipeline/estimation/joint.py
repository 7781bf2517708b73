"""Sensitivity: the confirmatory features fitted together, beside the one-at-a-time fits.

Correlated features fitted one at a time borrow each other's associations (a feature with no
association of its own picks up its neighbour's). Here every confirmatory feature enters one model per
outcome and period, with the same covariates and inference (Freedman-Lane with the other features as
part of the reduced model, inverted interval). ``vif`` is each feature's variance inflation factor in
that model (1 / (1 - R^2) of the feature on the covariates and the other features): the factor by
which its variance grows because the others are in. ``separability`` states in words what the data
can and cannot separate.

On the latent scale the predictors are the per-feature calibrated expectations (latent.py); their
joint calibration (which would use the features' correlated measurement errors) is not made, and
their intervals do not include the measurement model's uncertainty: the note says so.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import design, inference, latent
from .blocks import controls as block_controls

JOINT_COLUMNS = ["outcome", "outcome_period", "feature", "estimand", "estimate", "ci_low", "ci_high", "p_value",
                 "n_areas", "vif", "note"]
LATENT_NOTE = ("latent scale: each feature's own calibrated expectation; no joint calibration of correlated "
               "measurement errors and no measurement-model widening (approximate)")


def _vif(Z: np.ndarray, X: np.ndarray) -> np.ndarray:
    out = np.empty(X.shape[1])
    for j in range(X.shape[1]):
        others = np.column_stack([Z, np.delete(X, j, axis=1)])
        coef, *_ = np.linalg.lstsq(others, X[:, j], rcond=None)
        resid = X[:, j] - others @ coef
        centred = X[:, j] - X[:, j].mean()
        r2 = 1.0 - (resid @ resid) / (centred @ centred)
        out[j] = 1.0 / max(1.0 - r2, 1e-12)
    return out


def joint_associations(prep, features: list[str], outcomes: list[str], periods=("level",), *, n_permutations: int,
                       seed: int, covariates_spec="auto", method: str = "freedman_lane",
                       alpha: float = 0.05) -> pd.DataFrame:
    """Rows ``JOINT_COLUMNS``: each of ``features`` in one model per outcome x period x estimand."""
    controls = block_controls(prep, covariates_spec, "ols")
    estimands = [latent.MEASURED] + ([latent.LATENT] if prep.respondents is not None else [])
    calibration = prep.calibration(controls) if prep.respondents is not None else None
    rows = []
    for period in periods:
        if period not in prep.targets:
            continue
        Yw = prep.targets[period]
        for outcome in outcomes:
            if outcome not in Yw.columns:
                continue
            base = prep.features[features].dropna().index.intersection(Yw[outcome].dropna().index)
            idx, Z, _, notes = design.build_design(base, controls)
            n = len(idx)
            y = Yw.loc[idx, [outcome]].to_numpy("float64")
            for estimand in estimands:
                if estimand == latent.MEASURED:
                    raw = prep.features.loc[idx, features].to_numpy("float64")
                    X = (raw - raw.mean(axis=0)) / raw.std(axis=0, ddof=1)
                    note = "; ".join(notes)
                else:
                    X, reasons = latent.predictors(calibration, features, idx)
                    bad = [f"{f}: {r}" for f, r in zip(features, reasons) if r]
                    if bad:
                        rows += [{"outcome": outcome, "outcome_period": period, "feature": f, "estimand": estimand,
                                  "n_areas": n, "note": f"not estimable: {'; '.join(bad)}"} for f in features]
                        continue
                    note = "; ".join([*notes, LATENT_NOTE])
                df = n - Z.shape[1] - X.shape[1]
                if df < 3:
                    rows += [{"outcome": outcome, "outcome_period": period, "feature": f, "estimand": estimand,
                              "n_areas": n, "note": "not estimable: too few areas"} for f in features]
                    continue
                vif = _vif(Z, X)
                draw = inference.draws(n, int(n_permutations), seed, method) if n_permutations else None
                for j, f in enumerate(features):
                    Zj = np.column_stack([Z, np.delete(X, j, axis=1)])
                    r = inference.infer_block(Zj, X[:, [j]], y, draw=draw, method=method, alpha=alpha)
                    why = r["not_estimable"][0]
                    lo = r["ci_low"] if draw is not None else r["ci_low_hc3"]
                    hi = r["ci_high"] if draw is not None else r["ci_high_hc3"]
                    p = r["p_value"] if draw is not None else r["p_hc3"]
                    rows.append({"outcome": outcome, "outcome_period": period, "feature": f, "estimand": estimand,
                                 "estimate": r["estimate"][0, 0], "ci_low": lo[0, 0], "ci_high": hi[0, 0],
                                 "p_value": p[0, 0], "n_areas": n, "vif": vif[j],
                                 "note": f"not estimable: {why}" if why else note})
    out = pd.DataFrame(rows, columns=JOINT_COLUMNS)
    for c in ("outcome", "outcome_period", "feature", "estimand", "note"):
        out[c] = out[c].astype("string")
    out["n_areas"] = out["n_areas"].astype("int64")
    return out.sort_values(["outcome_period", "outcome", "estimand", "feature"], ignore_index=True)


def feature_correlations(prep, features: list[str], *, estimand: str = latent.MEASURED,
                         covariates_spec="auto") -> pd.DataFrame:
    """Correlation matrix of the features across areas (measured scores, or calibrated expectations)."""
    if estimand == latent.LATENT and prep.respondents is not None:
        cal = prep.calibration(block_controls(prep, covariates_spec, "ols"))
        areas = prep.features.index
        X, _ = latent.predictors(cal, features, areas)
        frame = pd.DataFrame(X, index=areas, columns=features)
    else:
        frame = prep.features[features]
    return frame.dropna().corr()


def separability(joint: pd.DataFrame, one_at_a_time: pd.DataFrame | None = None,
                 correlations: pd.DataFrame | None = None, *, estimand: str = latent.LATENT) -> str:
    """Plain words, from the numbers, on what the design can and cannot separate."""
    j = joint[(joint["estimand"] == estimand) & joint["estimate"].notna()]
    if j.empty:
        j = joint[joint["estimate"].notna()]
        if j.empty:
            return "The joint model could not be fitted, so the features' separate contributions are not estimated."
        estimand = str(j["estimand"].iloc[0])
    parts = []
    if correlations is not None and len(correlations) > 1:
        c = correlations.where(~np.eye(len(correlations), dtype=bool)).stack()
        (a, b), r = c.abs().idxmax(), c.loc[c.abs().idxmax()]
        parts.append(f"The most correlated confirmatory features are {a} and {b} (r = {r:.2f} across areas).")
    vif = j.groupby("feature")["vif"].max()
    parts.append("Fitted together, the features' variance inflation factors range from "
                 f"{vif.min():.2f} to {vif.max():.2f}" + (
                     ": the intervals are up to {:.0%} wider than they would be with uncorrelated features.".format(
                         np.sqrt(vif.max()) - 1)))
    if one_at_a_time is not None and len(one_at_a_time):
        keys = ["feature", "outcome", "outcome_period"]
        one = one_at_a_time[one_at_a_time["estimand"] == estimand][keys + ["estimate", "ci_low", "ci_high"]]
        m = j.merge(one, on=keys, suffixes=("_joint", "_alone"))
        shrunk = m[(np.sign(m["estimate_joint"]) != np.sign(m["estimate_alone"]))
                   | (m["estimate_joint"].abs() < 0.5 * m["estimate_alone"].abs())]
        excl_alone = (m["ci_low_alone"] > 0) | (m["ci_high_alone"] < 0)
        excl_joint = (m["ci_low_joint"] > 0) | (m["ci_high_joint"] < 0)
        lost = m[excl_alone & ~excl_joint]
        if len(shrunk):
            parts.append("Associations that shrink by more than half or change sign once the other features are in: "
                         + "; ".join(f"{r.feature} -> {r.outcome} ({r.estimate_alone:.3g} alone, {r.estimate_joint:.3g} "
                                     "together)" for r in shrunk.itertuples()) +
                         ". One-at-a-time estimates for these pairs partly reflect the correlated features.")
        if len(lost):
            parts.append("Intervals that exclude zero alone but not together: "
                         + "; ".join(f"{r.feature} -> {r.outcome}" for r in lost.itertuples())
                         + ". The data cannot tell which of the correlated features carries these associations.")
        if not len(shrunk) and not len(lost):
            parts.append("No association changes materially when the features are fitted together.")
    return " ".join(parts)
