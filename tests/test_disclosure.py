"""pipeline.disclosure: contact details and personal names out of everything published (fail closed).

Names are generated: random draws from the lists below (chosen for these tests, not taken from the code),
placed in several forms: with a title, a police rank (full or abbreviated, with or without dots), a job
title, after a contact verb, as a possessive, bare before a verb, hyphenated and Mc/Mac/O' forms.
"""
from __future__ import annotations

import random

import pandas as pd
import pytest

from pipeline import disclosure, paths
from pipeline.clean.redact import redact, redact_series
from pipeline.disclosure import MARKS, contains_personal_data, probable_names, redact_text

FIRST = ["Aisha", "Bethan", "Callum", "Dafydd", "Eleri", "Farah", "Gethin", "Hamza", "Imogen", "Jasmin", "Kofi",
         "Leanne", "Mohammed", "Niamh", "Oluwaseun", "Priyanka", "Rhys", "Saoirse", "Tariq", "Uzma", "Wiktoria",
         "Yusuf", "Zainab", "Anne-Marie", "Jean-Luc", "Siobhan", "Declan", "Ffion", "Krzysztof", "Lowri"]
LAST = ["Okonkwo", "Nowak", "Hussain", "Llewellyn", "Chowdhury", "Kowalczyk", "McAllister", "O'Sullivan",
        "MacLeod", "Fitzgerald", "Smith-Jones", "Ahmed", "Pritchard", "Oyelaran", "Szymanski", "McGuinness",
        "O'Driscoll", "Vaughan-Thomas", "Achterberg", "Mbeki", "Rahman", "Delacroix", "Ferreira", "Gallagher"]
RANKS = ["PC", "P.C.", "DC", "PS", "Sgt", "Sgt.", "Sergeant", "DS", "Insp", "Insp.", "Inspector", "DI", "Ch Insp",
         "Ch. Insp.", "Chief Inspector", "DCI", "Supt", "Det Supt", "Det. Supt.", "Ch Supt", "Chief Superintendent",
         "ACC", "DCC", "Chief Constable", "Assistant Chief Constable", "Detective Sergeant", "PCSO"]
TITLES = ["Mr", "Mrs", "Ms", "Miss", "Dr", "Dr.", "Prof", "Professor", "Cllr"]
JOBS = ["Chief Crown Prosecutor", "Chief Executive", "Chief Inspector", "Director", "Board Manager",
        "Chief Probation Officer", "Police and Crime Commissioner"]
VERBS = ["ask", "Ask", "contact", "Contact", "speak to", "email", "e-mail", "call", "ring", "talk to",
         "according to", "thanks to"]
SENTENCES = ["The board was told that {} would report back in March.", "{} said the data were late.",
             "Asked about the board: {} thought it was a talking shop.", "We met {} at the Crown Court.",
             "Minutes record: actions for {} from Thames Valley."]

rng = random.Random(20261202)


def draws(n: int):
    return [(rng.choice(FIRST), rng.choice(LAST)) for _ in range(n)]


def safe_to_publish(text: str, name_parts: list[str]) -> bool:
    """Redacted text that shows none of the name, or that the fail-closed check would withhold."""
    out, _ = redact_text(text)
    return not any(part in out for part in name_parts) or bool(probable_names(out))


def removed(text: str, name_parts: list[str]) -> bool:
    out, findings = redact_text(text)
    return not any(part in out for part in name_parts) and MARKS["name"] in out and \
        any(f.kind == "name" for f in findings)


@pytest.mark.parametrize("first, last", draws(12))
@pytest.mark.parametrize("rank", RANKS)
def test_ranked_names_are_removed(rank, first, last):
    for name, parts in ((f"{first} {last}", [first, last]), (last, [last]), (f"{first[0]}. {last}", [last])):
        text = rng.choice(SENTENCES).format(f"{rank} {name}")
        assert removed(text, parts), (text, redact_text(text)[0])


@pytest.mark.parametrize("first, last", draws(10))
@pytest.mark.parametrize("title", TITLES + JOBS)
def test_titled_names_are_removed(title, first, last):
    text = rng.choice(SENTENCES).format(f"{title} {first} {last}")
    assert removed(text, [first, last]), (text, redact_text(text)[0])
    possessive = f"We read {title} {last}'s report."
    assert removed(possessive, [last]), redact_text(possessive)[0]


@pytest.mark.parametrize("first, last", draws(10))
@pytest.mark.parametrize("verb", VERBS)
def test_names_after_contact_verbs_are_removed(verb, first, last):
    for name, parts in ((f"{first} {last}", [first, last]), (first, [first])):
        text = f"If in doubt {verb} {name} before the meeting."
        assert removed(text, parts), (text, redact_text(text)[0])


@pytest.mark.parametrize("first, last", draws(25))
def test_bare_names_are_withheld(first, last):
    """Without a title or verb a name is not removed, but the quote is flagged (fail closed)."""
    for text in [f"{first} {last} chairs the sub-group.", f"The sub-group is chaired by {first} {last}.",
                 f"Most of my team, {first} {last} included, never read the minutes.",
                 f"{first} {last}'s view was that nothing changed.", f"We asked {last} for the figures."]:
        assert safe_to_publish(text, [first, last]), (text, probable_names(redact_text(text)[0]))


