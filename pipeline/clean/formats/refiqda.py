"""Fieldwork coding from a REFI-QDA project (``.qdpx``), the exchange format of NVivo, ATLAS.ti and MAXQDA.

A ``.qdpx`` is a zip holding ``project.qde`` (XML in the namespace ``urn:QDA-XML:project:1.0``, schema
``Project-mrt2019.xsd``) and the source documents under ``sources/``. Two tables come out, in the contract's
shapes, so the clean stage checks them exactly as it checks ``codebook.csv`` and ``coded_segments.csv``:

``path [codes]`` (the fieldwork codebook): one row per ``Code`` without sub-codes.
  - ``theme``: the name of its top-level ancestor in the code system (a code directly under the root has
    no theme of its own);
  - ``valence``: from the ``Set`` it belongs to, a set named ``positive``/``neutral``/``negative``
    (or ``+1``/``0``/``-1``, optionally prefixed ``valence``);
  - ``description``: its ``Description``;
  - a mapping file (a CSV with columns ``qda_code, code, theme, valence``, e.g. ``qda_codes.csv``) renames the
    project's codes to the contract's and gives theme/valence where the project lacks them.
  A code left without a theme or a valence is quarantined (with its GUID), and so are its codings.

``path [codings]`` (coded segments): one row per ``Coding`` of a ``PlainTextSelection`` of a ``TextSource``.
  - ``segment_id``: the selection's ``name`` (else its GUID); selections of one source with the same
    ``startPosition``/``endPosition`` are one segment, so two users coding the same span are double coding;
  - ``coder``: the coding's ``creatingUser`` (else the selection's) resolved through ``Users`` (name, else id);
  - ``excerpt``: the selected characters of the source's plain text (positions 0-based, end exclusive);
  - ``source_id``: the source's name; ``area``, ``source_type``, ``agency``: the source's variables of those
    names (``VariableValue``), else those of a ``Case`` that holds the source. Minutes, notes and other
    documents keep the ``source_type`` given (document, observation, ...).
  A selection that cannot be read (positions outside the text, a missing text file, a selection in a
  picture, PDF, audio or video source) or a coding with an unknown user or code goes to quarantine with
  the project file, the element's GUID and the fix.

Row numbers: the n-th ``Code``/``Coding`` element of ``project.qde`` in document order is row n + 1 (as in a CSV
export of the table with its header row); the GUIDs in the reasons identify the elements.
"""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import InputError
from . import QDPX, Table, rel, require

NS = "urn:QDA-XML:project:1.0"
CODE_COLUMNS = ["code", "theme", "description", "valence"]
SEGMENT_COLUMNS = ["segment_id", "area", "source_type", "source_id", "agency", "coder", "code", "excerpt"]
OTHER_SOURCES = ("PictureSource", "PDFSource", "AudioSource", "VideoSource")
OTHER_SELECTIONS = ("PictureSelection", "PDFSelection", "AudioSelection", "VideoSelection", "TranscriptSelection")
CODE_FIX = ("put the code under a theme code in the project's code system and in a positive/neutral/negative "
            "set, or add a row for it to a mapping CSV in the fieldwork folder, e.g. qda_codes.csv with columns "
            "qda_code, code, theme, valence")


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def local(tag) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else str(tag)


def is_code_mapping(columns: list[str]) -> bool:
    return "qda_code" in columns


def parse_code_mapping(frame: pd.DataFrame, name: str) -> dict:
    out = {}
    for i, rec in enumerate(frame.to_dict("records"), start=2):
        qda = str(rec.get("qda_code", "")).strip()
        if not qda:
            raise InputError(name, "qda_code is blank", "write the code's name as the project spells it", row=i,
                             column="qda_code")
        if qda.casefold() in out:
            raise InputError(name, f"code '{qda}' is mapped twice", "keep one row per project code", row=i,
                             column="qda_code")
        out[qda.casefold()] = {c: str(rec.get(c, "") or "").strip() for c in ("code", "theme", "valence",
                                                                             "description")}
    return out


