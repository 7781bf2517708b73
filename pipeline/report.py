"""Helpers every report notebook uses: the synthetic-data banner, figures with alt text, the footer."""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from . import paths

# --- Display labels (what readers see instead of column and model names; pipeline.publish.labels re-exports) ---
# Kept here, not in pipeline.publish, because every stage's tables go through table_html below: the stages that
# only depend on report.py must not need the publishing package.
import math
import re



#: column name -> header readers see. Add here, never rename columns in the data.
COLUMN_LABELS: dict[str, str] = {
    "lcjp_id": "Area", "area": "Area", "lcjp_name": "Area", "feature": "Feature", "outcome": "Outcome",
    "outcome_period": "Outcome period", "model": "Model", "family": "Family", "label": "Feature → outcome",
    "estimate": "Estimate", "ci_low": "95% interval, low", "ci_high": "95% interval, high",
    "interval": "95% interval", "ci90": "90% interval", "p_value": "p", "p_adjusted": "Adjusted p",
    "p_text": "p (adjusted, method)", "adjustment": "Adjustment", "mde": "Smallest detectable effect",
    "mde_r": "Smallest detectable partial correlation", "mde_unadjusted": "Smallest detectable effect (unadjusted)",
    "sesoi": "Smallest effect of interest", "verdict": "Verdict", "verdict_reason": "Why",
    "q_bh": "q-value (Benjamini-Hochberg)",
    "n_areas": "Areas in model", "n": "Rows", "n_items": "Items", "n_respondents": "Respondents",
    "n_invited": "Invited", "response_rate": "Response", "n_agencies": "Agencies",
    "n_agencies_responding": "Agencies responding", "core_coverage": "Core agencies covered",
    "core_agencies_missing": "Core agencies missing", "agency": "Agency", "is_core": "Core agency",
    "alpha": "Cronbach's alpha", "alpha_ci_low": "Alpha, low", "alpha_ci_high": "Alpha, high",
    "omega": "McDonald's omega", "icc1": "ICC(1)", "icc2": "ICC(2)", "rwg_j": "Agreement rwg(J)",
    "rwg_j_median": "Median agreement rwg(J)", "share_rwg_ok": "Areas agreeing (rwg(J) ≥ 0.70)",
    "decision": "Measurement decision", "reason": "Reason", "score": "Score", "national_median": "National median",
    "rank": "Rank", "rank_interval": "Rank (95% interval)", "tier": "Against the national median",
    "n_ranked": "Areas ranked", "direction": "Higher score means", "unit": "Unit", "value": "Value",
    "period_label": "Period", "latest_period": "Latest period", "peer_median": "Median of similar areas",
    "higher_is_better": "Higher is better", "peer": "Similar area", "distance": "Distance (SD)",
    "chosen_by": "Chosen by", "theme": "Theme", "code": "Code", "quote": "Quote", "n_segments": "Coded segments",
    "n_positive": "Positive", "n_neutral": "Neutral", "n_negative": "Negative", "net_valence": "Net valence",
    "share_of_area_segments": "Share of the area's segments", "percentile": "Survey percentile",
    "mean_percentile": "Mean survey percentile", "measure": "Measure", "coders": "Coders",
    "interpretation": "Interpretation", "robustness_value": "Robustness value", "e_value": "E-value",
    "placebo": "Pre-survey placebo", "influential_area": "Most influential area",
    "without_area": "Estimate without it", "respondents_there": "Respondents there",
    "missing_there": "Core agencies missing there", "loo_sign_changes": "Sign changes when one area is dropped",
    "n_specifications": "Specifications", "median_estimate": "Median estimate", "min_estimate": "Smallest",
    "max_estimate": "Largest", "share_positive": "Share positive", "share_significant": "Share with p < 0.05",
    "kind": "Input", "synthetic": "Synthetic", "files_read": "Files read", "rows_read": "Rows read",
    "files_ignored": "Files ignored", "topic": "Topic", "note": "Note", "p_method": "p-value method",
    "ci_method": "Interval method", "estimand": "Estimand", "estimand_label": "Scale",
    "what": "What", "detail": "Detail", "count": "Count", "page": "Page", "finding": "What it found",
    "stage": "Stage", "respondents": "Respondents", "agencies": "Agencies", "code3": "Code", "name": "Area",
    "median_abs_estimate": "Median |estimate|", "n_adjusted_below_05": "Adjusted p < 0.05",
    "median_ci_width": "Median interval width", "reliability": "Reliability", "measurement_gate": "Measurement gate",
}