@pytest.mark.parametrize("first", [f for f in FIRST])
def test_single_first_names_in_person_contexts(first):
    out = redact_text(f"{first}'s team sends someone junior. Then {first} said no.")[0]
    english = disclosure._is_english(first)
    assert english or first in probable_names(out), out  # an English-word first name alone is a known limit


@pytest.mark.parametrize("text", [
    "Thames Valley, Avon and Somerset and West Mercia did better than Greater Manchester.",
    "We invited Victim Support, the Home Office and the Ministry of Justice.",
    "Cases at the Crown Court and the Magistrates' Court were listed in March, May and June.",
    "The Youth Offending Team and the Police and Crime Commissioner met on Monday.",
    "The Chief Constable and the Chief Crown Prosecutor attended; the Chief Executive sent apologies.",
    "Inspector's note: The board persuaded two agencies to fund a joint listing officer.",
    "Asked about the board: Some partners send a different junior person every time.",
    "Contact the CPS or HMCTS; speak to the Probation Service about the Community Rehabilitation Company.",
    "The Local Criminal Justice Board agreed the Annual Report and the Victims' Code.",
    "In 2015 the board met 12 times and 10% of 1000 trials cracked.",
    "Force E23000001 and financial year 2014/15, quarter 2014 Q3.",
    "Priorities were set in April; Section 17 of the Crime and Disorder Act 1998.",
])
def test_ordinary_justice_text_is_untouched_and_not_withheld(text):
    out, findings = redact_text(text)
    assert out == text and not findings
    assert probable_names(out) == []


def test_every_area_and_agency_name_is_not_a_person():
    forces = pd.read_csv(paths.FORCES_CSV)
    synonyms = pd.read_csv(paths.RAW_REFERENCE / "label_synonyms.csv", keep_default_na=False)
    names = sorted(set(forces["pfa_name"]) | set(forces["lcjp_name"])
                   | set(synonyms.loc[synonyms["field"] == "agency", "variant"]))
    flagged = {n: probable_names(f"Members from {n} agreed. Ask {n} for data.") for n in names}
    flagged = {n: f for n, f in flagged.items() if f or redact_text(f"Ask {n} for data.")[1]}
    assert not flagged, flagged


@pytest.mark.parametrize("text, secret", [
    ("write to jo.bloggs@kent.pnn.police.uk today", "jo.bloggs@kent.pnn.police.uk"),
    ("mail A.Person+lcjb@example.org.", "A.Person+lcjb@example.org"),
    ("mobile 07700 900123", "07700 900123"),
    ("call 020 7946 0958 please", "020 7946 0958"),
    ("office +44 (0)161 496 0000", "+44 (0)161 496 0000"),
    ("or 0044 1632 960000", "0044 1632 960000"),
    ("ring 01632-960-001", "01632-960-001"),
    ("at SW1A 1AA", "SW1A 1AA"),
    ("postcode m1 1ae here", "m1 1ae"),
    ("CR26XH is ours", "CR26XH"),
    ("near BS1 4DJ.", "BS1 4DJ"),
    ("moved to ZZ99 3VZ", "ZZ99 3VZ"),
    ("tel 01632960705 ext", "01632960705"),
])
def test_contact_details_are_redacted(text, secret):
    out, findings = redact_text(text)
    assert secret not in out and findings
    assert not contains_personal_data(out)


@pytest.mark.parametrize("text", [
    "pipeline/notebook.py 530c32c6dc78403e96ceb0698846257b",  # a page footer's md5 (digits that dial as GB)
    "segment seg01632960705x",
])
def test_digits_inside_a_longer_token_are_not_a_phone_number(text):
    out, findings = redact_text(text)
    assert out == text and not findings and not contains_personal_data(text)


def test_missing_values_and_series():
    assert redact_text(None) == ("", []) and redact_text(float("nan")) == ("", []) and redact_text(pd.NA)[0] == ""
    assert probable_names(None) == []
    out = redact_series(pd.Series(["a@b.co", pd.NA, "plain"], dtype="string"))
    assert out.tolist()[0] == MARKS["email"] and out.tolist()[2] == "plain"
    assert redact("Contact Ffion Nowak on 020 7946 0958") == f"Contact {MARKS['name']} on {MARKS['phone']}"


def test_publish_uses_the_same_rules():
    from pipeline.publish import disclosure as publish_disclosure
    text = "Ask Det Supt Oyelaran (01632 960001, a.o@example.org); Tariq Rahman chairs it."
    assert publish_disclosure.redact_text(text) == redact_text(text)[0]
    quotes = pd.DataFrame({"segment_id": ["s1", "s2"], "lcjp_id": ["kent", "kent"], "code": ["c", "c"],
                           "theme": ["t", "t"], "quote": [text, "Ask PC Nowak."]})
    published = publish_disclosure.publishable_quotes(quotes)
    assert published["segment_id"].tolist() == ["s2"]  # s1 keeps a probable name: withheld
    assert "Nowak" not in published["quote"].iloc[0]
