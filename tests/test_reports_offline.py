"""Every HTML file in the working tree's reports/ is offline-safe, accessible, carries the banner when
built from synthetic inputs, and shows no personal data. Skips when nothing has been built yet."""
from __future__ import annotations

import pytest

from pipeline import paths, report
from pipeline.publish import checks, disclosure

PAGES = sorted(paths.REPORTS.rglob("*.html")) if paths.REPORTS.is_dir() else []
needs_pages = pytest.mark.skipif(not PAGES, reason="no HTML in reports/ yet: run `make repro` (or dvc repro) first")


@needs_pages
@pytest.mark.parametrize("page", PAGES, ids=lambda p: paths.rel(p))
def test_no_external_reference(page):
    refs = checks.external_references(page.read_text(encoding="utf-8", errors="replace"))
    assert refs.empty, f"{paths.rel(page)} needs the network: {refs.to_dict('records')}"


@needs_pages
@pytest.mark.parametrize("page", PAGES, ids=lambda p: paths.rel(p))
def test_accessibility_basics(page):
    problems = checks.accessibility_problems(page.read_text(encoding="utf-8", errors="replace"))
    assert problems.empty, f"{paths.rel(page)}: {problems.to_dict('records')}"


@needs_pages
@pytest.mark.parametrize("page", PAGES, ids=lambda p: paths.rel(p))
def test_no_personal_data(page):
    found = disclosure.find_pii(page.read_text(encoding="utf-8", errors="replace"))
    assert found.empty, f"{paths.rel(page)}: {found.to_dict('records')}"


@needs_pages
@pytest.mark.parametrize("page", PAGES, ids=lambda p: paths.rel(p))
def test_banner_when_inputs_synthetic(page):
    if not any(report.synthetic_kinds().values()):
        pytest.skip("every input is real: no banner required")
    assert 'class="instep-banner"' in page.read_text(encoding="utf-8", errors="replace"), paths.rel(page)
