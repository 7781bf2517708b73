"""One replicate of the simulation study: generate -> clean -> features -> estimate -> multiplicity.

``whole_path_replicate`` is the study's method: it asks ``pipeline.simulate`` for one synthetic
data set, writes its raw CSV files into a temporary folder laid out like ``data/raw``, and runs the
same library functions the pipeline's stages run (no notebooks), returning one row per model x
feature x outcome with the generator's true per-SD association beside the estimate.

``textbook_replicate`` is *not* the method: it is a known-answer check of the harness itself
(ordinary least squares with exact t intervals, where coverage is 95 % and the type-I error 5 % by
theory), used by the tests and the benchmark (``--method textbook``) to check the harness on its own.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np
import pandas as pd
from scipy import stats

from .design import Cell


def mde_r(n_areas: int, n_covariates: int = 0, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimal detectable partial r for one OLS coefficient with ``n_covariates`` controls and an intercept.

    Delegates to the estimate stage's ``estimation.power.mde_partial_r`` (df = n - k - 2), so "the MDE"
    means the same thing here and in ``estimates.csv``. With no covariates: 0.413 at 42 areas, close
    to ``pingouin.power_corr`` (0.417, which uses the Fisher z approximation instead of the exact F test).
    """
    from ..estimation import power as est_power
    df_resid = int(n_areas) - int(n_covariates) - 2
    if df_resid < 2:
        raise ValueError(f"{n_areas} areas and {n_covariates} covariates leave {df_resid} residual df")
    return est_power.mde_partial_r(df_resid, float(alpha), float(power))


def textbook_replicate(cell: Cell, seed_seq: np.random.SeedSequence, n_areas: int = 42, n_features: int = 4,
                       n_outcomes: int = 3, alpha: float = 0.05, **_ignored) -> pd.DataFrame:
    """Known-answer control: x ~ N(0, 1), y = b x + e, OLS with exact t intervals and BH adjustment.

    The first feature carries b = effect_fraction x MDE (as a correlation) on every outcome; the
    rest are null. Intervals cover b in 95 % of replicates and null tests reject in 5 % by theory,
    so a departure flags a bug in the harness or the performance measures, not in the method.
    The unmeasured confounder (when on) adds u to the first feature and to every outcome.
    """
    from statsmodels.stats.multitest import multipletests
    rng = np.random.default_rng(seed_seq)
    r = cell.effect_fraction * mde_r(n_areas, 0, alpha=alpha)
    b = r / np.sqrt(1 - r ** 2)  # slope per SD of x giving correlation r with unit error variance
    u = rng.standard_normal(n_areas) if cell.unmeasured_confounder else np.zeros(n_areas)
    x = rng.standard_normal((n_areas, n_features))
    x[:, 0] += 0.5 * u
    rows = []
    for j in range(n_outcomes):
        y = b * x[:, 0] + 0.5 * u + rng.standard_normal(n_areas)
        for k in range(n_features):
            design = np.column_stack([np.ones(n_areas), x[:, k]])
            coef, *_ = np.linalg.lstsq(design, y, rcond=None)
            resid = y - design @ coef
            df = n_areas - 2
            sigma2 = resid @ resid / df
            se = float(np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[1, 1]))
            t = coef[1] / se
            q = stats.t.ppf(0.975, df)
            rows.append({"model": "textbook_ols", "inference": "t", "feature": f"x{k + 1}", "outcome": f"y{j + 1}",
                         "truth": b if k == 0 else 0.0, "truth_r": r if k == 0 else 0.0,
                         "estimate": coef[1], "se": se, "ci_low": coef[1] - q * se, "ci_high": coef[1] + q * se,
                         "p_value": float(2 * stats.t.sf(abs(t), df)), "n_areas": n_areas})
    out = pd.DataFrame(rows)
    out["p_adjusted"] = multipletests(out["p_value"].to_numpy(), method="fdr_bh")[1]
    return out


