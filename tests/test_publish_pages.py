"""The findings page reads right whatever the data say: main points for a null bundle and a two-effect bundle made
by pipeline.simulate (the numbers come from that run's own estimates, never from the demo), the registered family
before anything exploratory, and no raw column name in what readers see."""
from __future__ import annotations

import functools
import html as html_lib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline import paths, simulate
from pipeline.publish import bulletin, labels
from tests.builders import publish as testing

pytestmark = pytest.mark.xdist_group("publish_pages")

#: the registered family of these tests: two planted (strong) effects and one null pair
FAMILY = [{"feature": "performance_management", "outcome": "ineffective_trial_rate", "period": "level"},
          {"feature": "engagement", "outcome": "charge_rate", "period": "level"},
          {"feature": "governance", "outcome": "days_offence_to_completion", "period": "level"}]


@functools.lru_cache(maxsize=None)
def bundle_estimates(kind: str) -> pd.DataFrame:
    """estimates.csv rows for a simulated bundle, through the stages' own functions (validation.study)."""
    from pipeline.validation.study import run_whole_path
    design = (simulate.SimulationDesign(effect_scale=0.0) if kind == "null"
              else simulate.SimulationDesign(strong_partial_r=0.85))
    # a fixed seed other than the demo's: a null family can hold a false positive by chance (Holm keeps that below
    # 5%), and this test is about the page reading a null result right, so its bundle is one without
    data = simulate.generate(1, design, with_fieldwork=False)
    return run_whole_path(data.files, estimate_seed=2015, n_permutations=199, level_year=2018, baseline_year=2014,
                          periods=("level",), confirmatory=FAMILY)


def _points(estimates: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    shown, _ = bulletin.normalise(estimates, 0.05)
    rows = bulletin.primary_rows(shown, "ols")
    return bulletin.main_points(rows, alpha=0.05, n_areas_total=42), rows


def _check_points(points: list[str], rows: pd.DataFrame) -> int:
    """The main points say what the rows say: how many registered results hold, their direction and interval, and
    the n the models used."""
    assert 3 <= len(points) <= 6, points
    conf = rows[rows["family"] == "confirmatory"]
    held = conf[conf["verdict_shown"] == "associated"]
    first = points[0]
    if held.empty:
        assert first.startswith(f"None of the {len(conf)} registered associations holds"), first
        assert not any("one standard deviation higher" in p for p in points)
    else:
        number = "One" if len(held) == 1 else str(len(held))
        assert first.startswith(f"{number} of the {len(conf)} registered associations"), first
        for r in held.itertuples(index=False):
            sentence = next(p for p in points if labels.humanise(r.feature).lower() in p
                            and labels.humanise(r.outcome).lower() in p)
            assert ("higher " if r.estimate > 0 else "lower ") + labels.humanise(r.outcome).lower() in sentence
            assert labels.format_interval(r.ci_low, r.ci_high) in sentence
            assert labels.format_number(r.estimate, 2, signed=True) in sentence
            assert f"{int(r.n_areas)} areas" in sentence
    n = pd.to_numeric(rows["n_areas"]).astype(int)
    used = f"{n.min()}" if n.min() == n.max() else f"{n.min()} to {n.max()}"
    assert any(p.startswith(f"Each model used {used} of 42 areas") for p in points), points
    return len(held)


def test_main_points_null_bundle_reports_no_registered_result():
    points, rows = _points(bundle_estimates("null"))
    assert _check_points(points, rows) == 0
    assert "not detected" in " ".join(points)  # never "no association" without an equivalence test


def test_main_points_two_effect_bundle_reports_both_effects():
    points, rows = _points(bundle_estimates("two"))
    assert _check_points(points, rows) == 2, points
    text = " ".join(points)
    # both planted effects point to better outcomes (fewer ineffective trials, more charges)
    assert "lower ineffective trial rate, which is better" in text and "higher charge rate, which is better" in text


def test_main_points_without_a_registered_family():
    est = bundle_estimates("two").copy()
    est["family"] = est["family"].replace({"confirmatory": "exploratory"})
    points, _ = _points(est)
    assert points[0].startswith("No confirmatory family was registered"), points


def test_verdicts_map_old_words_honestly_and_every_word_is_defined():
    est = pd.DataFrame({"model": "ols", "feature": "a", "outcome": "b", "outcome_period": "level",
                        "family": "confirmatory", "estimate": [0.1, 0.2, 0.3], "ci_low": [0.05, 0.01, -0.2],
                        "ci_high": [0.2, 0.5, 0.8], "p_value": [0.001, 0.03, 0.4], "p_adjusted": [0.003, 0.06, 0.4],
                        "mde": 0.4, "n_areas": 41,
                        "verdict": ["associated", "inconclusive", "no association of detectable size"]})
    shown, missing = bulletin.normalise(est, 0.05)
    assert shown["verdict_shown"].tolist() == ["associated", "not detected", "not detected"]
    assert missing and "equivalence test" in missing[0]
    assert "above 0.05 once the other tests" in shown["verdict_reason_shown"].iloc[1]  # interval excludes 0: why
    assert (shown["adjustment_shown"] == "Holm").all()
    defined = bulletin.verdict_definitions_html(False)
    for word in bulletin.VERDICTS:
        assert html_lib.escape(word) in defined


def test_p_values_and_shares_format_for_readers():
    assert labels.format_p(0.0) == "< 0.001" and labels.format_p(0.0004) == "< 0.001"
    assert labels.format_p(0.0123) == "0.012" and labels.format_p(float("nan")) == ""
    assert labels.format_pct(0.25) == "25%" and labels.format_pct(1.0) == "100%"
    assert labels.format_number(-1.234) == "−1.23"


# --- Rendering the findings notebook for both bundles ------------------------------------------------------------

def _render_findings(estimates: pd.DataFrame) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="instep-pages-"))
    try:
        root = tmp / "repo"
        (root / "data" / "raw").mkdir(parents=True)
        shutil.copytree(paths.RAW_REFERENCE, root / "data" / "raw" / "reference")
        for name in ("templates", "notebooks"):
            shutil.copytree(paths.ROOT / name, root / name)
        shutil.copy(paths.ROOT / "dvc.yaml", root / "dvc.yaml")
        shutil.copy(paths.PARAMS, root / "params.yaml")
        shutil.copy(paths.ANALYSIS_PLAN, root / "analysis_plan.yaml")
        testing.write_fixture(root, plant=True)
        estimates.to_csv(root / "data" / "processed" / "estimates.csv", index=False)
        script = ("from pipeline import notebook, config\nparams = config.load_params()\n"
                  "notebook.run('notebooks/04_findings.ipynb', 'reports/findings', "
                  "notebook.notebook_parameters(['publish', 'estimate'], None, params), stage='findings', "
                  "title='In Step findings')\n")
        env = dict(os.environ, INSTEP_ROOT=str(root), MPLBACKEND="Agg", PYTHONHASHSEED="0")
        result = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        return (root / "reports" / "findings.html").read_text(encoding="utf-8")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _main_points_html(page: str) -> list[str]:
    box = re.search(r'(?s)<h2 id="main-points">Main points</h2><ul>(.*?)</ul>', page)
    assert box, "no Main points box"
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", li)) for li in re.findall(r"(?s)<li>(.*?)</li>", box.group(1))]


