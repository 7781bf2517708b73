"""The done-when scenario of the quarantine gate, run as a user runs it (`dvc repro clean_responses`) in a copy
of the repo: an export with 5 % of agencies spelt with dots and 5 % with a new
organisation. The dotted ones are accepted; the new ones stop the stage with a message listing them and the
line to add; after adding it the stage passes and set_aside_survey.csv lists nothing but superseded
resubmissions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.builders.repo import copy_repo, dvc

pytestmark = [pytest.mark.slow]


def _read(path):
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "cp1252"
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding), encoding


def _dots(agency: str) -> str:
    return ".".join(agency) + "." if len(agency) <= 5 and agency.isalpha() else agency.upper().replace(" ", ".")


def test_new_organisation_stops_the_stage_until_the_synonym_is_added(tmp_path):
    root = copy_repo(tmp_path / "instep")
    rng = np.random.default_rng(5)
    dotted = new = 0
    for path in sorted((root / "data" / "raw" / "survey").glob("*.csv")):
        frame, encoding = _read(path)
        if "response_id" not in frame.columns:
            continue
        order = rng.permutation(len(frame))
        k = round(0.05 * len(frame))
        frame.loc[frame.index[order[:k]], "agency"] = frame.loc[frame.index[order[:k]], "agency"].map(_dots)
        frame.loc[frame.index[order[k:2 * k]], "agency"] = "Victim Support"
        dotted, new = dotted + k, new + k
        frame.to_csv(path, index=False, encoding=encoding)
    first = dvc(root, "repro", "clean_responses", check=False, env={"HOME": str(tmp_path)})
    assert first.returncode != 0
    message = first.stdout + first.stderr
    assert "too many rows set aside" in message and "unknown agency" in message, message[-3000:]
    assert "data/raw/reference/label_synonyms.csv: agency,Victim Support,<" in message, message[-3000:]
    assert "C.P.S." not in message.split("too many rows set aside")[1][:2000]  # dotted spellings were accepted

    with open(root / "data" / "raw" / "reference" / "label_synonyms.csv", "a", encoding="utf-8") as table:
        table.write("agency,Victim Support,voluntary\n")
    dvc(root, "repro", "clean_responses", env={"HOME": str(tmp_path)})
    set_aside = pd.read_csv(root / "data" / "processed" / "set_aside_survey.csv")
    assert set(set_aside["reason_kind"]) <= {"superseded resubmission"}, set_aside
    clean = pd.read_parquet(root / "data" / "processed" / "survey_clean.parquet")
    assert (clean["agency"] == "voluntary").sum() > 0
    print(f"\n{dotted} dotted spellings accepted; {new} 'Victim Support' rows stopped the stage, then accepted")
