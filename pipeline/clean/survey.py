"""Survey exports -> survey_clean, survey_missing, survey_codebook, invited (no writing here)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..areas import AreaMatcher
from ..errors import InputError
from . import schemas
from .common import check_option, concat_files, match_areas
from .labels import DONT_KNOW, Synonyms, normalise_label, parse_bool, parse_number, parse_timestamps
from .quarantine import Issues, Quarantine, reconcile
from .readers import add_rejected, folder_is_synthetic, normalise_header, scan_folder
from .formats import CSV, DTA, SAV, XLSX, ZSAV

SURVEY_FORMATS = (CSV, SAV, ZSAV, DTA, XLSX)  # besides plain CSV: see pipeline.clean.formats

FIXED = list(schemas.SURVEY_FIXED_COLUMNS)
SYN_FIX = "add the spelling to data/raw/reference/label_synonyms.csv (columns field, variant, canonical)"


@dataclass
class SurveyResult:
    clean: pd.DataFrame
    missing: pd.DataFrame
    codebook: pd.DataFrame
    invited: pd.DataFrame
    quarantine: pd.DataFrame
    reconciliation: pd.DataFrame
    manifest: dict

    def outputs(self) -> dict[str, pd.DataFrame]:
        return {"survey_clean.parquet": self.clean, "survey_missing.parquet": self.missing,
                "survey_codebook.parquet": self.codebook, "invited.parquet": self.invited}


def _read_codebook(files) -> tuple[pd.DataFrame, dict[str, str], pd.DataFrame]:
    """Codebook table, item -> codebook file name, and the accepted (file, row) keys."""
    if not files:
        return None, {}, None
    raw = concat_files(files, ["item", "feature", "text", "reverse"])
    items = raw["item"].map(normalise_header).astype("string")
    blank = items == ""
    if blank.any():
        r = raw[blank].iloc[0]
        raise InputError(r["source_file"], "codebook item name is blank", "give every codebook row an item name "
                         "matching a column of the survey export", row=int(r["source_row"]), column="item")
    dup = items.duplicated()
    if dup.any():
        r = raw[dup].iloc[0]
        raise InputError(r["source_file"], f"item '{items[dup].iloc[0]}' appears twice in the codebook(s)",
                         "keep one row per item", row=int(r["source_row"]), column="item")
    clash = items.isin(FIXED)
    if clash.any():
        r = raw[clash].iloc[0]
        raise InputError(r["source_file"], f"item '{items[clash].iloc[0]}' has the name of a fixed survey column",
                         f"rename the item; fixed columns are {FIXED}", row=int(r["source_row"]), column="item")
    features = raw["feature"].str.strip()
    if (features == "").any():
        r = raw[features == ""].iloc[0]
        raise InputError(r["source_file"], f"item '{r['item']}' has no feature", "name the feature the item "
                         "measures", row=int(r["source_row"]), column="feature")
    reverse = parse_bool(raw["reverse"].where(raw["reverse"].str.strip() != "", "false"))
    if reverse.isna().any():
        r = raw[reverse.isna()].iloc[0]
        raise InputError(r["source_file"], f"reverse value '{r['reverse']}' is not true/false",
                         "write true or false (also yes/no, 1/0)", row=int(r["source_row"]), column="reverse")
    text = raw["text"].str.strip()
    codebook = pd.DataFrame({"item": items, "feature": features.astype("string"),
                             "text": text.where(text != "", pd.NA).astype("string"),
                             "reverse": reverse.astype(bool)})
    return codebook, dict(zip(items, raw["source_file"])), raw[["source_file", "source_row"]]


def _members(values: pd.Series, synonyms: Synonyms) -> tuple[pd.Series, pd.Series]:
    """';'-joined canonical agencies (sorted, unique) and the unknown names per cell (matched per unique cell)."""
    table = synonyms.maps["agency"]
    joined, unknown = {}, {}
    for cell in pd.unique(values.astype("object")):
        parts = [p.strip() for p in str(cell).split(";") if p.strip()]
        canon = [table.get(normalise_label(p)) for p in parts]
        joined[cell] = ";".join(sorted(set(c for c in canon if c))) if parts else None
        bad = [p for p, c in zip(parts, canon) if c is None]
        unknown[cell] = ", ".join(f"'{b}'" for b in bad) if bad else None
    obj = values.astype("object")
    return obj.map(joined).astype("string"), obj.map(unknown).astype("string")


def clean_survey(survey_dir: Path, matcher: AreaMatcher, *, on_unknown_area: str = "error",
                 keep_resubmission: str = "latest", synonyms: Synonyms | None = None,
                 excel_sheet: str | None = None) -> SurveyResult:
    """Clean every survey export in ``survey_dir`` (pure: reads only, writes nothing).

    ``excel_sheet``: the sheet of an .xlsx export to read (default: the first sheet)."""
    check_option("keep_resubmission", keep_resubmission, ("latest", "earliest"))
    synonyms = synonyms or Synonyms.load()
    survey_dir = Path(survey_dir)
    scan = scan_folder(survey_dir, schemas.SURVEY_TYPES, formats=SURVEY_FORMATS, excel_sheet=excel_sheet)
    folder = paths.rel(survey_dir)
    codebook, item_source, codebook_keys = _read_codebook(scan.of_type("codebook"))
    if codebook is None:
        raise InputError(folder, "no survey codebook found (a CSV with columns item, feature, text, reverse)",
                         "add codebook.csv mapping each item column to a feature")
    response_files = scan.of_type("responses")
    if not response_files:
        raise InputError(folder, "no survey response export found (a CSV with columns response_id, submitted_at, "
                         "area, agency, role and the item columns)", "put the survey tool's CSV export(s) here")
    items = codebook["item"].tolist()
    codebook_file = ", ".join(sorted(set(item_source.values())))
    for f in response_files:
        data_items = [c for c in f.data.columns if c not in FIXED and c not in ("source_file", "source_row")]
        extra = [c for c in data_items if c not in item_source]
        if extra:
            raise InputError(f.name, f"item column(s) {extra} are not in the codebook {codebook_file}",
                             f"add them to {codebook_file} (item, feature, text, reverse) or remove the column(s) "
                             f"from {f.name}", row=1, column=extra[0])
        absent = [c for c in items if c not in data_items]
        if absent:
            raise InputError(f.name, f"codebook item(s) {absent} from {codebook_file} are missing from this export",
                             f"remove them from {codebook_file} or export the survey with those questions",
                             row=1, column=absent[0])

    raw = concat_files(response_files, FIXED + items)
    text = raw.copy()
    for c in FIXED:
        text[c] = text[c].str.strip()
    issues = Issues(raw.index)
    blank_id = text["response_id"] == ""
    issues.flag(blank_id, "response_id", "response_id is blank")
    first_row = text.groupby(["source_file", "response_id"])["source_row"].transform("min")
    dup = ~blank_id & text.duplicated(["source_file", "response_id"], keep="first")
    issues.flag(dup, "response_id", lambda: "duplicate response_id '" + text["response_id"]
                + "' within this file (first at row " + first_row.astype("string") + ")")
    submitted = parse_timestamps(text["submitted_at"])
    issues.flag(submitted.isna(), "submitted_at", lambda: "submitted_at '" + text["submitted_at"]
                + "' is not a timestamp: use ISO 8601 (2015-03-31T14:05) or dd/mm/yyyy HH:MM")
    areas = match_areas(text, matcher, issues, on_unknown_area)
    for field in ("agency", "role"):
        canon = synonyms.map_series(field, text[field])
        blank = text[field] == ""
        issues.flag(blank, field, f"{field} is blank")
        issues.flag(~blank & canon.isna(), field, lambda field=field: f"unknown {field} '" + text[field] + f"': {SYN_FIX}")
        text[field + "_canonical"] = canon
    # Likert answers: each distinct label is matched once (factorize), then mapped by array indexing.
    labels = raw[items].to_numpy(dtype=object)
    codes, uniques = pd.factorize(labels.ravel(), use_na_sentinel=False)
    canon = [synonyms.maps["likert"].get(normalise_label(u)) if str(u).strip() else "" for u in uniques]
    score_of = np.array([float(c) if c not in (None, "", DONT_KNOW) else np.nan for c in canon] + [np.nan])
    kind_of = np.array([0 if c is None else 1 if c == "" else 2 if c == DONT_KNOW else 3 for c in canon] + [0])
    codes = codes.reshape(labels.shape)
    state = kind_of[codes]  # 0 invalid, 1 skipped, 2 don't know, 3 answered
    skipped, dont_know, invalid = state == 1, state == 2, state == 0
    for j in np.nonzero(invalid.any(axis=0))[0]:
        item = items[j]
        issues.flag(pd.Series(invalid[:, j], index=raw.index), item, "unrecognised answer '" + raw[item].str.strip()
                    + f"' in {item}: use Strongly agree .. Strongly disagree, Don't know or blank, or {SYN_FIX}")
    meetings_text = text["meetings_per_year"]
    meetings = parse_number(meetings_text)
    worded = synonyms.map_series("meetings_per_year", meetings_text)
    meetings = meetings.fillna(pd.to_numeric(worded, errors="coerce").astype("float64"))
    bad_meet = ((meetings_text != "") & meetings.isna()) | (meetings < 0)
    issues.flag(bad_meet, "meetings_per_year", lambda: "meetings_per_year '" + meetings_text + "' is neither a "
                f"non-negative number nor a known frequency word: {SYN_FIX}")
    members, unknown_members = _members(text["members"], synonyms)
    issues.flag(unknown_members.notna(), "members", lambda: "unknown agency name(s) " + unknown_members
                + f" in members: {SYN_FIX}")

    quarantine = Quarantine()
    add_rejected(quarantine, scan)  # rows a format reader set aside (e.g. a value without a label)
    bad = issues.bad
    # Resubmissions across files, among otherwise valid rows.
    ok = ~bad
    order = pd.DataFrame({"response_id": text["response_id"], "submitted_at": submitted,
                          "source_file": text["source_file"], "source_row": text["source_row"]})[ok]
    ascending = keep_resubmission == "latest"
    order = order.sort_values(["response_id", "submitted_at", "source_file", "source_row"],
                              ascending=[True, ascending, ascending, ascending], kind="stable")
    kept = order.drop_duplicates("response_id", keep="last")
    superseded = order.index.difference(kept.index)
    if len(superseded):
        winner = kept.set_index("response_id").loc[order.loc[superseded, "response_id"]]
        reason = pd.Series(("superseded by resubmission in " + winner["source_file"] + " row "
                            + winner["source_row"].astype("string") + f" (kept the {keep_resubmission} "
                            "submitted_at)").to_numpy(), index=superseded, dtype="string")
        issues.flag(pd.Series(True, index=superseded), "response_id", reason)
    quarantine.add_issues(raw, issues)
    keep = ~issues.bad

    values = score_of[codes]
    reverse = codebook.set_index("item")["reverse"].reindex(items).to_numpy(dtype=bool)
    values[:, reverse] = 6.0 - values[:, reverse]
    scores = pd.DataFrame(values, index=raw.index, columns=items)
    clean = pd.DataFrame({
        "response_id": text["response_id"], "lcjp_id": areas["lcjp_id"], "pfa_code": areas["pfa_code"],
        "agency": text["agency_canonical"], "role": text["role_canonical"], "submitted_at": submitted,
        "source_file": text["source_file"], "source_row": text["source_row"].astype("int64"),
        "meetings_per_year": meetings.astype("float64"), "members": members,
        "n_dont_know": dont_know.sum(axis=1).astype("int64"), "n_skipped": skipped.sum(axis=1).astype("int64"),
        "has_comment": text["comments"] != "",
    })
    clean = pd.concat([clean, scores], axis=1)[keep]
    clean = clean.sort_values("response_id", kind="stable").reset_index(drop=True)
    clean["has_comment"] = clean["has_comment"].astype(bool)

    flags = np.where(dont_know, "dont_know", np.where(skipped, "skipped", ""))[keep.to_numpy()]
    ids = text["response_id"][keep].to_numpy()
    rr, cc = np.nonzero(flags != "")
    missing = pd.DataFrame({"response_id": pd.array(ids[rr], dtype="string"),
                            "item": pd.array(np.asarray(items, dtype=object)[cc], dtype="string"),
                            "kind": pd.array(flags[rr, cc], dtype="string")})
    missing = missing.sort_values(["response_id", "item"], kind="stable").reset_index(drop=True)

    invited, invited_keys = _invited(scan.of_type("invited"), matcher, synonyms, on_unknown_area, quarantine)
    quarantine_frame = quarantine.frame()
    accepted = pd.concat([raw.loc[keep, ["source_file", "source_row"]], codebook_keys, invited_keys])
    reconciliation = reconcile({f.name: f.rows for f in scan.files}, accepted, quarantine_frame)
    manifest = scan.manifest("survey", folder_is_synthetic(survey_dir),
                             {"items": items, "responses_accepted": int(keep.sum())})
    return SurveyResult(clean, missing, codebook.reset_index(drop=True), invited, quarantine_frame,
                        reconciliation, manifest)


def _invited(files, matcher, synonyms, on_unknown_area, quarantine) -> tuple[pd.DataFrame, pd.DataFrame]:
    empty = pd.DataFrame({"lcjp_id": pd.Series(dtype="string"), "agency": pd.Series(dtype="string"),
                          "invited": pd.Series(dtype="int64")})
    raw = concat_files(files, ["area", "agency", "invited"])
    if raw.empty:
        return empty, raw[["source_file", "source_row"]]
    text = raw.copy()
    for c in ("area", "agency", "invited"):
        text[c] = text[c].str.strip()
    issues = Issues(raw.index)
    areas = match_areas(text, matcher, issues, on_unknown_area)
    agency = synonyms.map_series("agency", text["agency"])
    issues.flag(agency.isna(), "agency", "unknown or blank agency '" + text["agency"] + f"': {SYN_FIX}")
    count = parse_number(text["invited"])
    issues.flag(count.isna() | (count < 0) | (count % 1 != 0), "invited",
                "invited '" + text["invited"] + "' is not a whole number >= 0")
    quarantine.add_issues(raw, issues)
    keep = ~issues.bad
    table = pd.DataFrame({"lcjp_id": areas["lcjp_id"], "agency": agency, "invited": count})[keep]
    out = table.groupby(["lcjp_id", "agency"], as_index=False, sort=True)["invited"].sum()
    out["invited"] = out["invited"].astype("int64")
    out = out.astype({"lcjp_id": "string", "agency": "string"}) if len(out) else empty
    return out.reset_index(drop=True), raw.loc[keep, ["source_file", "source_row"]]
