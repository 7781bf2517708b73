"""axe-core (WCAG 2.x A/AA rules) in headless Chromium at 1280 px: no serious or critical violation on the built
index, findings and three area profiles. Skips, saying why, when the pages or the browser tools are absent; the
publishing render test runs the same check on pages built from fixture data."""
from __future__ import annotations

import pytest

from pipeline import paths
from pipeline.publish import checks

pytestmark = pytest.mark.xdist_group("browser")


def _built_pages():
    areas = sorted((paths.REPORTS / "areas").glob("*.html")) if (paths.REPORTS / "areas").is_dir() else []
    pages = [paths.REPORTS / "index.html", paths.REPORTS / "findings.html"]
    if not all(p.is_file() for p in pages) or len(areas) < 3:
        return []
    # London (two forces), the first and the last profile by name
    london = [p for p in areas if p.stem == "london"]
    return pages + (london or areas[:1]) + [areas[0], areas[-1]]


@pytest.mark.skipif(bool(checks.axe_unavailable_reason()), reason=checks.axe_unavailable_reason() or "axe available")
def test_built_pages_have_no_serious_or_critical_axe_violation():
    pages = _built_pages()
    if not pages:
        pytest.skip("index, findings and area profiles are not built yet: run `make repro` first")
    found = checks.axe_violations(list(dict.fromkeys(pages)))
    serious = found[found["impact"].isin(["serious", "critical"])]
    assert serious.empty, serious.to_string()
