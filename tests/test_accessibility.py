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


@pytest.mark.skipif(bool(checks.axe_unavailable_reason()), reason=checks.axe_unavailable_reason() or "axe available")
def test_findings_first_screen_holds_the_main_points_and_no_table():
    findings = paths.REPORTS / "findings.html"
    if not findings.is_file():
        pytest.skip("reports/findings.html is not built yet: run `make repro` first")
    where = checks.first_screen(findings)
    assert 0 < where["main_points_bottom"] <= 900, where
    assert where["first_table_top"] > 900, where


PDFINFO = "/usr/bin/pdfinfo"


@pytest.mark.skipif(not checks.CHROMIUM_BINARY.exists() or not __import__("os").path.exists(PDFINFO),
                    reason="needs chromium and poppler-utils (pdfinfo, pdftotext): apt-get install -y chromium poppler-utils")
def test_findings_print_to_at_most_twelve_a4_pages_with_whole_tables(tmp_path):
    import re
    import subprocess
    findings = paths.REPORTS / "findings.html"
    if not findings.is_file():
        pytest.skip("reports/findings.html is not built yet: run `make repro` first")
    pdf = tmp_path / "findings.pdf"
    subprocess.run([str(checks.CHROMIUM_BINARY), "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={pdf}", findings.as_uri()],
                   capture_output=True, timeout=180)
    info = subprocess.run([PDFINFO, str(pdf)], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert "A4" in info and pages <= 12, info
    # every table is whole: each table's caption and its last row's first cell print on the same page
    page_text = [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), "-layout", str(pdf), "-"],
                                capture_output=True, text=True).stdout for i in range(1, pages + 1)]
    html_page = findings.read_text(encoding="utf-8")
    body = re.sub(r"(?is)<details.*?</details>", " ", html_page)  # collapsed on paper
    for caption, table in re.findall(r"(?is)<table[^>]*><caption>(.*?)</caption>(.*?)</table>", body):
        rows = re.findall(r"(?is)<tr>(.*?)</tr>", table)
        last = re.findall(r"(?is)<t[dh][^>]*>(.*?)</t[dh]>", rows[-1]) if rows else []
        if not last:
            continue
        words = lambda s: " ".join(re.sub(r"<[^>]+>", " ", __import__("html").unescape(s)).split())
        cap, cell = words(caption)[:40], (words(last[0]).split() or [""])[0]  # a cell's first word never wraps
        on_page = [i for i, t in enumerate(page_text) if cap[:30] in " ".join(t.split())]
        assert on_page, f"caption not printed: {cap}"
        assert any(cell in " ".join(page_text[i].split()) for i in on_page), f"table '{cap}' split across pages"
