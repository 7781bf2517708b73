"""Report figures (matplotlib only, so the area profiles stay quick to import).

Every function returns a figure; notebooks show it with ``pipeline.report.show_figure(fig, alt=...)``.
Data passed in must already have passed disclosure control (suppressed values are missing).
"""
from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd

HIGHLIGHT = "#b2182b"
PEER = "#2166ac"
NATIONAL = "#7f7f7f"


def _plt():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def forest_plot(rows: pd.DataFrame, *, label_column: str = "label", estimate: str = "estimate",
                low: str = "ci_low", high: str = "ci_high", annotation: str | None = None,
                xlabel: str = "Estimate (95% interval)", title: str | None = None):
    """Point estimates with intervals, one row each, in the order given (top = first)."""
    plt = _plt()
    n = len(rows)
    fig, ax = plt.subplots(figsize=(8.5, max(2.2, 0.32 * n + 1.2)))
    y = np.arange(n)[::-1]
    est = rows[estimate].astype(float).to_numpy()
    lo = rows[low].astype(float).to_numpy()
    hi = rows[high].astype(float).to_numpy()
    ax.hlines(y, lo, hi, color=PEER, lw=1.6)
    ax.plot(est, y, "o", color=PEER, ms=5)
    ax.axvline(0, color="#333", lw=0.8, ls="--")
    ax.set_yticks(y)
    ax.set_yticklabels(rows[label_column].astype(str).tolist(), fontsize=8)
    if annotation is not None:
        right = np.nanmax(hi) if np.isfinite(hi).any() else 1.0
        span = (np.nanmax(hi) - np.nanmin(lo)) if np.isfinite(hi).any() else 1.0
        for yy, text in zip(y, rows[annotation].astype(str)):
            ax.text(right + 0.04 * span, yy, text, va="center", fontsize=7)
        ax.set_xlim(right=right + 0.35 * span)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def feature_position_plot(features: pd.DataFrame, area_id: str, *, area_name: str | None = None):
    """Each feature's score in every area (grey) with ``area_id`` and its interval highlighted.

    ``features``: ``lcjp_id, feature, score, ci_low, ci_high`` after disclosure control.
    """
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    names = sorted(features["feature"].astype(str).unique())
    fig, ax = plt.subplots(figsize=(8, max(2.4, 0.55 * len(names) + 1)))
    rng = np.random.default_rng(0)  # fixed jitter: the same picture every run
    for i, name in enumerate(names):
        y = len(names) - 1 - i
        sub = features[features["feature"].astype(str) == name]
        others = sub[sub["lcjp_id"] != area_id]["score"].astype(float).dropna()
        ax.plot(others, y + rng.uniform(-0.12, 0.12, len(others)), "o", color=NATIONAL, alpha=0.45, ms=4)
        if len(others):
            ax.plot([others.median()] * 2, [y - 0.3, y + 0.3], color="#333", lw=1.2)
        own = sub[sub["lcjp_id"] == area_id]
        if len(own) and pd.notna(own["score"].iloc[0]):
            row = own.iloc[0]
            if pd.notna(row.get("ci_low")) and pd.notna(row.get("ci_high")):
                ax.hlines(y, float(row["ci_low"]), float(row["ci_high"]), color=HIGHLIGHT, lw=2.2)
            ax.plot(float(row["score"]), y, "D", color=HIGHLIGHT, ms=7)
        elif len(own):
            ax.text(ax.get_xlim()[0], y + 0.2, "suppressed", fontsize=7, color=HIGHLIGHT)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([_words(n) for n in names[::-1]])
    ax.set_xlabel("Area score, 1-5 (grey dots: other areas; black bar: national median; red diamond: this area, "
                  "with 95% interval)", fontsize=8)
    ax.set_title(f"{area_name or area_id} against the national distribution", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    height = fig.get_figheight()
    longest = max((len(n) for n in names), default=8)
    fig.subplots_adjust(left=min(0.45, 0.03 + 0.0105 * longest), right=0.98, top=1 - 0.35 / height,
                        bottom=0.6 / height)
    return fig


def _words(name: object) -> str:
    """A data name as words for a figure label (pipeline.publish.labels.humanise)."""
    from .labels import humanise
    return humanise(name)


#: distinct colour + line style per peer (colour-blind-safe palette; style also tells them apart in grey print)
PEER_STYLES = [("#2166ac", "-"), ("#5aae61", "--"), ("#9970ab", "-."), ("#e08214", ":"), ("#35978f", (0, (5, 1, 1, 1))),
               ("#8c510a", (0, (3, 1))), ("#762a83", (0, (1, 1)))]


def _decimal_year(values: pd.Series) -> np.ndarray:
    """Dates as decimal years (2014.5 = mid-2014): cheap numeric ticks instead of date locators."""
    dates = pd.to_datetime(values)
    return (dates.dt.year + (dates.dt.dayofyear - 1) / 365.25).to_numpy(dtype=float)


def outcome_trends_plot(outcomes: pd.DataFrame, measures: pd.DataFrame, area_id: str, peer_ids: list[str], *,
                        names: dict[str, str] | None = None, max_columns: int = 3):
    """Small multiples, one per measure: the area (red), its peers (blue), national median (grey dashed).

    ``outcomes``: ``lcjp_id, period_start, measure, value``; ``measures``: ``measure, description, unit``.
    Layout is fixed (no tight_layout) and the x axis is numeric years: both keep rendering fast.
    """
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    names = names or {}
    data = outcomes[["lcjp_id", "period_start", "measure", "value"]].copy()
    data["measure"] = data["measure"].astype(str)
    data["x"] = _decimal_year(data["period_start"])
    data["value"] = data["value"].astype(float)
    shown = sorted(data["measure"].unique())
    n = max(1, len(shown))
    ncols = min(max_columns, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 2.9 * nrows), squeeze=False)
    meta = measures.set_index(measures["measure"].astype(str)) if len(measures) else pd.DataFrame()
    groups = dict(tuple(data.groupby("measure", sort=True)))
    for ax, name in zip(axes.flat, shown):
        sub = groups[name]
        national = sub.groupby("x")["value"].median().sort_index()
        ax.plot(national.index, national.to_numpy(), ls="--", color=NATIONAL, lw=1.2, label="national median")
        by_area = dict(tuple(sub.sort_values("x").groupby("lcjp_id", sort=False)))
        for i, peer in enumerate(peer_ids):
            if peer in by_area:
                line = by_area[peer]
                colour, style = PEER_STYLES[i % len(PEER_STYLES)]
                ax.plot(line["x"], line["value"], color=colour, ls=style, alpha=0.85, lw=1.1,
                        label=f"similar: {names.get(peer, peer)}")
        if area_id in by_area:
            own = by_area[area_id]
            ax.plot(own["x"], own["value"], color=HIGHLIGHT, lw=2.2, marker="o", ms=3, label=names.get(area_id, area_id))
        title, unit = _words(name), ""
        if name in meta.index:
            description = meta.loc[name].get("description")
            title = str(description) if pd.notna(description) and str(description).strip() else name
            unit = str(meta.loc[name].get("unit") or "")
        ax.set_title(textwrap.fill(title, 42), fontsize=8)
        ax.set_ylabel(unit, fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    handles, legend_labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, legend_labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.07, right=0.98, top=1 - 0.45 / (2.9 * nrows), bottom=0.85 / (2.9 * nrows) + 0.03,
                        hspace=0.6, wspace=0.28)
    return fig


