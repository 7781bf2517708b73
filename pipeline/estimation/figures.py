"""Figures of the estimate report (matplotlib; shown via pipeline.report.show_figure with alt text)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def forest(rows: pd.DataFrame, *, title: str, x_label: str = "Standardised estimate (outcome SDs per feature SD)"):
    """Forest plot of beta_std with the interval rescaled to outcome SDs, one row per feature x outcome.

    Standardised so that outcomes in different units share an axis; the table gives each in its unit."""
    import matplotlib.pyplot as plt
    d = rows.sort_values(["outcome", "feature"]).reset_index(drop=True)
    sd = d["sd_outcome"].astype(float)
    est, lo, hi = d["beta_std"].astype(float), d["ci_low"].astype(float) / sd, d["ci_high"].astype(float) / sd
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(d) + 1.2))
    y = np.arange(len(d))[::-1]
    colours = np.where(d["verdict"] == "associated", "#b2182b", "#555555")
    ax.hlines(y, lo, hi, color=colours, lw=1.2)
    ax.scatter(est, y, color=colours, s=14, zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{f} -> {o}" for f, o in zip(d["feature"], d["outcome"])], fontsize=6.5)
    ax.set_xlabel(x_label)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def specification_curve(spec: pd.DataFrame, *, title: str):
    """Estimates (in outcome SDs) of one feature x outcome pair under every specification, sorted."""
    import matplotlib.pyplot as plt
    d = spec.sort_values("beta_std").reset_index(drop=True)
    sd = d["estimate"].astype(float) / d["beta_std"].astype(float)
    x = np.arange(len(d))
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(7.5, 4.5), sharex=True, gridspec_kw={"height_ratios": [2, 1.3]})
    ax.vlines(x, d["ci_low"] / sd, d["ci_high"] / sd, color="#888888")
    ax.scatter(x, d["beta_std"], color=np.where(d["p_value"] < 0.05, "#b2182b", "#333333"), s=14, zorder=3)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("Estimate (outcome SDs)")
    ax.set_title(title, fontsize=9)
    choices = ["covariate_set", "aggregation", "areas", "outcome_period"]
    labels, ypos = [], 0
    for c in choices:
        for v in sorted(d[c].astype(str).unique()):
            hit = d[c].astype(str) == v
            ax2.scatter(x[hit], np.full(hit.sum(), ypos), marker="|", color="black")
            labels.append(f"{c}: {v}")
            ypos += 1
    ax2.set_yticks(range(len(labels)))
    ax2.set_yticklabels(labels, fontsize=6.5)
    ax2.set_xlabel("Specification (sorted by estimate)")
    fig.tight_layout()
    return fig
