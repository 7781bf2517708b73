"""Tables and figures describing a clean result, for the 01_clean report (no raw free text shown)."""
from __future__ import annotations

import inspect
import re

import pandas as pd

from . import clean_covariates, clean_fieldwork, clean_outcomes, clean_survey  # noqa: F401  (signatures)

_FUNCTIONS = {"survey": "clean_survey", "fieldwork": "clean_fieldwork", "outcomes": "clean_outcomes",
              "covariates": "clean_covariates"}


def options_for(kind: str, params: dict) -> dict:
    """The subset of ``params`` that the clean function of ``kind`` accepts as keyword options."""
    import pipeline.clean as clean
    accepted = inspect.signature(getattr(clean, _FUNCTIONS[kind])).parameters
    return {k: v for k, v in params.items() if k in accepted and accepted[k].kind == inspect.Parameter.KEYWORD_ONLY
            and "folder" not in k}


def files_table(manifest: dict) -> pd.DataFrame:
    """One row per file found: ``file, status (read|ignored), type, rows, synthetic, encoding, sha256 (short),
    reason`` (for an official file: the rows its adapter excluded, with the reasons)."""
    rows = [{"file": f["path"], "status": "read", "type": f["type"], "rows": f["rows"],
             "synthetic": f.get("synthetic", manifest.get("synthetic")), "encoding": f.get("encoding") or "",
             "sha256": (f.get("sha256") or "")[:12],
             "reason": (f"excluded by the adapter: {f['excluded_reasons']}" if f.get("excluded_reasons") else "")}
            for f in manifest["files"]]
    rows += [{"file": f["path"], "status": "ignored", "type": "", "rows": pd.NA, "synthetic": pd.NA, "encoding": "",
              "sha256": "", "reason": f["reason"]} for f in manifest["ignored"]]
    return pd.DataFrame(rows, columns=["file", "status", "type", "rows", "synthetic", "encoding", "sha256", "reason"])


def sources_table(manifest: dict) -> pd.DataFrame:
    """One row per source of the kind: ``source, synthetic, files, rows, rows_output`` (empty for survey and
    fieldwork, which have no source column)."""
    rows = [{"source": s["name"], "synthetic": s["synthetic"], "files": "; ".join(s["files"]), "rows": s["rows"],
             "rows_output": s.get("rows_output")} for s in manifest.get("sources") or []]
    return pd.DataFrame(rows, columns=["source", "synthetic", "files", "rows", "rows_output"])


