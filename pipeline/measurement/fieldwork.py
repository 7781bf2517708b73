"""Fieldwork: inter-coder reliability, themes and valence per area, board attendance.

Inter-coder reliability uses the double-coded sample (segments with rows from two or more coders).
Cohen's kappa per coder pair, Fleiss' kappa (segments rated by the usual number of coders, ``n_coders``
is that number, raters not identified) and Krippendorff's alpha (nominal, all coders; ``krippendorff`` package,
because ``statsmodels.stats.inter_rater.krippendorff_alpha`` only arrives in 0.15.1), each on the
``code`` and on the ``theme``; intervals are percentile bootstraps over segments (seeded). Percent
agreement is shown beside them. Krippendorff's conventions: alpha >= 0.80 reliable, >= 0.667
tentative conclusions only (thresholds are params). Six areas illustrate mechanisms; they support
no inference.

Themes: a double-coded segment counts once, with the code of the first coder in sorted order (so
counts do not depend on how much was double-coded). Net valence = (positive - negative) / segments.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

SEGMENTS_FILE = "data/processed/fieldwork_segments.parquet"
MEETINGS_FILE = "data/processed/board_meetings.parquet"
INTERCODER_COLUMNS = ["measure", "unit", "coders", "n_coders", "n_segments", "estimate", "ci_low", "ci_high",
                      "n_bootstrap", "ci_method", "interpretation"]
THEME_COLUMNS = ["lcjp_id", "theme", "n_segments", "n_positive", "n_neutral", "n_negative", "net_valence",
                 "share_of_area_segments"]
ATTENDANCE_COLUMNS = ["level", "lcjp_id", "agency", "n_meetings", "n_attended", "attendance_rate", "n_senior",
                      "senior_rate", "senior_share_of_attended"]


def _require(frame: pd.DataFrame, columns: list[str], file: str) -> None:
    for column in columns:
        if column not in frame.columns:
            raise InputError(file, f"no '{column}' column", "re-run the clean_fieldwork stage", column=column)


def cohens_kappa(labels_a, labels_b) -> float:
    """Unweighted Cohen's kappa for two equal-length label sequences (NaN when chance agreement is 1)."""
    a = pd.Series(np.asarray(labels_a, dtype=object)).astype("string")
    b = pd.Series(np.asarray(labels_b, dtype=object)).astype("string")
    categories = sorted(set(a) | set(b))
    ia = pd.Categorical(a, categories=categories).codes
    ib = pd.Categorical(b, categories=categories).codes
    return _kappa_codes(ia, ib, len(categories))


def _kappa_codes(ia: np.ndarray, ib: np.ndarray, k: int) -> float:
    n = len(ia)
    if n == 0:
        return float("nan")
    observed = float(np.mean(ia == ib))
    expected = float(np.bincount(ia, minlength=k) @ np.bincount(ib, minlength=k)) / n ** 2
    return float("nan") if expected >= 1 else (observed - expected) / (1 - expected)


def fleiss_kappa_counts(counts: np.ndarray) -> float:
    """Fleiss' kappa from a segments x categories table of rating counts (same number of ratings per row)."""
    counts = np.asarray(counts, dtype=float)
    n_sub = counts.shape[0]
    m = counts.sum(axis=1)
    if n_sub == 0 or not np.all(m == m[0]) or m[0] < 2:
        return float("nan")
    m = m[0]
    p_j = counts.sum(axis=0) / (n_sub * m)
    p_i = ((counts ** 2).sum(axis=1) - m) / (m * (m - 1))
    p_e = float((p_j ** 2).sum())
    return float("nan") if p_e >= 1 else (float(p_i.mean()) - p_e) / (1 - p_e)


def krippendorff_nominal(matrix: np.ndarray) -> float:
    """Krippendorff's alpha (nominal) for a coders x units matrix of integer codes, NaN = not coded."""
    import krippendorff

    try:
        return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):  # one value in the whole domain: alpha undefined
        return float("nan")


def _interpret(value: float, reliable: float, tentative: float) -> str:
    if pd.isna(value):
        return "undefined"
    return "reliable" if value >= reliable else ("tentative" if value >= tentative else "unreliable")