#: model names that have a plain description (others are humanised).
MODEL_LABELS: dict[str, str] = {
    "ols": "Covariate-adjusted regression",
    "ols_region_fe": "Regression with region fixed effects",
    "ols_crv3_region": "Regression, region-clustered errors (CR3)",
    "panel_placebo_pre": "Panel: pre-survey placebo",
    "panel_twfe_post": "Panel: after the survey (two-way fixed effects)",
    "response_rate_check": "Adjusted for response rate",
}

ADJUSTMENT_LABELS = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg", "bh": "Benjamini-Hochberg",
                     "bonferroni": "Bonferroni", "by": "Benjamini-Yekutieli", "fdr_by": "Benjamini-Yekutieli"}

#: resampling and test methods (``estimate.primary_method`` and the p-value columns' names)
METHOD_LABELS = {"freedman_lane": "Freedman–Lane permutation", "wild_webb": "wild bootstrap (Webb weights)",
                 "hc3_t": "HC3 t-test"}

#: numeric columns shown as percentages when their values are shares in [0, 1].
SHARE_COLUMNS = {"response_rate", "share_rwg_ok", "share_positive", "share_significant", "core_coverage",
                 "share_of_area_segments", "share_rwg_skewed_ok"}

_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def humanise(name: object) -> str:
    """``performance_management`` -> ``Performance management`` (first letter up, underscores to spaces)."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else text


def column_label(name: object) -> str:
    return COLUMN_LABELS.get(str(name), humanise(name))


def model_label(name: object) -> str:
    return MODEL_LABELS.get(str(name), humanise(name))


def adjustment_label(name: object) -> str:
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return "unadjusted"
    return ADJUSTMENT_LABELS.get(str(name).lower(), humanise(name))


def method_label(name: object) -> str:
    """``freedman_lane`` -> ``Freedman–Lane permutation``; unknown names humanised."""
    return METHOD_LABELS.get(str(name), humanise(name))


def inference_label(name: object) -> str:
    """An inference as the validation study records it: ``freedman_lane B=1999`` -> ``Freedman–Lane permutation,
    B = 1,999``; ``hc3_t`` -> ``HC3 t-test``."""
    method, _, draws = str(name).partition(" B=")
    return method_label(method) + (f", B = {int(draws):,}" if draws.isdigit() else "")


def is_snake_case(text: str) -> bool:
    """True if ``text`` contains a raw ``word_word`` name (what no reader should see)."""
    return bool(_SNAKE.search(str(text)))


_HEADER_CELL = re.compile(r"(<th\b[^>]*>)(\s*)([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*)(\s*</th>)")


def relabel_headers(markup: str) -> str:
    """Header cells of an HTML table that hold a raw name (``word_word``, or a one-word column name with a label
    such as ``mde``) get its display label."""
    def label(m):
        name = m[3]
        if not (is_snake_case(name) or "_" in name or name in COLUMN_LABELS):
            return m[0]
        return m[1] + m[2] + html.escape(column_label(name)) + m[4]
    return _HEADER_CELL.sub(label, markup)


def install_display_labels() -> bool:
    """In a notebook kernel: DataFrames and Stylers displayed bare show labels, not column names, in their headers
    (notebooks that call ``table`` get labels anyway). Every notebook calls it once after its imports (an explicit
    call, not an effect of importing this module). Returns whether a kernel was there to install into."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    import pandas as pd
    from pandas.io.formats.style import Styler

    formatter = shell.display_formatter.formatters["text/html"]
    formatter.for_type(pd.DataFrame, lambda df: relabel_headers(names_as_words(df)._repr_html_() or ""))
    formatter.for_type(Styler, lambda styler: relabel_headers(_names_as_words_styled(styler)._repr_html_()))
    return True


