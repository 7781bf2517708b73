"""What a row may claim: verdicts from the multiplicity-adjusted test and an equivalence test (TOST).

- ``associated``: the adjusted p (Holm in the confirmatory family, BH elsewhere) is below alpha.
- ``no association of at least SESOI``: two one-sided tests against the registered smallest effect size
  of interest (outcome units, analysis_plan.yaml ``sesoi``) reject both "effect <= -SESOI" and
  "effect >= +SESOI" after the same multiplicity adjustment (unadjusted, that is the 90 % interval
  lying inside +-SESOI; Lakens 2017). Never from a small t alone.
- ``not detected``: neither; the reason states the detectable effect (MDE) at the alpha actually used.
- ``not estimable``: no estimate (the note says why).

The interval-based standard error ``se_primary = (ci_high - ci_low) / (2 t_{df, 1 - alpha/2})`` carries the
row's primary interval (permutation inversion; on the latent scale widened for the measurement model) into
the MDE and the TOST. The MDE is at ``alpha_decision`` = alpha / m (Holm's first step over the family's m
tests; BH's first step is the same), with 80 % power (``power``), on the row's own estimand scale.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from . import multiplicity, power
from .inference import t_crit

VERDICTS = ("associated", "no association of at least SESOI", "not detected", "not estimable")


def _adjust(p: np.ndarray, method: str) -> np.ndarray:
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multiplicity.holm(p[ok]) if method == "holm" else multiplicity._fdr(p[ok], method)
    return out


def _fmt(x: float) -> str:
    """Figures in a reason as the page's tables show them: two decimals (thousands without)."""
    if not np.isfinite(x):
        return "unbounded"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.2f}"


def _p(p: float) -> str:
    """'p < 0.001' or 'p = 0.033', through the pages' own p formatter."""
    from ..report import format_p
    shown = format_p(p)
    return f"p {shown}" if shown[:1] in "<>" else f"p = {shown}"


def decide(out: pd.DataFrame, *, alpha: float, power_level: float, sesoi: dict | None,
           fdr_method: str = "fdr_bh", sesoi_estimand: str = "latent") -> pd.DataFrame:
    """Add ``adjustment, alpha_decision, se_primary, mde, mde_unadjusted, sesoi, ci90_low, ci90_high, p_tost,
    p_tost_adjusted, verdict, verdict_reason`` (rows need ``family``, ``p_adjusted`` and ``estimand``).

    The SESOI is registered per SD of the latent trait, so only rows of ``sesoi_estimand`` are tested for
    equivalence: on the measured-score scale the effect is attenuated, and an interval inside +-SESOI there
    would not say the latent effect is that small (those rows read "not detected" and say so).
    Rows without an ``estimand`` column are all tested."""
    out = out.copy()
    sesoi = {str(k): float(v) for k, v in (sesoi or {}).items()}
    n = len(out)
    for col in ("alpha_decision", "se_primary", "mde", "mde_unadjusted", "sesoi", "ci90_low", "ci90_high", "p_tost",
                "p_tost_adjusted"):
        out[col] = np.nan
    out["adjustment"] = np.where(out["family"] == "confirmatory", "holm", fdr_method)
    est = out["estimate"].to_numpy(float)
    lo, hi = out["ci_low"].to_numpy(float), out["ci_high"].to_numpy(float)
    df = out["df_resid"].to_numpy(float)
    keys = ["estimand", "family"] if "estimand" in out.columns else ["family"]
    for _, idx in out.groupby(keys, sort=True, dropna=False).groups.items():
        pos = out.index.get_indexer(idx)
        p = out["p_value"].to_numpy(float)[pos]
        m = int((~np.isnan(p)).sum())
        if m == 0:
            continue
        method = str(out["adjustment"].iloc[pos[0]])
        a_dec = alpha / m
        se = np.full(len(pos), np.nan)
        mde = np.full(len(pos), np.nan)
        mde_u = np.full(len(pos), np.nan)
        ci90 = np.full((len(pos), 2), np.nan)
        p_tost = np.full(len(pos), np.nan)
        s_vals = out["outcome"].astype(str).map(sesoi).to_numpy(float)[pos]
        if "estimand" in out.columns and str(out["estimand"].iloc[pos[0]]) != sesoi_estimand:
            s_vals = np.full(len(pos), np.nan)      # the SESOI is registered on the primary scale only
        for i, row in enumerate(pos):
            if np.isnan(est[row]) or np.isnan(df[row]) or df[row] < 1:
                continue
            d = int(df[row])
            width = hi[row] - lo[row]
            se[i] = width / (2 * t_crit(d, alpha)) if np.isfinite(width) else np.inf
            mde[i] = se[i] * np.sqrt(power.mde_noncentrality(d, a_dec, power_level))
            mde_u[i] = se[i] * np.sqrt(power.mde_noncentrality(d, alpha, power_level))
            half = t_crit(d, 0.10) * se[i]
            ci90[i] = est[row] - half, est[row] + half
            s = s_vals[i]
            if np.isfinite(s) and s > 0:
                if np.isfinite(se[i]) and se[i] > 0:
                    p_lower = stats.t.sf((est[row] + s) / se[i], d)   # H0: effect <= -SESOI
                    p_upper = stats.t.sf((s - est[row]) / se[i], d)   # H0: effect >= +SESOI
                    p_tost[i] = max(p_lower, p_upper)
                else:
                    p_tost[i] = 1.0
        out.iloc[pos, out.columns.get_loc("alpha_decision")] = a_dec
        out.iloc[pos, out.columns.get_loc("se_primary")] = se
        out.iloc[pos, out.columns.get_loc("mde")] = mde
        out.iloc[pos, out.columns.get_loc("mde_unadjusted")] = mde_u
        out.iloc[pos, out.columns.get_loc("sesoi")] = s_vals
        out.iloc[pos, out.columns.get_loc("ci90_low")] = ci90[:, 0]
        out.iloc[pos, out.columns.get_loc("ci90_high")] = ci90[:, 1]
        out.iloc[pos, out.columns.get_loc("p_tost")] = p_tost
        out.iloc[pos, out.columns.get_loc("p_tost_adjusted")] = _adjust(p_tost, method)
    verdict, reason = [], []
    for r in out.itertuples(index=False):
        v, why = _verdict(r, alpha, power_level)
        verdict.append(v)
        reason.append(why)
    out["verdict"] = pd.array(verdict, dtype="string")
    out["verdict_reason"] = pd.array(reason, dtype="string")
    out["adjustment"] = out["adjustment"].astype("string")
    assert len(out) == n
    return out


