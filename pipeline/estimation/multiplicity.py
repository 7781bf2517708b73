"""Families of tests: a declared confirmatory family (Holm) and the exploratory rest (BH)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (as statsmodels' multipletests 'fdr_bh', without its overhead)."""
    p = np.asarray(p, float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    q = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (as multipletests 'holm')."""
    p = np.asarray(p, float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate(np.minimum(1.0, p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


def _fdr(p: np.ndarray, method: str) -> np.ndarray:
    if method == "fdr_bh":
        return bh(p)
    from statsmodels.stats.multitest import multipletests
    return multipletests(p, method=method)[1]


def confirmatory_keys(spec) -> set[tuple]:
    """Params' confirmatory family -> {(feature, outcome, outcome_period or None)}.

    Accepts a list of dicts ``{feature, outcome[, period]}`` or strings ``"feature~outcome[~period]"``.
    """
    keys = set()
    for item in spec or []:
        if isinstance(item, str):
            parts = [p.strip() for p in item.split("~")]
        else:
            parts = [item.get("feature"), item.get("outcome"), item.get("period")]
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(f"confirmatory entry {item!r} needs a feature and an outcome")
        keys.add((parts[0], parts[1], parts[2] if len(parts) > 2 else None))
    return keys


def assign_families(df: pd.DataFrame, confirmatory, primary_models: tuple[str, ...] = ("ols",)) -> pd.Series:
    keys = confirmatory_keys(confirmatory)
    fam = []
    for feature, outcome, period, model in zip(df["feature"], df["outcome"], df["outcome_period"], df["model"]):
        if model not in primary_models:
            fam.append(f"sensitivity:{model}")
        elif (feature, outcome, period) in keys or (feature, outcome, None) in keys:
            fam.append("confirmatory")
        else:
            fam.append("exploratory")
    return pd.Series(fam, index=df.index, dtype="string")


def adjust(df: pd.DataFrame, fdr_method: str = "fdr_bh") -> pd.DataFrame:
    """Add q_bh, p_holm (within each family) and p_adjusted (Holm if confirmatory, else BH)."""
    out = df.copy()
    out["q_bh"] = np.nan
    out["p_holm"] = np.nan
    keys = ["estimand", "family"] if "estimand" in out.columns else ["family"]   # families are per estimand
    for _, idx in out.groupby(keys, sort=True, dropna=False).groups.items():
        p = out.loc[idx, "p_value"].to_numpy(float)
        ok = ~np.isnan(p)
        if not ok.any():
            continue
        q = np.full(p.shape, np.nan)
        hp = np.full(p.shape, np.nan)
        q[ok] = _fdr(p[ok], fdr_method)
        hp[ok] = holm(p[ok])
        out.loc[idx, "q_bh"] = q
        out.loc[idx, "p_holm"] = hp
    out["p_adjusted"] = np.where(out["family"] == "confirmatory", out["p_holm"], out["q_bh"])
    return out
