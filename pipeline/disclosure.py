"""The one disclosure module: personal data out of every text that is published.

Two functions make the API (clean and publish both call them; nothing else redacts):

- :func:`redact_text` replaces what is certainly personal data with a marker and says what it found:
  e-mail addresses, telephone numbers (the ``phonenumbers`` matcher for GB numbers, national and
  international forms), UK postcodes (also pseudo-postcodes such as "ZZ99 3VZ"), and personal names
  given with a title, rank or job title ("PC Jo Bloggs", "Det Supt O'Neill", "Chief Crown Prosecutor
  Anne-Marie McKay", "Mr Patel") or after a contact verb ("ask Priya", "speak to Tom Hughes").
- :func:`probable_names` lists what still looks like a person's name after that: two or more
  capitalised name-shaped words in a row that are not an organisation, area, title or month
  ("Fred Example chairs"), a possessive of a word that is not English ("Sarah's team"), or such a
  word before a verb of saying or doing ("Priya said").

Fail closed: a caller that publishes a quote withholds it when :func:`probable_names` is not empty
(``pipeline.clean.fieldwork`` lists it in ``quotes_withheld.csv``). The names of areas, forces,
agencies and labels in ``data/raw/reference`` are known phrases, never names, so "Thames Valley" or
"Crown Court" do not withhold a quote. Known limits (they err towards withholding or removing): a single
first name that is also an English word, alone and with no title, verb or possessive beside it ("Grace
said") is not found; a capitalised run after a title is taken as a name even when it is an organisation
("Director Acme Widgets" loses "Acme Widgets"), unless every word is an institution word ("Head Office").
"""
from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import phonenumbers

from . import paths

MARKS = {"email": "[e-mail removed]", "phone": "[phone removed]", "postcode": "[postcode removed]",
         "name": "[name removed]"}

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'\-]+\s*(?:@|\(at\)|\[at\])\s*[A-Za-z0-9\-]+(?:\s*(?:\.|\(dot\)|\[dot\])\s*"
                      r"[A-Za-z0-9\-]+)+", re.IGNORECASE)
# Wider than the Royal Mail letter rules on purpose (pseudo-postcodes are used in justice records).
POSTCODE_RE = re.compile(r"\b(?:GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})\b", re.IGNORECASE)

# --- names ----------------------------------------------------------------------------------------
_APOS = "'\u2019"
# One word of a name: Capitalised, with Mc/Mac/O'/D' prefixes and hyphenated or apostrophe parts.
_WORD = rf"(?:(?:Mc|Mac|O[{_APOS}]|D[{_APOS}])?[A-Z][a-z]+(?:[-{_APOS}](?:[A-Z][a-z]+|[A-Z]?[a-z]{{3,}}))*)"
_INITIAL = r"(?:[A-Z]\.(?:\s?[A-Z]\.)*)"
_NAME = rf"(?:(?:{_INITIAL}\s*)?{_WORD}(?:\s+{_WORD}){{0,2}}|{_INITIAL})"
_POSSESSIVE = rf"(?:[{_APOS}]s\b|(?<=s)[{_APOS}](?!\w))"

# Titles, police ranks (with abbreviations) and job titles that precede a person's name.
TITLES = ["Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Doctor", "Prof", "Professor", "Sir", "Dame", "Lord", "Lady",
          "Rev", "Revd", "Reverend", "Cllr", "Councillor", "Judge", "HHJ", "DJ"]
RANKS = ["PC", "WPC", "PCSO", "DC", "PS", "DS", "Sgt", "Sergeant", "Insp", "Inspector", "DI", "Ch Insp",
         "Chief Inspector", "Det Ch Insp", "DCI", "Supt", "Superintendent", "Det Supt", "DSupt", "DSU", "Ch Supt",
         "Chief Superintendent", "Det Ch Supt", "DCS", "ACC", "DCC", "Chief Constable", "Deputy Chief Constable",
         "Assistant Chief Constable", "Constable", "Special Constable", "Detective Constable", "Detective Sergeant",
         "Detective Inspector", "Detective Chief Inspector", "Detective Superintendent",
         "Detective Chief Superintendent", "Commander", "Cmdr", "Commissioner", "Deputy Commissioner",
         "Assistant Commissioner", "Det", "Detective", "Officer"]
JOB_TITLES = ["Chief Crown Prosecutor", "Deputy Chief Crown Prosecutor", "Crown Prosecutor", "Senior Crown Prosecutor",
              "Chief Executive", "Chief Officer", "Chief Probation Officer", "Probation Officer", "Director",
              "Deputy Director", "Assistant Director", "Head", "Chair", "Chairman", "Chairwoman", "Chairperson",
              "Vice Chair", "Deputy Chair", "Manager", "Board Manager", "Police and Crime Commissioner", "PCC",
              "Deputy PCC", "Magistrate", "Governor", "Deputy Governor", "Clerk", "Justices' Clerk", "Coordinator",
              "Co-ordinator", "Lead", "Secretary", "Minister", "Leader", "Mayor"]