@pytest.mark.parametrize("kind", ["null", "two"])
def test_findings_page_renders_each_bundle_right(kind):
    estimates = bundle_estimates(kind)
    page = _render_findings(estimates)
    points = _main_points_html(page)
    _, rows = _points(estimates)
    assert points == bulletin.main_points(rows, alpha=0.05, n_areas_total=42)
    _check_points(points, rows)
    # reader order: main points, then the registered family, before anything exploratory
    order = [page.index(f'id="{a}"') for a in ("main-points", "registered", "undercut", "exploratory", "provenance")]
    assert order == sorted(order)
    assert page.index("<table") > page.index('id="registered"')  # no table before the results
    assert not raw_names(page), raw_names(page)


# --- No raw names in what readers see ---------------------------------------------------------------------------

def raw_names(page: str) -> list[str]:
    """snake_case names in table headers, captions, headings, figure alt text and SVG labels of ``page``."""
    found = []
    body = re.sub(r"(?is)<(style|script)\b.*?</\1>", " ", page)
    body = re.sub(r'(?is)<div class="instep-footer".*', " ", body)  # provenance names files and stages on purpose
    for tag in ("th", "caption", "h1", "h2", "h3", "text", "title"):
        for inner in re.findall(rf"(?is)<{tag}\b[^>]*>(.*?)</{tag}>", body):
            text = html_lib.unescape(re.sub(r"<[^>]+>", " ", inner))
            if labels.is_snake_case(text):
                found.append(f"<{tag}> {text.strip()[:80]}")
    for alt in re.findall(r'(?is)<img\b[^>]*\balt="([^"]*)"', body):
        if labels.is_snake_case(html_lib.unescape(alt)):
            found.append(f"alt: {alt[:80]}")
    return found


PAGES = sorted(paths.REPORTS.rglob("*.html")) if paths.REPORTS.is_dir() else []


@pytest.mark.skipif(not PAGES, reason="no HTML in reports/ yet: run `make repro` first")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: paths.rel(p))
def test_no_raw_names_on_built_pages(page):
    found = raw_names(page.read_text(encoding="utf-8"))
    assert not found, found


@pytest.mark.skipif(not PAGES, reason="no HTML in reports/ yet: run `make repro` first")
def test_page_weights():
    findings = paths.REPORTS / "findings.html"
    profiles = sorted((paths.REPORTS / "areas").glob("*.html"))
    assert findings.is_file() and findings.stat().st_size <= 600_000, findings.stat().st_size
    heavy = {p.name: p.stat().st_size for p in profiles if p.stat().st_size > 250_000}
    assert not heavy, heavy


@pytest.mark.skipif(not PAGES, reason="no HTML in reports/ yet: run `make repro` first")
def test_titles_are_unique():
    titles = {}
    for page in PAGES:
        m = re.search(r"(?is)<title>(.*?)</title>", page.read_text(encoding="utf-8"))
        titles.setdefault(m.group(1).strip() if m else "", []).append(paths.rel(page))
    repeated = {t: p for t, p in titles.items() if len(p) > 1}
    assert not repeated, repeated
