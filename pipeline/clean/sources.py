"""Official-statistics inputs of the clean stage, and which sources of a kind are real or synthetic.

Row accounting for an official file (``reconciliation_<kind>.csv``) comes in two exact steps, because an
adapter *aggregates* the published rows (e.g. force x quarter x offence x outcome type -> one rate per force
and year) and no single published row stands behind a figure:

1. the published file (``input = "official file"``, ``source_file`` = its path, `` [sheet S]`` for a workbook
   sheet): ``rows_read`` data rows = ``accepted`` (used by the adapter) + ``quarantined``, where every
   quarantined row is one the adapter excluded (``excluded_by_adapter``; e.g. British Transport Police,
   regional/national totals, blank or not-available values), with the reasons and counts in
   ``inputs_<kind>.json`` (``files[].excluded_reasons``);
2. the adapter's output for that file (``input = "official adapter output"``, ``source_file`` =
   ``"<path> (<adapter> output)"``): its rows go through the same rules as CSV rows, each one either in the
   processed table or in the quarantine file (``source_file`` = that name, ``row_number`` = the row of the
   adapter's output, 1-based).

Ordinary CSV files have ``input = "csv"`` and ``excluded_by_adapter = 0``. ``accepted + quarantined =
rows_read`` holds on every line (checked before writing).

Sources (``inputs_<kind>.json`` ``sources``): one entry per distinct ``source`` value (a CSV row without one
is its file's path). A source is synthetic when its rows come from an ordinary CSV of a folder holding the
generator's ``SYNTHETIC.md`` marker, or its name starts with "synthetic"; rows from official adapters are real.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError

ACCOUNTING_COLUMNS = ["source_file", "rows_read", "accepted", "quarantined", "excluded_by_adapter", "input"]


def _sheet(value) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA else str(value)


def file_key(path: str, sheet) -> str:
    sheet = _sheet(sheet)
    return path + (f" [sheet {sheet}]" if sheet else "")


@dataclass
class OfficialInputs:
    raw: pd.DataFrame                 # adapter output as raw text rows (source_file = "<path> (<adapter> output)")
    measures: pd.DataFrame | None     # outcomes: the adapters' measures table
    files: list[dict] = field(default_factory=list)      # manifest entries of the files read
    ignored: list[dict] = field(default_factory=list)    # manifest entries of files not read, with the reason
    accounting: list[dict] = field(default_factory=list)  # reconciliation lines of the published files
    derived_rows: dict[str, int] = field(default_factory=dict)  # adapter output rows per pseudo file
    sources: list[dict] = field(default_factory=list)     # manifest `sources` entries (real)


def empty_official(columns: list[str]) -> OfficialInputs:
    raw = pd.DataFrame({c: pd.Series(dtype="int64" if c == "source_row" else "string")
                        for c in ["source_file", "source_row", *columns]})
    return OfficialInputs(raw, None)


def read_official_inputs(names, folder: Path, matcher, kind: str, columns: list[str]) -> OfficialInputs:
    """Read the listed adapters' files with ``pipeline.official.read_official`` and account for every file."""
    if not names:
        return empty_official(columns)
    from .. import official  # lazy: only when official sources are asked for
    result = official.read_official(list(names), Path(folder), matcher, kind)
    data, files = result.data.copy(), result.files.copy()
    label = f"pipeline.official ({kind})"
    missing = [c for c in ("area", "period", "value", "source", "source_file") if c not in data.columns]
    if missing:
        raise InputError(label, f"adapter output lacks column(s) {missing}",
                         "fix the adapter: it must return the raw long contract shape plus source_file")
    status = files["status"].astype("string") if "status" in files.columns else pd.Series("read", index=files.index)
    read = files[(status == "read").to_numpy()]
    out = OfficialInputs(pd.DataFrame(), None)
    adapters_of: dict[str, list[str]] = {}
    for rec in read.to_dict("records"):
        rows_read, used, excluded = (int(rec[c]) for c in ("rows_read", "rows_used", "rows_excluded"))
        key = file_key(rec["file"], rec.get("sheet"))
        if used + excluded != rows_read or min(used, excluded) < 0:
            raise RuntimeError(f"official adapter '{rec['adapter']}' accounts for {key} inconsistently: read "
                               f"{rows_read} rows, used {used}, excluded {excluded} (a bug in pipeline.official)")
        adapters_of.setdefault(rec["file"], []).append(str(rec["adapter"]))
        out.accounting.append({"source_file": key, "rows_read": rows_read, "accepted": used, "quarantined": excluded,
                               "excluded_by_adapter": excluded, "input": "official file"})
        out.files.append({"path": key, "type": f"official:{rec['adapter']}", "sha256": rec.get("sha256"),
                          "rows": rows_read, "encoding": None, "adapter": str(rec["adapter"]),
                          "sheet": _sheet(rec.get("sheet")), "rows_used": used, "rows_excluded": excluded,
                          "excluded_reasons": rec.get("excluded_reasons") or "", "notes": rec.get("notes") or "",
                          "synthetic": False})
    for rec in files[(status != "read").to_numpy()].to_dict("records"):
        out.ignored.append({"path": file_key(rec["file"], rec.get("sheet")), "reason": str(rec["status"])})

    def pseudo(path: str) -> str:
        return f"{path} ({'+'.join(sorted(set(adapters_of.get(path, ['official']))))} output)"

    raw = data.copy()
    raw["source_file"] = raw["source_file"].astype("string").map(pseudo).astype("string")
    raw["source_row"] = (raw.groupby("source_file", sort=False).cumcount() + 1).astype("int64")
    for c in columns:
        if c not in raw.columns:
            raw[c] = ""
        raw[c] = raw[c].astype("string").fillna("")
    out.raw = raw[["source_file", "source_row", *columns]].reset_index(drop=True)
    out.derived_rows = {k: int(v) for k, v in out.raw.groupby("source_file").size().items()}
    for name in out.derived_rows:
        out.accounting.append({"source_file": name, "rows_read": out.derived_rows[name], "accepted": 0,
                               "quarantined": 0, "excluded_by_adapter": 0, "input": "official adapter output"})
    if kind == "outcomes":
        out.measures = result.measures

    # Real sources: the publication named in each adapter's `source`, with the files it came from.
    registry = getattr(official, "REGISTRY", {})
    source_of = data.groupby("source_file")["source"].first().astype(str).to_dict() if len(data) else {}
    by_source: dict[str, dict] = {}
    for entry in out.files:
        path = entry["path"].split(" [sheet ")[0]
        adapter = registry.get(entry["adapter"])
        name = source_of.get(path) or (adapter.source if adapter is not None else entry["adapter"])
        src = by_source.setdefault(name, {"name": name, "synthetic": False, "files": [], "rows": 0,
                                          "adapters": []})
        src["files"].append(entry["path"])
        src["rows"] += entry["rows"]
        if entry["adapter"] not in src["adapters"]:
            src["adapters"].append(entry["adapter"])
    out.sources = [by_source[k] for k in sorted(by_source)]
    return out