def valence_of_set(name: str):
    text = name.strip().lower().replace("valence", "").strip(" :=()")
    return {"positive": "1", "+1": "1", "1": "1", "neutral": "0", "0": "0", "negative": "-1", "-1": "-1"}.get(text)


def _value(variable_value) -> str:
    for child in variable_value:
        if local(child.tag) != "VariableRef":
            return (child.text or "").strip()
    return ""


def _variables(element, names: dict) -> dict:
    out = {}
    for vv in element.findall(q("VariableValue")):
        ref = vv.find(q("VariableRef"))
        if ref is not None and ref.get("targetGUID") in names:
            out[names[ref.get("targetGUID")]] = _value(vv)
    return out


def _parse(archive: zipfile.ZipFile, name: str):
    etree = require("lxml.etree", name, "REFI-QDA projects")  # lazy
    try:
        data = archive.read("project.qde")
    except (KeyError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(name, f"project.qde cannot be read from the archive ({exc})",
                         "export the project again from the qualitative analysis software") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"{name} (project.qde)", f"project.qde is not well-formed XML ({exc})",
                         "export the project again (REFI-QDA project, .qdpx)", row=line) from None
    if root.tag != q("Project"):
        raise InputError(f"{name} (project.qde)", f"the root element is {root.tag}, not a REFI-QDA Project in the "
                         f"namespace {NS}", "export a REFI-QDA project (.qdpx) from NVivo, ATLAS.ti or MAXQDA")
    return root


def read_project(path: Path, code_map: dict | None = None) -> list[Table]:
    path = Path(path)
    name = rel(path)
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    code_map = code_map or {}
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(name, f"the .qdpx archive cannot be opened ({exc})",
                         "export the project again, or copy it again (it may be truncated)") from None
    with archive:
        root = _parse(archive, name)
        members = set(archive.namelist())
        users = {u.get("guid"): (u.get("name") or u.get("id") or u.get("guid")) for u in root.iter(q("User"))}
        variable_names = {}
        from ..readers import normalise_header
        for v in root.iter(q("Variable")):
            variable_names[v.get("guid")] = normalise_header(v.get("name") or "")
        case_vars: dict[str, dict] = {}
        for case in root.iter(q("Case")):
            values = _variables(case, variable_names)
            for ref in case.findall(q("SourceRef")):
                case_vars.setdefault(ref.get("targetGUID"), {}).update(values)
        valence_sets: dict[str, list[str]] = {}
        for s in root.iter(q("Set")):
            val = valence_of_set(s.get("name") or "")
            if val is not None:
                for m in s.findall(q("MemberCode")):
                    valence_sets.setdefault(m.get("targetGUID"), []).append(val)
        codes, code_rows, code_rejects = _codes(root, code_map, valence_sets, name)
        seg_rows, seg_numbers, seg_rejects = _codings(root, archive, members, users, case_vars, variable_names,
                                                      codes, name)
    codes_table = Table(f"{name} [codes]", pd.DataFrame(code_rows["cells"], columns=CODE_COLUMNS, dtype="string"),
                        np.asarray(code_rows["rows"], dtype="int64"), QDPX, digest,
                        _rejected(code_rejects, CODE_COLUMNS),
                        {"format": "REFI-QDA .qdpx", "part": "codes (project.qde CodeBook)"})
    seg_table = Table(f"{name} [codings]", pd.DataFrame(seg_rows, columns=SEGMENT_COLUMNS, dtype="string"),
                      np.asarray(seg_numbers, dtype="int64"), QDPX, digest, _rejected(seg_rejects, SEGMENT_COLUMNS),
                      {"format": "REFI-QDA .qdpx", "part": "codings (PlainTextSelection/Coding)",
                       "users": len(users)})
    return [codes_table, seg_table]


def _rejected(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["source_row", "column", "reason", *columns])
    frame["source_row"] = frame["source_row"].astype("int64")
    for c in ["column", "reason", *columns]:
        frame[c] = frame[c].astype("string").fillna("")
    return frame