def specification_panels(spec: pd.DataFrame, *, panel: str = "label", estimate: str = "estimate",
                         low: str = "ci_low", high: str = "ci_high", primary: dict[str, float] | None = None,
                         max_columns: int = 3):
    """One specification curve per pair (never pooled across pairs): estimates sorted with intervals;
    the primary specification (estimate equal to ``primary[label]``) in red."""
    plt = _plt()
    labels = sorted(spec[panel].astype(str).unique())
    n = max(1, len(labels))
    ncols = min(max_columns, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.8 * nrows), squeeze=False)
    for ax, label in zip(axes.flat, labels):
        sub = spec[spec[panel].astype(str) == label].copy()
        sub["_est"] = sub[estimate].astype(float)
        sub = sub.sort_values("_est", kind="mergesort").reset_index(drop=True)
        x = np.arange(len(sub))
        ax.vlines(x, sub[low].astype(float), sub[high].astype(float), color=NATIONAL, alpha=0.7, lw=1.2)
        colours = [PEER] * len(sub)
        if primary and label in primary and pd.notna(primary[label]):
            colours = [HIGHLIGHT if abs(v - primary[label]) <= 1e-9 * max(1.0, abs(v)) else PEER for v in sub["_est"]]
        ax.scatter(x, sub["_est"], c=colours, s=16, zorder=3)
        ax.axhline(0, color="#333", lw=0.8, ls="--")
        ax.set_title(textwrap.fill(label, 40), fontsize=8)
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(labels):]:
        ax.axis("off")
    fig.supxlabel("Specifications, sorted by estimate (red: the headline specification)", fontsize=8)
    fig.tight_layout()
    return fig


