"""Synthetic demonstration data with planted effects: every raw file of the data contract, and the truth.

``generate(seed, design)`` builds, in memory and in well under a second, the bytes of every raw file the
pipeline reads (survey exports, fieldwork, outcomes, covariates) for the 42 partnership areas of the force
reference table, plus a JSON-serialisable ``truth`` (latent traits, planted effects, null pairs, implied
attenuation). ``write`` puts them on disk; ``python -m pipeline.simulate --seed N --out DIR`` does both.

The data-generating model (documented again in ``truth["model"]``):

* Area traits, one per survey feature, higher = stronger partnership (for ``barriers``: fewer barriers).
  ``T = sqrt(rho) * g + sqrt(1 - rho - d^2) * s_f (+ d * U)`` with a common factor ``g``, feature-specific
  parts ``s_f`` and, optionally, an unmeasured confounder ``U``; then standardised across the areas.
* Covariates (deprivation, recorded crime, urban share, officers) load on ``g``, so adjustment matters.
* Survey item ``y = sqrt(icc1) * T + agency rater effect + person view of the feature + item noise`` (unit
  variance), cut into 5 Likert categories; reverse-worded items are answered on the flipped scale.
* Outcomes: baseline from covariates + year trend + area and year noise + planted trait effects (in the
  measure's own unit per SD of the latent trait, from a stated year); rates are Binomial(denominator, p).
  Every other feature x outcome pair has a structural effect of exactly zero.

The generator's vocabulary (features, items, codes, measures, agencies) is the demo's own invention: the
pipeline learns all of it from the codebooks and ``measures.csv`` it writes, never from this module.
Area names come only from the force reference table (plus the informal names in ``EXTRA_FORCE_NAMES``).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import io
import json
import math
import operator
from datetime import datetime, timedelta
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import paths

# --------------------------------------------------------------------------------------------------
# Vocabulary of the demo questionnaire, fieldwork codebook and outcome measures
# --------------------------------------------------------------------------------------------------

#: feature -> [(item text, reverse-worded)], three items per feature. Items are numbered q01.. by
#: cycling through the features, so a feature's items are spread over the questionnaire.
FEATURE_ITEMS: dict[str, list[tuple[str, bool]]] = {
    "priority_setting": [
        ("The board agrees its priorities from a joint assessment of risk and evidence.", False),
        ("Our priorities reflect the main problems in the local criminal justice system.", False),
        ("Partners know which priorities the board has set for this year.", False),
    ],
    "governance": [
        ("The board has clear terms of reference that members understand.", False),
        ("It is clear who is accountable for delivering the board's decisions.", False),
        ("Decisions at board meetings are often left unclear.", True),
    ],
    "visibility": [
        ("The partnership's work is visible to front-line staff in my agency.", False),
        ("People outside the board know what the partnership does.", False),
        ("The board reports publicly on its work.", False),
    ],
    "influence": [
        ("The board influences how member agencies use their resources.", False),
        ("Decisions of the board change what my agency does.", False),
        ("The board can secure resources from partners for joint work.", False),
    ],
    "performance_management": [
        ("Partners share performance data with one another.", False),
        ("The board uses a shared performance framework to track progress.", False),
        ("Poor performance is identified and acted on by the board.", False),
    ],
    "engagement": [
        ("All partner agencies attend board meetings regularly.", False),
        ("Members send representatives senior enough to commit their agency.", False),
        ("All partners contribute actively to the board's work.", False),
    ],
    "barriers": [
        ("Organisational boundaries get in the way of joint working.", True),
        ("National priorities of individual agencies override local partnership priorities.", True),
        ("Conflicting agency targets prevent agreement on shared aims.", True),
    ],
}

LIKERT = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]
DONT_KNOW = "Don't know"
CURLY = "\u2019"

#: canonical agency -> (label used in invited.csv / members, spellings respondents use, rater effect in
#: item SD units, relative propensity to respond, probability of sitting on a board, invited range)
AGENCIES: dict[str, tuple[str, list[str], float, float, float, tuple[int, int]]] = {
    "police": ("Police", ["Police", "police", "Police force"], 0.12, 1.0, 1.0, (2, 4)),
    "cps": ("CPS", ["CPS", "Crown Prosecution Service", "cps"], -0.08, 1.0, 1.0, (1, 2)),
    "courts": ("HMCTS", ["HMCTS", "Courts", "HM Courts and Tribunals Service"], 0.0, 0.9, 1.0, (1, 2)),
    "probation": ("Probation", ["NPS", "CRC", "Probation", "National Probation Service",
                                "Community Rehabilitation Company"], -0.15, 0.7, 1.0, (2, 3)),
    "pcc": ("PCC office", ["OPCC", "PCC", "Office of the Police and Crime Commissioner"], 0.25, 1.1, 1.0, (1, 2)),
    "youth_offending": ("Youth offending", ["YOT", "Youth Offending Team", "Youth offending service"],
                        0.0, 0.9, 0.85, (1, 2)),
    "local_authority": ("Local authority", ["Local authority", "Council", "local authority"], 0.05, 0.8, 0.95,
                        (1, 4)),
    "prisons": ("Prisons", ["Prisons", "Prison Service", "HM Prison Service"], -0.05, 0.8, 0.5, (1, 1)),
    "voluntary": ("Voluntary sector", ["Voluntary sector", "VCS", "voluntary sector"], -0.25, 0.8, 0.65, (1, 2)),
    "health": ("Health", ["Health", "NHS"], -0.2, 0.6, 0.55, (1, 2)),
    "other": ("Other", ["Other"], 0.0, 0.7, 0.3, (1, 1)),
}
POLICE = "police"

ROLES: dict[str, list[str]] = {
    "chair": ["Chair", "chair", "Chairperson", "CHAIR"],
    "board_member": ["Board member", "Board Member", "board member ", "Board  member"],
    "officer_support": ["Officer/support", "officer/support", "Support officer", "Officer"],
    "other": ["Other", "other"],
}

MEETING_WORDS = {12: "Monthly", 6: "Bi-monthly", 4: "Quarterly", 2: "Twice a year", 1: "Annually"}

#: Informal force names that only the project's alias table resolves (checked by the tests).
EXTRA_FORCE_NAMES: dict[str, list[str]] = {"E23000001": ["MPS", "Met"]}

#: fieldwork codes: feature -> (positive code, negative code) with excerpt templates
CODE_TEXT: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = {
    "priority_setting": (
        ("priorities_evidence_led", "Priorities agreed from a joint assessment of risk and evidence",
         "We sat down with the crime and court data and agreed three priorities for the year."),
        ("priorities_unclear", "Priorities absent, vague or not shared",
         "Honestly I could not tell you what the board's priorities are at the moment."),
    ),
    "governance": (
        ("clear_accountability", "Terms of reference, decisions and owners are clear",
         "Every action has a named owner and it comes back to the next meeting."),
        ("drifting_decisions", "Decisions unclear or not followed up",
         "Things get discussed and then nothing is minuted as a decision."),
    ),
    "visibility": (
        ("known_to_staff", "Partnership work known to front-line staff and the public",
         "Staff on the ground know about the board's witness care work."),
        ("invisible_board", "Front-line staff unaware of the partnership",
         "Most of my team have never heard of the criminal justice board."),
    ),
    "influence": (
        ("shifts_resources", "Board decisions change how partners use resources",
         "The board persuaded two agencies to fund a joint listing officer."),
        ("talking_shop", "Board has no influence on member agencies",
         "It is a talking shop; the real decisions are made elsewhere."),
    ),
    "performance_management": (
        ("shared_data", "Shared performance data and framework in use",
         "We look at the shared dashboard at every meeting and challenge each other."),
        ("no_shared_data", "No shared data or framework",
         "Each agency brings its own figures and they never match."),
    ),
    "engagement": (
        ("partners_attend", "All partners attend and contribute",
         "Attendance is good and people come prepared to commit their agency."),
        ("partners_absent", "Partners absent or send junior deputies",
         "Some partners send a different junior person every time."),
    ),
    "barriers": (
        ("barriers_overcome", "Boundaries and conflicting targets worked through",
         "We found a way round the national targets by agreeing a local measure."),
        ("conflicting_targets", "Boundaries, national priorities or targets block joint work",
         "Our national targets pull us in a different direction from the board."),
    ),
}
CONTEXT_CODES = [
    ("local_history", "context", "History of the partnership and previous arrangements", 0,
     "The board was set up in 2003 and has been restructured twice since."),
    ("reorganisation", "context", "Effects of reorganisation in member agencies", 0,
     "Probation splitting into two organisations changed who comes to meetings."),
    ("mixed_views", "context", "Mixed or ambivalent views of the partnership", 0,
     "Some meetings are useful and some are not; it depends on the agenda."),
]

SOURCE_TYPES = {"interview": ("INT", 5, (4, 7)), "focus_group": ("FG", 2, (4, 6)),
                "document": ("DOC", 3, (2, 4)), "observation": ("OBS", 2, (2, 4))}
CODERS = ["inspector_1", "inspector_2", "inspector_3"]
EXCERPT_LEADS = {
    "interview": ["", "Interviewee: ", "Asked about the board: ", "(manager) "],
    "focus_group": ["One participant: ", "Several participants agreed: ", "A practitioner said: "],
    "document": ["Minutes record: ", "Annual report: ", "Terms of reference note: "],
    "observation": ["Observed at the board: ", "Inspector's note: "],
}

FAKE_NAMES = ["Jane Doe", "Joe Bloggs", "A. N. Other", "Fred Example", "John Smith (fictional)"]
FAKE_EMAILS = ["jane.doe@example.org", "j.bloggs@example.com", "lcjb.manager@example.net",
               "board.support@example.org"]
FAKE_POSTCODES = ["ZZ1 1ZZ", "XX9 9XX", "ZZ99 3VZ"]

#: measure -> (description, unit, higher_is_better, kind, base, trend/yr, covariate weights
#: (deprivation, crime, urban, officers), area SD, year SD, rows per: 'force'|'partnership', period style)
MEASURES: dict[str, dict[str, Any]] = {
    "ineffective_trial_rate": dict(
        description="Trials listed that did not go ahead on the day for a reason that needs a new date "
                    "(100 x ineffective / listed)",
        unit="percent", higher_is_better=False, kind="rate", base=13.0, trend=-0.15,
        gamma=(1.2, 0.8, 0.6, -0.3), sd_area=1.5, sd_year=0.6, file="courts_quarterly.csv", period="quarter",
        per_force=True, denominator_per_1000=1.9),
    "cracked_trial_rate": dict(
        description="Trials listed that ended without a trial on the day, e.g. a late guilty plea "
                    "(100 x cracked / listed)",
        unit="percent", higher_is_better=False, kind="rate", base=38.0, trend=-0.3,
        gamma=(1.0, 0.5, 0.8, 0.0), sd_area=2.5, sd_year=1.0, file="courts_quarterly.csv", period="quarter",
        per_force=True, denominator_per_1000=1.9),
    "charge_rate": dict(
        description="Recorded crimes resulting in a charge or summons (100 x charged / recorded crimes)",
        unit="percent", higher_is_better=True, kind="rate", base=14.0, trend=-0.6,
        gamma=(-0.5, -1.0, -1.0, 0.8), sd_area=1.5, sd_year=0.5, file="police_cps_financial_year.csv",
        period="fy_slash", per_force=True, denominator_per_1000=None),
    "conviction_ratio": dict(
        description="Prosecutions completed that ended in a conviction (100 x convicted / completed)",
        unit="percent", higher_is_better=True, kind="rate", base=83.0, trend=0.1,
        gamma=(-0.6, 0.0, -0.8, 0.0), sd_area=1.2, sd_year=0.5, file="police_cps_financial_year.csv",
        period="fy_dash", per_force=True, denominator_per_1000=11.0),
    "victim_satisfaction": dict(
        description="Victims satisfied with the overall service (survey estimate, percent)",
        unit="percent", higher_is_better=True, kind="value", base=83.0, trend=-0.3,
        gamma=(-1.2, -0.8, -0.5, 0.0), sd_area=2.0, sd_year=1.2, file="police_cps_financial_year.csv",
        period="fy_dash", per_force=True, decimals=1),
    "days_offence_to_completion": dict(
        description="Mean days from offence to completion of the case at court",
        unit="days", higher_is_better=False, kind="value", base=160.0, trend=2.0,
        gamma=(6.0, 5.0, 8.0, -3.0), sd_area=12.0, sd_year=5.0, file="annual_calendar_year.csv", period="calendar",
        per_force=False, decimals=1),
    "confidence_in_cjs": dict(
        description="Adults confident that the criminal justice system as a whole is effective "
                    "(survey estimate, percent)",
        unit="percent", higher_is_better=True, kind="value", base=60.0, trend=0.4,
        gamma=(-1.5, -1.0, 0.5, 0.0), sd_area=2.5, sd_year=1.5, file="annual_calendar_year.csv", period="calendar",
        per_force=False, decimals=1),
}

#: planted effects: (feature, measure, strength, direction (+1 = raises the measure), first year)
PLANTED = [
    ("performance_management", "ineffective_trial_rate", "strong", -1, 2012),
    ("engagement", "charge_rate", "strong", +1, 2010),
    ("priority_setting", "days_offence_to_completion", "strong", -1, 2010),
    ("governance", "confidence_in_cjs", "moderate", +1, 2013),
]

#: covariate -> (loading on the common factor g, i.e. correlation with the traits' common part)
COVARIATES = {"deprivation_score": -0.35, "recorded_crime_per_1000": -0.25, "urban_share": -0.2,
              "officers_per_1000": 0.2}

SURVEY_FILES = ("survey/survey_2015_wave1.csv", "survey/survey_2015_wave2.csv",
                "survey/survey_2015_wave3_late.csv")

SYNTHETIC_MARKER = """# SYNTHETIC DEMONSTRATION DATA