# --------------------------------------------------------------------------------------------------
# The method: the whole path, in-process
# --------------------------------------------------------------------------------------------------

#: The estimate stage's settings the study uses (same names as params.yaml ``estimate``), and the
#: study's own: ``target_r_per_mde`` (the MDE as a latent partial r, from ``calibrate``).
METHOD_OPTIONS = ("n_permutations", "level_year", "baseline_year", "covariates", "primary_method", "alpha",
                  "fdr_method", "power", "aggregation", "periods", "features_on_fail", "confirmatory",
                  "target_r_per_mde", "sesoi")


def registered_sesoi(plan_path=None) -> dict[str, float]:
    """The analysis plan's smallest effect sizes of interest (top-level ``sesoi``: outcome -> value in the
    outcome's unit), or {} when the plan registers none."""
    import yaml

    from .. import paths
    path = paths.ANALYSIS_PLAN if plan_path is None else plan_path
    try:
        plan = yaml.safe_load(open(path, encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    values = plan.get("sesoi") if isinstance(plan, dict) else None
    if not isinstance(values, dict):
        return {}
    return {str(k): float(v) for k, v in sorted(values.items()) if v is not None}


def study_options(validate: dict, estimate: dict, target_r_per_mde: float, confirmatory=(), sesoi=None) -> dict:
    """The keyword arguments of ``whole_path_replicate`` from params.yaml's ``validate`` and ``estimate``
    groups (the notebook's parameters), the calibrated MDE, the registered confirmatory family and SESOIs:
    the same settings in the report (06 notebook) and the benchmark."""
    return dict(target_r_per_mde=float(target_r_per_mde), n_permutations=int(validate["study_n_permutations"]),
                level_year=int(estimate["level_year"]), baseline_year=int(estimate["baseline_year"]),
                covariates=estimate["covariates"], primary_method=estimate["primary_method"],
                alpha=float(estimate["alpha"]), fdr_method=estimate["fdr_method"], power=float(estimate["power"]),
                aggregation=estimate["aggregation"], periods=list(validate["periods"]),
                features_on_fail=validate["features_on_fail"], confirmatory=list(confirmatory or []),
                sesoi=dict(sesoi or {}))


ATTENUATION_COLUMNS = ["icc1", "n_datasets", "corr_score_trait", "sd_trait_given_covariates", "attenuation"]


def attenuation(icc1_levels, seed: int, n_datasets: int) -> pd.DataFrame:
    """How much weaker a planted latent partial r looks in the measured area score, per ICC(1), as the
    generator implies (columns ``ATTENUATION_COLUMNS``).

    ``corr_score_trait``: for ``n_datasets`` synthetic data sets without planted effects or threats
    (seeded from ``SeedSequence([seed, k])``), the realised correlation of each feature's area mean
    score with its latent trait (``truth['attenuation']['realised_corr_mean_trait']``: final answers
    after Likert coarsening, reverse coding and missing answers), averaged over features and data sets.
    Its square is the score's reliability ``rho``. The estimate is a *partial* association given the
    covariates, and the covariates explain part of the trait but none of the measurement error, so the
    partial r is attenuated by ``attenuation = sqrt(s^2 / (s^2 + 1 / rho - 1))``, with ``s`` the SD of
    the trait given the covariates (``simulate.trait_sd_given_covariates``). A planted latent partial
    r shows up in the measured score as about ``attenuation x r``.
    """
    from .. import simulate
    rows = []
    for icc in sorted({float(x) for x in icc1_levels}):
        design = simulate.SimulationDesign(icc1_target=icc, effect_scale=0.0, informative_nonresponse=False,
                                           unmeasured_confounder=False)
        values = []
        for k in range(int(n_datasets)):
            data_seed = int(np.random.SeedSequence([int(seed), k]).generate_state(1)[0])
            truth = simulate.generate(data_seed, design, with_fieldwork=False).truth
            values += [float(v) for v in truth["attenuation"]["realised_corr_mean_trait"].values()]
        corr = float(np.mean(values))
        sd_t = simulate.trait_sd_given_covariates(design)
        partial = float(np.sqrt(sd_t ** 2 / (sd_t ** 2 + 1 / corr ** 2 - 1)))
        rows.append((icc, int(n_datasets), corr, sd_t, partial))
    return pd.DataFrame(rows, columns=ATTENUATION_COLUMNS)


def generator_design(cell: Cell, target_r_per_mde: float):
    """The generator's design for a cell: how a fraction of the MDE becomes the generator's effect size.

    ``pipeline.simulate`` sizes each planted effect by its latent partial correlation with the
    outcome given the covariates (``strong_partial_r``, ``moderate_partial_r``; ``effect_scale``
    multiplies the resulting slopes, 0 = the full null). The study sets both partial r's to
    ``effect_fraction x target_r_per_mde`` and ``effect_scale`` to 1 (0 when the fraction is 0), so
    every planted effect is exactly that fraction of the MDE on the partial-r scale the estimate stage
    reports its MDE on (``estimates.csv`` column ``mde_r``). The planted r is for the *latent* trait:
    the measured feature is less reliable, so power at "the MDE" is below the nominal 80 %.
    """
    from .. import simulate
    r = float(cell.effect_fraction) * float(target_r_per_mde)
    if not 0 <= r < 1:
        raise ValueError(f"effect fraction {cell.effect_fraction} x MDE r {target_r_per_mde} = {r} is not a "
                         "correlation in [0, 1)")
    return simulate.SimulationDesign(icc1_target=float(cell.icc1), effect_scale=1.0 if r > 0 else 0.0,
                                     strong_partial_r=r if r > 0 else simulate.SimulationDesign.strong_partial_r,
                                     moderate_partial_r=r if r > 0 else simulate.SimulationDesign.moderate_partial_r,
                                     informative_nonresponse=bool(cell.informative_nonresponse),
                                     unmeasured_confounder=bool(cell.unmeasured_confounder))


@functools.lru_cache(maxsize=1)
def _matcher_and_reference():
    """The reference tables the stages read from data/raw/reference, read once per process (worker)."""
    from ..areas import AreaMatcher, load_forces
    from ..clean.labels import Synonyms
    return AreaMatcher.from_reference(), load_forces(), Synonyms.load()


# Only these raw folders feed the estimate; fieldwork is descriptive (themes, quotes) and never enters it.
_RAW_KINDS_USED = ("survey", "outcomes", "reference")


def run_whole_path(files: dict[str, bytes], *, estimate_seed: int, n_permutations: int, level_year: int,
                   baseline_year: int, covariates="auto", primary_method: str = "freedman_lane",
                   alpha: float = 0.05, fdr_method: str = "fdr_bh", power: float = 0.8,
                   aggregation: str = "adjusted", periods=("level", "change"),
                   features_on_fail: str = "keep_with_warning", confirmatory=(), sesoi=None) -> pd.DataFrame:
    """Raw files (relative path -> bytes) -> ``estimates.csv`` rows, through the stages' own functions.

    The respondents' feature scores go to the estimate stage too, for its primary (latent-trait) rows when
    the estimator supports them; ``sesoi`` (outcome -> smallest effect size of interest, the plan's) for its
    equivalence verdicts.

    The files go to a fresh temporary folder laid out like ``data/raw``; nothing is written to the repo.
    Unless ``features_on_fail == 'drop'`` the features stage's quality checks cannot change which
    features are estimated (every feature is kept), so the cheaper ``area_scores`` (same scores) is
    used and the rows are marked ``decision = 'not assessed'``; with 'drop' the full ``area_features``
    runs with the features stage's default thresholds.
    """
    import tempfile
    from pathlib import Path

    from ..clean import clean_covariates, clean_outcomes, clean_survey
    from ..estimation import estimate_associations
    from ..measurement import area_features, area_scores, respondent_scores

    matcher, reference, synonyms = _matcher_and_reference()
    with tempfile.TemporaryDirectory(prefix="instep-validate-") as tmp:
        root = Path(tmp)
        for rel, content in files.items():
            if rel.split("/", 1)[0] in _RAW_KINDS_USED:
                target = root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        survey = clean_survey(root / "survey", matcher, synonyms=synonyms)
        outcomes = clean_outcomes(root / "outcomes", matcher)
        covs = clean_covariates(root / "reference", matcher)
    method = "raw" if aggregation in ("raw", "raw_mean") else "adjusted"
    respondents = respondent_scores(survey.clean, survey.codebook)
    if features_on_fail == "drop":
        features = area_features(survey.clean, survey.codebook, method=method, on_fail="drop", with_omega=False)
    else:
        features = area_scores(survey.clean, survey.codebook, method=method,
                               scores=respondents).assign(decision="not assessed")
    extra = {}
    accepted = inspect.signature(estimate_associations).parameters
    if "respondents" in accepted:
        extra["respondents"] = respondents
    if "sesoi" in accepted:
        extra["sesoi"] = dict(sesoi or {})
    return estimate_associations(features, outcomes.outcomes, covs.covariates, reference,
                                 n_permutations=int(n_permutations), seed=int(estimate_seed),
                                 level_year=int(level_year), baseline_year=int(baseline_year),
                                 covariates_spec=covariates, aggregation=aggregation, method=primary_method,
                                 alpha=alpha, power=power, fdr_method=fdr_method, periods=tuple(periods),
                                 measures=outcomes.measures, confirmatory=list(confirmatory or []), **extra)


def truth_table(truth: dict, level_year: int, baseline_year: int) -> pd.DataFrame:
    """The generator's truth per feature x outcome x outcome period, for the estimate stage's estimand.

    Columns: ``feature, outcome, outcome_period, truth`` (structural effect per SD of the latent trait:
    the causal question), ``truth_associational`` (population slope of the outcome on that one trait
    given the covariates: what a one-feature model targets; differs from ``truth`` through correlated
    traits and the unmeasured confounder), ``truth_attenuated`` (``truth_associational`` x the realised
    correlation of the measured area score with the trait: roughly what the estimate can reach with a
    score of that reliability), ``truth_r`` (the planted latent partial r, 0 for null pairs).

    Planted effects are level shifts from their first year on: in the ``level`` period (``level_year``)
    they count if they started by then; in the ``change`` period (``level_year`` minus ``baseline_year``)
    only if they started after the baseline year.
    """
    planted = {(e["feature"], e["measure"]): e for e in truth["planted_effects"]}
    implied = {(s["feature"], s["measure"]): s for s in truth["implied_slopes"]}
    corr = truth["attenuation"]["realised_corr_mean_trait"]
    rows = []
    for feature in truth["features"]:
        for measure in truth["measures"]:
            effect = planted.get((feature, measure))
            slope = implied.get((feature, measure), {}).get("implied_adjusted_slope_per_sd", 0.0)
            for period in ("level", "change"):
                if effect is None:
                    active = False
                elif period == "level":
                    active = effect["from_year"] <= level_year
                else:
                    active = baseline_year < effect["from_year"] <= level_year
                structural = float(effect["effect_per_sd"]) if active else 0.0
                # the associational slope is a level quantity; a level shift present at both ends cancels
                # in the change, as does the (time-constant) confounder
                assoc = float(slope) if period == "level" else structural
                rows.append({"feature": feature, "outcome": measure, "outcome_period": period,
                             "truth": structural, "truth_associational": assoc,
                             "truth_attenuated": assoc * float(corr.get(feature, np.nan)),
                             "truth_r": float(effect["target_latent_partial_r"]) if active else 0.0})
    return pd.DataFrame(rows)


def tidy_estimates(est: pd.DataFrame, method: str, n_permutations: int, fdr_method: str) -> pd.DataFrame:
    """The estimate stage's rows as the study records them: once per inference method, per estimand.

    ``inference = '<method> B=<n>'``: the stage's primary p-values and intervals (resampling with
    ``n_permutations`` draws, or HC3 t when 0). With few draws the smallest attainable p is
    1 / (B + 1), which caps what a multiplicity adjustment over ~100 tests can ever reject; so the
    same fits are also recorded with ``inference = 'hc3_t'`` (the stage's HC3 t p-values and
    intervals, computed alongside, adjusted by the stage's own ``multiplicity.adjust``): continuous
    p-values on which FWER, FDR and adjusted power are meaningful at any B.

    ``status`` is ``ok``, or ``not_estimable`` for a pair the stage reports without an estimate
    (a feature constant across areas or collinear with the covariates, too few areas); ``error``
    then holds the stage's reason (its ``note``).

    ``estimand`` (``latent`` / ``measured``) and the contract's columns (``CONTRACT_COLUMNS``: adjustment,
    alpha_decision, mde, sesoi, the 90 % interval, TOST p-values, verdict) are kept when the estimator
    writes them; an estimator without ``estimand`` is recorded as ``measured``. The ``hc3_t`` copy carries
    no TOST or verdict (those are the primary method's).
    """
    from ..estimation import multiplicity
    est = est.copy()
    if "estimand" not in est.columns:  # an estimator before issue 14: every row is per SD of the measured score
        est["estimand"] = "measured"
    if "adjustment" not in est.columns:
        est["adjustment"] = np.where(est["family"].astype("string") == "confirmatory", "holm", fdr_method)
    contract = [c for c in CONTRACT_COLUMNS if c in est.columns]
    keep = ["model", "estimand", "feature", "outcome", "outcome_period", "estimate", "se_hc3", "ci_low", "ci_high",
            "p_value", "p_adjusted", "n_areas", "mde_r", "family"] + contract
    not_estimable = est["estimate"].isna().to_numpy()
    status = np.where(not_estimable, "not_estimable", "ok")
    error = pd.Series(est["note"].astype("string").to_numpy(), dtype="string").where(not_estimable, pd.NA)
    primary = est[keep].rename(columns={"se_hc3": "se"}).assign(
        inference=f"{method} B={n_permutations}" if n_permutations else "hc3_t",
        status=status, error=error.to_numpy())
    parts = [primary]
    if n_permutations:
        base = [c for c in keep if c not in ("p_value", "p_adjusted", "ci_low", "ci_high", "p_tost", "p_tost_adjusted",
                                             "ci90_low", "ci90_high", "verdict")]
        hc3 = est[base + ["p_hc3", "ci_low_hc3", "ci_high_hc3"]].rename(
            columns={"p_hc3": "p_value", "ci_low_hc3": "ci_low", "ci_high_hc3": "ci_high"})
        hc3 = hc3.assign(status=status, error=error.to_numpy())
        # each family adjusted within its own estimand, by the stage's own multiplicity code
        adjusted = [multiplicity.adjust(g, fdr_method).drop(columns=["q_bh", "p_holm"])
                    for _, g in hc3.groupby("estimand", sort=True)]
        hc3 = pd.concat(adjusted).loc[hc3.index]
        parts.append(hc3.rename(columns={"se_hc3": "se"}).assign(inference="hc3_t"))
    out = pd.concat(parts, ignore_index=True)
    return out.astype({"feature": "string", "outcome": "string", "outcome_period": "string", "model": "string",
                       "inference": "string", "family": "string", "status": "string", "error": "string",
                       "estimand": "string"})


#: estimates.csv columns of the issue-14 contract the study records when the estimator writes them
CONTRACT_COLUMNS = ("adjustment", "alpha_decision", "mde", "sesoi", "ci90_low", "ci90_high", "p_tost",
                    "p_tost_adjusted", "verdict")


def whole_path_replicate(cell: Cell, seed_seq: np.random.SeedSequence, *, target_r_per_mde: float,
                         n_permutations: int, level_year: int, baseline_year: int, covariates="auto",
                         primary_method: str = "freedman_lane", alpha: float = 0.05, fdr_method: str = "fdr_bh",
                         power: float = 0.8, aggregation: str = "adjusted", periods=("level", "change"),
                         features_on_fail: str = "keep_with_warning", confirmatory=(), sesoi=None) -> pd.DataFrame:
    """One replicate of the study: simulate -> clean -> features -> estimate (with its multiplicity).

    Returns one row per model x feature x outcome x period with the estimate, its interval, raw and
    adjusted p and the truths (see ``truth_table``). ``confirmatory`` is the registered family
    (``pipeline.plan.confirmatory_spec()``): those pairs are Holm-adjusted, the rest BH, as in the stage. ``se`` is the HC3 standard error; intervals and p
    come from the estimate stage's primary method (permutation/bootstrap inversion when
    ``n_permutations > 0``, HC3 t otherwise).
    """
    from .. import simulate
    generate_seed, estimate_seed = (int(x) for x in seed_seq.generate_state(2, dtype=np.uint32))
    data = simulate.generate(generate_seed, generator_design(cell, target_r_per_mde), with_fieldwork=False)
    est = run_whole_path(data.files, estimate_seed=estimate_seed, n_permutations=n_permutations,
                         level_year=level_year, baseline_year=baseline_year, covariates=covariates,
                         primary_method=primary_method, alpha=alpha, fdr_method=fdr_method, power=power,
                         aggregation=aggregation, periods=periods, features_on_fail=features_on_fail,
                         confirmatory=confirmatory, sesoi=sesoi)
    truth = truth_table(data.truth, int(level_year), int(baseline_year))
    out = tidy_estimates(est, primary_method if int(n_permutations) else "hc3_t", int(n_permutations), fdr_method)
    truth = truth.astype({"feature": "string", "outcome": "string", "outcome_period": "string"})
    merged = out.merge(truth, on=["feature", "outcome", "outcome_period"], how="left", validate="many_to_one")
    if merged["truth"].isna().any():
        unknown = merged.loc[merged["truth"].isna(), ["feature", "outcome"]].drop_duplicates().head(3)
        raise ValueError(f"estimates for pairs the generator's truth does not list: {unknown.to_dict('records')}")
    return merged


def calibrate(seed: int, *, level_year: int, baseline_year: int, covariates="auto", alpha: float = 0.05,
              power: float = 0.8, aggregation: str = "adjusted") -> dict:
    """The MDE the study's effect levels are fractions of, from one generated data set run through the path.

    Returns ``n_areas``, ``df_resid`` and ``mde_r`` of the estimate stage's primary model on the measured
    score (the partial r detectable with ``power`` at unadjusted ``alpha`` given the covariates it actually
    used), so "effect = MDE" means the same thing in every build; the latent rows' own MDE (at the adjusted
    alpha) is what power is judged against (``summary.judged_targets``).
    """
    from .. import simulate
    data = simulate.generate(int(seed), simulate.SimulationDesign(effect_scale=0.0), with_fieldwork=False)
    est = run_whole_path(data.files, estimate_seed=int(seed), n_permutations=0, level_year=level_year,
                         baseline_year=baseline_year, covariates=covariates, alpha=alpha, power=power,
                         aggregation=aggregation, periods=("level",))
    primary = est[~est["family"].astype("string").str.startswith("sensitivity").fillna(False)]
    if "estimand" in primary.columns:  # the design's effect levels are fractions of the measured score's MDE
        primary = primary[primary["estimand"].astype("string") == "measured"]
    primary = primary.dropna(subset=["mde_r"])
    df_resid = int(primary["df_resid"].mode().iloc[0])
    row = primary[primary["df_resid"] == df_resid].iloc[0]
    return {"n_areas": int(row["n_areas"]), "df_resid": df_resid, "mde_r": float(row["mde_r"])}