def quarantine_summary(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows per ``source_file, column, reason``; quoted raw values are masked as '…'
    so the table can be shown without personal data."""
    if quarantine.empty:
        return pd.DataFrame({"source_file": pd.Series(dtype="string"), "column": pd.Series(dtype="string"),
                             "reason": pd.Series(dtype="string"), "rows": pd.Series(dtype="int64")})
    reason = quarantine["reason"].astype("string").map(lambda r: re.sub(r"'[^']*'", "'…'", str(r)))
    reason = reason.str.replace(r"row \d+", "row N", regex=True).str.replace(r"\d+(\.\d+)?", "#", regex=True)
    frame = pd.DataFrame({"source_file": quarantine["source_file"], "column": quarantine["column"], "reason": reason})
    return (frame.groupby(["source_file", "column", "reason"], as_index=False, sort=True).size()
            .rename(columns={"size": "rows"}))


def field_tables(result, kind: str) -> dict[str, pd.DataFrame]:
    """Distribution of every processed field, as named tables."""
    out: dict[str, pd.DataFrame] = {}
    if kind == "survey":
        clean, items = result.clean, result.codebook["item"].tolist()
        out["respondents per partnership"] = clean.groupby("lcjp_id").size().rename("respondents").reset_index()
        for c in ("agency", "role"):
            out[f"respondents by {c}"] = clean[c].value_counts().rename_axis(c).rename("respondents").reset_index()
        long = clean[items].melt(var_name="item", value_name="score")
        dist = long.assign(score=long["score"].astype("Float64")).groupby("item")["score"].value_counts(dropna=False)
        table = dist.unstack(fill_value=0).reindex(items)
        table.columns = [("missing" if pd.isna(c) else f"{int(c)}") for c in table.columns]
        missing = result.missing.groupby(["item", "kind"]).size().unstack(fill_value=0).reindex(items, fill_value=0)
        table = table.join(missing).fillna(0).astype("int64").reset_index()
        out["item scores after reverse-coding (counts)"] = table.merge(
            result.codebook[["item", "feature", "reverse"]], on="item")
        out["meetings per year and numbers"] = clean[["meetings_per_year", "n_dont_know", "n_skipped"]].describe().T \
            .reset_index(names="field")
        members = clean["members"].dropna().str.split(";").explode()
        out["agencies named as board members"] = members.value_counts().rename_axis("agency").rename("responses") \
            .reset_index()
        out["invited"] = result.invited.groupby("agency")["invited"].sum().reset_index()
    elif kind == "fieldwork":
        seg = result.segments
        out["segments by partnership and source type"] = pd.crosstab(seg["lcjp_id"], seg["source_type"]).reset_index()
        out["segments by code"] = seg.groupby(["theme", "code", "valence"]).size().rename("segments").reset_index()
        double = seg.groupby("segment_id")["coder"].nunique()
        out["double coding"] = pd.DataFrame({"segments": [len(double)], "coded_by_two_or_more": [int((double > 1).sum())],
                                             "approved_quotes": [len(result.quotes)]})
        bm = result.board_meetings
        out["board meetings"] = bm.groupby("lcjp_id").agg(meetings=("meeting_date", "nunique"), rows=("agency", "size"),
                                                          attended=("attended", "mean"),
                                                          senior=("senior", "mean")).reset_index()
    elif kind == "outcomes":
        oc = result.outcomes
        out["measures"] = result.measures
        out["rows per measure and period type"] = pd.crosstab(oc["measure"], oc["period_type"]).reset_index()
        out["value by measure"] = oc.groupby("measure")["value"].describe().reset_index()
        out["years covered"] = oc.groupby("measure")["year"].agg(["min", "max", "nunique"]).reset_index()
        out["combined partnerships"] = oc[oc["combined_from"].notna()].groupby(
            ["measure", "combined_from"]).size().rename("rows").reset_index()
    elif kind == "covariates":
        cv = result.covariates
        out["value by variable"] = cv.groupby("variable")["value"].describe().reset_index()
        out["years covered"] = cv.groupby("variable")["year"].agg(["min", "max", "nunique"]).reset_index()
        out["combined partnerships"] = cv[cv["combined_from"].notna()].groupby(
            ["variable", "combined_from"]).size().rename("rows").reset_index()
    return out


def figures(result, kind: str) -> list[tuple]:
    """(figure, alt text) pairs describing the accepted data."""
    import matplotlib.pyplot as plt
    figs = []
    if kind == "survey":
        counts = result.clean.groupby("lcjp_id").size().sort_values()
        fig, ax = plt.subplots(figsize=(7, max(3, 0.18 * len(counts))))
        ax.barh(counts.index.astype(str), counts.to_numpy(), color="#4c72b0")
        ax.set_xlabel("accepted responses")
        figs.append((fig, f"Bar chart of accepted survey responses per partnership area: {len(counts)} areas, "
                          f"from {counts.min()} to {counts.max()} responses each."))
        items = result.codebook["item"].tolist()
        share = result.clean[items].apply(lambda s: s.value_counts(normalize=True, dropna=False)).T
        share.columns = ["missing" if pd.isna(c) else str(int(c)) for c in share.columns]
        fig, ax = plt.subplots(figsize=(7, max(3, 0.25 * len(items))))
        share.fillna(0).plot.barh(stacked=True, ax=ax, colormap="RdYlGn", width=0.8)
        ax.set_xlabel("share of accepted responses")
        ax.legend(title="score", bbox_to_anchor=(1.01, 1), loc="upper left")
        figs.append((fig, f"Stacked bars of the share of each score (1-5 after reverse-coding, or missing) for the "
                          f"{len(items)} survey items."))
    elif kind == "fieldwork":
        seg = result.segments
        counts = seg.groupby("theme").size().sort_values()
        fig, ax = plt.subplots(figsize=(6, max(2.5, 0.3 * len(counts))))
        ax.barh(counts.index.astype(str), counts.to_numpy(), color="#55a868")
        ax.set_xlabel("coded segments")
        figs.append((fig, f"Bar chart of coded fieldwork segments per theme ({len(counts)} themes)."))
    else:
        frame = result.outcomes if kind == "outcomes" else result.covariates
        name = "measure" if kind == "outcomes" else "variable"
        names = sorted(frame[name].unique())
        fig, axes = plt.subplots(len(names), 1, figsize=(6, 1.6 * len(names) + 0.5), squeeze=False)
        for ax, n in zip(axes[:, 0], names):
            ax.hist(frame.loc[frame[name] == n, "value"].to_numpy(), bins=20, color="#8172b2")
            ax.set_title(n, fontsize=9, loc="left")
        fig.tight_layout()
        figs.append((fig, f"Histograms of the accepted values of each of the {len(names)} {name}s across "
                          "partnerships and periods."))
    return figs


def set_aside_sentence(set_aside: pd.DataFrame, max_share: float) -> str:
    """One sentence: how many rows were set aside, for which reasons (answer first, for the clean page)."""
    from .quarantine import SUPERSEDED
    counted = set_aside[set_aside["reason_kind"] != SUPERSEDED]
    superseded = int(set_aside.loc[set_aside["reason_kind"] == SUPERSEDED, "rows"].sum())
    extra = (f" {superseded} superseded resubmission(s) were set aside as intended (the kept submission is in the "
             "data)." if superseded else "")
    if counted.empty:
        return "**Nothing was set aside for a problem in the data.**" + extra
    by_kind = counted.groupby("reason_kind")["rows"].sum().sort_values(ascending=False)
    parts = ", ".join(f"{int(n)} for {k}" for k, n in by_kind.items())
    return (f"**{int(by_kind.sum())} row(s) were set aside for a problem in the data** ({parts}), each under the "
            f"gate of {max_share:.0%} of the rows of its file type." + extra)


def set_aside_display(set_aside: pd.DataFrame) -> pd.DataFrame:
    """The set-aside table with reader labels."""
    return set_aside.rename(columns={"source_file": "File", "reason_kind": "Reason", "rows": "Rows",
                                     "example_reason": "Example", "fix": "How to fix"})


def quotes_withheld_sentence(result) -> str:
    """Count only (never the text): approved quotes withheld because a probable personal name remained."""
    held = getattr(result, "quotes_withheld", None)
    n = 0 if held is None else len(held)
    total = n + len(result.quotes)
    if not n:
        return f"**No approved quote was withheld**: all {total} passed the personal-data check after redaction."
    return (f"**{n} of {total} approved quote(s) withheld**: a probable personal name remained after redaction, "
            "so they are not published (listed by segment in data/processed/quotes_withheld.csv).")
