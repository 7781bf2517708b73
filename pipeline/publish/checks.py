"""Checks every published page must pass: offline (no external reference) and accessibility basics.

Used by the tests over every HTML file in reports/ and by anyone who wants to check a page by hand::

    python -m pipeline.publish.checks reports
"""
from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

_URL_ATTRIBUTES = {"src", "href", "srcset", "data", "poster", "action", "formaction", "xlink:href"}
_LOCAL = re.compile(r"^(?:#|data:|mailto:|javascript:void|\.{0,2}/?[\w\-./%@]+(?:#[\w\-]*)?$)", re.IGNORECASE)


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.references: list[tuple[str, str, str]] = []
        self.images: list[dict[str, str | None]] = []
        self.headings: list[int] = []
        self.title = ""
        self._in_title = False
        self.tables = 0
        self.table_headers = 0
        self.css_urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.lower() in _URL_ATTRIBUTES and value is not None:
                self.references.append((tag, name, value.strip()))
        if tag == "img":
            self.images.append(attributes)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "title":
            self._in_title = True
        if tag == "table":
            self.tables += 1
        if tag == "th":
            self.table_headers += 1
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._in_style:
            self.css_urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)
            self.css_urls += re.findall(r"@import\s+['\"]([^'\"]+)", data)


def _collect(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


def is_local_reference(value: str) -> bool:
    """True for references a browser resolves without the network (relative paths, #anchors, data:)."""
    value = value.strip()
    if not value:
        return True
    if re.match(r"^[a-z][a-z0-9+.\-]*:", value, re.IGNORECASE) and not value.lower().startswith(("data:", "mailto:")):
        return False
    if value.startswith("//"):
        return False
    return bool(_LOCAL.match(value)) or not re.match(r"^[a-z][a-z0-9+.\-]*:", value, re.IGNORECASE)


def external_references(page: str) -> pd.DataFrame:
    """Every reference in ``page`` that would need the network: columns ``tag, attribute, value``."""
    collector = _collect(page)
    rows = [(t, a, v) for t, a, v in collector.references if not is_local_reference(v)]
    rows += [("style", "url", v) for v in collector.css_urls if not is_local_reference(v)]
    return pd.DataFrame(rows, columns=["tag", "attribute", "value"])


def accessibility_problems(page: str) -> pd.DataFrame:
    """Basic accessibility problems: no title, images without alt text, no h1, headings that skip a level,
    tables without header cells. Columns ``problem, detail``."""
    collector = _collect(page)
    problems = []
    if not collector.title.strip():
        problems.append(("no page title", ""))
    for image in collector.images:
        if not (image.get("alt") or "").strip():
            problems.append(("image without alt text", (image.get("src") or "")[:40]))
    if not collector.headings or collector.headings[0] != 1:
        problems.append(("first heading is not h1", str(collector.headings[:1])))
    for before, after in zip(collector.headings, collector.headings[1:]):
        if after > before + 1:
            problems.append(("heading level skipped", f"h{before} -> h{after}"))
    if collector.tables and collector.table_headers == 0:
        problems.append(("tables without header cells", str(collector.tables)))
    return pd.DataFrame(problems, columns=["problem", "detail"])


def check_reports(folder: Path) -> pd.DataFrame:
    """Offline and accessibility problems of every HTML file under ``folder``: ``file, check, detail``."""
    rows = []
    for path in sorted(Path(folder).rglob("*.html")):
        page = path.read_text(encoding="utf-8", errors="replace")
        for ref in external_references(page).itertuples(index=False):
            rows.append((str(path), "external reference", f"<{ref.tag} {ref.attribute}={ref.value[:80]}>"))
        for prob in accessibility_problems(page).itertuples(index=False):
            rows.append((str(path), prob.problem, prob.detail))
    return pd.DataFrame(rows, columns=["file", "check", "detail"])


if __name__ == "__main__":
    problems = check_reports(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("reports"))
    print(problems.to_string(index=False) if len(problems) else "no problems found")
    sys.exit(1 if len(problems) else 0)


# --- axe-core in headless Chromium (WCAG 2.x A/AA) ----------------------------------------------------------

AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
CHROMIUM_BINARY = Path("/usr/bin/chromium")
CHROMEDRIVER_BINARY = Path("/usr/bin/chromedriver")


def axe_unavailable_reason() -> str:
    """'' when axe can run here, else why not (the test skips with this reason)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium; see requirements.in)"
    if _axe_script_path() is None:
        return "axe-core is not installed (pip install selenium-axe-python, which ships axe.min.js)"
    if not CHROMIUM_BINARY.exists():
        return f"headless Chromium not installed ({CHROMIUM_BINARY}): apt-get install -y chromium"
    if not CHROMEDRIVER_BINARY.exists():
        return f"chromedriver not installed ({CHROMEDRIVER_BINARY}): apt-get install -y chromium-driver"
    return ""


def _axe_script_path() -> Path | None:
    import importlib.util
    spec = importlib.util.find_spec("selenium_axe_python")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "axe-core" / "axe.min.js"
    return path if path.is_file() else None


def axe_violations(pages: list[Path], *, width: int = 1280) -> pd.DataFrame:
    """axe-core's WCAG 2.x A/AA violations of each page, opened from disk in headless Chromium at ``width`` px.
    Columns ``page, rule, impact, nodes, example``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    script = _axe_script_path().read_text(encoding="utf-8")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},1000"):
        options.add_argument(argument)
    options.binary_location = str(CHROMIUM_BINARY)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER_BINARY)), options=options)
    driver.set_script_timeout(240)
    rows = []
    try:
        for page in pages:
            driver.get(Path(page).resolve().as_uri())
            driver.execute_script(script)
            result = driver.execute_script(
                "return axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']});",
                list(AXE_TAGS))
            for v in result["violations"]:
                example = v["nodes"][0] if v["nodes"] else {}
                rows.append((str(page), v["id"], v.get("impact") or "", len(v["nodes"]),
                             f"{example.get('target')}: {(example.get('failureSummary') or '')[:200]}"))
    finally:
        driver.quit()
    return pd.DataFrame(rows, columns=["page", "rule", "impact", "nodes", "example"])


def first_screen(page: Path, *, width: int = 1280, height: int = 900) -> dict[str, float]:
    """Where the main points end and the first table starts on ``page`` at ``width`` px (CSS px from the top)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.binary_location = str(CHROMIUM_BINARY)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER_BINARY)), options=options)
    try:
        driver.get(Path(page).resolve().as_uri())
        return driver.execute_script(
            "var box = document.querySelector('section.instep-box');"
            "var table = document.querySelector('table');"
            "return {main_points_bottom: box ? box.getBoundingClientRect().bottom + window.scrollY : -1,"
            "        first_table_top: table ? table.getBoundingClientRect().top + window.scrollY : 1e9,"
            "        viewport_width: window.innerWidth};")
    finally:
        driver.quit()
