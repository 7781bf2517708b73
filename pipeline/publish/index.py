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

# written by `make validate`, outside dvc repro: the index must not read it (it is no declared dependency)
STUDY_PAGE = "validation.html"
STUDY_TITLE = "Does the In Step method work? The simulation study of the whole pipeline"


def study_row(sentence: str | None) -> dict | None:
    """The index row of the simulation study, from its committed results' sentence (:func:`stage_findings`);
    the same whether or not this clone has run ``make validate`` yet, so the index is a function of its deps."""
    if not sentence:
        return None
    return {"section": "reports", "order": _KNOWN_ORDER.index("validation"), "href": STUDY_PAGE,
            "title": STUDY_TITLE, "summary": sentence + " The page is written by make validate."}


def stylesheet() -> str:
    """The reports' one stylesheet (templates/instep/static/instep.css), so the index looks like every page."""
    return (paths.TEMPLATES / "instep" / "static" / "instep.css").read_text(encoding="utf-8")


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
        if path.name in ("index.html", STUDY_PAGE) or path.name.startswith("."):
            continue  # the study's page is listed from its committed results (study_row), not read here
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
    return (f'<div class="instep-table-wrap"><table class="instep-table"><caption>{html.escape(caption)}</caption>'
            f'<thead><tr><th scope="col">Report</th><th scope="col">What it found</th></tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _area_table(tiles: pd.DataFrame, codes: dict[str, str], respondents: dict[str, int], existing: set[str]) -> str:
    """The key to the tile codes, which is also the list of area profiles."""
    body = []
    for t in tiles.sort_values("name").itertuples(index=False):
        name = html.escape(str(t.name))
        cell = f'<a href="areas/{html.escape(t.lcjp_id, quote=True)}.html">{name}</a>' if t.lcjp_id in existing else name
        value = "" if pd.isna(t.value) else f"{t.value:.2f}"
        n = respondents.get(t.lcjp_id)
        body.append(f"<tr><td>{html.escape(codes[str(t.name)])}</td><td>{cell}</td>"
                    f'<td class="num">{"" if n is None else n}</td><td class="num">{value}</td></tr>')
    return ('<div class="instep-table-wrap"><table class="instep-table"><caption>Area profiles and the key to the '
            'tile codes</caption><thead><tr><th scope="col">Code</th><th scope="col">Area</th>'
            '<th scope="col" class="num">Respondents</th><th scope="col" class="num">Score shown on the map</th></tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table></div>')


def stage_findings(processed: Path, reports_dir: Path, study_summary: Path | None = None) -> dict[str, str]:
    """One sentence per stage report saying what it found, from the processed data the page is built from (not
    from the page's HTML). Stages whose data is missing get no sentence. ``study_summary``: the simulation
    study's committed results (default ``validation/results/summary.csv``, a declared dependency of the stage)."""
    from . import bulletin
    from .labels import humanise
    out: dict[str, str] = {}
    for path in sorted(processed.glob("reconciliation_*.csv")):
        kind = path.stem.removeprefix("reconciliation_")
        rec = pd.read_csv(path)
        read, kept = int(rec["rows_read"].sum()), int(rec["accepted"].sum())
        quarantined = int(rec["quarantined"].sum())
        text = (f"Read {read:,} rows from {len(rec)} {humanise(kind).lower()} file(s); {kept:,} kept, {quarantined:,} "
                "set aside with a reason" + (" (listed on the page)." if quarantined else "."))
        aside = processed / f"set_aside_{kind}.csv"
        if aside.is_file():
            table = pd.read_csv(aside)
            if len(table):
                top = table.sort_values("rows", ascending=False).iloc[0]
                text += f" Most common reason: {top['reason_kind']} ({int(top['rows'])} rows)."
        out[f"clean_{kind}"] = text
    quality = processed / "feature_quality.csv"
    if quality.is_file():
        q = pd.read_csv(quality)
        decisions = q["decision"].astype(str).value_counts()
        out["features"] = (f"{len(q)} partnership features scored for every area; measurement decisions: "
                           + ", ".join(f"{n} {d}" for d, n in decisions.items()) + ".")
    est_path = processed / "estimates.csv"
    if est_path.is_file():
        est = pd.read_csv(est_path)
        fam = est["family"].astype(str)
        tested = est[fam.isin(["confirmatory", "exploratory"])]
        primary = bulletin.on_primary_estimand(tested)  # one row per pair
        estimand = bulletin.primary_estimand(tested)
        scale = ""
        if estimand is not None and tested["estimand"].nunique() > 1:
            scale = " per SD of the latent partnership trait" if estimand == "latent" else f" ({estimand} scale)"
        below = int((pd.to_numeric(primary["p_adjusted"], errors="coerce") < 0.05).sum())
        out["estimate"] = (f"{len(est)} estimates from {est['model'].nunique()} models; of {len(primary)} primary "
                           f"associations{scale}, {below} {'has' if below == 1 else 'have'} an adjusted p below 0.05.")
        conf = primary[primary["family"].astype(str) == "confirmatory"]
        if len(conf):
            held = conf[conf["verdict"].astype(str) == "associated"]
            pairs = "; ".join(f"{humanise(r.feature)} → {humanise(r.outcome).lower()}" for r in held.itertuples())
            verb = "holds" if len(held) == 1 else "hold"
            out["findings"] = (f"{len(held)} of {len(conf)} registered associations {verb} after adjustment"
                               + (f": {pairs}." if pairs else "."))
        else:
            out["findings"] = "No registered family; every association is exploratory."
    from ..study import SUMMARY_CSV
    study_summary = Path(study_summary or SUMMARY_CSV)
    if study_summary.is_file():
        from ..validation import summary
        counts = summary.judged_counts(summary.target_overview(pd.read_csv(study_summary)))
        out["validation"] = (f"Simulation study of the whole pipeline: {counts['met']} of {counts['checks']} judged "
                             f"checks met, {counts['missed']} missed"
                             + (f", {counts['not_assessed']} not assessed." if counts["not_assessed"] else "."))
    return out


def build_index_html(reports: pd.DataFrame, tiles: pd.DataFrame, *, feature: str, k_min: int, banner: str,
                     footer: str, existing_profiles: set[str], respondents: dict[str, int] | None = None) -> str:
    """The whole index page as a string (pure: no file access)."""
    from .cartogram import abbreviations
    from .labels import humanise

    def link(area_id: str) -> str:
        return f"areas/{area_id}.html"
    codes = abbreviations(tiles["name"].astype(str).tolist())
    words = humanise(feature)
    svg = cartogram_svg(tiles, title=f"Tile map of the {len(tiles)} partnership areas coloured by {words.lower()} score",
                        link=lambda a: link(a) if a in existing_profiles else "#areas",
                        legend_title=f"{words} score (area average, 1-5 scale)")
    n_missing = int(tiles["value"].isna().sum())
    explanation = (f"Each square is one partnership area, placed roughly where it lies in England and Wales (a tile "
                   f"map, not to scale), labelled with a three-letter code (the key is the table below; hover over a "
                   f"tile for the full name and score). Colour shows the area's <strong>{html.escape(words.lower())}"
                   f"</strong> score as its members rated it: dark blue lowest, yellow highest, on the scale under the "
                   f"map. Grey areas ({n_missing}) have no published score (fewer than {k_min} respondents, or no data). "
                   "Scores come with wide intervals: see each area's profile before comparing two areas.")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>In Step: reports</title><style>{stylesheet()}</style></head><body><main>"
        "<h1>In Step: do local criminal justice partnerships make a difference?</h1>"
        f"{banner}"
        "<p class=\"instep-lede\">Start with the <a href=\"findings.html\">findings</a>; each area has its own "
        "profile, listed under the map.</p>"
        "<h2>Reports</h2>"
        f"{_report_table(reports, 'reports', 'Stage reports, with what each found')}"
        "<h2 id=\"areas\">Partnership areas</h2>"
        f"<div class=\"instep-map\"><div>{svg}</div><div style=\"max-width:26em\"><p>{explanation}</p></div></div>"
        f"{_area_table(tiles, codes, respondents or {}, existing_profiles)}"
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
    found = stage_findings(paths.PROCESSED, paths.REPORTS)
    stems = reports["href"].str.removesuffix(".html")
    reports["summary"] = [found.get(stem, "") if section == "reports" else summary
                          for stem, section, summary in zip(stems, reports["section"], reports["summary"])]
    study = study_row(found.get("validation"))
    if study:
        reports = (pd.concat([reports, pd.DataFrame([study], columns=REPORT_COLUMNS)], ignore_index=True)
                   .sort_values(["section", "order", "href"], ascending=[False, True, True], ignore_index=True))
    existing = {Path(h).stem for h in reports.loc[reports["section"] == "areas", "href"]}
    rates_path = paths.processed("response_rates.csv")
    respondents = {}
    if rates_path.is_file():
        rates = pd.read_csv(rates_path)
        respondents = {str(a): int(n) for a, n in zip(rates["lcjp_id"], rates["n_respondents"]) if pd.notna(n)}
    page = build_index_html(reports, tiles, feature=feature, k_min=k_min, banner=report.banner_html(),
                            footer=provenance.footer_html("index"), existing_profiles=existing,
                            respondents=respondents)
    out = out or paths.REPORTS / "index.html"
    from ..io import write_text
    write_text(page, out)
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