Every file in this folder was generated by `pipeline.simulate` (seed {seed}) with planted effects.
No figure here describes a real partnership, person or organisation; names, e-mail addresses and
phone numbers in free text are fictitious (reserved example domains and Ofcom drama numbers).

To use real data: delete the synthetic CSV files, drop in real exports of the same shapes
(see `data/raw/README.md`) and **delete this SYNTHETIC.md marker**: while it exists the pipeline labels
every report built from this folder as synthetic.
"""


@dataclass(frozen=True)
class SimulationDesign:
    """The knobs of the data-generating model that a simulation study varies (defaults = the demo)."""

    icc1_target: float = 0.15  # share of an item's latent variance that lies between areas
    effect_scale: float = 1.0  # multiplier on every planted effect; 0 = the full null
    informative_nonresponse: bool = True  # weaker partnerships have fewer respondents
    unmeasured_confounder: bool = False  # latent area factor in traits and outcomes, not in covariates
    n_respondents_range: tuple[int, int] = (4, 18)
    trait_correlation: float = 0.3  # correlation between any two traits through the common factor
    confounder_loading: float = 0.5  # loading of U on the traits and (in residual SDs) on outcomes
    nonresponse_strength: float = 0.8  # logit change in response propensity per SD of the mean trait
    strong_partial_r: float = 0.72  # latent partial r (given covariates, one year) of a strong effect
    moderate_partial_r: float = 0.40  # ... of the moderate effect (about 0.35 after attenuation)
    dont_know_rate: float = 0.05
    skip_rate: float = 0.03
    resubmission_rate: float = 0.04
    n_fieldwork_areas: int = 6
    double_coded_share: float = 0.2
    coder_agreement: float = 0.8  # chance the second coder picks the same code (kappa about 0.75)
    first_year: int = 2010
    last_year: int = 2019

    def __post_init__(self):
        lo, hi = self.n_respondents_range
        if not (0 <= self.icc1_target < 0.9):
            raise ValueError(f"icc1_target must be in [0, 0.9), got {self.icc1_target}")
        if not (1 <= lo <= hi):
            raise ValueError(f"n_respondents_range must be (lo, hi) with 1 <= lo <= hi, got {(lo, hi)}")
        if self.trait_correlation + (self.confounder_loading ** 2 if self.unmeasured_confounder else 0) >= 1:
            raise ValueError("trait_correlation + confounder_loading^2 must be < 1")
        for name in ("strong_partial_r", "moderate_partial_r", "dont_know_rate", "skip_rate", "coder_agreement"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.dont_know_rate + self.skip_rate >= 1:
            raise ValueError("dont_know_rate + skip_rate must be < 1")
        if self.last_year < self.first_year:
            raise ValueError("last_year must not precede first_year")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["n_respondents_range"] = list(self.n_respondents_range)
        return out


@dataclass
class SimulatedData:
    """``files``: path relative to the raw folder -> exact bytes; ``truth``: JSON-serialisable."""

    files: dict[str, bytes]
    truth: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Reference table (read once)
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Force:
    pfa_code: str
    pfa_name: str
    lcjp_id: str
    lcjp_name: str
    population_2011: int


@functools.lru_cache(maxsize=4)
def _read_forces(path: str) -> tuple[_Force, ...]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    need = {"pfa_code", "pfa_name", "lcjp_id", "lcjp_name", "population_2011"}
    if not rows or not need <= set(rows[0]):
        raise ValueError(f"{path}: the force reference table needs columns {sorted(need)}")
    forces = [_Force(r["pfa_code"].strip(), r["pfa_name"].strip(), r["lcjp_id"].strip(), r["lcjp_name"].strip(),
                     int(r["population_2011"])) for r in rows]
    return tuple(sorted(forces, key=lambda f: f.pfa_code))


def _partnerships(forces: tuple[_Force, ...]) -> list[tuple[str, str, list[_Force]]]:
    """(lcjp_id, lcjp_name, forces largest first) sorted by lcjp_id."""
    groups: dict[str, list[_Force]] = {}
    for f in forces:
        groups.setdefault(f.lcjp_id, []).append(f)
    return [(k, v[0].lcjp_name, sorted(v, key=lambda f: (-f.population_2011, f.pfa_code)))
            for k, v in sorted(groups.items())]


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------

#: Sort key of long rows [area, period, measure/variable, ...]: by area, then measure, then period.
_AREA_MEASURE_PERIOD = operator.itemgetter(0, 2, 1)


def _csv_bytes(header: list[str], rows: list[list[str]], *, encoding: str = "utf-8", bom: bool = False,
               newline: str = "\n") -> bytes:
    """CSV text as bytes; a plain join when no field needs quoting (checked), else the csv module."""
    lines = [header, *rows]
    text = newline.join([",".join(r) for r in lines]) + newline
    body = text.replace(newline, "")
    plain = ('"' not in body and "\r" not in body and "\n" not in body
             and body.count(",") == (len(header) - 1) * len(lines))
    if not plain:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator=newline)
        writer.writerows(lines)
        text = buffer.getvalue()
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _r(x: float, digits: int = 6) -> float:
    """A float rounded for the truth file (stable text, no numpy types). A result that rounds to zero is
    written as 0.0: its sign comes from the last bits of a LAPACK solve, which differ between CPUs (this
    machine's OpenBLAS gave -0.0 where the committed file, made elsewhere, has 0.0)."""
    return float(round(float(x), digits)) + 0.0


def force_name_variants(force: _Force) -> list[str]:
    """Ways respondents write a force's name; every one resolves with ``AreaMatcher`` (tested)."""
    name = force.pfa_name
    base = [name]
    if "&" in name:
        base.append(name.replace("&", "and"))
    if " and " in name:
        base.append(name.replace(" and ", " & "))
    if "-" in name:
        base.append(name.replace("-", " "))
    out = []
    for b in base:
        out += [b, f"{b} Police", f"{b} Constabulary", f"{b.lower()} police", f" {b}  ", b.upper()]
    out += EXTRA_FORCE_NAMES.get(force.pfa_code, [])
    return list(dict.fromkeys(out))


def partnership_name_variants(lcjp_name: str) -> list[str]:
    """Ways respondents write a partnership's name (resolve to the partnership, no force)."""
    return list(dict.fromkeys([lcjp_name, f"{lcjp_name} CJB", f"{lcjp_name.lower()} cjb ",
                               f"{lcjp_name} Criminal Justice Board", f"{lcjp_name} LCJB",
                               f"{lcjp_name}  Criminal Justice Partnership"]))


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _fake_phone(rng: np.random.Generator) -> str:
    kind = int(rng.integers(3))
    n = int(rng.integers(1000))
    return [f"01632 960{n:03d}", f"07700 900{n:03d}", f"020 7946 0{n:03d}"][kind]


def _pii_sentence(rng: np.random.Generator, with_postcode: bool) -> str:
    options = [f"Contact {_pick(rng, FAKE_NAMES)} on {_fake_phone(rng)} for details.",
               f"E-mail {_pick(rng, FAKE_EMAILS)} for the minutes.",
               f"{_pick(rng, FAKE_NAMES)} ({_pick(rng, FAKE_EMAILS)}) chairs the sub-group."]
    if with_postcode:
        options.append(f"Meetings moved to the office at {_pick(rng, FAKE_POSTCODES)}.")
    return _pick(rng, options)


# --------------------------------------------------------------------------------------------------
# The model's population quantities (depend on the design, not on the seed)
# --------------------------------------------------------------------------------------------------

def _item_variance_parts(design: SimulationDesign) -> dict[str, float]:
    """Variance shares of a latent item: area trait, agency rater, person view of the feature, item noise."""
    agency_var = float(np.var([a[2] for a in AGENCIES.values()]))
    rest = max(1.0 - design.icc1_target - agency_var, 0.05)
    return {"area": design.icc1_target, "agency": agency_var, "person": 0.45 * rest, "item": 0.55 * rest}


def _loadings(design: SimulationDesign, features: list[str]):
    """Population loading matrix of traits and covariate z-scores on independent N(0,1) sources.

    Sources: g, s_1..s_F, w_1..w_K, U. Returns (trait rows, covariate rows)."""
    n_f, n_k = len(features), len(COVARIATES)
    n_src = 1 + n_f + n_k + 1
    lam = math.sqrt(design.trait_correlation)
    d = design.confounder_loading if design.unmeasured_confounder else 0.0
    spec = math.sqrt(1.0 - design.trait_correlation - d * d)
    traits = np.zeros((n_f, n_src))
    traits[:, 0] = lam
    traits[np.arange(n_f), 1 + np.arange(n_f)] = spec
    traits[:, -1] = d
    covs = np.zeros((n_k, n_src))
    for k, rho in enumerate(COVARIATES.values()):
        covs[k, 0] = rho
        covs[k, 1 + n_f + k] = math.sqrt(1.0 - rho * rho)
    return traits, covs


def _sd_trait_given_covariates(design: SimulationDesign, features: list[str]) -> float:
    traits, covs = _loadings(design, features)
    s_zz = covs @ covs.T
    s_tz = traits[0] @ covs.T
    return math.sqrt(1.0 - s_tz @ np.linalg.solve(s_zz, s_tz))


def trait_sd_given_covariates(design: SimulationDesign) -> float:
    """SD of a latent trait given the covariates (population value; traits have SD 1): the scale on which
    a planted effect's latent partial r is defined (``planted_effects``)."""
    return _sd_trait_given_covariates(dataclasses.replace(design, unmeasured_confounder=False), list(FEATURE_ITEMS))


def _typical_binomial_sd(spec: dict, forces: tuple[_Force, ...]) -> float:
    """SD (percentage points) of a yearly rate from binomial noise at the median area's denominator."""
    if spec["kind"] != "rate":
        return 0.0
    per_1000 = spec["denominator_per_1000"] or 65.0
    den = float(np.median([f.population_2011 for f in forces])) * per_1000 / 1000.0
    p = spec["base"] / 100.0
    return 100.0 * math.sqrt(p * (1 - p) / den)


def _residual_sd(spec: dict, forces: tuple[_Force, ...]) -> float:
    return math.sqrt(spec["sd_area"] ** 2 + spec["sd_year"] ** 2 + _typical_binomial_sd(spec, forces) ** 2)


def planted_effects(design: SimulationDesign, forces: tuple[_Force, ...] | None = None) -> list[dict]:
    """Planted effects in each measure's own unit per SD of the latent trait (already x effect_scale).

    Sized so that the latent partial correlation (given the covariates, one year's value) is
    ``strong_partial_r`` or ``moderate_partial_r`` at effect_scale 1."""
    forces = forces or _read_forces(str(paths.FORCES_CSV))
    features = list(FEATURE_ITEMS)
    sd_t = _sd_trait_given_covariates(dataclasses.replace(design, unmeasured_confounder=False), features)
    out = []
    for feature, measure, strength, direction, from_year in PLANTED:
        r = design.strong_partial_r if strength == "strong" else design.moderate_partial_r
        sigma = _residual_sd(MEASURES[measure], forces)
        beta = direction * r * sigma / (sd_t * math.sqrt(1 - r * r)) * design.effect_scale
        beta = round(beta, 4)
        if beta == 0:
            continue
        out.append({"feature": feature, "measure": measure, "strength": strength,
                    "effect_per_sd": beta, "unit": MEASURES[measure]["unit"], "from_year": from_year,
                    "target_latent_partial_r": r if design.effect_scale else 0.0})
    return out


def _implied_slopes(design: SimulationDesign, effects: list[dict], forces: tuple[_Force, ...]) -> list[dict]:
    """Population slope of each measure on ONE trait with all covariates (what a one-feature model targets).

    Non-zero for structurally null pairs when traits correlate with a planted trait or share the
    unmeasured confounder: the truth lists both so a validation study can pick its estimand."""
    features = list(FEATURE_ITEMS)
    traits, covs = _loadings(design, features)
    kappa = design.confounder_loading if design.unmeasured_confounder else 0.0
    out = []
    for measure, spec in MEASURES.items():
        sigma = _residual_sd(spec, forces)
        beta = np.zeros(len(features))
        for e in effects:
            if e["measure"] == measure:
                beta[features.index(e["feature"])] = e["effect_per_sd"]
        sign = 1.0 if spec["higher_is_better"] else -1.0
        # Y (area level, year after the effects start) loadings on the sources, plus its own residual
        y_load = beta @ traits + np.asarray(spec["gamma"]) @ covs
        y_load = y_load.copy()
        y_load[-1] += sign * kappa * sigma
        var_y_extra = sigma ** 2
        for j, feature in enumerate(features):
            x = np.vstack([traits[j], covs])  # regressors: this trait and the covariates
            s_xx = x @ x.T
            s_xy = x @ y_load
            b = np.linalg.solve(s_xx, s_xy)
            resid_var = y_load @ y_load + var_y_extra - s_xy @ b
            sd_t = math.sqrt(1.0 / np.linalg.inv(s_xx)[0, 0])
            partial = b[0] * sd_t / math.sqrt(b[0] ** 2 * sd_t ** 2 + resid_var)
            out.append({"feature": feature, "measure": measure, "structural_effect_per_sd": _r(beta[j], 4),
                        "implied_adjusted_slope_per_sd": _r(b[0], 4), "implied_latent_partial_r": _r(partial, 4)})
    return out


# --------------------------------------------------------------------------------------------------
# generate
# --------------------------------------------------------------------------------------------------

def generate(seed: int, design: SimulationDesign | None = None, forces_csv: str | Path | None = None, *,
             with_fieldwork: bool = True) -> SimulatedData:
    """All raw demo files (bytes) and the truth for one seed; reads only the force reference table.

    ``with_fieldwork=False`` leaves out the fieldwork folder (and its truth, ``None``): every other
    file is byte-identical, since fieldwork draws from its own stream after the survey. The
    validation study uses it: fieldwork never enters the estimates.
    """
    design = design or SimulationDesign()
    forces = _read_forces(str(Path(forces_csv or paths.FORCES_CSV).resolve()))
    partnerships = _partnerships(forces)
    n_areas = len(partnerships)
    features = list(FEATURE_ITEMS)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(6)]
    rng_latent, rng_survey, rng_field, rng_out, rng_cov, rng_text = streams
    source_text = f"synthetic: In Step demo generator (seed {int(seed)})"

    # ---- area latent structure ----
    n_f = len(features)
    g = rng_latent.standard_normal(n_areas)
    specific = rng_latent.standard_normal((n_areas, n_f))
    w = rng_latent.standard_normal((n_areas, len(COVARIATES)))
    confounder = rng_latent.standard_normal(n_areas)
    area_resid = rng_latent.standard_normal((n_areas, len(MEASURES)))
    d = design.confounder_loading if design.unmeasured_confounder else 0.0
    raw_traits = (math.sqrt(design.trait_correlation) * g[:, None]
                  + math.sqrt(1 - design.trait_correlation - d * d) * specific + d * confounder[:, None])
    traits = (raw_traits - raw_traits.mean(0)) / raw_traits.std(0, ddof=1)
    z_cov = np.column_stack([rho * g + math.sqrt(1 - rho * rho) * w[:, k]
                             for k, rho in enumerate(COVARIATES.values())])
    effects = planted_effects(design, forces)

    files: dict[str, bytes] = {}
    survey_files, survey_truth = _survey(rng_survey, rng_text, design, partnerships, features, traits)
    files.update(survey_files)
    if with_fieldwork:
        fieldwork_files, fieldwork_truth = _fieldwork(rng_field, rng_text, design, partnerships, features, traits, g)
        files.update(fieldwork_files)
    else:
        fieldwork_truth = None
    covariate_bytes, cov_levels = _covariates(rng_cov, design, partnerships, z_cov, source_text)
    files["reference/covariates.csv"] = covariate_bytes
    files.update(_outcomes(rng_out, design, partnerships, features, traits, z_cov, confounder, area_resid,
                           effects, cov_levels, source_text))
    for folder in ("survey", "fieldwork", "outcomes") if with_fieldwork else ("survey", "outcomes"):
        files[f"{folder}/SYNTHETIC.md"] = SYNTHETIC_MARKER.format(seed=int(seed)).encode("utf-8")

    parts = _item_variance_parts(design)
    feature_icc = parts["area"] / (parts["area"] + parts["agency"] + parts["person"] + parts["item"] / 3)
    n_mean = survey_truth["mean_respondents"]
    reliability = n_mean * feature_icc / (1 + (n_mean - 1) * feature_icc)
    null_pairs = [{"feature": f, "measure": m} for f in features for m in MEASURES
                  if not any(e["feature"] == f and e["measure"] == m for e in effects)]
    truth = {
        "generator": "pipeline.simulate",
        "seed": int(seed),
        "design": design.to_dict(),
        "source_text": source_text,
        "model": {
            "trait_direction": "higher = stronger partnership (for barriers: fewer barriers); traits are "
                               "standardised across the areas (mean 0, SD 1 with ddof=1)",
            "traits": "T_f = sqrt(trait_correlation) g + sqrt(1 - trait_correlation - d^2) s_f + d U, "
                      "d = confounder_loading if unmeasured_confounder else 0",
            "covariates": {k: f"z = {v} g + sqrt(1 - {v}^2) w (g = common factor of the traits)"
                           for k, v in COVARIATES.items()},
            "items": "y = sqrt(icc1_target) T + agency rater effect + person view + item noise (total var 1), "
                     "cut at (-1.6, -0.8, -0.1, 0.9) into 1-5; reverse items answered as 6 - category",
            "item_variance_parts": {k: _r(v) for k, v in parts.items()},
            "agency_rater_effects": {k: v[2] for k, v in AGENCIES.items()},
            "outcomes": "value = base + trend (year - first_year) + covariate weights . z + sd_area u_a "
                        "+ sd_year e_at + sum of planted effects x T (from their first year) "
                        "[+ confounder_loading x residual SD x U, signed to look good]; rates: "
                        "numerator ~ Binomial(denominator, value / 100), value = 100 numerator / denominator",
            "measures": {m: {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()}
                         for m, s in MEASURES.items()},
        },
        "features": features,
        "measures": list(MEASURES),
        "latent_traits": {pid: {f: _r(traits[a, j]) for j, f in enumerate(features)}
                          for a, (pid, _, _) in enumerate(partnerships)},
        "common_factor": {pid: _r(g[a]) for a, (pid, _, _) in enumerate(partnerships)},
        "unmeasured_confounder": ({pid: _r(confounder[a]) for a, (pid, _, _) in enumerate(partnerships)}
                                  if design.unmeasured_confounder else None),
        "covariate_z": {pid: {k: _r(z_cov[a, j]) for j, k in enumerate(COVARIATES)}
                        for a, (pid, _, _) in enumerate(partnerships)},
        "planted_effects": effects,
        "null_pairs": null_pairs,
        "implied_slopes": _implied_slopes(design, effects, forces),
        "icc1_target": design.icc1_target,
        "attenuation": {
            "method": "formula: feature-score ICC(1) = icc1 / (icc1 + agency + person + item/3) on the latent "
                      "scale; reliability of an area mean of n respondents = n ICC / (1 + (n - 1) ICC) "
                      "(Spearman-Brown, n = mean respondents); expected corr(area mean, trait) = "
                      "sqrt(reliability), before Likert coarsening and missing answers. 'realised' = "
                      "the correlation in this data set (final answers, reverse-coded, DK/skips dropped).",
            "feature_score_icc1": _r(feature_icc),
            "mean_respondents": _r(n_mean),
            "expected_reliability": _r(reliability),
            "expected_corr_mean_trait": _r(math.sqrt(reliability)),
            "realised_corr_mean_trait": survey_truth["realised_corr"],
            "realised_feature_icc1": survey_truth["realised_icc1"],
        },
        "survey": {k: v for k, v in survey_truth.items() if k not in ("realised_corr", "realised_icc1")},
        "fieldwork": fieldwork_truth,
    }
    files["README.md"] = raw_readme(truth).encode("utf-8")
    return SimulatedData(files=dict(sorted(files.items())), truth=truth)


