"""End to end (issue 7, item 4): the published official statistics, put where a user puts downloads, go
through the whole pipeline (`dvc repro`) in a copy of the repository, and every report is produced.

Slow (minutes): run with ``.venv/bin/pytest -q -m slow tests/test_official_e2e.py``. Needs the real-data
samples in ../shared/real-data (skipped otherwise) and the `dvc` of the venv.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline import official, paths

REAL = paths.SHARED / "real-data"
OUTCOME_FILES = ["cj-charts/detection-rates-data.csv.gz", "lesscrime.info/violence-prosecutions-data.csv.gz",
                 "courtOutcomes/magoutcomes_2018_converted.csv.gz",
                 "womens-imprisonment-PFA/women_imprisonment_rates_2014-2022_final_table.xlsx"]
COVARIATE_FILES = ["lesscrime.info/crime-pressure-force-2022-data.csv.gz",
                   "lesscrime.info/police-uplift-2022-data.csv.gz", "derived/pfa_population_2001_2020.csv"]
OUTCOME_SOURCES = ["ho_charge_rate", "moj_magistrates_conviction_ratio", "moj_women_custody_rate"]
COVARIATE_SOURCES = ["ons_crime_severity", "ho_officers_per_1000", "ons_population"]


def repo_files(root: Path) -> list[str]:
    """Tracked and untracked-but-not-ignored files (the tree as a user's clone would have it), plus data/raw."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root,
                            check=True, capture_output=True).stdout.decode().split("\0")
    raw = [p.relative_to(root).as_posix() for p in (root / "data" / "raw").rglob("*") if p.is_file()]
    return sorted({f for f in listed + raw if f and (root / f).is_file()})


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.skipif(not REAL.is_dir(), reason=f"real-data samples not found at {REAL}")
def test_dvc_repro_with_official_statistics(tmp_path, request):
    if "slow" not in (request.config.getoption("markexpr") or "") and os.environ.get("INSTEP_SLOW") != "1":
        pytest.skip("slow end-to-end run of dvc repro: select it with -m slow (or INSTEP_SLOW=1)")
    dvc = Path(sys.executable).parent / "dvc"
    if not dvc.exists():
        pytest.skip(f"dvc not installed in the venv ({dvc})")
    repo = tmp_path / "repo"
    for name in repo_files(paths.ROOT):
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(paths.ROOT / name, target)
    for folder, files in (("data/raw/outcomes/official", OUTCOME_FILES),
                          ("data/raw/reference/official", COVARIATE_FILES)):
        (repo / folder).mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(REAL / f, repo / folder / Path(f).name)  # a temp copy, never inside the repo
    params_path = repo / "params.yaml"
    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    params["clean_outcomes"]["official_sources"] = OUTCOME_SOURCES
    params["clean_covariates"]["official_sources"] = COVARIATE_SOURCES
    params_path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")

    env = {**os.environ, "INSTEP_ROOT": str(repo), "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    run = subprocess.run([str(dvc), "repro"], cwd=repo, env=env, capture_output=True, text=True, timeout=3 * 3600)
    assert run.returncode == 0, f"dvc repro failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"

    reports = repo / "reports"
    areas = sorted(params["areas"])
    expected = [reports / "findings.html", reports / "index.html", reports / "clean_outcomes.html",
                reports / "clean_covariates.html"] + [reports / "areas" / f"{a}.html" for a in areas]
    missing = [paths.rel(p) for p in expected if not p.is_file()]
    assert not missing, f"reports not produced: {missing}"

    processed = repo / "data" / "processed"
    outcomes = pd.read_parquet(processed / "outcomes.parquet")
    measures = pd.read_parquet(processed / "measures.parquet")
    covariates = pd.read_parquet(processed / "covariates.parquet")
    published = {a.source for a in official.REGISTRY.values()}
    assert {"charge_summons_rate", "magistrates_conviction_ratio",
            "women_immediate_custody_rate"} <= set(measures["measure"])
    assert set(outcomes["source"]) & published, "no official outcome reached outcomes.parquet"
    assert {"population", "officers_per_1000", "crime_severity_total_recorded_crime"} <= set(covariates["variable"])
    assert outcomes["lcjp_id"].nunique() == 42

    # The findings say which inputs are real and which synthetic, consistently with the clean stage's manifests.
    manifests = {p.stem.removeprefix("inputs_"): json.loads(p.read_text(encoding="utf-8"))
                 for p in processed.glob("inputs_*.json")}
    html = re.sub(r"\s+", " ", (reports / "findings.html").read_text(encoding="utf-8"))
    synthetic = sorted(k for k, m in manifests.items() if m.get("synthetic"))
    if synthetic:
        banner = re.search(r'class="instep-banner"[^>]*>([^<]*)<', html)
        assert banner, "synthetic inputs but no banner in findings.html"
        for kind in manifests:
            assert kind in banner.group(1), f"the banner does not say whether '{kind}' is real or synthetic"
    else:
        assert "instep-banner" not in html
    for kind in ("outcomes", "covariates"):
        read = json.dumps(manifests.get(kind, {}))
        assert "official" in read, f"inputs_{kind}.json does not list the official files it read"
    # A kind can mix synthetic demo files with real official rows: the findings must name the real publications.
    real_sources = sorted(set(outcomes["source"]) & published)
    unnamed = [s for s in real_sources if s not in html]
    assert not unnamed, f"findings.html does not name the real official sources it uses: {unnamed}"