CONTACT_VERBS = ["ask", "asked", "ask for", "asking for", "contact", "contacted", "contacting", "speak to",
                 "speak with", "spoke to", "spoke with", "talk to", "talk with", "talked to", "email", "e-mail",
                 "emailed", "e-mailed", "call", "called", "ring", "rang", "phone", "phoned", "write to", "wrote to", "cc", "copy in", "thanks to", "thank", "according to",
                 "chaired by", "led by", "run by", "signed by", "sent by", "met with"]
# A verb after a bare word that makes it read as a person ("Priya said").
PERSON_VERBS = ["said", "says", "told", "tells", "thinks", "thought", "explained", "added", "argued", "asked",
                "chairs", "chaired", "leads", "led", "runs", "ran", "manages", "managed", "wrote", "writes",
                "suggested", "confirmed", "mentioned", "noted", "agreed", "felt", "feels", "recalled", "replied",
                "complained", "insisted", "admitted", "believes", "believed", "reported", "sent", "emailed"]
# A capitalised run containing one of these words is an organisation, a place or a thing, not a person.
INSTITUTION_WORDS = {
    "office", "ministry", "court", "courts", "service", "services", "team", "teams", "board", "boards", "support",
    "trust", "council", "unit", "partnership", "partnerships", "commissioner", "authority", "agency", "department",
    "committee", "panel", "forum", "network", "group", "centre", "center", "project", "programme", "program",
    "scheme", "strategy", "plan", "report", "review", "inspectorate", "constabulary", "police", "probation",
    "prison", "prisons", "justice", "crown", "magistrates", "tribunal", "tribunals", "hospital", "university",
    "college", "school", "bank", "fund", "foundation", "association", "society", "charity", "company", "limited",
    "ltd", "act", "bill", "policy", "framework", "standards", "code", "street", "road", "house", "hall", "square",
    "lane", "avenue", "way", "park", "station", "county", "city", "borough", "district", "region", "commission",
    "government", "parliament", "assembly", "offending", "youth", "victims", "victim", "witness", "witnesses",
    "care", "health", "mental", "community", "communities", "safety", "crime", "criminal", "local", "national",
    "home", "secretary", "state", "division", "directorate", "sector", "voluntary", "housing", "education",
    "women", "men", "children", "families", "rehabilitation", "restorative", "protocol", "agreement",
    "memorandum", "meeting", "meetings", "minutes", "terms", "reference", "action", "annual", "quarterly",
    "monthly", "weekly", "daily", "dashboard", "data", "performance", "delivery", "operation", "operations",
    "week", "day", "year", "month", "quarter", "april", "finance", "budget", "information", "digital",
}
# Words that may start a capitalised run without being part of a name (sentence starts, months, places).
OTHER_WORDS = {
    "the", "a", "an", "this", "that", "these", "those", "our", "my", "we", "they", "their", "his", "her", "its",
    "some", "most", "many", "all", "every", "each", "no", "one", "two", "three", "several", "when", "if", "but",
    "and", "or", "so", "then", "there", "here", "what", "who", "how", "why", "yes", "also", "in", "on", "at", "for",
    "by", "to", "of", "from", "after", "before", "since", "until", "during", "as", "it", "is", "was", "be", "not",
    "january", "february", "march", "may", "june", "july", "august", "september", "october", "november",
    "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "england", "wales",
    "welsh", "english", "british", "britain", "uk", "united", "kingdom", "north", "south", "east", "west", "northern",
    "southern", "eastern", "western", "central", "greater", "new", "old", "great", "her", "majesty", "majestys",
    "his", "hm", "chief", "deputy", "assistant", "senior", "junior", "head", "lead", "acting", "interim", "note",
    "other", "others", "interviewee", "participant", "participants", "practitioner", "observed", "asked", "minutes", "inspector",
    "manager", "officer", "member", "members", "chair", "observer", "covid", "christmas", "easter",
}


def _alternation(words: list[str]) -> str:
    """Regex alternation of words (longest first); spaces match any run of spaces, a '.' may follow."""
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        # an abbreviation in capitals may be written with dots: "P.C.", "D.C.I."
        pieces = ["".join(re.escape(c) + r"\.?" for c in p) if p.isupper() and len(p) <= 4 else re.escape(p) + r"\.?"
                  for p in word.split()]
        parts.append(r"\s+".join(pieces))
    return "|".join(parts)