# --------------------------------------------------------------------------------------------------
# Survey
# --------------------------------------------------------------------------------------------------

def _codebook(features: list[str]) -> tuple[list[str], list[int], list[bool], bytes]:
    items, item_feature, item_reverse, rows = [], [], [], []
    n_rounds = max(len(v) for v in FEATURE_ITEMS.values())
    for r in range(n_rounds):
        for j, feature in enumerate(features):
            if r < len(FEATURE_ITEMS[feature]):
                text, reverse = FEATURE_ITEMS[feature][r]
                item = f"q{len(items) + 1:02d}"
                items.append(item)
                item_feature.append(j)
                item_reverse.append(reverse)
                rows.append([item, feature, text, "true" if reverse else "false"])
    return items, item_feature, item_reverse, _csv_bytes(["item", "feature", "text", "reverse"], rows)


def _likert_variants(style: str) -> tuple[np.ndarray, np.ndarray]:
    """Label table (rows: Don't know, 1..5; columns: variants) and the variants' probabilities for an export."""
    base = [DONT_KNOW, *LIKERT]
    if style == "title":  # a Windows export that title-cases labels and types a curly apostrophe
        table = [[b.title().replace("'T", "'t").replace("'", CURLY)] for b in base]
        probs = [1.0]
    elif style == "mixed":  # merged spreadsheets: case, spacing and apostrophes vary cell by cell
        table = [[b, b.lower(), b + " ", b.replace(" ", "  ", 1), b.replace("'", CURLY)] for b in base]
        probs = [0.45, 0.2, 0.15, 0.1, 0.1]
    else:
        table = [[b, b.lower(), " " + b] for b in base]
        probs = [0.95, 0.025, 0.025]
    return np.array(table, dtype=object), np.cumsum(probs)


