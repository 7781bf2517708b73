"""Fieldwork -> fieldwork_segments, fieldwork_codebook, fieldwork_quotes (redacted), board_meetings,
quotes_withheld.

Excerpts stay in the raw files: only the excerpts of approved segments are carried on, redacted by
:mod:`pipeline.disclosure`; an approved quote in which a probable personal name remains is withheld (fail
closed) and listed in ``quotes_withheld.csv`` (``segment_id, lcjp_id, reason``; no quoted text).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import paths
from ..areas import AreaMatcher
from ..errors import InputError
from . import schemas
from .common import concat_files, match_areas
from .labels import Synonyms, normalise_label, parse_bool, parse_number, parse_timestamps
from .quarantine import Issues, Quarantine, reconcile
from .formats import QDPX
from .readers import add_rejected, folder_is_synthetic, scan_folder
from .. import disclosure

SYN_FIX = "add the spelling to data/raw/reference/label_synonyms.csv (columns field, variant, canonical)"


@dataclass
class FieldworkResult:
    segments: pd.DataFrame
    codebook: pd.DataFrame
    quotes: pd.DataFrame
    board_meetings: pd.DataFrame
    quarantine: pd.DataFrame
    reconciliation: pd.DataFrame
    manifest: dict
    quotes_withheld: pd.DataFrame | None = None

    def csv_outputs(self) -> dict[str, pd.DataFrame]:
        return {"quotes_withheld.csv": self.quotes_withheld if self.quotes_withheld is not None
                else withheld_quotes_frame([])}

    def outputs(self) -> dict[str, pd.DataFrame]:
        return {"fieldwork_segments.parquet": self.segments, "fieldwork_codebook.parquet": self.codebook,
                "fieldwork_quotes.parquet": self.quotes, "board_meetings.parquet": self.board_meetings}


def _codebook(files, folder: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not files:
        raise InputError(folder, "no fieldwork codebook found (a CSV with columns code, theme, description, valence)",
                         "add the codebook the coders used")
    raw = concat_files(files, ["code", "theme", "description", "valence"])
    code = raw["code"].str.strip()
    theme = raw["theme"].str.strip()
    valence = parse_number(raw["valence"].str.replace("+", "", regex=False))
    checks = [(code == "", "code", "code is blank", "give every code a name"),
              (code.duplicated(), "code", "code appears twice in the codebook(s)", "keep one row per code"),
              (theme == "", "theme", "theme is blank", "name the theme of the code"),
              (~valence.isin([-1.0, 0.0, 1.0]), "valence", "valence '{value}' is not +1, 0 or -1",
               "write 1, 0 or -1")]
    for mask, column, problem, fix in checks:
        if mask.any():
            r = raw[mask].iloc[0]
            raise InputError(r["source_file"], problem.format(value=r[column]) + (f" ('{r[column]}')" if
                             "{value}" not in problem else ""), fix, row=int(r["source_row"]), column=column)
    description = raw["description"].str.strip()
    out = pd.DataFrame({"code": code, "theme": theme, "description": description.where(description != "", pd.NA),
                        "valence": valence.astype("int64")}).astype({"code": "string", "theme": "string",
                                                                    "description": "string"})
    out = out.sort_values("code", kind="stable").reset_index(drop=True)
    return out, raw[["source_file", "source_row"]]


def clean_fieldwork(fieldwork_dir: Path, matcher: AreaMatcher, *, on_unknown_area: str = "error",
                    synonyms: Synonyms | None = None) -> FieldworkResult:
    """Clean the fieldwork folder (pure: reads only, writes nothing)."""
    synonyms = synonyms or Synonyms.load()
    fieldwork_dir = Path(fieldwork_dir)
    folder = paths.rel(fieldwork_dir)
    scan = scan_folder(fieldwork_dir, schemas.FIELDWORK_TYPES, formats=(QDPX,))  # REFI-QDA projects too
    codebook, codebook_keys = _codebook(scan.of_type("codebook"), folder)
    quarantine = Quarantine()
    add_rejected(quarantine, scan)  # codes and codings a REFI-QDA reader set aside (with their GUIDs)
    accepted = [codebook_keys]

    # Coded segments.
    seg_cols = ["segment_id", "area", "source_type", "source_id", "agency", "coder", "code", "excerpt"]
    raw = concat_files(scan.of_type("coded_segments"), seg_cols)
    text = raw.copy()
    for c in seg_cols:
        text[c] = text[c].str.strip()
    issues = Issues(raw.index)
    for c in ("segment_id", "coder", "code"):
        issues.flag(text[c] == "", c, f"{c} is blank")
    areas = match_areas(text, matcher, issues, on_unknown_area)
    agency = synonyms.map_series("agency", text["agency"])  # blank allowed: documents, observations
    issues.flag((text["agency"] != "") & agency.isna(), "agency", "unknown agency '" + text["agency"]
                + f"': {SYN_FIX}")
    source_type = text["source_type"].map(normalise_label).str.replace(" ", "_", regex=False).astype("string")
    issues.flag(~source_type.isin(schemas.SOURCE_TYPES), "source_type", "source_type '" + text["source_type"]
                + f"' is not one of {list(schemas.SOURCE_TYPES)}")
    known_code = text["code"].isin(codebook["code"])
    issues.flag((text["code"] != "") & ~known_code, "code", "code '" + text["code"] + "' is not in the fieldwork "
                "codebook: add it to the codebook or correct the code")
    dup = (text["segment_id"] != "") & text.duplicated(["segment_id", "coder"], keep="first")
    issues.flag(dup, "segment_id", "segment_id '" + text["segment_id"] + "' coded twice by coder '" + text["coder"]
                + "' (rows are segment x coder)")
    quarantine.add_issues(raw, issues)
    keep = ~issues.bad
    segments = pd.DataFrame({
        "segment_id": text["segment_id"], "lcjp_id": areas["lcjp_id"], "source_type": source_type,
        "source_id": text["source_id"].where(text["source_id"] != "", pd.NA), "agency": agency,
        "coder": text["coder"], "code": text["code"], "source_file": text["source_file"],
        "source_row": text["source_row"].astype("int64"),
    })[keep]
    segments = segments.merge(codebook[["code", "theme", "valence"]], on="code", how="left")
    segments = segments[["segment_id", "lcjp_id", "source_type", "source_id", "agency", "coder", "code", "theme",
                         "valence", "source_file", "source_row"]]
    segments = segments.sort_values(["segment_id", "coder"], kind="stable").reset_index(drop=True)
    accepted.append(raw.loc[keep, ["source_file", "source_row"]])
    excerpts = pd.DataFrame({"segment_id": text["segment_id"], "coder": text["coder"],
                             "excerpt": text["excerpt"]})[keep]

    # Approved quotes: redacted excerpts of accepted segments.
    raw_q = concat_files(scan.of_type("approved_quotes"), ["segment_id"])
    q_ids = raw_q["segment_id"].str.strip()
    issues_q = Issues(raw_q.index)
    issues_q.flag(q_ids == "", "segment_id", "segment_id is blank")
    issues_q.flag((q_ids != "") & ~q_ids.isin(segments["segment_id"]), "segment_id", "approved segment '" + q_ids
                  + "' is not an accepted coded segment (unknown id, or its segment rows were quarantined)")
    issues_q.flag((q_ids != "") & q_ids.duplicated(), "segment_id", "segment approved twice")
    quarantine.add_issues(raw_q, issues_q)
    keep_q = ~issues_q.bad
    accepted.append(raw_q.loc[keep_q, ["source_file", "source_row"]])
    first = (segments.merge(excerpts, on=["segment_id", "coder"], how="left")
             .sort_values(["segment_id", "coder"], kind="stable").drop_duplicates("segment_id"))
    quotes = first[first["segment_id"].isin(q_ids[keep_q])]
    quotes = pd.DataFrame({"segment_id": quotes["segment_id"], "lcjp_id": quotes["lcjp_id"], "code": quotes["code"],
                           "theme": quotes["theme"], "quote": quotes["excerpt"]})
    quotes, quotes_withheld = redact_quotes(quotes)

    # Board meetings.
    bm_cols = ["area", "meeting_date", "agency", "attended", "senior"]
    raw_b = concat_files(scan.of_type("board_meetings"), bm_cols)
    text_b = raw_b.copy()
    for c in bm_cols:
        text_b[c] = text_b[c].str.strip()
    issues_b = Issues(raw_b.index)
    areas_b = match_areas(text_b, matcher, issues_b, on_unknown_area)
    date = parse_timestamps(text_b["meeting_date"]).dt.normalize()
    issues_b.flag(date.isna(), "meeting_date", "meeting_date '" + text_b["meeting_date"] + "' is not a date: use "
                  "2015-03-31 or 31/03/2015")
    agency_b = synonyms.map_series("agency", text_b["agency"])
    issues_b.flag(agency_b.isna(), "agency", "unknown or blank agency '" + text_b["agency"] + f"': {SYN_FIX}")
    flags = {}
    for c in ("attended", "senior"):
        flags[c] = parse_bool(text_b[c])
        issues_b.flag(flags[c].isna(), c, f"{c} '" + text_b[c] + "' is not Y or N")
    quarantine.add_issues(raw_b, issues_b)
    keep_b = ~issues_b.bad
    meetings = pd.DataFrame({"lcjp_id": areas_b["lcjp_id"], "pfa_code": areas_b["pfa_code"], "meeting_date": date,
                             "agency": agency_b, "attended": flags["attended"], "senior": flags["senior"]})[keep_b]
    meetings = meetings.astype({"attended": bool, "senior": bool})
    meetings = meetings.sort_values(["lcjp_id", "meeting_date", "agency", "pfa_code"], kind="stable",
                                    na_position="first").reset_index(drop=True)
    accepted.append(raw_b.loc[keep_b, ["source_file", "source_row"]])

    quarantine_frame = quarantine.frame()
    reconciliation = reconcile({f.name: f.rows for f in scan.files}, pd.concat(accepted), quarantine_frame)
    manifest = scan.manifest("fieldwork", folder_is_synthetic(fieldwork_dir))
    manifest["quotes_withheld"] = len(quotes_withheld)
    return FieldworkResult(segments, codebook, quotes, meetings, quarantine_frame, reconciliation, manifest,
                           quotes_withheld)


def withheld_quotes_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["segment_id", "lcjp_id", "reason"]).astype("string")


def redact_quotes(quotes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Redacted quotes that are safe to publish, and the withheld ones with their reason (fail closed)."""
    redacted, withheld, keep = [], [], []
    for text in quotes["quote"].astype("object"):
        out = disclosure.redact_text(text)[0]
        names = disclosure.probable_names(out)
        redacted.append(out)
        keep.append(not names)
        if names:
            withheld.append(f"{len(names)} probable personal name(s) remain after redaction (withheld, not "
                            "published; approve a version without the name)")
    out = quotes.assign(quote=redacted)
    keep_mask = pd.Series(keep, index=quotes.index, dtype=bool)
    reasons = iter(withheld)
    held = withheld_quotes_frame([{"segment_id": r.segment_id, "lcjp_id": r.lcjp_id, "reason": next(reasons)}
                                  for r in out[~keep_mask].itertuples(index=False)])
    out = out[keep_mask].sort_values("segment_id", kind="stable").reset_index(drop=True).astype("string")
    held = held.sort_values("segment_id", kind="stable").reset_index(drop=True)
    return out, held