_TITLE_RE = re.compile(rf"\b(?:{_alternation(TITLES + RANKS + JOB_TITLES)})\s+(?P<name>{_NAME})(?P<poss>{_POSSESSIVE})?")
_TITLE_WORDS = {w.lower().rstrip(".") for t in TITLES + RANKS + JOB_TITLES for w in t.split()}
_VERB_WORDS = {w.lower() for v in CONTACT_VERBS + PERSON_VERBS for w in v.split()}
_VERB_RE = re.compile(rf"\b(?i:{_alternation(CONTACT_VERBS)})\s+(?P<name>{_NAME})(?P<poss>{_POSSESSIVE})?")
_RUN_RE = re.compile(rf"(?<![\w{_APOS}\-])(?P<name>(?:{_INITIAL}\s*)*{_WORD}(?:\s+(?:{_INITIAL}\s*)*{_WORD})+"
                     rf"|{_INITIAL}\s*{_WORD})")
_POSS_RE = re.compile(rf"(?<![\w{_APOS}\-])(?P<name>{_WORD}){_POSSESSIVE}")
_BEFORE_VERB_RE = re.compile(rf"(?<![\w{_APOS}\-])(?P<name>{_WORD})\s+(?:{'|'.join(PERSON_VERBS)})\b")


@dataclass(frozen=True)
class Finding:
    """One thing removed (or, from :func:`probable_names`, found): its kind, the text and where it was."""
    kind: str
    text: str
    start: int


def _normalise_phrase(text: str) -> str:
    value = unicodedata.normalize("NFKC", text).lower().replace("&", " and ")
    value = re.sub(rf"[{_APOS}`]", "", value)
    return re.sub(r"[^0-9a-z]+", " ", value).strip()


@functools.lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """Lower-case English words (web2 list of the ``english-words`` package; proper nouns excluded)."""
    from english_words import get_english_words_set
    words = get_english_words_set(["web2"], lower=False, alpha=True)
    return frozenset(w for w in words if w.islower())


def _reference_phrases(reference_dir: Path) -> frozenset[str]:
    """Area, force, partnership, alias and label names from the reference tables (normalised)."""
    phrases: set[str] = set()
    columns = {"police_force_areas.csv": ("pfa_name", "lcjp_name"), "area_aliases.csv": ("alias",),
               "label_synonyms.csv": ("variant",)}
    for name, wanted in columns.items():
        path = Path(reference_dir) / name
        if not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for row in csv.DictReader(handle):
                for column in wanted:
                    value = _normalise_phrase(row.get(column) or "")
                    # a label that is one ordinary English word ("Other", "Council") is left to the word lists:
                    # masking it would hide a surname such as "Other" from the name rules; areas always count
                    if value and (" " in value or name != "label_synonyms.csv" or value not in _english_words()):
                        phrases.add(value)
    return frozenset(phrases)


def _phrase_pattern(phrase: str) -> str:
    """Regex of a normalised phrase in running text: any punctuation between words, '&' for 'and', an
    apostrophe anywhere in a word ("majestys" matches "Majesty's")."""
    words = []
    for word in phrase.split():
        body = f"[{_APOS}]?".join(re.escape(c) for c in word)
        words.append(f"(?:{body}|&)" if word == "and" else body)
    return r"\W+".join(words)


@functools.lru_cache(maxsize=4)
def _known_phrase_re(reference_dir: str) -> re.Pattern | None:
    phrases = _reference_phrases(Path(reference_dir))
    if not phrases:
        return None
    body = "|".join(_phrase_pattern(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?i)(?<!\w)(?:{body})(?!\w)")


def _mask_known_phrases(text: str, reference_dir: Path | None) -> str:
    """``text`` with known area/agency phrases replaced by lower-case filler of the same length."""
    pattern = _known_phrase_re(str(reference_dir or paths.RAW_REFERENCE))
    if pattern is None:
        return text
    return pattern.sub(lambda m: re.sub(r"\S", "x", m.group(0)), text)


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[\s.]+", name) if w]


def _explained(name: str) -> bool:
    """True when a capitalised run is an organisation, place, title or other non-name."""
    words = [w.lower().replace("\u2019", "'") for w in _words(name)]
    if any(w in INSTITUTION_WORDS for w in words):
        return True
    return all(w in OTHER_WORDS or w in _TITLE_WORDS for w in words)


def _no_name_word(name: str) -> bool:
    """True when every word of a run after a title is itself a title, institution or other non-name word
    ("Head Office"); "Mr Justice Okafor" keeps "Okafor", a name."""
    words = [w.lower().replace("\u2019", "'") for w in _words(name)]
    return all(w in INSTITUTION_WORDS or w in OTHER_WORDS or w in _TITLE_WORDS for w in words)


def _is_english(word: str) -> bool:
    base = re.sub(rf"[{_APOS}]s?$", "", word).lower()
    return base in _english_words()


def _phones(text: str):
    for match in phonenumbers.PhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.POSSIBLE):
        raw = match.raw_string
        digits = re.sub(r"\D", "", raw)
        groups = re.findall(r"\d+", re.sub(r"^\s*(?:\+|00)\s*44|\(0\)", "", raw))
        before = text[match.start - 1] if match.start > 0 else " "
        after = text[match.end] if match.end < len(text) else " "
        if before.isalnum() or after.isalnum():
            continue  # digits inside a longer token (a hex digest "ceb0698846257b", an id), not a number to dial
        if sum(len(g) == 1 for g in groups[1:]) > 0:
            continue  # table figures ("0  4.0  4.0  6.0  12.0"), not a number someone would dial
        international = raw.lstrip("(").startswith(("+", "00"))
        if (international and len(digits) >= 9) or (raw.lstrip("(").startswith("0") and 10 <= len(digits) <= 11):
            yield match.start, match.end, raw


