"""reports/index.html: every report with a one-line summary, and a tile cartogram of the areas.

Run as ``python -m pipeline.publish.index`` (the ``index`` stage of dvc.yaml). The page is one
self-contained HTML file: inline CSS and SVG, relative links only, the synthetic-data banner and
the provenance footer.
"""
from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

import pandas as pd

from .. import paths
from ..errors import InputError
from .cartogram import cartogram_svg, load_tile_grid, tile_values
from .disclosure import visible_text
from .profile import area_names, published_features

REPORT_COLUMNS = ["section", "order", "href", "title", "summary"]
# Display order of the stage reports named in docs/ARCHITECTURE.md; anything else follows, by name.
_KNOWN_ORDER = ["findings", "estimate", "features", "clean_survey", "clean_fieldwork", "clean_outcomes",
                "clean_covariates", "validation"]

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px; margin: 1.5em auto;
       padding: 0 1em; color: #1a1a1a; line-height: 1.45; }
.instep-banner { background:#fff3cd; border:2px solid #b58100; color:#3d2b00; padding:0.6em 1em; margin:0.5em 0 1em 0;
                 font-weight:600; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
.layout { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
.instep-footer { border-top:1px solid #ccc; margin-top:2em; padding-top:0.5em; font-size:0.85em; color:#333; }
a { color: #0b4f9c; }
"""


def page_title(page: str) -> str:
    match = re.search(r"(?is)<title>(.*?)</title>", page)
    return html.unescape(match.group(1)).strip() if match else ""


def page_summary(page: str, max_chars: int = 220) -> str:
    """The page's ``instep-summary`` paragraph, else its first paragraph of prose (banner skipped)."""
    match = re.search(r'(?is)<p class="instep-summary">(.*?)</p>', page)
    if match:
        text = " ".join(visible_text(match.group(1)).split()).removeprefix("Summary:").strip()
    else:
        body = re.sub(r'(?is)<div class="instep-banner".*?</div>', " ", page)
        text = ""
        for para in re.findall(r"(?is)<p\b[^>]*>(.*?)</p>", body):
            candidate = " ".join(visible_text(para).split())
            if len(candidate) > 40:
                text = candidate
                break
    return text if len(text) <= max_chars else text[: max_chars - 1].rsplit(" ", 1)[0] + "…"


def discover_reports(reports_dir: Path, names: dict[str, str] | None = None) -> pd.DataFrame:
    """Every HTML report under ``reports_dir`` (not the index): columns REPORT_COLUMNS, sorted.
    Area profiles are titled by the area's name from ``names`` (``lcjp_id`` -> name) when given."""
    names = names or {}
    rows = []
    for path in sorted(reports_dir.glob("*.html")):
        if path.name == "index.html" or path.name.startswith("."):
            continue
        page = path.read_text(encoding="utf-8", errors="replace")
        order = _KNOWN_ORDER.index(path.stem) if path.stem in _KNOWN_ORDER else len(_KNOWN_ORDER)
        rows.append({"section": "reports", "order": order, "href": path.name,
                     "title": page_title(page) or path.stem, "summary": page_summary(page)})
    areas_dir = reports_dir / "areas"
    for path in sorted(areas_dir.glob("*.html")) if areas_dir.is_dir() else []:
        if path.name.startswith("."):
            continue
        page = path.read_text(encoding="utf-8", errors="replace")
        rows.append({"section": "areas", "order": 0, "href": f"areas/{path.name}",
                     "title": names.get(path.stem) or page_title(page) or path.stem,
                     "summary": page_summary(page)})
    out = pd.DataFrame(rows, columns=REPORT_COLUMNS)
    repeated = out["title"].duplicated(keep=False)  # e.g. the four clean_<kind> pages share a title
    out.loc[repeated, "title"] = out.loc[repeated, "title"] + " (" + out.loc[repeated, "href"].str.removesuffix(".html") + ")"
    return out.sort_values(["section", "order", "href"], ascending=[False, True, True], ignore_index=True)


def cartogram_values(area_features: pd.DataFrame, feature: str, k_min: int) -> pd.DataFrame:
    """``lcjp_id, value`` of ``feature`` after disclosure control (suppressed = missing)."""
    available = sorted(area_features["feature"].astype(str).unique())
    if feature not in available:
        raise InputError("params.yaml", f"publish.cartogram_feature '{feature}' is not a feature of area_features.csv",
                         f"set it to one of {available}", column="publish.cartogram_feature")
    published = published_features(area_features, k_min)
    chosen = published[published["feature"].astype(str) == feature]
    return pd.DataFrame({"lcjp_id": chosen["lcjp_id"].astype(str), "value": chosen["score"].astype("Float64")})


def _report_table(reports: pd.DataFrame, section: str, caption: str) -> str:
    rows = reports[reports["section"] == section]
    if rows.empty:
        return f"<p>No {html.escape(section)} report has been built yet.</p>"
    body = "".join(f'<tr><td><a href="{html.escape(r.href, quote=True)}">{html.escape(r.title)}</a></td>'
                   f"<td>{html.escape(r.summary)}</td></tr>" for r in rows.itertuples(index=False))
    return (f'<table><caption>{html.escape(caption)}</caption><thead><tr><th scope="col">Report</th>'
            f'<th scope="col">Summary</th></tr></thead><tbody>{body}</tbody></table>')


def build_index_html(reports: pd.DataFrame, tiles: pd.DataFrame, *, feature: str, k_min: int, banner: str,
                     footer: str, existing_profiles: set[str]) -> str:
    """The whole index page as a string (pure: no file access)."""
    def link(area_id: str) -> str:
        return f"areas/{area_id}.html"
    linked = tiles.copy()
    svg = cartogram_svg(linked, title=f"Tile map of the {len(tiles)} partnership areas coloured by {feature} score",
                        link=lambda a: link(a) if a in existing_profiles else "#areas")
    n_missing = int(tiles["value"].isna().sum())
    explanation = (f"Each square is one partnership area, placed roughly where it lies in England and Wales (a tile "
                   f"map, not to scale). Colour shows the area's <strong>{html.escape(feature)}</strong> score as its "
                   f"members rated it (darker = lower, yellow = higher). Grey areas ({n_missing}) have no published "
                   f"score (fewer than {k_min} respondents, or no data). Select a tile to open the area's profile.")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>In Step: reports</title><style>{CSS}</style></head><body><main>"
        "<h1>In Step: do local criminal justice partnerships make a difference?</h1>"
        f"{banner}"
        "<p>Reports of the In Step pipeline. Start with the findings; each area has its own profile.</p>"
        "<h2>Reports</h2>"
        f"{_report_table(reports, 'reports', 'Stage reports')}"
        "<h2 id=\"areas\">Partnership areas</h2>"
        f"<div class=\"layout\"><div>{svg}</div><div style=\"max-width:28em\"><p>{explanation}</p></div></div>"
        f"{_report_table(reports, 'areas', 'Area profiles')}"
        f"{footer}</main></body></html>\n"
    )


def build_index(out: Path | None = None, *, feature: str, k_min: int) -> Path:
    """Write reports/index.html from what is in reports/ and data/processed."""
    from .. import provenance, report
    from ..areas import load_forces

    forces = load_forces()
    names = area_names(forces)
    grid = load_tile_grid(paths.TILE_GRID_CSV, known_ids=sorted(names))
    features_path = paths.processed("area_features.csv")
    if not features_path.is_file():
        raise InputError(paths.rel(features_path), "the file is missing", "run the features stage (dvc repro features)")
    values = cartogram_values(pd.read_csv(features_path), feature, k_min)
    tiles = tile_values(grid, values, names)
    reports = discover_reports(paths.REPORTS, names)
    existing = {Path(h).stem for h in reports.loc[reports["section"] == "areas", "href"]}
    page = build_index_html(reports, tiles, feature=feature, k_min=k_min, banner=report.banner_html(),
                            footer=provenance.footer_html("index"), existing_profiles=existing)
    out = out or paths.REPORTS / "index.html"
    from ..notebook import _atomic_write
    _atomic_write(out, page)
    return out


def main(argv: list[str] | None = None) -> int:
    from ..config import section

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output file (default reports/index.html)")
    args = parser.parse_args(argv)
    params = section("publish")
    try:
        out = build_index(args.out, feature=str(params["cartogram_feature"]), k_min=int(params["k_min"]))
    except InputError as exc:
        print(f"index: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {paths.rel(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