def double_coded(segments: pd.DataFrame) -> pd.DataFrame:
    """Rows of segments coded by at least two different coders (one row per segment x coder)."""
    _require(segments, ["segment_id", "coder", "code"], SEGMENTS_FILE)
    rows = segments.drop_duplicates(["segment_id", "coder"], keep="first")
    n_coders = rows.groupby("segment_id")["coder"].transform("nunique")
    return rows[n_coders >= 2].sort_values(["segment_id", "coder"], kind="mergesort").reset_index(drop=True)


def intercoder_reliability(segments: pd.DataFrame, *, n_bootstrap: int = 1000, seed: int = 0,
                           ci_level: float = 0.95, units: tuple[str, ...] = ("code", "theme"),
                           kripp_reliable: float = 0.80, kripp_tentative: float = 0.667) -> pd.DataFrame:
    """Kappa and percent agreement per coder pair, Krippendorff's alpha over all coders (``INTERCODER_COLUMNS``)."""
    doubles = double_coded(segments)
    units = tuple(u for u in units if u in segments.columns)
    tail = (1 - ci_level) / 2
    rows = []
    children = iter(np.random.default_rng(np.random.SeedSequence(seed)).integers(0, 2 ** 63, size=10_000))
    coders = sorted(doubles["coder"].astype(str).unique())
    for unit in units:
        values = doubles[unit].astype("string").fillna("(none)")
        categories = sorted(values.unique())
        codes = pd.Categorical(values, categories=categories).codes
        table = doubles.assign(_code=codes)
        wide = table.pivot(index="segment_id", columns="coder", values="_code")  # segments x coders
        for i, coder_a in enumerate(coders):
            for coder_b in coders[i + 1:]:
                pair = wide[[coder_a, coder_b]].dropna().astype(int)
                ia, ib = pair[coder_a].to_numpy(), pair[coder_b].to_numpy()
                n = len(pair)
                if n == 0:
                    continue
                rng = np.random.default_rng(next(children))
                draws = rng.integers(0, n, size=(n_bootstrap, n))
                boot_kappa = np.array([_kappa_codes(ia[d], ib[d], len(categories)) for d in draws])
                boot_agree = (ia[draws] == ib[draws]).mean(axis=1)
                for measure, estimate, boot in (("cohens_kappa", _kappa_codes(ia, ib, len(categories)), boot_kappa),
                                                ("percent_agreement", float(np.mean(ia == ib)), boot_agree)):
                    rows.append({"measure": measure, "unit": unit, "coders": f"{coder_a};{coder_b}", "n_coders": 2,
                                 "n_segments": n, "estimate": estimate,
                                 "ci_low": float(np.nanquantile(boot, tail)) if np.isfinite(boot).any() else np.nan,
                                 "ci_high": float(np.nanquantile(boot, 1 - tail)) if np.isfinite(boot).any() else np.nan,
                                 "n_bootstrap": n_bootstrap, "ci_method": "percentile bootstrap over segments",
                                 "interpretation": ""})
        matrix = wide.to_numpy(dtype=float).T  # coders x segments
        n = matrix.shape[1]
        if n == 0:
            continue
        # Fleiss' kappa: segments rated by the most common number of coders (it needs a fixed number)
        per_segment = (~np.isnan(matrix)).sum(axis=0)
        m = int(np.bincount(per_segment).argmax())
        rated = matrix[:, per_segment == m]
        counts = np.stack([(rated == c).sum(axis=0) for c in range(len(categories))], axis=1)
        rng = np.random.default_rng(next(children))
        draws = rng.integers(0, len(counts), size=(n_bootstrap, len(counts)))
        boot = np.array([fleiss_kappa_counts(counts[d]) for d in draws])
        finite = np.isfinite(boot)
        rows.append({"measure": "fleiss_kappa", "unit": unit, "coders": ";".join(wide.columns.astype(str)),
                     "n_coders": m, "n_segments": int(len(counts)), "estimate": fleiss_kappa_counts(counts),
                     "ci_low": float(np.quantile(boot[finite], tail)) if finite.any() else np.nan,
                     "ci_high": float(np.quantile(boot[finite], 1 - tail)) if finite.any() else np.nan,
                     "n_bootstrap": n_bootstrap, "ci_method": "percentile bootstrap over segments",
                     "interpretation": ""})
        estimate = krippendorff_nominal(matrix)
        rng = np.random.default_rng(next(children))
        boot = np.array([krippendorff_nominal(matrix[:, d]) for d in rng.integers(0, n, size=(n_bootstrap, n))])
        finite = np.isfinite(boot)
        rows.append({"measure": "krippendorff_alpha", "unit": unit, "coders": ";".join(wide.columns.astype(str)),
                     "n_coders": int(matrix.shape[0]), "n_segments": n, "estimate": estimate,
                     "ci_low": float(np.quantile(boot[finite], tail)) if finite.any() else np.nan,
                     "ci_high": float(np.quantile(boot[finite], 1 - tail)) if finite.any() else np.nan,
                     "n_bootstrap": n_bootstrap, "ci_method": "percentile bootstrap over segments",
                     "interpretation": _interpret(estimate, kripp_reliable, kripp_tentative)})
    out = pd.DataFrame(rows, columns=INTERCODER_COLUMNS)
    for column in ("measure", "unit", "coders", "ci_method", "interpretation"):
        out[column] = out[column].astype("string")
    return out.sort_values(["unit", "measure", "coders"], kind="mergesort").reset_index(drop=True)


