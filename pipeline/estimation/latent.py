"""The primary estimand: change in the outcome per SD of the area's *latent* partnership trait.

An area score is a noisy proxy of the trait; regressing an outcome on it (or on its re-standardised
BLUP) attenuates the slope by about the score's reliability. The correction used here is regression
calibration (Carroll et al. 2006, ch. 4) with the covariate-conditioned expectation of the trait:

1. Measurement model per feature, fitted to the respondents' feature scores (never to outcomes):
   ``score_rj = mu + agency_j + z_r' gamma + u_r + e_rj`` with the outcome model's area covariates
   ``z_r`` as fixed effects and a random area intercept ``u_r ~ N(0, tau^2)`` (REML, the fast engine of
   ``pipeline.measurement.mixed``).
2. ``E[T_r | answers, covariates] = mu + mix' agency + z_r' gamma + BLUP(u_r)`` at the national agency mix.
3. The latent trait's SD across the areas, ``sd_T = sqrt(tau^2 + var_r(z_r' gamma))`` (the second term
   estimated without the noise of gamma-hat, ``_covariate_variance``); the predictor is
   ``E[T_r | ...] / sd_T`` *unstandardised* (not divided by its own SD, which would undo the correction),
   so the outcome model's slope on it is the change per SD of the latent trait.
4. Inference: the Freedman-Lane permutation p-value and inverted interval of that slope (the same
   machinery as the measured-score rows). The interval is widened for the measurement model's own
   uncertainty: the slope's derivative with respect to log lambda (lambda = tau^2 / sigma^2, the quantity
   that sets both the shrinkage and sd_T) times the REML standard error of log lambda (delta method),
   combined in quadrature with each half of the permutation interval. The p-value of "no association"
   needs no widening: under the null the slope is zero whatever lambda is.

Because the outcome model holds the same covariates, only ``BLUP(u_r)`` varies the predictor beyond
them: ``E[Y | BLUP, z] = beta_T (z' gamma + BLUP) + z' g`` when the errors are normal, so the slope is
unbiased for ``beta_T`` per unit of the trait (the attenuation of the naive slope is removed).
A feature whose REML area variance is zero has no latent variation to calibrate: not estimable.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

LATENT = "latent"
MEASURED = "measured"
ESTIMAND_LABELS = {LATENT: "per SD of the latent partnership trait",
                   MEASURED: "per SD of the measured area score"}
#: log-lambda step of the delta method's central difference
DELTA_STEP = 0.1
ZERO_VARIANCE = "area variance estimated at zero by REML: no latent trait variation to calibrate"


@dataclass
class FeatureCalibration:
    """One feature's measurement model, fitted with the outcome model's covariates."""
    feature: str
    areas: np.ndarray                 # area ids in the fit (str)
    expected: np.ndarray              # E[T | answers, covariates] / sd_T, one per area (latent-SD units)
    latent_sd: float
    tau2: float
    sigma2: float
    lam: float
    var_log_lambda: float
    reliability: float                # mean over areas of 1 - PEV(u) / tau^2
    note: str = ""
    _profile: object = field(default=None, repr=False)
    _zc: np.ndarray | None = field(default=None, repr=False)      # (G, p) area rows of the fixed part at the mix
    _cov_cols: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.lam > 0 and np.isfinite(self.latent_sd) and self.latent_sd > 0

    def expected_at(self, lam: float) -> np.ndarray:
        """The predictor (E[T]/sd_T) recomputed with the variance ratio set to ``lam``."""
        solved = self._profile.at(lam)
        _, beta, sigma2, w, xhx = solved
        blup = w * (self._profile.sy - self._profile.sx @ beta)
        fixed = self._zc @ beta
        sd = np.sqrt(lam * sigma2 + _covariate_variance(self._zc, self._cov_cols, beta, sigma2 * np.linalg.inv(xhx)))
        return (fixed + blup) / sd


def _covariate_variance(area_rows: np.ndarray, cov_cols: np.ndarray, beta: np.ndarray, cov_beta: np.ndarray) -> float:
    """Variance across areas of the covariates' part of the trait, z' gamma, without the noise of gamma-hat.

    ``var_r(z_r' gamma-hat)`` overstates ``var_r(z_r' gamma)`` by ``tr(Cov(gamma-hat) S_z)`` (S_z the covariates'
    sample covariance); with few areas and a small area variance that excess is of the order of tau^2 itself
    and would inflate sd_T. Subtracted, floored at zero."""
    if len(cov_cols) == 0 or area_rows.shape[0] < 2:
        return 0.0
    Zc = area_rows[:, cov_cols]
    part = Zc @ beta[cov_cols]
    s_z = np.atleast_2d(np.cov(Zc, rowvar=False, ddof=1))
    excess = float(np.trace(cov_beta[np.ix_(cov_cols, cov_cols)] @ s_z))
    return max(float(np.var(part, ddof=1)) - excess, 0.0)


def _calibrate_one(feature: str, y: np.ndarray, area: np.ndarray, agency: np.ndarray,
                   controls: pd.DataFrame) -> FeatureCalibration:
    from ..measurement.mixed import fit_fast, reml_profile

    area_labels, g = np.unique(area, return_inverse=True)
    G = len(area_labels)
    agencies, a = np.unique(agency, return_inverse=True)
    Zc = controls.loc[area_labels].to_numpy("float64")            # G x k area covariates (no intercept)
    k = Zc.shape[1]
    X = np.empty((len(y), len(agencies) + k))
    X[:, 0] = 1.0
    for column in range(1, len(agencies)):
        X[:, column] = a == column
    X[:, len(agencies):] = Zc[g]
    # drop columns collinear with earlier ones (e.g. an agency absent once covariates are in)
    keep = [0]
    for j in range(1, X.shape[1]):
        cand = X[:, keep + [j]]
        if np.linalg.matrix_rank(cand, tol=1e-8 * max(1.0, np.abs(cand).max()) * len(cand)) > len(keep):
            keep.append(j)
    X = X[:, keep]
    cov_cols = np.array([i for i, j in enumerate(keep) if j >= len(agencies)], dtype=np.int64)
    mix = X.mean(axis=0)
    area_rows = np.tile(mix, (G, 1))                                 # fixed part at the national agency mix
    if len(cov_cols):
        area_rows[:, cov_cols] = Zc[:, [keep[i] - len(agencies) for i in cov_cols]]
    nan = np.full(G, np.nan)
    if G < 3 or len(y) - X.shape[1] < 2:
        return FeatureCalibration(feature, area_labels.astype(str), nan, np.nan, np.nan, np.nan, 0.0, np.nan,
                                  np.nan, "too few areas or respondents for the measurement model")
    fit = fit_fast(y, X, g, G)
    profile = reml_profile(y, X, g, G)
    if fit.lam <= 0:
        return FeatureCalibration(feature, area_labels.astype(str), nan, np.nan, 0.0, fit.sigma2, 0.0, np.nan,
                                  np.nan, ZERO_VARIANCE, profile, area_rows, cov_cols)
    tau2 = fit.area_variance
    latent_sd = float(np.sqrt(tau2 + _covariate_variance(area_rows, cov_cols, fit.beta, fit.sigma2 * fit.xhx_inv)))
    expected = (area_rows @ fit.beta + fit.blup) / latent_sd
    d = -fit.weights[:, None] * fit.group_sx                          # PEV of u alone: c = 0
    pev_u = fit.sigma2 * (fit.weights + np.einsum("gi,ij,gj->g", d, fit.xhx_inv, d))
    reliability = float(np.mean(1.0 - pev_u / tau2))
    return FeatureCalibration(feature, area_labels.astype(str), expected, latent_sd, tau2, fit.sigma2, fit.lam,
                              profile.var_log_lambda(fit.lam), reliability, fit.note, profile, area_rows, cov_cols)


def calibrate(respondents: pd.DataFrame, controls: pd.DataFrame,
              features: list[str] | None = None) -> dict[str, FeatureCalibration]:
    """Measurement models of every feature with the area covariates ``controls`` (index lcjp_id).

    ``respondents``: ``pipeline.measurement.respondent_scores`` output (``lcjp_id, agency, feature, score``).
    Respondents of areas without complete covariates are left out (those areas leave the outcome model too).
    """
    ctl = controls.copy()
    ctl.index = ctl.index.astype(str)
    ctl = ctl[ctl.notna().all(axis=1)]
    r = respondents[["lcjp_id", "agency", "feature", "score"]]
    area = r["lcjp_id"].astype("string").to_numpy(dtype=str)
    agency = r["agency"].astype("string").fillna("(agency not recorded)").to_numpy(dtype=str)
    feat = r["feature"].astype("string").to_numpy(dtype=str)
    score = r["score"].to_numpy(dtype=float)
    usable = np.isin(area, ctl.index.to_numpy(dtype=str)) & np.isfinite(score)
    out = {}
    for feature in sorted(set(feat) if features is None else features):
        keep = usable & (feat == feature)
        if not keep.any():
            continue
        out[feature] = _calibrate_one(feature, score[keep], area[keep], agency[keep], ctl)
    return out


def calibration_table(calibrations: dict[str, FeatureCalibration]) -> pd.DataFrame:
    """Per feature: ``feature, n_areas, tau2, sigma2, latent_sd, reliability, se_log_lambda, note``."""
    rows = [{"feature": c.feature, "n_areas": int(np.isfinite(c.expected).sum()), "tau2": c.tau2,
             "sigma2": c.sigma2, "latent_sd": c.latent_sd, "reliability": c.reliability,
             "se_log_lambda": float(np.sqrt(c.var_log_lambda)) if np.isfinite(c.var_log_lambda) else np.nan,
             "note": c.note} for c in calibrations.values()]
    out = pd.DataFrame(rows, columns=["feature", "n_areas", "tau2", "sigma2", "latent_sd", "reliability",
                                      "se_log_lambda", "note"])
    out["feature"] = out["feature"].astype("string")
    out["note"] = out["note"].astype("string")
    return out


def predictors(calibrations: dict[str, FeatureCalibration], features: list[str], areas) -> tuple[np.ndarray, list[str]]:
    """(n_areas x n_features) calibrated predictors for ``areas``; reasons ("" = usable) per feature."""
    areas = np.asarray(areas, dtype=str)
    X = np.full((len(areas), len(features)), np.nan)
    reasons = []
    for j, f in enumerate(features):
        c = calibrations.get(f)
        if c is None:
            reasons.append("no respondent scores for the measurement model")
            continue
        if not c.ok:
            reasons.append(c.note or "measurement model not estimable")
            continue
        s = pd.Series(c.expected, index=c.areas).reindex(areas)
        if s.isna().any():
            reasons.append(f"no latent-trait prediction for area(s) {sorted(areas[s.isna().to_numpy()])}")
            continue
        X[:, j] = s.to_numpy()
        reasons.append("")
    return X, reasons


def measurement_sd(calibration: FeatureCalibration, Qz: np.ndarray, areas, Y: np.ndarray,
                   step: float = DELTA_STEP) -> np.ndarray:
    """SD (per outcome column of ``Y``) of the calibrated slope due to the REML uncertainty of log lambda.

    Delta method: |d slope / d log lambda| x se(log lambda-hat), the derivative by a central difference
    (the slope of ``Y`` on the re-computed predictor given the design whose Q factor is ``Qz``).
    NaN when lambda's curvature is not available (then the interval is left unbounded by the caller).
    """
    if not np.isfinite(calibration.var_log_lambda):
        return np.full(Y.shape[1], np.nan)
    idx = pd.Index(calibration.areas).get_indexer(np.asarray(areas, dtype=str))
    slopes = []
    for s in (-1.0, 1.0):
        x = calibration.expected_at(calibration.lam * np.exp(s * step))[idx]
        m = x - Qz @ (Qz.T @ x)
        slopes.append((m @ Y) / (m @ m))
    deriv = (slopes[1] - slopes[0]) / (2 * step)
    return np.abs(deriv) * np.sqrt(calibration.var_log_lambda)


def widen(estimate, lo, hi, sd_meas, crit) -> tuple[np.ndarray, np.ndarray]:
    """Each half of the interval combined in quadrature with ``crit x sd_meas`` (NaN sd: unbounded)."""
    estimate, lo, hi, sd_meas = (np.asarray(v, float) for v in (estimate, lo, hi, sd_meas))
    extra = np.where(np.isfinite(sd_meas), crit * sd_meas, np.inf)
    new_lo = estimate - np.sqrt((estimate - lo) ** 2 + extra ** 2)
    new_hi = estimate + np.sqrt((hi - estimate) ** 2 + extra ** 2)
    return new_lo, new_hi