def display_columns(df):
    """``df`` with its headers as labels."""
    return df.rename(columns={c: column_label(c) for c in df.columns})


def format_p(p: object) -> str:
    """p-values as readers expect: ``< 0.001``, else three decimals; blank when missing."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        return ""
    if math.isnan(value):
        return ""
    if value < 0.001:
        return "< 0.001"
    if value > 0.999:
        return "> 0.999"
    return f"{value:.3f}"


def format_pct(share: object, digits: int = 0) -> str:
    """A share in [0, 1] as a percentage (``0.25`` -> ``25%``); blank when missing."""
    try:
        value = float(share)
    except (TypeError, ValueError):
        return ""
    if math.isnan(value):
        return ""
    return f"{100 * value:.{digits}f}%"


def format_number(value: object, digits: int = 2, *, signed: bool = False) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return ""
    if math.isnan(v):
        return ""
    text = f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    return text.replace("-", "−")  # a true minus sign reads better and does not break across lines


def format_interval(low: object, high: object, digits: int = 2) -> str:
    lo, hi = format_number(low, digits), format_number(high, digits)
    return f"{lo} to {hi}" if lo and hi else ""


def unit_words(unit: object) -> str:
    """A measures.csv unit as words after a number: percent -> percentage points."""
    u = "" if unit is None or (isinstance(unit, float) and math.isnan(unit)) else str(unit)
    return {"percent": "percentage points", "days": "days", "ratio": "", "proportion": "(proportion)",
            "score": "points"}.get(u, humanise(u).lower())


def feature_direction(codebook):
    """Per feature: which way a higher score points. Columns ``feature, reverse_coded, direction``.

    A feature whose items are *all* reverse-worded in the codebook (e.g. items about barriers) is scored so that a
    higher score means fewer of what the items name; the direction sentence says so.
    """
    import pandas as pd
    rows = []
    if codebook is None or codebook.empty or "feature" not in codebook.columns:
        return pd.DataFrame(columns=["feature", "reverse_coded", "direction"])
    reverse = codebook.get("reverse", pd.Series(False, index=codebook.index))
    reverse = reverse.astype(str).str.lower().isin(["true", "1", "yes"])
    for feature, flags in reverse.groupby(codebook["feature"].astype(str), sort=True):
        words = humanise(feature).lower()
        if flags.all():
            direction = (f"fewer {words} (reverse-coded: every item names a problem, so answers are flipped "
                         "and a higher score is better)")
        elif flags.any():
            direction = (f"stronger {words} ({int(flags.sum())} of {len(flags)} items reverse-worded and "
                         "flipped before scoring)")
        else:
            direction = f"stronger {words} as members rate it"
        rows.append({"feature": feature, "reverse_coded": bool(flags.all()), "direction": direction})
    return pd.DataFrame(rows, columns=["feature", "reverse_coded", "direction"])


def input_manifests(kinds: list[str] | None = None) -> dict[str, dict]:
    """The clean stage's record of what it read, per kind (``inputs_<kind>.json``); only ``kinds`` if given
    (a stage reads only the manifests it declares: the features never read the outcomes')."""
    out = {}
    found = sorted(paths.PROCESSED.glob("inputs_*.json")) if kinds is None else \
        [paths.processed(f"inputs_{kind}.json") for kind in kinds if paths.processed(f"inputs_{kind}.json").is_file()]
    for path in found:
        out[path.stem.removeprefix("inputs_")] = json.loads(path.read_text(encoding="utf-8"))
    return out


def synthetic_kinds(kinds: list[str] | None = None) -> dict[str, bool]:
    """Which input kinds (survey, fieldwork, outcomes, covariates; or only ``kinds``) are synthetic demonstration
    data."""
    return {kind: bool(man.get("synthetic")) for kind, man in input_manifests(kinds).items()}


def input_sources(manifests: dict[str, dict] | None = None) -> tuple[list[str], list[str]]:
    """(synthetic, real) descriptions of every input source, from the clean stage's manifests.

    Outcomes and covariates carry a per-source list (official statistics beside demo CSVs); survey and fieldwork
    are judged per kind (their folder's SYNTHETIC.md marker).
    """
    manifests = input_manifests() if manifests is None else manifests
    synthetic: set[str] = set()
    real: set[str] = set()
    for kind, manifest in manifests.items():
        sources = manifest.get("sources")
        if sources:
            for source in sources:
                (synthetic if source.get("synthetic") else real).add(f"{kind}: {source['name']}")
        elif manifest.get("files") or manifest.get("synthetic"):
            (synthetic if manifest.get("synthetic") else real).add(f"{kind}: {paths.rel(paths.RAW / kind)}")
    return sorted(synthetic), sorted(real)


def _by_kind(entries: list[str]) -> str:
    """'covariates: a', 'covariates: b', 'survey: data/raw/survey' -> 'covariates (a; b); survey'."""
    grouped: dict[str, list[str]] = {}
    for entry in entries:
        kind, _, name = entry.partition(": ")
        name = name.removeprefix("synthetic: ")
        names = grouped.setdefault(kind, [])
        if name and name != paths.rel(paths.RAW / kind) and name not in names:
            names.append(name)
    return "; ".join(f"{kind} ({'; '.join(names)})" if names else kind for kind, names in grouped.items())


def banner_html(kinds: dict[str, bool] | None = None) -> str:
    """The synthetic-data banner, naming which inputs are synthetic and which real ('' when all are real).

    ``kinds`` (kind -> synthetic) overrides the manifests, for pages that know their own inputs.
    """
    if kinds is not None:
        synthetic = sorted(k for k, v in kinds.items() if v)
        real = sorted(k for k, v in kinds.items() if not v)
    else:
        synthetic, real = input_sources()
    if not synthetic:
        return ""
    text = ("SYNTHETIC DEMONSTRATION DATA: no figure on this page describes a real partnership. Synthetic inputs "
            "(generated by pipeline.simulate with planted effects): " + _by_kind(synthetic) + ".")
    if real:
        text += " Real inputs: " + _by_kind(real) + "."
    return f'<div class="instep-banner" role="alert">{html.escape(text)}</div>'


def banner(kinds: dict[str, bool] | None = None):
    """Display the synthetic-data banner (nothing when every input is real)."""
    from IPython.display import HTML, display
    display(HTML(banner_html(kinds)))


def figure_html(fig, alt: str, dpi: int = 110, *, tight: bool = True) -> str:
    """A matplotlib figure as an embedded PNG ``<img>`` with alt text (offline, accessible).

    ``tight=False`` skips the extra layout pass of ``bbox_inches="tight"`` for figures that set their
    own margins (faster: the area profiles use it).
    """
    import matplotlib.pyplot as plt
    if not alt or not str(alt).strip():
        raise ValueError("figures need alt text describing what they show")
    png = None if tight else _palette_png_of_canvas(fig, dpi)
    if png is None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if tight else None, metadata={"Software": None},
                    pil_kwargs={"compress_level": 1})  # decoded again at once by _palette_png: no need to squeeze
        png = _palette_png(buffer.getvalue())
    plt.close(fig)
    data = base64.b64encode(png).decode("ascii")
    alt = _SNAKE.sub(lambda m: humanise(m[0]).lower(), str(alt))  # readers hear words, not column names
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}">'