def csv_sources(raw_csv: pd.DataFrame, synthetic_folder: bool) -> tuple[pd.Series, list[dict]]:
    """Per CSV row its source name (the ``source`` value, else the file path) and the sources list."""
    name = raw_csv["source"].astype("string").str.strip()
    name = name.where(name != "", raw_csv["source_file"].astype("string"))
    synthetic = name.str.lower().str.startswith("synthetic").fillna(False) | bool(synthetic_folder)
    out = []
    if len(raw_csv):
        frame = pd.DataFrame({"name": name, "file": raw_csv["source_file"].astype("string"), "synthetic": synthetic})
        for src, group in frame.groupby("name", sort=True):
            out.append({"name": str(src), "synthetic": bool(group["synthetic"].any()),
                        "files": sorted(group["file"].unique().tolist()), "rows": int(len(group)), "adapters": []})
    return name, out


def synthetic_source_names(sources: list[dict]) -> set[str]:
    return {s["name"] for s in sources if s["synthetic"]}


def finish_sources(sources: list[dict], output: pd.DataFrame) -> list[dict]:
    """Add ``rows_output`` (processed rows now carrying each source) and sort by name."""
    counts = output["source"].astype(str).value_counts().to_dict() if len(output) else {}
    merged: dict[str, dict] = {}
    for s in sources:
        if s["name"] in merged:  # the same name from a CSV and an adapter: one source, synthetic if any part is
            m = merged[s["name"]]
            m["synthetic"] = m["synthetic"] or s["synthetic"]
            m["files"] = sorted(set(m["files"]) | set(s["files"]))
            m["rows"] += s["rows"]
            m["adapters"] = sorted(set(m["adapters"]) | set(s["adapters"]))
        else:
            merged[s["name"]] = {**s, "files": list(s["files"])}
    return [{**merged[k], "rows_output": int(counts.get(k, 0))} for k in sorted(merged)]


def reconciliation(csv_part: pd.DataFrame, official: OfficialInputs) -> pd.DataFrame:
    """Join the reconciliation of CSV rows and adapter output rows (``quarantine.reconcile``) with the
    accounting of the published official files; columns ``ACCOUNTING_COLUMNS``, sorted by source_file."""
    frame = csv_part.copy()
    derived = set(official.derived_rows)
    frame["excluded_by_adapter"] = 0
    frame["input"] = frame["source_file"].map(lambda f: "official adapter output" if f in derived else "csv")
    files = pd.DataFrame([a for a in official.accounting if a["input"] == "official file"], columns=ACCOUNTING_COLUMNS)
    out = pd.concat([frame[ACCOUNTING_COLUMNS], files], ignore_index=True) if len(files) else frame[ACCOUNTING_COLUMNS]
    out = out.astype({"source_file": "string", "rows_read": "int64", "accepted": "int64", "quarantined": "int64",
                      "excluded_by_adapter": "int64", "input": "string"})
    out = out.sort_values("source_file", kind="stable").reset_index(drop=True)
    bad = out[(out["accepted"] + out["quarantined"] != out["rows_read"]) | (out["excluded_by_adapter"] > out["quarantined"])]
    if len(bad):
        raise RuntimeError("Reconciliation failed (a bug in pipeline.clean, not in the data): "
                           f"{bad.to_dict('records')}")
    return out


def csv_file_flags(raw_csv: pd.DataFrame, names: pd.Series, synthetic_folder: bool) -> dict[str, bool]:
    """Per CSV file: synthetic (its folder holds SYNTHETIC.md, or a row's source starts with "synthetic")."""
    if not len(raw_csv):
        return {}
    flag = names.str.lower().str.startswith("synthetic").fillna(False)
    return {str(k): bool(v) or bool(synthetic_folder) for k, v in flag.groupby(raw_csv["source_file"]).any().items()}


def manifest_files(scan_files: list[dict], flags: dict[str, bool], synthetic_folder: bool,
                   official: OfficialInputs) -> list[dict]:
    return ([{**f, "synthetic": flags.get(f["path"], bool(synthetic_folder))} for f in scan_files] + official.files)