def _replace(text: str, spans: list[tuple[int, int, str, str]]) -> str:
    """Replace non-overlapping (start, end, kind, original) spans by their marks."""
    out, last = [], 0
    for start, end, kind, _ in sorted(spans):
        if start < last:
            continue
        out.append(text[last:start])
        out.append(MARKS[kind])
        last = end
    out.append(text[last:])
    return "".join(out)


def redact_text(text: object, *, reference_dir: Path | None = None) -> tuple[str, list[Finding]]:
    """``text`` with e-mail addresses, phone numbers, postcodes and titled or contacted names replaced by
    markers (``[e-mail removed]`` ...), and the list of what was removed. Missing text gives ``""``."""
    if _missing(text):
        return "", []
    value = str(text)
    findings: list[Finding] = []

    def run(pattern_spans, kind):
        nonlocal value
        spans = [(s, e, kind, value[s:e]) for s, e in pattern_spans]
        findings.extend(Finding(kind, original, s) for s, _, _, original in spans)
        value = _replace(value, spans)

    run([(m.start(), m.end()) for m in EMAIL_RE.finditer(value)], "email")
    run([(s, e) for s, e, _ in _phones(value)], "phone")
    run([(m.start(), m.end()) for m in POSTCODE_RE.finditer(value)], "postcode")
    masked = _mask_known_phrases(value, reference_dir)
    spans = []
    # after a title or rank a word is a name even if it is also a place ("PC Kent"): the unmasked text;
    # after a contact verb, known areas and agencies are not names ("ask Thames Valley"): the masked text
    for pattern, searched in ((_TITLE_RE, value), (_VERB_RE, masked)):
        for m in pattern.finditer(searched):
            name = m.group("name")
            if (_explained(name) if pattern is _VERB_RE else _no_name_word(name)):
                continue  # "Head Office", "Chief Constable" alone, "Detective Inspector": no name
            spans.append((m.start("name"), m.end("name")))
    spans = _merge(spans)
    run(spans, "name")
    return value, findings


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def probable_names(text: object, *, reference_dir: Path | None = None) -> list[str]:
    """What still looks like a person's name in ``text`` (see the module docstring), in order of appearance."""
    if _missing(text):
        return []
    value = str(text)
    for mark in MARKS.values():
        value = value.replace(mark, " " * len(mark))
    masked = _mask_known_phrases(value, reference_dir)
    found: dict[int, str] = {}
    for m in _RUN_RE.finditer(masked):
        name = m.group("name").strip()
        words = _words(name)
        # leading ordinary words ("The", "Our", a title) are not part of a name: "The Board Manager"
        while words and (words[0].lower() in OTHER_WORDS or words[0].lower() in _TITLE_WORDS
                         or words[0].lower() in _VERB_WORDS):
            words = words[1:]
        if len(words) >= 2 and not _explained(" ".join(words)):
            found[m.start("name")] = name
    for pattern in (_POSS_RE, _BEFORE_VERB_RE, _TITLE_RE, _VERB_RE):
        for m in pattern.finditer(masked):
            name = m.group("name")
            if any(start <= m.start("name") < start + len(n) for start, n in found.items()):
                continue
            if pattern in (_POSS_RE, _BEFORE_VERB_RE):
                if _explained(name) or _is_english(name) or name.lower() in _TITLE_WORDS:
                    continue
            elif (_explained(name) if pattern is _VERB_RE else _no_name_word(name)):
                continue
            found[m.start("name")] = name
    return [found[k] for k in sorted(found)]


def contains_personal_data(text: object, *, reference_dir: Path | None = None) -> bool:
    """True when ``text`` still holds something :func:`redact_text` would remove or a probable name."""
    if _missing(text):
        return False
    return bool(redact_text(text, reference_dir=reference_dir)[1] or probable_names(text, reference_dir=reference_dir))


def _missing(value: object) -> bool:
    """None, NaN or pandas.NA (without importing pandas: publish pages import this module)."""
    return value is None or type(value).__name__ == "NAType" or (isinstance(value, float) and value != value)
