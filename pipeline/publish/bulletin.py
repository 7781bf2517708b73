"""The findings page's reading order (ONS bulletin): verdicts in plain words, the main points, the registered family
with what could undercut each result, the exploratory grid as a heatmap.

Every sentence is built from this run's ``estimates.csv`` (and influence / response tables): nothing here knows a
feature, outcome or area. Columns added by the estimation issue (``verdict`` in its new vocabulary, ``adjustment``,
``estimand``, ``sesoi``, ``p_tost``, ``verdict_reason``) are used when present; when absent the page says what is
missing instead of inventing it (:func:`normalise`).
"""
from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from . import labels

#: verdict -> (css class, mark shown beside the word, plain-language definition). The marks carry the meaning
#: without colour.
VERDICTS: dict[str, tuple[str, str, str]] = {
    "associated": ("v-associated", "●",
                   "the adjusted p-value is below the significance level, so the data show an association in the "
                   "direction of the estimate. Between areas, not cause and effect."),
    "no association of at least SESOI": (
        "v-equivalent", "◆",
        "an equivalence test (two one-sided tests, 90% interval) rules out an association as large as the "
        "registered smallest effect of interest, in either direction."),
    "not detected": ("v-notdetected", "○",
                     "no association was detected, and the data cannot rule out one as large as the smallest effect "
                     "of interest: absence of evidence, not evidence of absence."),
    "not estimable": ("v-notestimable", "×", "the model could not be fitted for this pair (too few areas or no "
                                             "variation), so nothing is concluded."),
}

#: older verdict words (before the estimation issue's vocabulary) and what they can honestly be shown as.
LEGACY_VERDICTS = {"inconclusive": "not detected", "no association of detectable size": "not detected",
                   "not tested": "not estimable"}


def normalise(estimates: pd.DataFrame, alpha: float, fdr_method: str = "fdr_bh") -> tuple[pd.DataFrame, list[str]]:
    """Estimates with ``verdict_shown``, ``adjustment_shown`` and ``verdict_reason_shown``; and a list of plain
    sentences naming what this build's estimates.csv lacks (shown on the page)."""
    out = estimates.copy()
    missing: list[str] = []
    verdict = out.get("verdict", pd.Series("", index=out.index)).astype("string").fillna("not estimable")
    legacy = verdict.isin(list(LEGACY_VERDICTS))
    if legacy.any():
        missing.append("The equivalence test against a registered smallest effect of interest is not available in "
                       "this build's estimates, so no pair is said to show 'no association of at least' a size; "
                       "pairs without a detected association read 'not detected'.")
    out["verdict_shown"] = verdict.replace(LEGACY_VERDICTS)
    if "adjustment" in out.columns:
        out["adjustment_shown"] = out["adjustment"].map(labels.adjustment_label)
    else:
        fam = out.get("family", pd.Series("", index=out.index)).astype("string").fillna("")
        out["adjustment_shown"] = np.where(fam == "confirmatory", "Holm",
                                           np.where(fam == "exploratory", labels.adjustment_label(fdr_method),
                                                    "within its model"))
    reason = out["verdict_reason"].astype("string") if "verdict_reason" in out.columns else pd.Series(
        pd.NA, index=out.index, dtype="string")
    built = [_reason(r, alpha) for r in out.itertuples(index=False)]
    out["verdict_reason_shown"] = reason.fillna(pd.Series(built, index=out.index, dtype="string"))
    return out, missing


def _reason(row, alpha: float) -> str:
    p_adj = _f(getattr(row, "p_adjusted", None))
    lo, hi = _f(getattr(row, "ci_low", None)), _f(getattr(row, "ci_high", None))
    v = str(getattr(row, "verdict_shown", ""))
    if v == "associated":
        return f"Adjusted p {labels.format_p(p_adj)} is below {alpha:g}."
    if v == "not estimable" or math.isnan(p_adj):
        return "Not estimated."
    if not math.isnan(lo) and (lo > 0 or hi < 0):
        return (f"The unadjusted interval excludes zero, but the adjusted p ({labels.format_p(p_adj)}) is above "
                f"{alpha:g} once the other tests in the family are allowed for.")
    mde = _f(getattr(row, "mde", None))
    tail = f"; effects up to the smallest detectable ({labels.format_number(mde)}) remain plausible" if not math.isnan(mde) else ""
    return f"The interval includes zero (adjusted p {labels.format_p(p_adj)}){tail}."


