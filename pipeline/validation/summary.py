"""Tables and sentences for the validation report, computed from the performance measures.

``summary.csv`` (for the findings report to quote) is ``performance.performance_by_cell`` plus the
planted effect as a latent partial r (``effect_r``) and the cell's role: columns ``SUMMARY_COLUMNS``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .performance import CELL_FACTORS

SUMMARY_COLUMNS = CELL_FACTORS + ["role", "effect_r", "estimand", "model", "inference", "family", "measure", "value", "mcse",
                                  "n_sim", "n_failed"]
CHECK_COLUMNS = ["check", "cell_key", "estimand", "inference", "family", "value", "mcse", "target", "rule", "passes"]


def summary_table(cell_performance: pd.DataFrame, cells: pd.DataFrame, mde_r: float) -> pd.DataFrame:
    """``performance_by_cell`` with ``role`` (core/stress) and ``effect_r`` = effect fraction x MDE r."""
    out = cell_performance.merge(cells[["cell_key", "role"]], on="cell_key", how="left", validate="many_to_one")
    out["effect_r"] = out["effect_fraction"].astype(float) * float(mde_r)
    return out[SUMMARY_COLUMNS].sort_values(["role", "cell_key", "estimand", "model", "inference", "family", "measure"]
                                            ).reset_index(drop=True)


def pick(summary: pd.DataFrame, measure: str, *, estimand: str = "structural", inference: str | None = None,
         model: str | None = None, family: str | None = "auto", **factors) -> pd.DataFrame:
    """Rows of one measure for the given estimand, inference, model, family of tests and cell factors.

    ``family='auto'``: the pooled family ``all`` when the tests fall in several families (confirmatory
    and exploratory), else the one family there is; None: every family.
    """
    mask = (summary["measure"] == measure) & (summary["estimand"] == estimand)
    if family == "auto":
        family = "all" if (summary["family"] == "all").any() else None
    if family is not None:
        mask &= summary["family"] == family
    if inference is not None:
        mask &= summary["inference"] == inference
    if model is not None:
        mask &= summary["model"] == model
    for name, value in factors.items():
        mask &= summary[name] == value
    return summary[mask]


def grid(summary: pd.DataFrame, measure: str, *, inference: str, estimand: str = "structural",
         model: str | None = None, role: str = "core", with_mcse: bool = True) -> pd.DataFrame:
    """ICC(1) x effect table of one measure over the core cells, as 'value (MCSE)' percentages."""
    rows = pick(summary, measure, estimand=estimand, inference=inference, model=model)
    rows = rows[rows["role"] == role]
    if rows.empty:
        return pd.DataFrame()
    text = rows.assign(cell=[f"{100 * v:.1f} ({100 * s:.1f})" if with_mcse else f"{100 * v:.1f}"
                             for v, s in zip(rows["value"], rows["mcse"])])
    wide = text.pivot_table(index="icc1", columns="effect_fraction", values="cell", aggfunc="first")
    wide.columns = [f"effect = {c:g} x MDE" for c in wide.columns]
    return wide.reset_index().rename(columns={"icc1": "ICC(1)"})


def calibration_checks(summary: pd.DataFrame, alpha: float = 0.05, level: float = 0.95, z: float = 1.96
                       ) -> pd.DataFrame:
    """Pass/fail of the study's calibration criteria, each judged against its Monte Carlo error.

    - coverage of the structural per-SD effect within z MCSE of ``level`` (every cell; where the
      planted effect is non-zero attenuation by an unreliable score is expected to pull it down);
    - per-test type-I error within z MCSE of ``alpha`` or below it;
    - FWER and FDR under the full null (effect 0, no threat) at most ``alpha`` + z MCSE.
    """
    rows = []
    for _, r in pick(summary, "coverage", family=None).iterrows():
        rows.append(("coverage", r["cell_key"], r["estimand"], r["inference"], r["family"], r["value"], r["mcse"], level,
                     f"|value - {level}| <= {z} MCSE", abs(r["value"] - level) <= z * r["mcse"]))
    for _, r in pick(summary, "type1_error_per_test", family=None).iterrows():
        rows.append(("type-I error per test", r["cell_key"], r["estimand"], r["inference"], r["family"], r["value"], r["mcse"],
                     alpha, f"value <= {alpha} + {z} MCSE", r["value"] <= alpha + z * r["mcse"]))
    full_null = summary[(summary["effect_fraction"] == 0) & ~summary["informative_nonresponse"].astype(bool)
                        & ~summary["unmeasured_confounder"].astype(bool)]
    for measure in ("fwer", "fdr"):
        for _, r in pick(full_null, measure, family=None).iterrows():
            rows.append((f"{measure.upper()} under the full null", r["cell_key"], r["estimand"], r["inference"],
                         r["family"], r["value"], r["mcse"], alpha, f"value <= {alpha} + {z} MCSE",
                         r["value"] <= alpha + z * r["mcse"]))
    out = pd.DataFrame(rows, columns=CHECK_COLUMNS)
    out["passes"] = out["passes"].astype(bool)
    return out.sort_values(["check", "cell_key", "inference", "family"]).reset_index(drop=True)


def headline(summary: pd.DataFrame, *, icc1: float, effect_fraction: float, primary_inference: str,
             adjusted_inference: str = "hc3_t", n_areas: int, n_tests: int) -> dict:
    """Numbers for the plain-language sentence on power at one ICC(1) and effect (no threat)."""
    factors = dict(icc1=float(icc1), effect_fraction=float(effect_fraction), informative_nonresponse=False,
                   unmeasured_confounder=False)
    raw = pick(summary, "power_per_test", inference=primary_inference, **factors)
    adj = pick(summary, "power_per_test_adjusted", inference=adjusted_inference, **factors)
    if raw.empty:
        return {}
    r = raw.iloc[0]
    out = {"icc1": float(icc1), "effect_r": float(r["effect_r"]), "n_areas": int(n_areas), "n_tests": int(n_tests),
           "power": float(r["value"]), "power_mcse": float(r["mcse"]), "n_sim": int(r["n_sim"])}
    if not adj.empty:
        out["power_adjusted"] = float(adj.iloc[0]["value"])
        out["power_adjusted_mcse"] = float(adj.iloc[0]["mcse"])
    return out


def study_time_sentence(record: dict) -> str:
    """What the last run that computed replicates cost (``dask_runner.read_study_time``), in one sentence."""
    return (f"Run time: the last run that computed replicates here did {record['replicates_computed']:,} in "
            f"{record['seconds'] / 60:.1f} min on {record['n_workers']} Dask worker(s) ({record['scheduler']} "
            f"scheduler, {record['cpu_count']} cores, load average {record['load_average_at_start']:.2f} at its start).")


def versus_target(value: float, mcse: float, target: float, z: float = 1.96) -> str:
    """An error rate against its target in plain words, honest about Monte Carlo error: an estimate above
    the target is not called "within" it just because the study is too small to tell them apart."""
    if value <= target:
        return f"at or below the {target:.0%} target"
    if value <= target + z * mcse:
        return (f"above the {target:.0%} target as estimated, though within Monte Carlo error of it "
                f"({z:g} MCSE); more replicates would tell")
    return f"ABOVE the {target:.0%} target, beyond Monte Carlo error"


def headline_sentence(h: dict, alpha: float, attenuation: float | None = None, mde_r: float | None = None) -> str:
    """The plain-language power sentence. With ``attenuation`` (``study.attenuation``) it also says how strong
    the planted latent association looks in the measured score, and with ``mde_r`` how that compares with the MDE."""
    if not h:
        return "The design has no cell at this ICC(1) and effect, so no headline power is given."
    seen = ""
    if attenuation is not None:
        seen = f"; the measured area score shows about r = {attenuation * h['effect_r']:.2f}"
        if mde_r:
            seen += f", {attenuation * h['effect_r'] / mde_r:.2f} x the MDE of {mde_r:.2f}"
    text = (f"At {h['n_areas']} areas in the fit and ICC(1) = {h['icc1']:g}, the chance that one test (no "
            f"multiplicity adjustment) detects a planted association of r = {h['effect_r']:.2f} (latent partial "
            f"correlation given the covariates{seen}) at p < {alpha:g} is {100 * h['power']:.0f} % (Monte Carlo SE "
            f"{100 * h['power_mcse']:.1f} points, {h['n_sim']} replicates)")
    if "power_adjusted" in h:
        text += (f"; after the Benjamini-Hochberg adjustment across the {h['n_tests']} tests of the grid it is "
                 f"{100 * h['power_adjusted']:.0f} % (MCSE {100 * h['power_adjusted_mcse']:.1f})")
    return text + "."


POWER_KINDS = {  # column -> (measure, family, inference: 'primary' or 'adjusted')
    "one_test_unadjusted": ("power_per_test", "all", "primary"),
    "confirmatory_holm": ("power_per_test_adjusted", "confirmatory", "primary"),
    "grid_adjusted": ("power_per_test_adjusted", "all", "adjusted"),
    "any_discovery": ("power_any", "all", "adjusted"),
}


def power_by_test(summary: pd.DataFrame, *, attenuation: dict, mde_r: float, primary_inference: str,
                  adjusted_inference: str = "hc3_t", estimand: str = "structural") -> pd.DataFrame:
    """Power (%) of each kind of test in every cell with a planted effect and no threat (core and observed).

    Columns: ``cell_key, role, icc1, latent_r, expected_observed_r`` (latent r x ``attenuation[icc1]``),
    then per kind in ``POWER_KINDS`` its value and ``<kind>_mcse`` (percentage points): one test without
    adjustment (the power the MDE is defined by), the registered confirmatory planted pair(s) with Holm
    within that family, every planted pair after its family's adjustment, and any discovery. A family
    the summary lacks (e.g. no confirmatory family) gives NaN.
    """
    rows = summary[(summary["estimand"] == estimand) & (summary["effect_fraction"] > 0)
                   & ~summary["informative_nonresponse"].astype(bool) & ~summary["unmeasured_confounder"].astype(bool)]
    single_family = None if (rows["family"] == "all").any() else (rows["family"].iloc[0] if len(rows) else None)
    out = []
    for key, g in rows.groupby("cell_key", sort=False):
        first = g.iloc[0]
        rec = {"cell_key": key, "role": first["role"], "icc1": float(first["icc1"]),
               "latent_r": round(float(first["effect_r"]), 3),
               "expected_observed_r": round(float(first["effect_r"]) * float(attenuation.get(float(first["icc1"]),
                                                                                             np.nan)), 3)}
        for column, (measure, family, which) in POWER_KINDS.items():
            family = single_family if family == "all" and single_family is not None else family
            inference = primary_inference if which == "primary" else adjusted_inference
            hit = g[(g["measure"] == measure) & (g["family"] == family) & (g["inference"] == inference)]
            rec[column] = round(100 * float(hit["value"].iloc[0]), 1) if len(hit) else np.nan
            rec[column + "_mcse"] = round(100 * float(hit["mcse"].iloc[0]), 1) if len(hit) else np.nan
        out.append(rec)
    table = pd.DataFrame(out)
    if table.empty:
        return table
    return table.sort_values(["role", "icc1", "latent_r"], ignore_index=True)


def n_tests_per_replicate(results: pd.DataFrame, inference: str) -> int:
    ok = results[(results["status"] == "ok") & (results["inference"] == inference)]
    if ok.empty:
        return 0
    return int(ok.groupby(["cell_key", "replicate"]).size().median())


ESTIMABILITY_COLUMNS = ["cell_key", "replicates", "failed", "failed_pct", "with_not_estimable",
                        "with_not_estimable_pct", "pairs_not_estimable_pct", "reasons"]


def estimability(results: pd.DataFrame, inference: str | None = None) -> pd.DataFrame:
    """Per cell: replicates attempted, replicates that raised (``failed``), replicates that ran but
    reported at least one pair without an estimate, the share of pairs without one, and why.

    ``inference``: count pairs of that inference only (the study records each pair once per
    inference; estimability does not depend on it). Reasons are the estimate stage's
    "not estimable: ..." texts and the failed replicates' errors, with their counts.
    """
    import re
    rows = []
    for cell_key, g in results.groupby("cell_key", sort=True):
        attempted = g["replicate"].nunique()
        failed = g.loc[g["status"] == "failed", "replicate"].nunique()
        ran = g[g["status"].isin(["ok", "not_estimable"])]
        if inference is not None:
            ran = ran[ran["inference"] == inference]
        bad = ran[ran["status"] == "not_estimable"]
        texts = [m.group(0) if (m := re.search(r"not estimable: [^;]*", str(e))) else str(e)
                 for e in bad.drop_duplicates(["replicate", "feature"])["error"]]
        texts += [str(e)[:120] for e in g.loc[g["status"] == "failed", "error"]]
        counts = pd.Series(texts, dtype="object").value_counts() if texts else pd.Series(dtype="int64")
        reasons = "; ".join(f"{t} ({n}x)" for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        with_bad = bad["replicate"].nunique()
        n_ran = ran["replicate"].nunique()
        rows.append({"cell_key": cell_key, "replicates": int(attempted), "failed": int(failed),
                     "failed_pct": 100 * failed / attempted if attempted else np.nan,
                     "with_not_estimable": int(with_bad),
                     "with_not_estimable_pct": 100 * with_bad / n_ran if n_ran else np.nan,
                     "pairs_not_estimable_pct": 100 * len(bad) / len(ran) if len(ran) else np.nan,
                     "reasons": reasons})
    return pd.DataFrame(rows, columns=ESTIMABILITY_COLUMNS)


def effect_label(fraction: float, mde_r: float) -> str:
    return f"{fraction:g} x MDE (r = {fraction * mde_r:.2f})" if fraction else "none (0)"


def finite(values) -> np.ndarray:
    values = np.asarray(values, float)
    return values[np.isfinite(values)]