def _verdict(r, alpha: float, power_level: float) -> tuple[str, str]:
    if pd.isna(r.estimate) or pd.isna(r.p_adjusted):
        note = str(r.note) if isinstance(r.note, str) else ""
        why = note.split("not estimable: ", 1)[-1] if "not estimable" in note else "no estimate"
        return "not estimable", f"No estimate: {why}."
    adj = "Holm" if r.adjustment == "holm" else "Benjamini-Hochberg"
    from ..report import unit_words  # "percent" is a change in percentage points
    words = unit_words(getattr(r, "unit", None)) if isinstance(getattr(r, "unit", None), str) else ""
    unit = f" {words}" if words else ""
    if r.p_adjusted < alpha:
        return "associated", (f"Adjusted {_p(r.p_adjusted)} ({adj}) is below {alpha:g}; estimate "
                              f"{_fmt(r.estimate)}{unit} (95 % interval {_fmt(r.ci_low)} to {_fmt(r.ci_high)}).")
    if pd.notna(r.p_tost_adjusted) and r.p_tost_adjusted < alpha:
        return "no association of at least SESOI", (
            f"Equivalence test: the 90 % interval {_fmt(r.ci90_low)} to {_fmt(r.ci90_high)} lies inside "
            f"±{r.sesoi:g}{unit} (the registered smallest effect of interest); adjusted TOST "
            f"{_p(r.p_tost_adjusted)} ({adj}) is below {alpha:g}.")
    parts = [f"Adjusted {_p(r.p_adjusted)} ({adj}) is not below {alpha:g}"]
    if np.isfinite(r.ci_low) and np.isfinite(r.ci_high) and (r.ci_low > 0 or r.ci_high < 0):
        parts[0] += " although the unadjusted 95 % interval excludes zero"
    if pd.isna(r.sesoi) and getattr(r, "estimand", "latent") == "measured":
        parts.append("equivalence is tested on the latent-trait scale only (the registered smallest effect of "
                     "interest is per SD of the latent trait; per SD of the noisy measured score effects are attenuated)")
    elif pd.isna(r.sesoi):
        parts.append("no smallest effect of interest is registered for this outcome, so absence cannot be tested")
    else:
        parts.append(f"the 90 % interval {_fmt(r.ci90_low)} to {_fmt(r.ci90_high)} is not inside ±{r.sesoi:g}{unit}"
                     f" (adjusted TOST {_p(r.p_tost_adjusted)})")
    parts.append(f"detectable effect = {_fmt(r.mde)}{unit} ({power_level:.0%} power at alpha {r.alpha_decision:.3g})")
    return "not detected", "; ".join(parts) + "."
