"""Performance measures of the simulation study, each with its Monte Carlo standard error.

Formulas follow Morris, White & Crowther (2019, Statistics in Medicine 38:2074, Table 6), with
n = number of replicates that produced an estimate:

- bias = mean(est - truth), MCSE = sd(est) / sqrt(n)
- empirical SE = sd(est), MCSE = empSE / sqrt(2 (n - 1))
- model SE = sqrt(mean(se^2)), MCSE = sqrt(var(se^2) / (4 n modSE^2))
- relative error of model SE (%) = 100 (modSE / empSE - 1),
  MCSE = 100 (modSE / empSE) sqrt(var(se^2) / (4 n modSE^4) + 1 / (2 (n - 1)))
- coverage, rejection rates (type-I error, power), FWER = p, MCSE = sqrt(p (1 - p) / n)

Family-level measures (FWER, FDR, per-test type-I error and power over the tests of one family)
are first computed per replicate, then averaged over replicates, so their MCSE respects that the
tests within one replicate share one data set. A family is the estimate stage's declared family
(``confirmatory``: Holm; ``exploratory``: BH; ``sensitivity:<model>``) within one estimand
(``latent`` or ``measured``): families are never pooled, because Holm controls the FWER of its own
family and BH the FDR of its own, and their union says nothing about either.

Two names that are easy to confuse: ``estimand`` is the estimate's scale as the estimate stage
reports it (``latent``: per SD of the latent trait, the primary; ``measured``: per SD of the measured
area score; an estimator without the column is ``measured``); ``truth_kind`` is which of the
generator's truths an estimate is compared with (``TRUTHS``: structural, associational, attenuated).

Replicates that raised (``status == 'failed'``) count in ``failure_rate`` only. In replicates that
ran, a pair the estimate stage could not estimate (``status == 'not_estimable'``: e.g. a feature
constant across areas) counts in ``not_estimable_rate``; it cannot be a false positive, cover or
miss the truth, so type-I error, FWER, FDR, coverage and bias are over the estimable tests, while
power counts a planted pair that was not estimable as not detected (the method did not find it).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

# Replicate-level results: one row per replicate x model x feature x outcome (``status`` "ok", or
# "not_estimable" with the stage's reason in ``error``), or one row per failed replicate
# (``status == "failed"``, estimates missing, ``error`` says why).
RESULT_COLUMNS = ["cell_key", "icc1", "effect_fraction", "informative_nonresponse", "unmeasured_confounder",
                  "replicate", "model", "inference", "estimand", "feature", "outcome", "outcome_period", "truth",
                  "truth_associational", "truth_attenuated", "truth_r", "estimate", "se", "ci_low", "ci_high",
                  "p_value", "p_adjusted", "n_areas", "mde_r", "family", "status", "error",
                  # columns of the estimates.csv contract of issue 14 (NaN/NA when the estimator lacks them)
                  "adjustment", "alpha_decision", "mde", "sesoi", "ci90_low", "ci90_high", "p_tost",
                  "p_tost_adjusted", "verdict"]
#: the estimates' numeric columns among RESULT_COLUMNS (the rest are strings, flags or counts)
NUMERIC_RESULT_COLUMNS = ["icc1", "effect_fraction", "truth", "truth_associational", "truth_attenuated", "truth_r",
                          "estimate", "se", "ci_low", "ci_high", "p_value", "p_adjusted", "mde_r", "alpha_decision",
                          "mde", "sesoi", "ci90_low", "ci90_high", "p_tost", "p_tost_adjusted"]
STRING_RESULT_COLUMNS = ["cell_key", "model", "inference", "estimand", "feature", "outcome", "outcome_period",
                         "family", "status", "error", "adjustment", "verdict"]
CELL_FACTORS = ["cell_key", "icc1", "effect_fraction", "informative_nonresponse", "unmeasured_confounder"]
PAIR_KEYS = ["estimand", "model", "inference", "family", "feature", "outcome", "outcome_period"]
PAIR_COLUMNS = CELL_FACTORS + ["truth_kind"] + PAIR_KEYS + ["measure", "value", "mcse", "n_sim"]
FAMILY_KEYS = ["estimand", "model", "inference", "family"]
FAMILY_COLUMNS = CELL_FACTORS + ["truth_kind"] + FAMILY_KEYS + ["n_tests", "measure", "value", "mcse", "n_sim",
                                                                 "n_failed"]

NULL_TOLERANCE = 1e-12


def _proportion(p: float, n: int) -> tuple[float, float]:
    if n == 0:
        return np.nan, np.nan
    return float(p), float(np.sqrt(p * (1 - p) / n))


def pair_measures(est: np.ndarray, se: np.ndarray, truth: np.ndarray, covered: np.ndarray,
                  rejected_raw: np.ndarray, rejected_adjusted: np.ndarray, n_not_estimable: int = 0
                  ) -> list[tuple[str, float, float]]:
    """(measure, value, mcse) for one estimand over n replicates (Morris et al. 2019, Table 6).

    The arrays hold the replicates where the pair was estimated; ``n_not_estimable`` more replicates
    ran without an estimate for it: they enter power (as not detected) and ``not_estimable_rate``.
    """
    est = np.asarray(est, float)
    se = np.asarray(se, float)
    n = est.size
    n_ran = n + int(n_not_estimable)
    if n < 2:
        return [("not_estimable_rate", *_proportion(n_not_estimable / n_ran, n_ran))] if n_ran else []
    out = []
    true_value = float(np.mean(truth))
    emp_se = float(np.std(est, ddof=1))
    out.append(("truth", true_value, 0.0))
    out.append(("mean_estimate", float(np.mean(est)), emp_se / np.sqrt(n)))
    out.append(("bias", float(np.mean(est - truth)), emp_se / np.sqrt(n)))
    if abs(true_value) > NULL_TOLERANCE:
        out.append(("relative_bias", float(np.mean(est - truth) / true_value), emp_se / np.sqrt(n) / abs(true_value)))
    out.append(("empirical_se", emp_se, emp_se / np.sqrt(2 * (n - 1))))
    se_ok = se[np.isfinite(se)]
    if se_ok.size >= 2:
        var_se2 = float(np.var(se_ok ** 2, ddof=1))
        model_se = float(np.sqrt(np.mean(se_ok ** 2)))
        out.append(("model_se", model_se, float(np.sqrt(var_se2 / (4 * se_ok.size * model_se ** 2)))))
        if emp_se > 0:
            ratio = model_se / emp_se
            out.append(("relative_error_model_se_pct", 100 * (ratio - 1),
                        100 * ratio * float(np.sqrt(var_se2 / (4 * se_ok.size * model_se ** 4) + 1 / (2 * (n - 1))))))
    cov = np.asarray(covered, float)
    out.append(("coverage", *_proportion(np.mean(cov), n)))
    if abs(true_value) <= NULL_TOLERANCE:
        out.append(("type1_error", *_proportion(np.mean(np.asarray(rejected_raw, float)), n)))
        out.append(("type1_error_adjusted", *_proportion(np.mean(np.asarray(rejected_adjusted, float)), n)))
    else:
        out.append(("power", *_proportion(np.sum(np.asarray(rejected_raw, float)) / n_ran, n_ran)))
        out.append(("power_adjusted", *_proportion(np.sum(np.asarray(rejected_adjusted, float)) / n_ran, n_ran)))
    out.append(("not_estimable_rate", *_proportion(n_not_estimable / n_ran, n_ran)))
    return out


#: columns every result table must have; the others (contract columns, ``estimand``) may be absent
REQUIRED_RESULT_COLUMNS = [c for c in RESULT_COLUMNS[: RESULT_COLUMNS.index("adjustment")] if c != "estimand"]


def _ok(results: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED_RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"replicate results lack columns {missing}; expected {RESULT_COLUMNS}")
    ok = results[results["status"] == "ok"].copy()
    ok = ok[np.isfinite(ok["estimate"].to_numpy(float))]
    return ok


def _ran(results: pd.DataFrame) -> pd.DataFrame:
    """Rows of replicates that ran: estimated pairs plus pairs reported as not estimable (``estimable`` flag)."""
    _ok(results.head(0))  # column check
    ran = results[results["status"].isin(["ok", "not_estimable"])].copy()
    ran["estimable"] = (ran["status"] == "ok").to_numpy() & np.isfinite(ran["estimate"].to_numpy(float))
    return ran


#: truth kind -> results column holding its true value (see study.truth_table)
TRUTHS = {"structural": "truth", "associational": "truth_associational", "attenuated": "truth_attenuated"}


def _truths(results: pd.DataFrame, truths: dict | None) -> dict:
    chosen = TRUTHS if truths is None else truths
    return {name: col for name, col in chosen.items()
            if col in results.columns and results[col].notna().any()}


def _with_keys(results: pd.DataFrame) -> pd.DataFrame:
    """Results whose grouping keys are filled: an estimator without ``estimand`` reports the measured scale."""
    out = results.copy()
    if "estimand" not in out.columns:
        out["estimand"] = "measured"
    out["estimand"] = out["estimand"].astype("string").fillna("measured")
    out["family"] = out["family"].astype("string").fillna("(none)")
    return out


def _flags(ok: pd.DataFrame, alpha: float, truth_column: str = "truth") -> pd.DataFrame:
    ok = ok.copy()
    ok["truth"] = ok[truth_column].to_numpy(float)
    truth = ok["truth"].to_numpy(float)
    ok["is_null"] = np.abs(truth) <= NULL_TOLERANCE
    ok["covered"] = (ok["ci_low"].to_numpy(float) <= truth) & (truth <= ok["ci_high"].to_numpy(float))
    ok["rejected_raw"] = ok["p_value"].to_numpy(float) < alpha          # NaN p (not estimable): False
    ok["rejected_adjusted"] = ok["p_adjusted"].to_numpy(float) < alpha
    return ok


def performance_by_pair(results: pd.DataFrame, alpha: float = 0.05, truths: dict | None = None) -> pd.DataFrame:
    """Bias, empirical and model SE, coverage, type-I error or power per cell x truth kind x estimand x model x
    inference x family x feature x outcome x period: every pair on its own, never pooled.

    Long format (``PAIR_COLUMNS``): one row per measure with its value and Monte Carlo SE.
    ``truths`` maps a truth kind to the results column with its true value (default ``TRUTHS``).
    """
    base = _ran(_with_keys(results))
    rows = []
    for truth_kind, column in _truths(results, truths).items():
        ran = _flags(base, alpha, column)
        for key, all_rows in ran.groupby(CELL_FACTORS + PAIR_KEYS, sort=True, dropna=False):
            group = all_rows[all_rows["estimable"]]
            n_not = int(len(all_rows) - len(group))
            measures = pair_measures(group["estimate"].to_numpy(float), group["se"].to_numpy(float),
                                     group["truth"].to_numpy(float), group["covered"].to_numpy(),
                                     group["rejected_raw"].to_numpy(), group["rejected_adjusted"].to_numpy(),
                                     n_not_estimable=n_not)
            cell, rest = key[: len(CELL_FACTORS)], key[len(CELL_FACTORS):]
            for name, value, mcse in measures:
                n_sim = len(all_rows) if name in ("power", "power_adjusted", "not_estimable_rate") else len(group)
                rows.append((*cell, truth_kind, *rest, name, value, mcse, n_sim))
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def per_replicate_family(results: pd.DataFrame, alpha: float = 0.05, truth_column: str = "truth") -> pd.DataFrame:
    """Per replicate and model: tests, true nulls, rejections (V false, S true), coverage share.

    ``n_tests``, ``n_null`` and ``covered`` count the estimable tests; ``n_nonnull`` every planted
    pair (a planted pair without an estimate is a miss); ``n_not_estimable`` the pairs without one.
    """
    ok = _flags(_ran(_with_keys(results)), alpha, truth_column)
    keys = CELL_FACTORS + FAMILY_KEYS + ["replicate"]
    est_ok = ok["estimable"]
    ok["false_adj"] = ok["is_null"] & ok["rejected_adjusted"]
    ok["true_adj"] = ~ok["is_null"] & ok["rejected_adjusted"]
    ok["false_raw"] = ok["is_null"] & ok["rejected_raw"]
    ok["true_raw"] = ~ok["is_null"] & ok["rejected_raw"]
    ok["nonnull"] = ~ok["is_null"]
    ok["null_estimable"] = ok["is_null"] & est_ok
    ok["not_estimable"] = ~est_ok
    ok["covered"] = ok["covered"].where(est_ok.to_numpy(), np.nan).astype("float64")
    truth = ok["truth"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok["rel_error"] = np.where(ok["nonnull"] & est_ok, (ok["estimate"].to_numpy(float) - truth) / truth, np.nan)
    agg = ok.groupby(keys, sort=True, dropna=False).agg(
        n_tests=("estimable", "sum"), n_null=("null_estimable", "sum"), n_nonnull=("nonnull", "sum"),
        n_not_estimable=("not_estimable", "sum"), n_pairs=("is_null", "size"),
        v_adjusted=("false_adj", "sum"), s_adjusted=("true_adj", "sum"),
        v_raw=("false_raw", "sum"), s_raw=("true_raw", "sum"),
        covered=("covered", "mean"), mean_relative_error=("rel_error", "mean"),
    ).reset_index()
    return agg


def performance_by_family(results: pd.DataFrame, alpha: float = 0.05, truths: dict | None = None
                          ) -> pd.DataFrame:
    """Family-level measures per cell, truth kind, estimand, model, inference and family of tests
    (``FAMILY_COLUMNS``), with MCSEs; ``n_tests`` is the median number of estimable tests per replicate.

    The family is the estimate stage's (``confirmatory`` pairs are Holm-adjusted, ``exploratory`` BH):
    FWER and FDR are properties of the adjustment within one family, so each family is measured on its
    own and no pooled "all tests" family exists.

    Measures: ``fwer`` and ``fdr`` (with the method's multiplicity adjustment), ``fwer_unadjusted``,
    ``type1_error_per_test`` and ``power_per_test`` (raw p < alpha, pooled over the tests of the
    family), ``power_per_test_adjusted``, ``power_any`` (at least one true effect detected after
    adjustment), ``coverage`` (share of intervals covering the truth), ``relative_bias`` (mean of
    (est - truth) / truth over planted effects), ``failure_rate`` (replicates that raised, over the
    replicates attempted), ``not_estimable_rate`` (per replicate, the share of its pairs reported
    without an estimate, averaged over the replicates that ran) and ``replicates_with_not_estimable``
    (share of the replicates that ran with at least one such pair).
    """
    frames = [_performance_by_family(results, alpha, name, column)
              for name, column in _truths(results, truths).items()]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FAMILY_COLUMNS)
    return out.sort_values(CELL_FACTORS + ["truth_kind"] + FAMILY_KEYS + ["measure"]).reset_index(drop=True)


def _performance_by_family(results: pd.DataFrame, alpha: float, truth_kind: str, truth_column: str) -> pd.DataFrame:
    fam = per_replicate_family(results, alpha, truth_column)
    failed = results[results["status"] == "failed"].groupby(CELL_FACTORS, sort=True)["replicate"].nunique()
    attempted = results.groupby(CELL_FACTORS, sort=True)["replicate"].nunique()
    rows = []
    for key, g in fam.groupby(CELL_FACTORS + FAMILY_KEYS, sort=True, dropna=False):
        cell = tuple(key[: len(CELL_FACTORS)])
        n_failed = int(failed.get(cell, 0))
        n = len(g)
        n_tests = int(np.median(g["n_tests"])) if len(g) else 0

        def mean_of(values, binary=False):
            values = np.asarray(values, float)
            values = values[np.isfinite(values)]
            if values.size == 0:
                return None
            m = float(values.mean())
            if binary:
                return m, float(np.sqrt(m * (1 - m) / values.size)), values.size
            mcse = float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else np.nan
            return m, mcse, values.size

        def add(name, result):
            if result is not None:
                rows.append((*cell, truth_kind, *key[len(CELL_FACTORS):], n_tests, name, result[0], result[1],
                             result[2], n_failed))

        has_null = g["n_null"] > 0
        has_nonnull = g["n_nonnull"] > 0
        if has_null.any():
            add("fwer", mean_of((g.loc[has_null, "v_adjusted"] > 0), binary=True))
            add("fwer_unadjusted", mean_of((g.loc[has_null, "v_raw"] > 0), binary=True))
            add("type1_error_per_test", mean_of(g.loc[has_null, "v_raw"] / g.loc[has_null, "n_null"]))
        r_adj = g["v_adjusted"] + g["s_adjusted"]
        add("fdr", mean_of(np.where(r_adj > 0, g["v_adjusted"] / r_adj.clip(lower=1), 0.0)))
        if has_nonnull.any():
            add("power_per_test", mean_of(g.loc[has_nonnull, "s_raw"] / g.loc[has_nonnull, "n_nonnull"]))
            add("power_per_test_adjusted", mean_of(g.loc[has_nonnull, "s_adjusted"] / g.loc[has_nonnull, "n_nonnull"]))
            add("power_any", mean_of((g.loc[has_nonnull, "s_adjusted"] > 0), binary=True))
            add("relative_bias", mean_of(g.loc[has_nonnull, "mean_relative_error"]))
        add("coverage", mean_of(g["covered"]))
        add("not_estimable_rate", mean_of(g["n_not_estimable"] / g["n_pairs"]))
        add("replicates_with_not_estimable", mean_of(g["n_not_estimable"] > 0, binary=True))
        n_attempted = int(attempted.get(cell, n))
        add("failure_rate", (n_failed / n_attempted, float(np.sqrt(n_failed / n_attempted * (1 - n_failed / n_attempted)
                                                                    / n_attempted)), n_attempted))
    return pd.DataFrame(rows, columns=FAMILY_COLUMNS)


def within_mc_error(value: float, target: float, mcse: float, z: float = 1.96) -> bool:
    """Whether ``value`` is within z Monte Carlo SEs of ``target`` (e.g. coverage vs 0.95)."""
    return bool(abs(value - target) <= z * mcse)
