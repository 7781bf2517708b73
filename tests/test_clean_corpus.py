"""Every bad input in tests/bad_inputs gives its expected error or quarantine reason, and no row is lost."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.areas import AreaMatcher
from pipeline.clean import clean_covariates, clean_fieldwork, clean_outcomes, clean_survey
from tests.builders import clean_examples as examples
from pipeline.clean.quarantine import apply_gate
from pipeline.errors import InputError

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.yaml").is_file())
BASE = {"survey": examples.survey_files, "fieldwork": examples.fieldwork_files,
        "outcomes": examples.outcome_files, "covariates": examples.covariate_files}
CLEAN = {"survey": clean_survey, "fieldwork": clean_fieldwork, "outcomes": clean_outcomes,
         "covariates": clean_covariates}


@pytest.fixture(scope="module")
def matcher():
    return AreaMatcher.from_reference()


def test_corpus_has_at_least_25_distinct_cases():
    assert len(CASES) >= 25
    kinds = {yaml.safe_load((CORPUS / c / "expected.yaml").read_text())["kind"] for c in CASES}
    assert kinds == set(BASE)


def build_case(case: str, tmp_path: Path) -> tuple[dict, Path]:
    spec = yaml.safe_load((CORPUS / case / "expected.yaml").read_text(encoding="utf-8"))
    folder = tmp_path / spec["kind"]
    if spec.get("folder_missing"):
        return spec, folder
    examples.write(folder, BASE[spec["kind"]]())
    for name in spec.get("remove") or []:
        (folder / name).unlink()
    for path in sorted((CORPUS / case).iterdir()):
        if path.suffix == ".csv":
            shutil.copyfile(path, folder / path.name)
    return spec, folder


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_expected_outcome(case, tmp_path, matcher):
    spec, folder = build_case(case, tmp_path)
    assert spec.get("error") or spec.get("quarantine") or spec.get("accepted") or spec.get("withheld"), \
        f"{case}: expected.yaml must name an error, a quarantine, accepted values or withheld quotes"
    clean = CLEAN[spec["kind"]]
    options = spec.get("options") or {}
    if spec.get("error"):
        with pytest.raises(InputError) as info:
            result = clean(folder, matcher, **options)
            if "gate" in spec:  # the quarantine gate: clean_<kind>.max_quarantine_share
                apply_gate(result, spec["kind"], spec["gate"])
        message = str(info.value)
        assert spec["error"] in message, message
        for text in spec.get("error_also") or []:
            assert text in message, message
        for text in spec.get("error_not") or []:
            assert text not in message, message
        assert info.value.file, "the error must name a file or folder"
        assert "How to fix" in message
        return
    result = clean(folder, matcher, **options)
    if "gate" in spec:
        set_aside = apply_gate(result, spec["kind"], spec["gate"])
        if spec.get("set_aside"):
            want = spec["set_aside"]
            rows = set_aside[set_aside["reason_kind"] == want["reason_kind"]]
            assert int(rows["rows"].sum()) == want["rows"], set_aside
            assert rows["fix"].str.contains(want["fix"], regex=False).all(), rows["fix"].tolist()
    if spec.get("accepted"):
        want = spec["accepted"]
        table = getattr(result, want.get("table", "clean"))
        assert table[want["column"]].astype(str).tolist() == want["values"], table[want["column"]].tolist()
        if want.get("quarantine_empty"):
            assert result.quarantine.empty, result.quarantine[["column", "reason"]]
    if spec.get("withheld"):
        want = spec["withheld"]
        held = result.quotes_withheld
        assert len(held) == want["rows"], held
        if "reason" in want:
            assert held["reason"].str.contains(want["reason"], regex=False).all(), held
        published = " ".join(result.quotes["quote"].astype(str))
        for text in want.get("absent") or []:
            assert text not in published, (text, published)
        for text in want.get("present") or []:
            assert text in published, (text, published)
        assert len(result.quotes) + len(held) == 2  # both approved segments accounted for
    if not spec.get("quarantine"):
        return
    expected = spec["quarantine"]
    quarantine = result.quarantine
    hits = quarantine[quarantine["reason"].str.contains(expected["reason"], regex=False)]
    assert len(hits), f"no quarantine reason contains {expected['reason']!r}; got {quarantine['reason'].tolist()}"
    if "column" in expected:
        assert (hits["column"].str.split("; ").map(lambda cols: expected["column"] in cols)).all(), hits["column"]
    if "file" in expected:
        assert hits["source_file"].str.endswith("/" + expected["file"]).all()
    if "rows" in expected:
        assert len(hits) == expected["rows"], hits[["source_file", "row_number", "reason"]]
    rec = result.reconciliation
    assert (rec["accepted"] + rec["quarantined"] == rec["rows_read"]).all()
    assert rec["quarantined"].sum() == len(quarantine)
    # Files really read: rows_read equals the data rows of each CSV in the folder.
    for row in rec.itertuples():
        if not row.source_file.startswith("official:"):
            assert row.rows_read == len(Path(row.source_file).read_text(encoding="utf-8").strip().splitlines()) - 1


def test_valid_examples_have_no_quarantine(tmp_path, matcher):
    for kind, files in BASE.items():
        result = CLEAN[kind](examples.write(tmp_path / kind, files()), matcher)
        assert result.quarantine.empty, (kind, result.quarantine)
        assert (result.reconciliation["quarantined"] == 0).all()
