"""End-to-end: render findings, three area profiles and the index from planted fixture data in a
throwaway copy of the repo, then scan every page (PII, small cells, banner, offline, accessibility)
and open them in headless Chromium."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from pipeline import paths
from pipeline.publish import checks, disclosure
from tests.builders import publish as testing

PROFILE_AREAS = ["kent", "cumbria", "gwent"]  # kent/gwent visited; cumbria holds the planted 2-respondent cell
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.xdist_group("publish_render")


def _make_root(tmp: Path) -> Path:
    root = tmp / "repo"
    (root / "data" / "raw").mkdir(parents=True)
    shutil.copytree(paths.RAW_REFERENCE, root / "data" / "raw" / "reference")
    for name in ("templates", "notebooks"):
        shutil.copytree(paths.ROOT / name, root / name)
    shutil.copy(paths.ROOT / "dvc.yaml", root / "dvc.yaml")
    if paths.ANALYSIS_PLAN.is_file():
        shutil.copy(paths.ANALYSIS_PLAN, root / "analysis_plan.yaml")
    params = yaml.safe_load(paths.PARAMS.read_text(encoding="utf-8"))
    params["publish"]["cartogram_feature"] = testing.FIXTURE_FEATURES[0]  # the feature with the planted small cell
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return root


def _run(args: list[str], root: Path) -> None:
    env = dict(os.environ, INSTEP_ROOT=str(root), MPLBACKEND="Agg", PYTHONHASHSEED="0")
    result = subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def rendered():
    tmp = Path(tempfile.mkdtemp(prefix="instep-publish-"))
    root = _make_root(tmp)
    info = testing.write_fixture(root, plant=True, small_area="cumbria", fieldwork_areas=("kent", "cumbria", "gwent"))
    script = (
        "import sys\n"
        "from pipeline import notebook, config\n"
        "params = config.load_params()\n"
        "notebook.run('notebooks/04_findings.ipynb', 'reports/findings', "
        "notebook.notebook_parameters(['publish', 'estimate'], None, params), stage='findings', title='In Step findings')\n"
        f"for area in {PROFILE_AREAS!r}:\n"
        "    notebook.run('notebooks/05_area_profile.ipynb', f'reports/areas/{area}', "
        "notebook.notebook_parameters(['publish', 'profile'], area, params), stage=f'profile@{area}', "
        "title=f'In Step area profile - {area}')\n"
    )
    _run(["-c", script], root)
    _run(["-m", "pipeline.publish.index"], root)
    yield {"root": root, **info}
    shutil.rmtree(tmp, ignore_errors=True)


def _pages(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8") for p in sorted((root / "reports").rglob("*.html"))}


def test_every_expected_page_was_built(rendered):
    pages = _pages(rendered["root"])
    expected = {"reports/index.html", "reports/findings.html"} | {f"reports/areas/{a}.html" for a in PROFILE_AREAS}
    assert expected <= set(pages)


def test_no_planted_personal_data_anywhere(rendered):
    planted = [testing.PLANTED_EMAIL, testing.PLANTED_PHONE, testing.PLANTED_EXCERPT_PHONE, testing.PLANTED_POSTCODE,
               "Contact me at", "not approved for publication"]
    files = sorted((rendered["root"] / "reports").rglob("*.html")) + sorted((rendered["root"] / "reports").rglob("*.ipynb"))
    assert len(files) >= 9  # 5 pages + 4 executed notebooks
    for path in files:
        text = path.read_text(encoding="utf-8")
        for value in planted:
            assert value not in text, f"{value!r} published in {path.name}"
        if path.suffix == ".html":
            found = disclosure.find_pii(text)
            assert found.empty, f"{path.name}: {found.to_dict('records')}"


def test_approved_quote_published_redacted(rendered):
    page = (rendered["root"] / "reports" / "areas" / "cumbria.html").read_text(encoding="utf-8")
    assert "We share the dashboard monthly" in page
    # the clause that carried the contact details goes whole: no redaction debris ("call [phone removed]")
    assert testing.PLANTED_PHONE not in page
    assert "[redacted]" not in page and "removed]" not in page


def test_small_cell_suppressed_everywhere(rendered):
    pages = _pages(rendered["root"])
    small = f"{testing.PLANTED_SMALL_SCORE:.2f}"
    for name, page in pages.items():
        assert str(testing.PLANTED_SMALL_SCORE) not in page, name
    profile = pages["reports/areas/cumbria.html"]
    feature = testing.FIXTURE_FEATURES[0].replace("_", " ").capitalize()  # shown as words
    row = re.search(r"<tr>\s*<td>" + feature + r"</td>(.*?)</tr>", profile, re.S)
    assert row and "suppressed (n &lt; 3)" in row.group(1) and small not in row.group(1)
    assert f"Not published (fewer than 3 respondents): {feature.lower()}" in profile  # said once, in the notes
    assert "Cumbria: no published value" in pages["reports/index.html"]


def test_banner_on_every_page_from_synthetic_inputs(rendered):
    for name, page in _pages(rendered["root"]).items():
        assert 'class="instep-banner"' in page and "SYNTHETIC DEMONSTRATION DATA" in page, name
        assert "Provenance" in page, name


def test_pages_are_offline_and_accessible(rendered):
    problems = checks.check_reports(rendered["root"] / "reports")
    assert problems.empty, problems.to_string()


def test_checks_catch_external_references():
    page = ('<html><head><title>x</title><script src="https://cdn.example.org/require.js"></script>'
            '<link href="//fonts.example.org/a.css"><style>@import "http://e.org/x.css";</style></head>'
            '<body><h1>a</h1><h3>b</h3><img src="data:image/png;base64,AA"><a href="areas/kent.html">k</a>'
            '<a href="#top">t</a></body></html>')
    refs = checks.external_references(page)
    assert len(refs) == 3
    problems = set(checks.accessibility_problems(page)["problem"])
    assert {"image without alt text", "heading level skipped"} <= problems


def _chromium(args: list[str]) -> subprocess.CompletedProcess:
    profile_dir = tempfile.mkdtemp(prefix="instep-chromium-")
    try:
        return subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile_dir}", "--enable-logging=stderr", "--v=0", *args],
            capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile_dir, ignore_errors=True)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed (/usr/bin/chromium): "
                                                   "apt-get install -y chromium")
def test_chromium_renders_pages_without_failed_requests(rendered, tmp_path):
    reports = rendered["root"] / "reports"
    targets = ["index.html", "findings.html"] + [f"areas/{a}.html" for a in PROFILE_AREAS]
    for target in targets:
        url = (reports / target).as_uri()
        shot = tmp_path / (target.replace("/", "_") + ".png")
        result = _chromium(["--window-size=1200,2000", f"--screenshot={shot}", url])
        assert shot.is_file() and shot.stat().st_size > 10_000, f"{target}: no screenshot\n{result.stderr[-2000:]}"
        failed = re.findall(r"net::ERR_[A-Z_]+", result.stderr)
        assert not failed, f"{target}: failed requests {failed}"
        dom = _chromium(["--dump-dom", url])
        assert "Provenance" in dom.stdout and "SYNTHETIC DEMONSTRATION DATA" in dom.stdout, target


@pytest.mark.skipif(bool(checks.axe_unavailable_reason()), reason=checks.axe_unavailable_reason() or "axe available")
def test_axe_finds_no_serious_or_critical_violation(rendered):
    reports = rendered["root"] / "reports"
    pages = [reports / "index.html", reports / "findings.html"] + [reports / "areas" / f"{a}.html" for a in PROFILE_AREAS]
    found = checks.axe_violations(pages)
    serious = found[found["impact"].isin(["serious", "critical"])]
    assert serious.empty, serious.to_string()