def _likert_labels(answers: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """Answer codes (-1 skipped, 0 don't know, 1-5) -> label strings as an export writes them."""
    table, cum = _likert_variants(style)
    variant = np.minimum(np.searchsorted(cum, rng.random(answers.shape), side="right"), table.shape[1] - 1)
    labels = table[np.maximum(answers, 0), variant]
    return np.where(answers < 0, "", labels)


def _survey(rng, rng_text, design, partnerships, features, traits):
    items, item_feature, item_reverse, codebook = _codebook(features)
    agency_ids = list(AGENCIES)
    lo, hi = design.n_respondents_range
    parts = _item_variance_parts(design)

    # invitations and respondents per area
    invited_rows, resp_area, resp_agency, resp_force, board = [], [], [], [], []
    mean_trait = traits.mean(1)
    propensity = 0.6 + 0.6 * rng.standard_normal(len(partnerships))
    if design.informative_nonresponse:
        propensity = propensity + design.nonresponse_strength * mean_trait / max(mean_trait.std(ddof=1), 1e-9)
    area_rate = _sigmoid(propensity)
    for a, (pid, pname, forces) in enumerate(partnerships):
        slots, on_board = [], []
        for ag, (label, _, _, rate_weight, p_board, (n_lo, n_hi)) in AGENCIES.items():
            if rng.random() >= p_board:
                continue
            n_inv = int(rng.integers(n_lo, n_hi + 1))
            if ag == POLICE:
                n_inv = max(n_inv, len(forces))
            on_board.append(ag)
            invited_rows.append([pname, label, str(n_inv)])
            for k in range(n_inv):
                # police slots: one for every minor force of a multi-force partnership, the rest the main force
                force = forces[k] if (ag == POLICE and k < len(forces)) else forces[0]
                slots.append((ag, force.pfa_code if (ag == POLICE or len(forces) == 1) else None))
        board.append(on_board)
        n = int(np.clip(rng.binomial(len(slots), area_rate[a]), lo, min(hi, len(slots))))
        # every force of a multi-force partnership is represented (London: the City's police answer too)
        minor = {f.pfa_code for f in forces[1:]}
        must = [k for k, s in enumerate(slots) if s[0] == POLICE and s[1] in minor][:n]
        rest = np.array([k for k in range(len(slots)) if k not in must])
        weights = np.array([AGENCIES[slots[k][0]][3] for k in rest])
        picked = rng.choice(rest, size=n - len(must), replace=False, p=weights / weights.sum())
        chosen = np.sort(np.concatenate([np.array(must, dtype=int), picked.astype(int)]))
        for c in chosen:
            resp_area.append(a)
            resp_agency.append(agency_ids.index(slots[c][0]))
            resp_force.append(slots[c][1])
    resp_area = np.array(resp_area)
    resp_agency = np.array(resp_agency)
    n_resp, n_items = len(resp_area), len(items)

    # latent answers
    halo = rng.standard_normal(n_resp)
    person = math.sqrt(0.3) * halo[:, None] + math.sqrt(0.7) * rng.standard_normal((n_resp, len(features)))
    rater = np.array([AGENCIES[a][2] for a in agency_ids])[resp_agency]
    item_f = np.array(item_feature)
    latent = (math.sqrt(parts["area"]) * traits[resp_area][:, item_f] + rater[:, None]
              + math.sqrt(parts["person"]) * person[:, item_f]
              + math.sqrt(parts["item"]) * rng.standard_normal((n_resp, n_items)))
    category = 1 + np.searchsorted(np.array([-1.6, -0.8, -0.1, 0.9]), latent)
    reverse = np.array(item_reverse)
    answered = np.where(reverse[None, :], 6 - category, category)  # what the respondent ticks
    roll = rng.random((n_resp, n_items))
    dont_know = roll < design.dont_know_rate
    skipped = (roll >= design.dont_know_rate) & (roll < design.dont_know_rate + design.skip_rate)
    answered = np.where(dont_know, 0, np.where(skipped, -1, answered))

    # other fields
    chair_area = rng.random(len(partnerships)) < 0.6
    role_roll = rng.random(n_resp)
    roles = np.where(role_roll < 0.6, "board_member", np.where(role_roll < 0.9, "officer_support", "other"))
    roles = roles.astype(object)
    for a in np.flatnonzero(chair_area):
        members = np.flatnonzero(resp_area == a)
        roles[members[int(rng.integers(len(members)))]] = "chair"
    engagement = traits[:, features.index("engagement")] if "engagement" in features else mean_trait
    true_freq = np.array([12, 6, 4, 2])[np.clip(2 - np.round(engagement).astype(int), 0, 3)]

    # files and timestamps
    file_roll = rng.random(n_resp)
    file_of = np.where(file_roll < 0.55, 0, np.where(file_roll < 0.9, 1, 2))
    windows = [(datetime(2015, 9, 14, 8, 0), 25), (datetime(2015, 10, 12, 8, 0), 25),
               (datetime(2015, 11, 9, 8, 0), 18)]
    submitted = [windows[f][0] + timedelta(seconds=int(rng.integers(windows[f][1] * 86400))) for f in file_of]
    ids, seen = [], set()
    alphabet = np.array(list("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    while len(ids) < n_resp:
        candidate = "R_" + "".join(alphabet[rng.integers(len(alphabet), size=12)])
        if candidate not in seen:
            seen.add(candidate)
            ids.append(candidate)

    # resubmissions: the same id later, in a later file, with some answers changed
    resub = {i for i in range(n_resp) if file_of[i] < 2 and rng.random() < design.resubmission_rate / 0.9}
    records = []  # (file index, respondent index, submitted, answers, is_final)
    final_answers = answered.copy()
    for i in range(n_resp):
        if i in resub:
            later_file = int(rng.integers(file_of[i] + 1, 3))
            start, days = windows[later_file]
            later = max(start + timedelta(seconds=int(rng.integers(days * 86400))),
                        submitted[i] + timedelta(hours=1))
            changed = answered[i].copy()
            for k in rng.choice(n_items, size=int(rng.integers(2, 5)), replace=False):
                if changed[k] > 0:
                    changed[k] = min(5, max(1, changed[k] + (1 if rng.random() < 0.5 else -1)))
                else:
                    changed[k] = int(rng.integers(1, 6))
            final_answers[i] = changed
            records.append((int(file_of[i]), i, submitted[i], answered[i], False))
            records.append((later_file, i, later, changed, True))
        else:
            records.append((int(file_of[i]), i, submitted[i], answered[i], True))

    area_labels = []
    for (pid, pname, forces) in partnerships:
        area_labels.append(({f.pfa_code: force_name_variants(f) for f in forces}, partnership_name_variants(pname)))

    def area_text(i: int) -> str:
        force_variants, lcjp_variants = area_labels[resp_area[i]]
        code = resp_force[i]
        if code is not None and (len(force_variants) > 1 or rng_text.random() < 0.6):
            v = force_variants[code]
            return v[0] if rng_text.random() < 0.4 else _pick(rng_text, v)
        if code is None and rng_text.random() < 0.15:  # a partner naming the main force
            return _pick(rng_text, next(iter(force_variants.values())))
        return lcjp_variants[0] if rng_text.random() < 0.4 else _pick(rng_text, lcjp_variants)

    header = ["response_id", "submitted_at", "area", "agency", "role", *items, "meetings_per_year", "members",
              "comments"]
    styles = ["plain", "title", "mixed"]
    by_file: list[list[list[str]]] = [[], [], []]
    records.sort(key=operator.itemgetter(0, 2, 1))  # by file, submitted time, respondent
    label_rows = []
    for f in range(3):  # one draw per export file, whole matrix at once
        mine = [r for r in records if r[0] == f]
        if mine:
            label_rows += _likert_labels(np.array([r[3] for r in mine]), styles[f], rng_text).tolist()
    for row_index, (file_index, i, when, answers, _final) in enumerate(records):
        a = resp_area[i]
        ag = agency_ids[resp_agency[i]]
        if file_index == 1:
            stamp = when.strftime("%d/%m/%Y %H:%M")
        elif file_index == 2:
            stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            stamp = when.strftime("%Y-%m-%dT%H:%M:%S")
        labels = label_rows[row_index]
        freq = int(true_freq[a])
        if rng_text.random() < 0.1:
            freq = {12: 6, 6: 4, 4: 6, 2: 4}[freq]
        r = rng_text.random()
        meetings = MEETING_WORDS[freq] if r < 0.65 else (str(freq) if r < 0.95 else "")
        members_list = [AGENCIES[b][0] for b in board[a] if b == ag or rng_text.random() > 0.1]
        members = (";" if rng_text.random() < 0.8 else "; ").join(members_list)
        comments = _comment(rng_text, features, traits[a], file_index)
        row = [ids[i], stamp, area_text(i), _pick(rng_text, AGENCIES[ag][1]), _pick(rng_text, ROLES[roles[i]]),
               *labels, meetings, members, comments]
        by_file[file_index].append(row)

    files = {"survey/codebook.csv": codebook,
             "survey/invited.csv": _csv_bytes(["area", "agency", "invited"], invited_rows)}
    files[SURVEY_FILES[0]] = _csv_bytes(header, by_file[0])
    files[SURVEY_FILES[1]] = _csv_bytes(header, by_file[1], encoding="cp1252", newline="\r\n")
    # the late batch comes from another export: columns in another order, UTF-8 with BOM
    order = [0, 1, 2, 3, 4, len(header) - 1, len(header) - 3, len(header) - 2, *range(5, 5 + n_items)]
    files[SURVEY_FILES[2]] = _csv_bytes([header[k] for k in order], [[row[k] for k in order] for row in by_file[2]],
                                        bom=True)

    # realised measurement quality (final answers, reverse-coded back, DK/skips missing)
    scored = np.where(final_answers > 0, np.where(reverse[None, :], 6 - final_answers, final_answers), np.nan)
    realised_corr, realised_icc = {}, {}
    counts = np.bincount(resp_area, minlength=len(partnerships))
    for j, feature in enumerate(features):
        block = scored[:, item_f == j]
        n_ok = (~np.isnan(block)).sum(1)
        person_score = np.where(n_ok > 0, np.nansum(block, axis=1) / np.maximum(n_ok, 1), np.nan)
        ok = ~np.isnan(person_score)
        sums = np.bincount(resp_area[ok], weights=person_score[ok], minlength=len(partnerships))
        ns = np.bincount(resp_area[ok], minlength=len(partnerships))
        means = sums / np.maximum(ns, 1)
        realised_corr[feature] = _r(np.corrcoef(means[ns > 0], traits[ns > 0, j])[0, 1], 4)
        realised_icc[feature] = _r(_icc1(person_score[ok], resp_area[ok]), 4)
    truth = {
        "items": {it: {"feature": features[item_f[k]], "reverse": bool(reverse[k])} for k, it in enumerate(items)},
        "respondents_per_area": {partnerships[a][0]: int(counts[a]) for a in range(len(partnerships))},
        "n_respondents": int(n_resp),
        "n_rows": int(len(records)),
        "mean_respondents": float(counts.mean()),
        "resubmitted_ids": sorted(ids[i] for i in resub),
        "dont_know_share": _r(dont_know.mean(), 4),
        "skipped_share": _r(skipped.mean(), 4),
        "area_response_propensity": {partnerships[a][0]: _r(area_rate[a], 4) for a in range(len(partnerships))},
        "realised_corr": realised_corr,
        "realised_icc1": realised_icc,
    }
    return files, truth


def _icc1(values: np.ndarray, groups: np.ndarray) -> float:
    """One-way ANOVA ICC(1) with the k0 adjustment for unequal group sizes."""
    labels, g = np.unique(groups, return_inverse=True)
    n_g = np.bincount(g)
    means = np.bincount(g, weights=values) / n_g
    grand = values.mean()
    k, n = len(labels), len(values)
    msb = float((n_g * (means - grand) ** 2).sum() / (k - 1))
    msw = float(((values - means[g]) ** 2).sum() / (n - k))
    k0 = (n - (n_g ** 2).sum() / n) / (k - 1)
    return (msb - msw) / (msb + (k0 - 1) * msw)


def _comment(rng: np.random.Generator, features: list[str], trait_row: np.ndarray, file_index: int) -> str:
    if rng.random() > 0.35:
        return ""
    j = int(rng.integers(len(features)))
    positive = trait_row[j] + 0.8 * rng.standard_normal() > 0
    pos, neg = CODE_TEXT.get(features[j], (("", "", "The board works well."), ("", "", "The board struggles.")))
    text = (pos if positive else neg)[2]
    extra = rng.random()
    if extra < 0.3:
        text += " " + _pii_sentence(rng, with_postcode=False)
    elif extra < 0.4:
        text += f" Our budget was cut by \u00a3{int(rng.integers(5, 60))}k, so we can{CURLY}t do much more."
    elif extra < 0.45:
        text += "\nSecond point: agendas arrive late, often the day before."
    if file_index == 0:
        text = text.replace(CURLY, "'")
    return text


# --------------------------------------------------------------------------------------------------
# Fieldwork
# --------------------------------------------------------------------------------------------------

def _fieldwork(rng, rng_text, design, partnerships, features, traits, g):
    codes = []  # (code, theme, description, valence, template)
    for feature in features:
        (pc, pd_, pt), (nc, nd, nt) = CODE_TEXT[feature]
        codes.append((pc, feature, pd_, 1, pt))
        codes.append((nc, feature, nd, -1, nt))
    codes += CONTEXT_CODES
    code_names = [c[0] for c in codes]
    codebook = _csv_bytes(["code", "theme", "description", "valence"],
                          [[c[0], c[1], c[2], str(c[3])] for c in sorted(codes)])

    # six areas spread over the common factor: one at random from each sixth
    order = np.argsort(g, kind="stable")
    bins = np.array_split(order, design.n_fieldwork_areas)
    chosen = sorted(int(b[int(rng.integers(len(b)))]) for b in bins if len(b))
    seg_rows, meeting_rows, quote_candidates = [], [], []
    seg_counter = 0
    for a in chosen:
        pid, pname, forces = partnerships[a]
        area_variants = partnership_name_variants(pname)
        board_agencies = [ag for ag in AGENCIES if ag != "other"]
        for source_type, (prefix, n_sources, (s_lo, s_hi)) in SOURCE_TYPES.items():
            for s in range(n_sources):
                source_id = f"{forces[0].pfa_code}-{prefix}-{s + 1:02d}"
                agency = ""
                if source_type in ("interview", "document"):
                    agency = _pick(rng_text, AGENCIES[board_agencies[int(rng.integers(len(board_agencies)))]][1])
                for _ in range(int(rng.integers(s_lo, s_hi + 1))):
                    seg_counter += 1
                    segment_id = f"S{seg_counter:04d}"
                    if rng.random() < 0.12:
                        k = len(features) * 2 + int(rng.integers(len(CONTEXT_CODES)))
                    else:
                        j = int(rng.integers(len(features)))
                        positive = rng.random() < _sigmoid(0.2 + 1.4 * traits[a, j])
                        k = 2 * j + (0 if positive else 1)
                    excerpt = _pick(rng_text, EXCERPT_LEADS[source_type]) + codes[k][4]
                    has_pii = rng_text.random() < 0.15
                    if has_pii:
                        excerpt += " " + _pii_sentence(rng_text, with_postcode=True)
                    coder = CODERS[int(rng.integers(len(CODERS)))]
                    area_name = area_variants[0] if rng_text.random() < 0.7 else _pick(rng_text, area_variants)
                    seg_rows.append([segment_id, area_name, source_type, source_id, agency, coder, codes[k][0],
                                     excerpt])
                    if k < 2 * len(features):
                        quote_candidates.append((segment_id, has_pii))
                    if rng.random() < design.double_coded_share:
                        second = [c for c in CODERS if c != coder][int(rng.integers(len(CODERS) - 1))]
                        if rng.random() < design.coder_agreement:
                            k2 = k
                        elif k < 2 * len(features) and rng.random() < 0.6:
                            k2 = k + 1 if k % 2 == 0 else k - 1  # the same theme, other valence
                        else:
                            k2 = int(rng.choice([x for x in range(len(codes)) if x != k]))
                        seg_rows.append([segment_id, area_name, source_type, source_id, agency, second,
                                         code_names[k2], excerpt])
        # board meetings 2014-2015 at the area's frequency; attendance follows engagement
        eng = traits[a, features.index("engagement")] if "engagement" in features else traits[a].mean()
        infl = traits[a, features.index("influence")] if "influence" in features else traits[a].mean()
        per_year = int(np.array([12, 6, 4, 4])[np.clip(2 - int(round(eng)), 0, 3)])
        step = 12 // per_year
        for year in (2014, 2015):
            for month in range(1, 13, step):
                day = int(rng.integers(1, 29))
                date = f"{year}-{month:02d}-{day:02d}" if rng_text.random() < 0.8 else f"{day:02d}/{month:02d}/{year}"
                for ag in AGENCIES:
                    if ag == "other" or rng.random() > AGENCIES[ag][4]:
                        continue
                    attended = rng.random() < _sigmoid(1.0 + 1.2 * eng + AGENCIES[ag][2])
                    senior = attended and rng.random() < _sigmoid(0.2 + 1.0 * infl)
                    yes, no = ("y", "n") if rng_text.random() < 0.05 else ("Y", "N")
                    meeting_rows.append([pname, date, AGENCIES[ag][0], yes if attended else no,
                                         yes if senior else no])
    # approved quotes: a dozen, at least three holding personal data so redaction is exercised
    with_pii = [s for s, p in quote_candidates if p]
    without = [s for s, p in quote_candidates if not p]
    n_pii = min(4, len(with_pii))
    picks = list(rng.choice(with_pii, size=n_pii, replace=False)) if n_pii else []
    picks += list(rng.choice(without, size=min(10, len(without)), replace=False))
    quotes = sorted(str(s) for s in picks)
    files = {
        "fieldwork/coded_segments.csv": _csv_bytes(
            ["segment_id", "area", "source_type", "source_id", "agency", "coder", "code", "excerpt"], seg_rows),
        "fieldwork/codebook.csv": codebook,
        "fieldwork/board_meetings.csv": _csv_bytes(["area", "meeting_date", "agency", "attended", "senior"],
                                                   meeting_rows),
        "fieldwork/approved_quotes.csv": _csv_bytes(["segment_id"], [[q] for q in quotes]),
    }
    ids = [r[0] for r in seg_rows]
    truth = {"areas": [partnerships[a][0] for a in chosen], "n_segments": len(set(ids)),
             "n_double_coded": len(ids) - len(set(ids)), "approved_quotes": quotes,
             "approved_quotes_with_personal_data": sorted(str(s) for s in picks[:n_pii])}
    return files, truth


# --------------------------------------------------------------------------------------------------
# Covariates and outcomes
# --------------------------------------------------------------------------------------------------

def _fy(year: int, sep: str) -> str:
    return f"{year}{sep}{(year + 1) % 100:02d}"


def _covariates(rng, design, partnerships, z_cov, source_text):
    """Force-level covariates (multi-force partnerships as their forces). Returns bytes and per-area levels."""
    years = range(design.first_year, design.last_year + 1)
    names = list(COVARIATES)
    rows, levels = [], {}
    for a, (pid, _, forces) in enumerate(partnerships):
        z = dict(zip(names, z_cov[a]))
        growth = 0.006 + 0.003 * rng.standard_normal()
        levels[pid] = {"crime_per_1000": {}, "population": {}}
        for rank, force in enumerate(forces):
            minor = rank > 0  # a small force inside a bigger partnership (the City in London)
            fgrowth = growth + (0.002 * rng.standard_normal() if minor else 0.0)
            pop_source = ("synthetic: 2011 Census population (ONS, Open Government Licence v3) with simulated "
                          f"drift, In Step demo generator (seed {source_text.rsplit(' ', 1)[-1]}")
            for y in years:
                pop = int(round(force.population_2011 * (1 + fgrowth) ** (y - 2011)))
                levels[pid]["population"].setdefault(y, {})[force.pfa_code] = pop
                rows.append([force.pfa_name, str(y), "population", str(pop), pop_source])
            dep = 12.0 + rng.standard_normal() if minor else max(5.0, 21.0 + 5.5 * z["deprivation_score"])
            rows.append([force.pfa_name, "2015", "deprivation_score", f"{dep:.2f}", source_text])
            urban = 1.0 if minor else float(np.clip(0.72 + 0.15 * z["urban_share"], 0.2, 0.99))
            rows.append([force.pfa_name, "2011", "urban_share", f"{urban:.3f}", source_text])
            crime_level = 700.0 if minor else max(25.0, 65.0 + 12.0 * z["recorded_crime_per_1000"])
            officers = 90.0 if minor else max(1.2, 2.1 + 0.35 * z["officers_per_1000"])
            for y in years:
                crime = crime_level * (1 - 0.02 * (y - 2014)) * math.exp(0.03 * rng.standard_normal())
                levels[pid]["crime_per_1000"].setdefault(y, {})[force.pfa_code] = crime
                rows.append([force.pfa_name, _fy(y, "/"), "recorded_crime_per_1000", f"{crime:.2f}", source_text])
                off = officers * (1 - 0.015 * (y - 2010)) * math.exp(0.02 * rng.standard_normal())
                rows.append([force.pfa_name, _fy(y, "-"), "officers_per_1000", f"{off:.3f}", source_text])
    rows.sort(key=_AREA_MEASURE_PERIOD)
    return _csv_bytes(["area", "period", "variable", "value", "source"], rows), levels


def _outcomes(rng, design, partnerships, features, traits, z_cov, confounder, area_resid, effects, cov_levels,
              source_text):
    years = np.arange(design.first_year, design.last_year + 1)
    n_areas, n_y = len(partnerships), len(years)
    by_file: dict[str, list[list[str]]] = {}
    forces_all = [f for p in partnerships for f in p[2]]
    kappa = design.confounder_loading if design.unmeasured_confounder else 0.0
    for m_index, (measure, spec) in enumerate(MEASURES.items()):
        sigma = _residual_sd(spec, forces_all)
        sign = 1.0 if spec["higher_is_better"] else -1.0
        rows = by_file.setdefault(spec["file"], [])
        decimals = spec.get("decimals", 1)
        area_level = (spec["base"] + z_cov @ np.asarray(spec["gamma"]) + spec["sd_area"] * area_resid[:, m_index]
                      + sign * kappa * sigma * confounder)
        mu = (area_level[:, None] + spec["trend"] * (years - design.first_year)[None, :]
              + spec["sd_year"] * rng.standard_normal((n_areas, n_y)))
        for e in effects:
            if e["measure"] == measure:
                active = (years >= e["from_year"]).astype(float)
                mu = mu + e["effect_per_sd"] * traits[:, features.index(e["feature"])][:, None] * active[None, :]
        labels = ([str(y) for y in years] if spec["period"] == "calendar"
                  else [_fy(int(y), "/" if spec["period"] == "fy_slash" else "-") for y in years])
        for a, (pid, pname, forces) in enumerate(partnerships):
            if spec["per_force"] and len(forces) > 1:
                units = [(f.pfa_name, f, spec["sd_year"] * rng.standard_normal(n_y) if r else np.zeros(n_y))
                         for r, f in enumerate(forces)]
            else:
                units = [(forces[0].pfa_name if spec["per_force"] else pname, forces[0], np.zeros(n_y))]
            for name, force, shift in units:
                value_mu = mu[a] + shift
                if spec["kind"] == "value":
                    low, high = (0.0, 100.0) if spec["unit"] == "percent" else (1.0, np.inf)
                    values = np.clip(value_mu, low, high).tolist()
                    rows.extend([name, labels[t], measure, f"{values[t]:.{decimals}f}", "", "", source_text]
                                for t in range(n_y))
                    continue
                p = np.clip(value_mu / 100.0, 0.001, 0.999)
                pop = np.array([cov_levels[pid]["population"][int(y)][force.pfa_code] for y in years], dtype=float)
                if spec["denominator_per_1000"] is None:  # charge rate: of the recorded crimes
                    crime = np.array([cov_levels[pid]["crime_per_1000"][int(y)][force.pfa_code] for y in years])
                    expected = pop * crime / 1000.0
                else:
                    expected = pop * spec["denominator_per_1000"] / 1000.0
                if spec["period"] == "quarter":
                    den = np.maximum(1, rng.poisson(np.repeat(expected[:, None] / 4, 4, axis=1)))
                    pq = np.clip(p[:, None] + 0.003 * rng.standard_normal((n_y, 4)), 0.001, 0.999)
                    num = rng.binomial(den, pq)
                    nums, dens, ys = num.tolist(), den.tolist(), years.tolist()
                    rows.extend([name, f"{ys[t]} Q{q + 1}", measure, f"{100.0 * nums[t][q] / dens[t][q]:.4f}",
                                 str(nums[t][q]), str(dens[t][q]), source_text] for t in range(n_y) for q in range(4))
                else:
                    den = np.maximum(1, rng.poisson(expected))
                    num = rng.binomial(den, p)
                    nums, dens = num.tolist(), den.tolist()
                    rows.extend([name, labels[t], measure, f"{100.0 * nums[t] / dens[t]:.4f}", str(nums[t]),
                                 str(dens[t]), source_text] for t in range(n_y))
    header = ["area", "period", "measure", "value", "numerator", "denominator", "source"]
    files = {f"outcomes/{name}": _csv_bytes(header, sorted(rows, key=_AREA_MEASURE_PERIOD))
             for name, rows in by_file.items()}
    files["outcomes/measures.csv"] = _csv_bytes(
        ["measure", "description", "unit", "higher_is_better"],
        [[m, s["description"], s["unit"], "true" if s["higher_is_better"] else "false"] for m, s in MEASURES.items()])
    return files


def _period(style: str, year: int) -> str:
    return {"calendar": str(year), "fy_slash": _fy(year, "/"), "fy_dash": _fy(year, "-")}[style]


# --------------------------------------------------------------------------------------------------
# README, write, CLI
# --------------------------------------------------------------------------------------------------

def raw_readme(truth: dict) -> str:
    """``data/raw/README.md``: what the synthetic data are, what was planted, how to replace them."""
    effects = truth["planted_effects"]
    measures = truth["model"]["measures"]
    lines = [
        "# data/raw: synthetic demonstration data (and one real reference table)",
        "",
        "**Everything in `survey/`, `fieldwork/`, `outcomes/` and `reference/covariates.csv` is SYNTHETIC.** It was",
        "made by the In Step demo generator with planted effects, so the pipeline can be run and checked end to end;",
        "no figure describes a real partnership, person or organisation. Free text holds fictitious names, reserved",
        "example e-mail domains and Ofcom drama phone numbers so that redaction is exercised.",
        "",
        "Made with (from the repository root):",
        "",
        "```",
        f".venv/bin/python -m pipeline.simulate --seed {truth['seed']} --out data/raw "
        "--truth data/synthetic_truth/truth.json",
        "```",
        "",
        "The generator's truth (latent traits per area, planted effects, null pairs, attenuation) is in",
        "`data/synthetic_truth/truth.json`; the pipeline never reads it, the tests do.",
        "",
        "## Shapes (see `../shared/DATA_CONTRACT.md` for the full contract)",
        "",
        "| folder | files | columns |",
        "|---|---|---|",
        "| survey/ | one export per wave (`survey_*.csv`: UTF-8; Windows-1252 with CRLF; UTF-8 with BOM and "
        "another column order) | response_id, submitted_at, area, agency, role, q01..qNN, meetings_per_year, "
        "members, comments |",
        "| survey/ | `codebook.csv`, `invited.csv` | item, feature, text, reverse; area, agency, invited |",
        "| fieldwork/ | `coded_segments.csv` | segment_id, area, source_type, source_id, agency, coder, code, "
        "excerpt |",
        "| fieldwork/ | `codebook.csv`, `board_meetings.csv`, `approved_quotes.csv` | code, theme, description, "
        "valence; area, meeting_date, agency, attended, senior; segment_id |",
        "| outcomes/ | several long files + `measures.csv` | area, period, measure, value, numerator, denominator, "
        "source; measure, description, unit, higher_is_better |",
        "| reference/ | `covariates.csv` | area, period, variable, value, source |",
        "",
        "Rates are percentages: `value = 100 x numerator / denominator`. Periods are calendar years (`2014`),",
        "financial years (`2014/15`, `2014-15`) and quarters (`2014 Q3`). London's partnership appears per force",
        "(Metropolitan Police and City of London) in the per-force files and must be combined by the clean stage.",
        "",
        "## What was planted",
        "",
        f"Seed {truth['seed']}; ICC(1) target {truth['icc1_target']}; "
        f"mean respondents per area {truth['attenuation']['mean_respondents']:.1f}; expected correlation of an "
        f"area's mean score with its latent trait {truth['attenuation']['expected_corr_mean_trait']:.2f}.",
        f"Design: effect scale {truth['design']['effect_scale']}, informative non-response "
        f"{'on' if truth['design']['informative_nonresponse'] else 'off'}, unmeasured confounder "
        f"{'on' if truth['design']['unmeasured_confounder'] else 'off'}, traits inter-correlated "
        f"{truth['design']['trait_correlation']} through a common factor that also drives the covariates.",
        "",
        "| feature | measure | effect per SD of the latent trait | unit | from year | strength | latent partial r |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in effects:
        lines.append(f"| {e['feature']} | {e['measure']} | {e['effect_per_sd']:+.4g} | {e['unit']} | "
                     f"{e['from_year']} | {e['strength']} | {e['target_latent_partial_r']:.2f} |")
    if not effects:
        lines.append("| (none: full null) | | | | | | |")
    lines += [
        "",
        f"All other {len(truth['null_pairs'])} feature x measure pairs have a structural effect of exactly zero "
        "(traits are correlated, so a one-feature model sees small implied slopes: `implied_slopes` in the truth).",
        "",
        "| measure | unit | higher is better | description |",
        "|---|---|---|---|",
    ]
    for m, s in measures.items():
        lines.append(f"| {m} | {s['unit']} | {'yes' if s['higher_is_better'] else 'no'} | {s['description']} |")
    lines += [
        "",
        "## Replacing the synthetic data with real data",
        "",
        "1. Delete the synthetic CSV files of a folder and drop in real files of the same shapes (any file names;",
        "   several files per folder are fine; another questionnaire needs its own `codebook.csv`, other outcomes",
        "   their rows in `measures.csv`).",
        "2. Delete that folder's `SYNTHETIC.md` marker: while it exists, reports say the data are synthetic.",
        "3. For covariates, replace `reference/covariates.csv` (its `source` column says `synthetic: ...` now).",
        "4. Unusual area spellings go in `reference/area_aliases.csv` (alias, pfa_code or lcjp_id).",
        "",
        "## The real reference table",
        "",
        "`reference/police_force_areas.csv` is real public data: the 43 police force areas of England and Wales",
        "with their ONS codes, region, country and 2011 Census population (Office for National Statistics,",
        "Open Government Licence v3.0), and the local criminal justice partnership each belongs to",
        "(42 partnerships: London = Metropolitan Police + City of London). The other tables in `reference/`",
        "(name aliases, label synonyms, map tile grid) are the project's own lookups, not generated data;",
        "`reference/covariates.csv` is the only synthetic file there.",
        "",
    ]
    return "\n".join(lines)


def write(data: SimulatedData, out_dir: str | Path, truth_path: str | Path | None = None) -> list[Path]:
    """Write every generated file under ``out_dir`` (and the truth as sorted JSON). Returns the paths written."""
    from .io import write_json

    out_dir = Path(out_dir)
    written = []
    for rel_path, content in data.files.items():
        target = out_dir / rel_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.append(target)
    if truth_path is not None:
        write_json(data.truth, Path(truth_path), digits=None)
        written.append(Path(truth_path))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.simulate", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="default: params.yaml simulate.seed")
    parser.add_argument("--out", default=str(paths.RAW), help="raw folder to write into (default data/raw)")
    parser.add_argument("--truth", default=str(paths.SYNTHETIC_TRUTH / "truth.json"))
    args = parser.parse_args(argv)
    from .config import section

    params = section("simulate")
    seed = args.seed if args.seed is not None else int(params["seed"])
    known = {f.name for f in dataclasses.fields(SimulationDesign)}
    overrides = {k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items() if k in known}
    data = generate(seed, SimulationDesign(**overrides))
    written = write(data, args.out, args.truth)
    print(f"wrote {len(written)} files (seed {seed}) to {args.out} and {args.truth}")
    print(json.dumps({"planted_effects": data.truth["planted_effects"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