def _f(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def verdict_mark_html(verdict: str) -> str:
    cls, mark, _ = VERDICTS.get(verdict, ("v-notdetected", "?", ""))
    return f'<span class="v {cls}"><span aria-hidden="true">{mark}</span> {html.escape(verdict)}</span>'


def verdict_definitions_html(sesoi_known: bool) -> str:
    """Every verdict word defined in plain language (a ``<dl>``)."""
    items = []
    for word, (cls, mark, definition) in VERDICTS.items():
        if word == "no association of at least SESOI" and not sesoi_known:
            definition += " (Not used in this build: the equivalence test was not run.)"
        items.append(f'<dt><span class="v {cls}"><span aria-hidden="true">{mark}</span> {html.escape(word)}</span>'
                     f"</dt><dd>{html.escape(definition[0].upper() + definition[1:])}</dd>")
    return '<dl class="instep-terms">' + "".join(items) + "</dl>"


def better_word(estimate: float, higher_is_better) -> str:
    """'better' / 'worse' outcomes for a positive association of this sign, from measures.csv's higher_is_better."""
    if higher_is_better is None or (isinstance(higher_is_better, float) and math.isnan(higher_is_better)):
        return ""
    hib = str(higher_is_better).lower() in ("true", "1", "yes")
    good = (estimate > 0) == hib
    return "better" if good else "worse"


def primary_estimand(rows: pd.DataFrame) -> str | None:
    """The estimand the headline figures are on: ``latent`` when the rows have it, else the one estimand they
    hold; None when they name no estimand (older estimates.csv: every row is on the measured score)."""
    if "estimand" not in rows.columns or rows.empty:
        return None
    estimands = rows["estimand"].astype(str)
    return "latent" if (estimands == "latent").any() else str(estimands.iloc[0])


def on_primary_estimand(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` on :func:`primary_estimand` only (estimates.csv holds each pair on the latent and measured scale)."""
    estimand = primary_estimand(rows)
    return rows if estimand is None else rows[rows["estimand"].astype(str) == estimand]


def primary_rows(estimates: pd.DataFrame, model: str) -> pd.DataFrame:
    """The headline model's rows on one estimand: ``latent`` when estimates.csv has it, else every row."""
    rows = on_primary_estimand(estimates[estimates["model"].astype(str) == model]).copy()
    if "outcome_period" not in rows.columns:
        rows["outcome_period"] = ""
    rows["outcome_period"] = rows["outcome_period"].astype("string").fillna("")
    return rows.reset_index(drop=True)


def pair_label(row) -> str:
    period = str(getattr(row, "outcome_period", "") or "")
    text = f"{labels.humanise(row.feature)} → {labels.humanise(row.outcome).lower()}"
    return text + (f" ({period})" if period and period not in ("level", "") else "")


def effect_sentence(row) -> str:
    """'-1.8 percentage points per SD (95% interval -2.6 to -1.0; adjusted p < 0.001, Holm; 41 areas)'."""
    unit = labels.unit_words(getattr(row, "unit", ""))
    scale = getattr(row, "estimand_label", None)
    scale = scale if isinstance(scale, str) and scale else "per SD of the area score"
    return (f"{labels.format_number(row.estimate, 2, signed=True)} {unit} {scale}".replace("  ", " ")
            + f" (95% interval {labels.format_interval(row.ci_low, row.ci_high)}; adjusted p "
              f"{labels.format_p(row.p_adjusted)}, {row.adjustment_shown}; {int(row.n_areas)} areas)")


def main_points(rows: pd.DataFrame, *, alpha: float, n_areas_total: int | None = None, max_listed: int = 3) -> list[str]:
    """3-6 plain bullets from the headline model's rows (after :func:`normalise`): the registered family first."""
    points: list[str] = []
    family = rows.get("family", pd.Series("", index=rows.index)).astype("string").fillna("")
    conf = rows[family == "confirmatory"]
    expl = rows[family == "exploratory"]
    if conf.empty:
        points.append("No confirmatory family was registered for this run, so every result below is exploratory: "
                      "a lead to test on new data, not a finding.")
    else:
        held = conf[conf["verdict_shown"] == "associated"].sort_values("p_adjusted", kind="mergesort")
        adj = str(conf["adjustment_shown"].iloc[0])
        if held.empty:
            best = conf.sort_values("p_adjusted", kind="mergesort").iloc[0]
            points.append(f"None of the {len(conf)} registered associations holds after {adj} adjustment "
                          f"(the smallest adjusted p is {labels.format_p(best.p_adjusted)}, for "
                          f"{pair_label(best).lower()}).")
        else:
            number = "One" if len(held) == 1 else f"{len(held)}"
            points.append(f"{number} of the {len(conf)} registered associations "
                          f"{'holds' if len(held) == 1 else 'hold'} after {adj} adjustment.")
            for row in list(held.itertuples(index=False))[:max_listed]:
                word = better_word(float(row.estimate), getattr(row, "higher_is_better", None))
                size = "higher" if float(row.estimate) > 0 else "lower"
                points.append(f"Areas whose members rate {labels.humanise(row.feature).lower()} one standard "
                              f"deviation higher have a {size} {labels.humanise(row.outcome).lower()}"
                              f"{', which is ' + word if word else ''}: {effect_sentence(row)}.")
        rest = conf[conf["verdict_shown"] != "associated"]
        if not rest.empty:
            eq = int((rest["verdict_shown"] == "no association of at least SESOI").sum())
            nd = int((rest["verdict_shown"] == "not detected").sum())
            bits = []
            if nd:
                bits.append(f"{nd} {'is' if nd == 1 else 'are'} not detected: the data cannot rule out effects "
                            "up to the smallest detectable size given beside each, so this is not evidence of no "
                            "association")
            if eq:
                bits.append(f"{eq} {'shows' if eq == 1 else 'show'} no association of at least the registered "
                            "smallest effect of interest")
            ne = len(rest) - eq - nd
            if ne:
                bits.append(f"{ne} could not be estimated")
            points.append("Of the other registered pairs, " + "; ".join(bits) + ".")
    if not expl.empty:
        found = int((expl["verdict_shown"] == "associated").sum())
        adj = str(expl["adjustment_shown"].iloc[0])
        points.append(f"{len(expl)} exploratory pairs were also examined; {found} "
                      f"{'has' if found == 1 else 'have'} an adjusted p below {alpha:g} ({adj}). Exploratory results "
                      "are leads for new data, not findings.")
    n_used = pd.to_numeric(rows["n_areas"], errors="coerce").dropna()
    if not n_used.empty:
        lo, hi = int(n_used.min()), int(n_used.max())
        used = f"{lo}" if lo == hi else f"{lo} to {hi}"
        total = f" of {n_areas_total}" if n_areas_total else ""
        aside = ""
        if "areas_set_aside" in rows.columns:
            names = sorted({a for v in rows["areas_set_aside"].dropna().astype(str) for a in v.split(";") if a})
            if names:
                aside = f" ({', '.join(labels.humanise(n) for n in names)} set aside by the model)"
        points.append(f"Each model used {used}{total} areas{aside}. These are associations between areas, not "
                      "evidence that a stronger partnership causes better outcomes.")
    return points[:6]


# --- What could undercut each registered result --------------------------------------------------------------

def undercut_table(conf: pd.DataFrame, estimates: pd.DataFrame, influence: pd.DataFrame | None,
                   response: pd.DataFrame | None, names: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """Per registered pair: pre-survey placebo, most influential area (its respondents, core agencies missing, the
    estimate without it), leave-one-out sign changes. Returns the table and what was not available."""
    missing: list[str] = []
    placebo = estimates[estimates["model"].astype(str).str.contains("placebo", na=False)]
    if placebo.empty:
        missing.append("No pre-survey placebo model in this build's estimates.")
    resp = response.set_index("lcjp_id") if response is not None and not response.empty else None
    needed = {"feature", "outcome", "outcome_period", "model", "lcjp_id", "change", "estimate_without"}
    if influence is not None and not needed <= set(influence.columns):
        influence = None  # an influence table without the leave-one-out columns counts as absent
    rows = []
    for r in conf.itertuples(index=False):
        row = {"label": pair_label(r), "estimate": labels.format_number(r.estimate, 2, signed=True)}
        pl = placebo[(placebo["feature"] == r.feature) & (placebo["outcome"] == r.outcome)]
        if pl.empty:
            row["placebo"] = "not available"
        else:
            p = pl.iloc[0]
            bigger = abs(float(p["estimate"])) > abs(float(r.estimate))
            row["placebo"] = (f"{labels.format_number(p['estimate'], 2, signed=True)} "
                              f"({labels.format_interval(p['ci_low'], p['ci_high'])})"
                              + ("; larger than the main estimate" if bigger else ""))
        if influence is not None and not influence.empty:
            inf = influence[(influence["feature"] == r.feature) & (influence["outcome"] == r.outcome)
                            & (influence["outcome_period"].astype("string").fillna("") == str(r.outcome_period))
                            & (influence["model"].astype(str) == str(r.model))]
        else:
            inf = pd.DataFrame()
        if inf.empty:
            row.update(influential_area="not available", without_area="", respondents_there="", missing_there="",
                       loo_sign_changes="not available")
        else:
            top = inf.loc[inf["change"].abs().idxmax()]
            area = str(top["lcjp_id"])
            row["influential_area"] = names.get(area, labels.humanise(area))
            row["without_area"] = labels.format_number(top["estimate_without"], 2, signed=True)
            if resp is not None and area in resp.index:
                n = resp.loc[area, "n_respondents"]
                row["respondents_there"] = "" if pd.isna(n) else f"{int(n)}"
                miss = resp.loc[area].get("core_agencies_missing", "")
                row["missing_there"] = _agency_list(miss) or "none"
            else:
                row["respondents_there"], row["missing_there"] = "", ""
            signs = np.sign(inf["estimate_without"].astype(float)) != np.sign(float(r.estimate))
            flips = inf.loc[signs.to_numpy(), "lcjp_id"].astype(str).tolist()
            row["loo_sign_changes"] = ("none" if not flips else
                                       f"{len(flips)}: without " + ", ".join(names.get(a, a) for a in flips[:3])
                                       + ("…" if len(flips) > 3 else ""))
        rows.append(row)
    if influence is None or influence.empty:
        missing.append("No leave-one-out influence table (influence.csv) in this build.")
    cols = ["label", "estimate", "placebo", "influential_area", "respondents_there", "missing_there",
            "without_area", "loo_sign_changes"]
    return pd.DataFrame(rows, columns=cols), missing


def _agency_list(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    parts = [p.strip() for p in str(value).replace(",", ";").split(";") if p.strip()]
    return ", ".join(labels.humanise(p) if labels.is_snake_case(p) else p for p in parts)


# --- Exploratory grid ----------------------------------------------------------------------------------------

def heatmap_html(rows: pd.DataFrame, *, caption: str) -> str:
    """Features (rows) x outcomes (columns) table: each cell the signed estimate in outcome SDs when known, coloured
    by direction (blue better, orange worse) and strength, the verdict mark beside it (not colour alone)."""
    data = rows.copy()
    sd = pd.to_numeric(data.get("sd_outcome"), errors="coerce") if "sd_outcome" in data.columns else None
    est = pd.to_numeric(data["estimate"], errors="coerce")
    data["std"] = est / sd.where(sd > 0) if sd is not None else np.nan
    data["good"] = [better_word(e, h) == "better" for e, h in zip(est, data.get("higher_is_better", [None] * len(data)))]
    outcomes = sorted(data["outcome"].astype(str).unique())
    features = sorted(data["feature"].astype(str).unique())
    has_std = data["std"].notna().any()
    parts = ['<div class="instep-table-wrap"><table class="instep-table heatmap">',
             f"<caption>{html.escape(caption)}</caption><thead><tr><th scope=\"col\">Feature</th>"]
    parts += [f'<th scope="col">{html.escape(labels.humanise(o))}</th>' for o in outcomes]
    parts.append("</tr></thead><tbody>")
    for f in features:
        parts.append(f'<tr><th scope="row">{html.escape(labels.humanise(f))}</th>')
        for o in outcomes:
            cell = data[(data["feature"].astype(str) == f) & (data["outcome"].astype(str) == o)]
            if cell.empty:
                parts.append("<td>–</td>")
                continue
            c = cell.iloc[0]
            value = float(c["std"]) if has_std and pd.notna(c["std"]) else float(c["estimate"])
            strength = min(abs(value) / 0.5, 1.0) if has_std else 0.5
            colour = _mix("#2166ac" if c["good"] else "#d6604d", strength * 0.75)
            _, mark, _ = VERDICTS.get(str(c["verdict_shown"]), ("", "?", ""))
            title = (f"{labels.humanise(f)} → {labels.humanise(o)}: {labels.format_number(c['estimate'], 2, signed=True)} "
                     f"({labels.format_interval(c['ci_low'], c['ci_high'])}), adjusted p {labels.format_p(c['p_adjusted'])}, "
                     f"{c['verdict_shown']}")
            ink = _ink_for(colour)
            parts.append(f'\n    <td style="background:{colour};color:{ink}" title="{html.escape(title, quote=True)}">'
                         f"{labels.format_number(value, 2, signed=True)}"
                         f'<span aria-hidden="true"> {mark}</span>'
                         f'<span class="visually-hidden" style="position:absolute;left:-9999px"> {html.escape(str(c["verdict_shown"]))}</span></td>')
        parts.append("</tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _ink_for(fill: str) -> str:
    """Black or white text, whichever contrasts more with ``fill`` (WCAG relative luminance)."""
    lum = _luminance(fill)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def _mix(hex_colour: str, amount: float) -> str:
    """``hex_colour`` mixed with white (amount 0 = white, 1 = the colour)."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    mix = [round(255 + (c - 255) * amount) for c in (r, g, b)]
    return "#" + "".join(f"{c:02x}" for c in mix)


# --- Tables readers see ---------------------------------------------------------------------------------------

def with_better_scale(rows: pd.DataFrame) -> pd.DataFrame:
    """Adds ``better_estimate, better_low, better_high``: the estimate and interval with the sign flipped where a
    lower outcome is better (measures.csv ``higher_is_better``), so that right (positive) always means better."""
    out = rows.copy()
    hib = out.get("higher_is_better", pd.Series(True, index=out.index)).astype(str).str.lower().isin(["true", "1", "yes"])
    sign = np.where(hib, 1.0, -1.0)
    out["better_estimate"] = out["estimate"].astype(float) * sign
    lo, hi = out["ci_low"].astype(float) * sign, out["ci_high"].astype(float) * sign
    out["better_low"], out["better_high"] = np.minimum(lo, hi), np.maximum(lo, hi)
    return out


def registered_table(conf: pd.DataFrame) -> pd.DataFrame:
    """The confirmatory family as readers see it, strongest evidence first."""
    data = conf.sort_values(["p_adjusted", "feature", "outcome"], kind="mergesort")
    methods = sorted(set(data["adjustment_shown"].astype(str)))
    p_header = f"Adjusted p ({', '.join(methods)})"
    return pd.DataFrame({
        "label": [pair_label(r) for r in data.itertuples(index=False)],
        "unit": [labels.unit_words(getattr(r, "unit", "")) for r in data.itertuples(index=False)],
        "estimate": [labels.format_number(r.estimate, 2, signed=True) for r in data.itertuples(index=False)],
        "interval": [labels.format_interval(a, b) for a, b in zip(data["ci_low"], data["ci_high"])],
        p_header: [labels.format_p(p) for p in data["p_adjusted"]],
        "n_areas": [f"{int(n)}" if pd.notna(n) else "" for n in data["n_areas"]],
        "mde": [labels.format_number(m) for m in data.get("mde", pd.Series(np.nan, index=data.index))],
        "verdict": [f"{VERDICTS.get(v, ('', '', ''))[1]} {v}" for v in data["verdict_shown"]],
        "verdict_reason": data["verdict_reason_shown"].astype(str).tolist(),
    })


def full_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Every pair of the headline model with the figures a reader needs (sortable on the page, downloadable)."""
    data = rows.sort_values(["p_adjusted", "feature", "outcome"], kind="mergesort")
    return pd.DataFrame({
        "feature": data["feature"].map(labels.humanise), "outcome": data["outcome"].map(labels.humanise),
        "outcome_period": data["outcome_period"].astype(str),
        "family": data.get("family", pd.Series("", index=data.index)).astype(str),
        "estimate": data["estimate"].map(lambda v: labels.format_number(v, 3)),
        "ci_low": data["ci_low"].map(lambda v: labels.format_number(v, 3)),
        "ci_high": data["ci_high"].map(lambda v: labels.format_number(v, 3)),
        "p_value": data["p_value"].map(labels.format_p),
        "p_adjusted": data["p_adjusted"].map(labels.format_p),
        "adjustment": data["adjustment_shown"].astype(str),
        "n_areas": data["n_areas"].map(lambda n: f"{int(n)}" if pd.notna(n) else ""),
        "verdict": data["verdict_shown"].astype(str),
    })


def download_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The machine-readable table behind :func:`full_table` (raw columns, full precision) for the CSV link."""
    keep = [c for c in ("feature", "outcome", "outcome_period", "model", "estimand", "family", "estimate", "ci_low",
                        "ci_high", "p_value", "p_adjusted", "adjustment_shown", "n_areas", "mde", "sesoi", "unit",
                        "verdict_shown", "verdict_reason_shown") if c in rows.columns]
    return rows[keep].rename(columns={"adjustment_shown": "adjustment", "verdict_shown": "verdict",
                                      "verdict_reason_shown": "verdict_reason"})


def contents_html(sections: list[tuple[str, str]]) -> str:
    items = "".join(f'<li><a href="#{html.escape(a)}">{html.escape(t)}</a></li>' for a, t in sections)
    return f'<nav class="instep-contents" aria-label="Contents"><strong>Contents</strong><ol>{items}</ol></nav>'


def box_html(title: str, bullets: list[str], *, anchor: str = "main-points") -> str:
    items = "".join(f"<li>{html.escape(b)}</li>" for b in bullets)
    return (f'<section class="instep-box" aria-labelledby="{anchor}"><h2 id="{anchor}">{html.escape(title)}</h2>'
            f"<ul>{items}</ul></section>")


def sensitivity_table(focus: pd.DataFrame) -> pd.DataFrame:
    """Robustness value and E-value of the given pairs (columns from estimates.csv; blank when absent)."""
    def col(name):
        return focus[name] if name in focus.columns else pd.Series(np.nan, index=focus.index)
    return pd.DataFrame({"label": [pair_label(r) for r in focus.itertuples(index=False)],
                         "estimate": focus["estimate"].map(lambda v: labels.format_number(v, 2, signed=True)),
                         "p_adjusted": focus["p_adjusted"].map(labels.format_p),
                         "robustness_value": col("robustness_value").map(labels.format_pct),
                         "e_value": col("e_value").map(lambda v: labels.format_number(v, 2))})