def _codes(root, code_map, valence_sets, name):
    """code guid -> {"code": contract name or None, "why": reason when not in the codebook}."""
    codes: dict[str, dict] = {}
    rows = {"cells": [], "rows": []}
    rejects = []
    book = root.find(q("CodeBook"))
    elements = list(book.iter(q("Code"))) if book is not None else []
    number = {id(el): i + 2 for i, el in enumerate(elements)}

    def walk(element, top):
        for code in element.findall(q("Code")):
            guid, cname = code.get("guid") or "", (code.get("name") or "").strip()
            children = code.findall(q("Code"))
            theme_name = top if top is not None else None
            if children:
                codes[guid] = {"code": None, "why": f"'{cname}' (guid {guid}) is a theme in the code system, not a "
                               "code: code the selection at one of its sub-codes"}
                walk(code, cname if top is None else top)
                continue
            mapped = code_map.get(cname.casefold(), {})
            contract = mapped.get("code") or cname
            theme = mapped.get("theme") or theme_name or ""
            valences = sorted(set(valence_sets.get(guid, [])))
            valence = mapped.get("valence") or (valences[0] if len(valences) == 1 else "")
            desc = code.find(q("Description"))
            description = (desc.text or "").strip() if desc is not None else mapped.get("description", "")
            problems = []
            if not theme:
                problems.append(("theme", f"code '{cname}' (guid {guid}) in {name} has no theme (it sits at the top "
                                 "of the code system and no mapping gives one)"))
            if not valence:
                why = (f"is in several valence sets {valences}" if len(valences) > 1 else "is in no valence set "
                       "(positive/neutral/negative) and no mapping gives one")
                problems.append(("valence", f"code '{cname}' (guid {guid}) in {name} {why}"))
            cells = {"code": contract, "theme": theme, "description": description, "valence": valence}
            if problems:
                rejects.append({"source_row": number[id(code)], "column": "; ".join(p[0] for p in problems),
                                "reason": "; ".join(p[1] for p in problems) + f"; fix: {CODE_FIX}", **cells})
                codes[guid] = {"code": None, "why": problems[0][1] + " so its codings cannot be placed"}
                continue
            codes[guid] = {"code": contract, "why": None}
            rows["cells"].append([cells[c] for c in CODE_COLUMNS])
            rows["rows"].append(number[id(code)])

    if book is not None and book.find(q("Codes")) is not None:
        walk(book.find(q("Codes")), None)
    return codes, rows, rejects


def _source_text(source, archive, members):
    content = source.find(q("PlainTextContent"))
    if content is not None:
        return content.text or "", None
    target = source.get("plainTextPath") or ""
    if not target:
        return None, "has neither PlainTextContent nor plainTextPath"
    member = target.replace("internal://", "sources/", 1) if target.startswith("internal://") else target
    if member not in members:
        return None, f"its text '{target}' is not in the archive (looked for {member})"
    try:
        return archive.read(member).decode("utf-8-sig"), None
    except (UnicodeDecodeError, KeyError, zipfile.BadZipFile, OSError) as exc:
        return None, f"its text '{target}' cannot be read as UTF-8 ({exc})"