def primary_coding(segments: pd.DataFrame) -> pd.DataFrame:
    """One row per segment: a double-coded segment keeps the first coder's row in sorted coder order."""
    _require(segments, ["segment_id", "lcjp_id", "coder"], SEGMENTS_FILE)
    return (segments.sort_values(["segment_id", "coder"], kind="mergesort")
            .drop_duplicates("segment_id", keep="first").reset_index(drop=True))


def fieldwork_themes(segments: pd.DataFrame) -> pd.DataFrame:
    """Theme counts and net valence per fieldwork area (``THEME_COLUMNS``)."""
    _require(segments, ["segment_id", "lcjp_id", "coder", "theme", "valence"], SEGMENTS_FILE)
    primary = primary_coding(segments)
    valence = pd.to_numeric(primary["valence"], errors="coerce")
    frame = pd.DataFrame({"lcjp_id": primary["lcjp_id"].astype("string"),
                          "theme": primary["theme"].astype("string").fillna("(no theme)"),
                          "pos": (valence > 0).astype(int), "neu": (valence == 0).astype(int),
                          "neg": (valence < 0).astype(int)})
    out = frame.groupby(["lcjp_id", "theme"], sort=True).agg(
        n_segments=("pos", "size"), n_positive=("pos", "sum"), n_neutral=("neu", "sum"),
        n_negative=("neg", "sum")).reset_index()
    out["net_valence"] = (out["n_positive"] - out["n_negative"]) / out["n_segments"]
    out["share_of_area_segments"] = out["n_segments"] / out.groupby("lcjp_id")["n_segments"].transform("sum")
    return out[THEME_COLUMNS]


def board_attendance(meetings: pd.DataFrame) -> pd.DataFrame:
    """Attendance and senior attendance per area x agency (``level='agency'``) and per area (``level='area'``).

    ``attendance_rate`` = attended / meetings recorded for that agency; ``senior_rate`` = meetings with
    a senior attendee / meetings; ``senior_share_of_attended`` = senior / attended.
    """
    _require(meetings, ["lcjp_id", "meeting_date", "agency", "attended", "senior"], MEETINGS_FILE)
    frame = pd.DataFrame({"lcjp_id": meetings["lcjp_id"].astype("string"),
                          "agency": meetings["agency"].astype("string").fillna("(agency not recorded)"),
                          "attended": meetings["attended"].astype("boolean").fillna(False).astype(int),
                          "senior": (meetings["senior"].astype("boolean").fillna(False)
                                     & meetings["attended"].astype("boolean").fillna(False)).astype(int)})

    def summarise(keys):
        out = frame.groupby(keys, sort=True).agg(n_meetings=("attended", "size"), n_attended=("attended", "sum"),
                                                 n_senior=("senior", "sum")).reset_index()
        out["attendance_rate"] = out["n_attended"] / out["n_meetings"]
        out["senior_rate"] = out["n_senior"] / out["n_meetings"]
        out["senior_share_of_attended"] = (out["n_senior"] / out["n_attended"]).where(out["n_attended"] > 0)
        return out

    by_agency = summarise(["lcjp_id", "agency"]).assign(level="agency")
    by_area = summarise(["lcjp_id"]).assign(level="area", agency=pd.NA)
    out = pd.concat([by_agency, by_area], ignore_index=True)
    out["level"] = out["level"].astype("string")
    out["agency"] = out["agency"].astype("string")
    return out[ATTENDANCE_COLUMNS].sort_values(["level", "lcjp_id", "agency"], kind="mergesort",
                                               na_position="first").reset_index(drop=True)
