"""No personal name in any published page or executed notebook under reports/.

Two parts:
- every HTML page and executed notebook in the working tree's reports/ (skips when nothing is built; the
  end-to-end test runs this file on the copy it builds) shows none of the names planted in the synthetic
  fieldwork (``pipeline.simulate.FAKE_NAMES``) nor any name the raw excerpts hold, and no contact detail;
- names generated here (random first and last names in many forms) planted into approved quotes of a copy of
  the fieldwork folder never reach the published quotes: each is removed or its quote withheld.
"""
from __future__ import annotations

import json
import random
import re
import shutil

import pandas as pd
import pytest

from pipeline import disclosure, paths
from pipeline.areas import AreaMatcher
from pipeline.clean import clean_fieldwork
from pipeline.publish import disclosure as publish_disclosure

PAGES = sorted([*paths.REPORTS.rglob("*.html"), *paths.REPORTS.rglob("*.ipynb")]) if paths.REPORTS.is_dir() else []
needs_pages = pytest.mark.skipif(not PAGES, reason="no reports built yet: run `make repro` first")


def planted_names() -> list[str]:
    """Names the synthetic generator plants, and names found in the raw excerpts (whole and last part)."""
    from pipeline.simulate import FAKE_NAMES
    names = {re.sub(r"\s*\(.*\)$", "", n) for n in FAKE_NAMES}
    for path in sorted(paths.RAW_FIELDWORK.glob("*.csv")):
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        except UnicodeDecodeError:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="cp1252")
        for text in frame.get("excerpt", pd.Series(dtype=str)):
            names.update(f.text for f in disclosure.redact_text(text)[1] if f.kind == "name")
            names.update(disclosure.probable_names(disclosure.redact_text(text)[0]))
    return sorted(n for n in names if len(n) > 3)


def page_text(page) -> str:
    raw = page.read_text(encoding="utf-8", errors="replace")
    if page.suffix != ".ipynb":
        return publish_disclosure.visible_text(raw)
    parts = []
    for cell in json.loads(raw).get("cells", []):
        parts.append("".join(cell.get("source", [])))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", [])))
            for kind, value in (output.get("data") or {}).items():
                if kind.startswith("text/"):
                    text = "".join(value) if isinstance(value, list) else str(value)
                    parts.append(publish_disclosure.visible_text(text) if kind == "text/html" else text)
    return "\n".join(parts)


@needs_pages
@pytest.mark.parametrize("page", PAGES, ids=lambda p: paths.rel(p))
def test_no_planted_name_or_contact_detail_in_reports(page):
    text = page_text(page)
    names = planted_names()
    assert names, "the raw fieldwork holds no planted name: this test would check nothing"
    leaked = [n for n in names if n in text]
    assert not leaked, f"{paths.rel(page)} shows personal name(s) {leaked}"
    found = publish_disclosure.find_pii(text, is_html=False)
    assert found.empty, f"{paths.rel(page)}: {found.to_dict('records')}"


FIRST = ["Agnieszka", "Babajide", "Ceridwen", "Dervla", "Emeka", "Fionnuala", "Gwilym", "Hafsa", "Ifeoma", "Jolanta",
         "Kenji", "Lorcan", "Maelle", "Nkechi", "Oisin", "Parveen", "Ruairi", "Sunniva", "Tegwen", "Yevgenia"]
LAST = ["Adeyemi", "Baranowska", "Cadwaladr", "Dimitriou", "Eze", "Fairbrother", "Gonzalez-Ruiz", "Hughes-Parry",
        "McCafferty", "O'Halloran", "MacGillivray", "Nwachukwu", "Papadopoulos", "Quigley", "Rautenbach"]
FORMS = ["Ask {rank} {first} {last} for the figures.", "{first} {last} chairs the sub-group.",
         "We spoke to {first} about it.", "{title} {last}'s paper went to the board.",
         "Contact {first} {last} on 01632 960{n:03d}.", "The Chief Crown Prosecutor, {first} {last}, agreed.",
         "{first} {last} ({first}.{last}@example.org) sends apologies.", "Speak to {rank} {last} in March."]
RANKS = ["PC", "DC", "Sgt", "DS", "Insp", "DI", "Ch Insp", "DCI", "Supt", "Det Supt", "Ch Supt", "ACC", "DCC",
         "Chief Constable"]
TITLES = ["Mr", "Mrs", "Ms", "Miss", "Dr", "Prof"]


def test_generated_names_planted_in_approved_quotes_never_reach_the_published_quotes(tmp_path):
    rng = random.Random(1729)
    folder = tmp_path / "fieldwork"
    shutil.copytree(paths.RAW_FIELDWORK, folder)
    segments = pd.read_csv(folder / "coded_segments.csv", dtype=str, keep_default_na=False)
    approved = pd.read_csv(folder / "approved_quotes.csv", dtype=str, keep_default_na=False)["segment_id"].tolist()
    planted = {}
    for k, segment in enumerate(approved):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        sentence = FORMS[k % len(FORMS)].format(first=first, last=last, rank=rng.choice(RANKS),
                                                title=rng.choice(TITLES), n=k)
        rows = segments["segment_id"] == segment
        segments.loc[rows, "excerpt"] = segments.loc[rows, "excerpt"] + " " + sentence
        planted[segment] = [p for p in (first, last) if p in sentence]
    segments.to_csv(folder / "coded_segments.csv", index=False)
    result = clean_fieldwork(folder, AreaMatcher.from_reference())
    published = publish_disclosure.publishable_quotes(result.quotes)
    text = " ".join(published["quote"])
    leaked = sorted({p for parts in planted.values() for p in parts if p in text})
    assert not leaked, leaked
    assert set(published["segment_id"]) | set(result.quotes_withheld["segment_id"]) == set(approved)
    # most forms are removed (title, rank, job title, contact verb), not withheld: the quotes stay useful
    assert len(result.quotes_withheld) < len(approved)
    print(f"\n{len(approved)} approved quotes with planted names: {len(published)} published after redaction, "
          f"{len(result.quotes_withheld)} withheld")