def specification_curve_plot(spec: pd.DataFrame, *, estimate: str = "estimate", low: str = "ci_low",
                             high: str = "ci_high", highlight: pd.Series | None = None, title: str | None = None):
    """Estimates of all specifications sorted by size, with intervals (highlight: e.g. the primary one)."""
    plt = _plt()
    data = spec.copy()
    data["_est"] = data[estimate].astype(float)
    order = np.argsort(data["_est"].to_numpy(), kind="mergesort")
    data = data.iloc[order].reset_index(drop=True)
    x = np.arange(len(data))
    fig, ax = plt.subplots(figsize=(8.5, 3.4))
    if low in data.columns and high in data.columns:
        ax.vlines(x, data[low].astype(float), data[high].astype(float), color=NATIONAL, alpha=0.6, lw=1)
    colours = np.where(highlight.iloc[order].to_numpy(dtype=bool), HIGHLIGHT, PEER) if highlight is not None else PEER
    ax.scatter(x, data["_est"], c=colours, s=12, zorder=3)
    ax.axhline(0, color="#333", lw=0.8, ls="--")
    ax.set_xlabel("Specification (sorted by estimate)")
    ax.set_ylabel("Estimate")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def triangulation_plot(table: pd.DataFrame, *, x: str, y: str, label: str, xlabel: str, ylabel: str, title: str):
    """Scatter of one value per visited area against another, each point labelled (no fitted line:
    with a handful of areas this illustrates, it does not test)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    ax.scatter(table[x].astype(float), table[y].astype(float), color=PEER, s=40)
    for row in table.itertuples(index=False):
        ax.annotate(str(getattr(row, label)), (float(getattr(row, x)), float(getattr(row, y))), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


#: verdict -> (colour, marker): the marker shape carries the verdict without colour (see bulletin.VERDICTS).
VERDICT_STYLE = {"associated": ("#0b5e2b", "o"), "no association of at least SESOI": ("#1d4f91", "D"),
                 "not detected": ("#6b6b6b", "o"), "not estimable": ("#8a4b00", "x")}


def verdict_forest_plot(rows: pd.DataFrame, *, label_column: str = "label", xlabel: str, title: str | None = None):
    """Registered results, right = better: each row's ``better_estimate``/``better_low``/``better_high`` (the
    estimate with its sign flipped where a lower outcome is better), coloured and shaped by ``verdict_shown``
    (filled = associated, hollow = not detected, diamond = equivalent), with a legend."""
    plt = _plt()
    n = len(rows)
    fig, ax = plt.subplots(figsize=(8.0, max(1.9, 0.42 * n + 1.25)))
    y = np.arange(n)[::-1]
    seen = set()
    for yy, r in zip(y, rows.itertuples(index=False)):
        verdict = str(r.verdict_shown)
        colour, marker = VERDICT_STYLE.get(verdict, ("#6b6b6b", "o"))
        ax.hlines(yy, float(r.better_low), float(r.better_high), color=colour, lw=2.2)
        face = colour if verdict == "associated" else "white"
        ax.plot(float(r.better_estimate), yy, marker, color=colour, mfc=face, mew=1.8, ms=8,
                label=None if verdict in seen else verdict)
        seen.add(verdict)
    ax.axvline(0, color="#333", lw=0.9, ls="--")
    ax.set_yticks(y)
    ax.set_yticklabels([textwrap.fill(str(t), 42) for t in rows[label_column]], fontsize=9)
    ax.set_xlabel(xlabel, fontsize=9)
    lo, hi = ax.get_xlim()
    ax.annotate("← worse", xy=(0.0, 1.01), xycoords="axes fraction", fontsize=8, ha="left", va="bottom", color="#333")
    ax.annotate("better →", xy=(1.0, 1.01), xycoords="axes fraction", fontsize=8, ha="right", va="bottom", color="#333")
    if title:
        ax.set_title(title, fontsize=10, pad=16)
    handles, names = ax.get_legend_handles_labels()
    fig.legend(handles, [f"Verdict: {t}" for t in names], loc="lower center", ncol=max(1, len(names)), fontsize=8,
               frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.07 + 0.25 / fig.get_figheight(), 1, 1))
    return fig