def _codings(root, archive, members, users, case_vars, variable_names, codes, name):
    rows, numbers, rejects = [], [], []
    all_codings = list(root.iter(q("Coding")))
    number = {id(el): i + 2 for i, el in enumerate(all_codings)}
    segment_of: dict[tuple, str] = {}
    sources = root.find(q("Sources"))
    for source in (list(sources) if sources is not None else []):
        kind = local(source.tag)
        sguid, sname = source.get("guid") or "", (source.get("name") or "").strip()
        variables = {**case_vars.get(sguid, {}), **_variables(source, variable_names)}
        base = {"area": variables.get("area", ""), "source_type": variables.get("source_type", ""),
                "source_id": sname or sguid, "agency": variables.get("agency", "")}
        if kind in OTHER_SOURCES:
            for coding in source.iter(q("Coding")):
                rejects.append(_reject(coding, number, "segment_id", f"coding guid {coding.get('guid')} is in "
                               f"{kind} '{sname}' (guid {sguid}) of {name}: only text sources are read",
                               "fix: code a text transcript of the source (its Representation/TextDescription "
                               "as a TextSource) instead", {**base, "segment_id": ""}))
            continue
        if kind != "TextSource":
            continue
        text, text_problem = _source_text(source, archive, members)
        if not base["source_type"] and not text_problem:
            text_problem = ("has no source_type variable (interview, focus_group, document or observation) on "
                            "the source or its case")
        for coding in source.findall(q("Coding")):
            rejects.append(_reject(coding, number, "segment_id", f"coding guid {coding.get('guid')} codes the whole "
                           f"source '{sname}' (guid {sguid}) of {name}, not a selection",
                           "fix: code a text selection instead", {**base, "segment_id": ""}))
        for selection in source:
            tag = local(selection.tag)
            if tag in OTHER_SELECTIONS:
                for coding in selection.findall(q("Coding")):
                    rejects.append(_reject(coding, number, "segment_id", f"{tag} guid {selection.get('guid')} "
                                   f"in '{sname}' of {name} is not a text selection", "fix: code the text",
                                   {**base, "segment_id": ""}))
                continue
            if tag != "PlainTextSelection":
                continue
            gid = selection.get("guid") or ""
            try:
                start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            except (TypeError, ValueError):
                start = end = None
            segment = segment_of.setdefault((sguid, start, end), (selection.get("name") or "").strip() or gid)
            problem = None
            if text_problem:
                problem = f"source '{sname}' (guid {sguid}) {text_problem}"
            elif start is None:
                problem = (f"PlainTextSelection guid {gid} has no whole-number startPosition/endPosition "
                           f"('{selection.get('startPosition')}', '{selection.get('endPosition')}')")
            elif not 0 <= start < end <= len(text):
                problem = (f"PlainTextSelection guid {gid} spans characters {start}-{end}, outside the "
                           f"{len(text)}-character text of source '{sname}' (or empty)")
            excerpt = text[start:end] if problem is None else ""
            for coding in selection.findall(q("Coding")):
                user_guid = coding.get("creatingUser") or selection.get("creatingUser")
                ref = coding.find(q("CodeRef"))
                code_guid = ref.get("targetGUID") if ref is not None else None
                code = codes.get(code_guid)
                cells = {**base, "segment_id": segment, "coder": users.get(user_guid, ""),
                         "code": (code or {}).get("code") or "", "excerpt": excerpt}
                if problem:
                    rejects.append(_reject(coding, number, "excerpt", f"coding guid {coding.get('guid')}: {problem} "
                                   f"in {name}", "fix: re-export the project; check the source's text is included",
                                   cells))
                elif user_guid not in users:
                    rejects.append(_reject(coding, number, "coder", f"coding guid {coding.get('guid')} in {name} "
                                   f"has creatingUser {user_guid!r}, which is not in the project's Users",
                                   "fix: export the project with its users (coders)", cells))
                elif code is None:
                    rejects.append(_reject(coding, number, "code", f"coding guid {coding.get('guid')} in {name} "
                                   f"refers to code guid {code_guid!r}, which is not in the CodeBook",
                                   "fix: re-export the project, or restore the code", cells))
                elif code["code"] is None:
                    rejects.append(_reject(coding, number, "code", f"coding guid {coding.get('guid')}: {code['why']}",
                                   f"fix: {CODE_FIX}", cells))
                else:
                    rows.append([cells[c] for c in SEGMENT_COLUMNS])
                    numbers.append(number[id(coding)])
    return rows, numbers, rejects


def _reject(coding, number, column, reason, fix, cells) -> dict:
    full = {c: cells.get(c, "") for c in SEGMENT_COLUMNS}
    return {"source_row": number[id(coding)], "column": column, "reason": f"{reason}; {fix}", **full}