#: zlib level of the embedded PNGs: 6 (zlib's and matplotlib's default) writes a chart 7x faster than 9 for about
#: 5 % more bytes (measured on an area profile's outcome trends, 1320 x 957 px: 0.012 s and 93.6 KB against
#: 0.085 s and 88.6 KB)
PNG_COMPRESS_LEVEL = 6


def _palette_png_of_canvas(fig, dpi: int, colours: int = 96) -> bytes | None:
    """The figure drawn at ``dpi`` and encoded once, as a palette PNG: the pixels ``savefig`` would write (same
    canvas, same facecolor), without its full-colour PNG being encoded and decoded first. None without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return None
    fig.set_dpi(dpi)
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (width, height), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    return _quantised_png(image, colours)


def _quantised_png(image, colours: int) -> bytes:
    from PIL import Image
    small = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def _palette_png(png: bytes, colours: int = 96) -> bytes:
    """The PNG with an adaptive palette (charts use few colours): about a quarter of the bytes, same look.
    Deterministic (median-cut, no dithering); the original is kept if Pillow is missing or it would grow."""
    try:
        from PIL import Image
    except ImportError:
        return png
    with Image.open(io.BytesIO(png)) as image:
        small = _quantised_png(image, colours)
    return small if len(small) < len(png) else png


def show_figure(fig, alt: str, *, tight: bool = True) -> None:
    """Display a figure with alt text; use instead of plt.show() in report notebooks."""
    from IPython.display import HTML, display
    display(HTML(figure_html(fig, alt, tight=tight)))


def footer(stage: str, inputs: list[str | Path] | None = None) -> None:
    """Display the provenance footer for ``stage`` (see pipeline.provenance)."""
    from IPython.display import HTML, display
    from . import provenance
    display(HTML(provenance.footer_html(stage, inputs=inputs)))


# --- Tables, headings and summaries (publishing; see pipeline.publish) --------------------------------------

_NUMBER = None


def _numeric_column(values) -> bool:
    """True when most non-empty cells read as numbers (so the column is right-aligned)."""
    import re
    global _NUMBER
    if _NUMBER is None:
        _NUMBER = re.compile(r"^[<>≥≤~]?\s*[−+-]?\d[\d,]*(\.\d+)?\s*(%|pp)?(\s*(to|–)\s*[−+-]?\d[\d,]*(\.\d+)?%?)?$"
                             r"|^\[?[−+-]?\d+(\.\d+)?,\s*[−+-]?\d+(\.\d+)?\]?$")
    cells = [str(v).strip() for v in values if str(v).strip() not in ("", "nan", "<NA>", "None")]
    if not cells:
        return False
    return sum(bool(_NUMBER.match(c)) for c in cells) >= 0.8 * len(cells)


#: columns whose values are names from the data (codebooks, measures.csv, models): shown as words.
NAME_COLUMNS = ("feature", "outcome", "measure", "theme", "code", "outcome_period", "family", "agency", "kind")
# the same columns after a notebook renamed them to their labels (values are still names)
_NAME_COLUMN_LABELS = frozenset(column_label(name) for name in NAME_COLUMNS)


def names_as_words(df):
    """``df`` with the values of its name columns (``model`` and :data:`NAME_COLUMNS`, by name or by label) as
    words: ``performance_management`` -> ``Performance management``; other columns untouched."""
    import pandas as pd

    def word(value, label=humanise):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return value
        text = str(value)
        return label(text) if label is model_label or is_snake_case(text) or text.islower() else text

    out = df.copy()
    for position, name in enumerate(df.columns):
        label = model_label if str(name) == "model" else (
            humanise if str(name) in NAME_COLUMNS or str(name) in _NAME_COLUMN_LABELS else None)
        if label is not None:  # as object: a categorical or string column may not hold the new spellings
            out.isetitem(position, pd.Series([word(v, label) for v in df.iloc[:, position]], index=df.index,
                                             dtype=object))
    return out


def _names_as_words_styled(styler):
    """A copy of ``styler`` whose name columns display as words (see :func:`names_as_words`)."""
    import copy
    columns = [c for c in styler.data.columns if str(c) == "model" or str(c) in NAME_COLUMNS
               or str(c) in _NAME_COLUMN_LABELS]
    if not columns:
        return styler
    words = names_as_words(styler.data[columns])
    shown = copy.deepcopy(styler)
    for column in columns:
        mapping = dict(zip(styler.data[column], words[column]))
        shown = shown.format(lambda v, mapping=mapping: "" if v is None else str(mapping.get(v, v)), subset=[column])
    return shown


def _cell_text(value) -> str:
    """A cell as readers see it: blank for missing, yes/no for a true/false flag, else the value's text."""
    import numpy as np
    import pandas as pd
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def table_html(df, caption: str | None = None, *, max_rows: int | None = None, sortable: bool = False,
               note: str | None = None) -> str:
    """A DataFrame as an accessible HTML table: caption, ``<th scope="col">`` headers as display labels
    (pipeline.publish.labels), name values as words, numbers right-aligned and text left-aligned, values escaped.

    ``max_rows`` shows the first rows only and says how many are left out; ``sortable`` lets readers sort by a
    column (the page's one small script); ``note`` is a line under the table.
    """
    frame = df if max_rows is None else df.head(max_rows)
    frame = frame.reset_index(drop=True)
    frame = names_as_words(frame)
    shown = {name: [_cell_text(v) for v in frame[name]] for name in frame.columns}
    numeric = {name: _numeric_column(values) for name, values in shown.items()}
    classes = "instep-table" + (" sortable" if sortable else "")
    parts = [f'<div class="instep-table-wrap"><table class="{classes}">']
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append("<thead><tr>")
    for name in frame.columns:
        cls = ' class="num"' if numeric[name] else ""
        label = html.escape(column_label(name))
        if sortable:
            label = f'<button type="button" class="sort">{label}</button>'
        parts.append(f'<th scope="col"{cls}>{label}</th>')
    parts.append("</tr></thead><tbody>")
    for i in range(len(frame)):
        parts.append("<tr>")
        for name in frame.columns:
            cls = ' class="num"' if numeric[name] else ""
            # cells on their own lines: text scanners (pipeline.publish.disclosure.find_pii) see cell boundaries
            parts.append(f"\n    <td{cls}>{html.escape(shown[name][i])}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    if note:
        parts.append(f'<p class="instep-note">{html.escape(note)}</p>')
    if max_rows is not None and len(df) > max_rows:
        parts.append(f"<p class=\"instep-note\">First {max_rows} of {len(df)} rows shown; the full table is "
                     "downloadable from this page or in the executed notebook.</p>")
    parts.append("</div>")
    return "".join(parts)


def csv_download_html(df, filename: str, text: str) -> str:
    """A link that downloads ``df`` as CSV from the page itself (a ``data:`` URI: works offline)."""
    data = base64.b64encode(df.to_csv(index=False, lineterminator="\n").encode("utf-8")).decode("ascii")
    return (f'<a class="instep-download" download="{html.escape(filename, quote=True)}" '
            f'href="data:text/csv;charset=utf-8;base64,{data}">{html.escape(text)}</a>')


def html_block(markup: str) -> None:
    """Display markup built by pipeline.publish (already escaped there)."""
    from IPython.display import HTML, display
    display(HTML(markup))


def table(df, caption: str | None = None, *, max_rows: int | None = None, sortable: bool = False,
          note: str | None = None) -> None:
    """Display a DataFrame as an HTML table with a caption (use instead of bare DataFrame output)."""
    from IPython.display import HTML, display
    display(HTML(table_html(df, caption, max_rows=max_rows, sortable=sortable, note=note)))


def heading(text: str, level: int = 2) -> None:
    """Display a heading computed at run time (e.g. an area's name)."""
    from IPython.display import HTML, display
    display(HTML(f"<h{level}>{html.escape(text)}</h{level}>"))


def paragraph(text: str) -> None:
    """Display a paragraph of computed text (escaped)."""
    from IPython.display import HTML, display
    display(HTML(f"<p>{html.escape(text)}</p>"))


def summary(text: str) -> None:
    """Display the page's one-line summary; the index page quotes it beside the link."""
    from IPython.display import HTML, display
    display(HTML(f'<p class="instep-summary"><strong>Summary:</strong> {html.escape(text)}</p>'))
