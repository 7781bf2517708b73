"""Tile cartogram of the partnership areas: one square per area, placed by ``tile_grid.csv``.

The grid (``lcjp_id,row,col``; row 0 at the top) is authored data in ``data/raw/reference``; no
external geodata is needed. The cartogram is inline SVG: it works offline, every tile links to the
area's profile, and each tile carries a ``<title>`` (tooltip and screen-reader text).
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..errors import InputError

# Colour stops of a colour-blind-safe sequential scale (viridis at 0, .25, .5, .75, 1).
_STOPS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
MISSING_FILL = "#d9d9d9"


def load_tile_grid(path: Path, known_ids: list[str] | None = None) -> pd.DataFrame:
    """The tile grid (``lcjp_id, row, col``), checked: integer positions, no two areas on one tile,
    and, when ``known_ids`` is given, exactly those areas."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "tile grid file is missing", "add a CSV with columns lcjp_id,row,col (one row per area)")
    grid = pd.read_csv(path, dtype={"lcjp_id": "string"}, encoding="utf-8-sig")
    missing = [c for c in ("lcjp_id", "row", "col") if c not in grid.columns]
    if missing:
        raise InputError(path, f"columns {missing} are missing (found {list(grid.columns)})",
                         "use the header lcjp_id,row,col", row=1)
    for column in ("row", "col"):
        values = pd.to_numeric(grid[column], errors="coerce")
        bad = values.isna() | (values < 0) | (values % 1 != 0)
        if bad.any():
            first = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(path, f"'{grid[column].iloc[first]}' is not a non-negative whole number",
                             "give tile positions as 0, 1, 2, ...", row=first + 2, column=column)
        grid[column] = values.astype(int)
    grid["lcjp_id"] = grid["lcjp_id"].str.strip()
    duplicated_id = grid["lcjp_id"].duplicated(keep="first")
    if duplicated_id.any():
        first = int(duplicated_id.to_numpy().nonzero()[0][0])
        raise InputError(path, f"area '{grid['lcjp_id'].iloc[first]}' appears twice",
                         "keep one row per area", row=first + 2, column="lcjp_id")
    clash = grid.duplicated(["row", "col"], keep="first")
    if clash.any():
        first = int(clash.to_numpy().nonzero()[0][0])
        r, c = grid["row"].iloc[first], grid["col"].iloc[first]
        other = grid.loc[(grid["row"] == r) & (grid["col"] == c), "lcjp_id"].iloc[0]
        raise InputError(path, f"area '{grid['lcjp_id'].iloc[first]}' is on the same tile ({r}, {c}) as '{other}'",
                         "move one of them to an empty tile", row=first + 2, column="row")
    if known_ids is not None:
        known = set(known_ids)
        unknown = sorted(set(grid["lcjp_id"]) - known)
        absent = sorted(known - set(grid["lcjp_id"]))
        if unknown:
            first = int(grid["lcjp_id"].isin(unknown).to_numpy().nonzero()[0][0])
            raise InputError(path, f"unknown area id(s) {unknown}",
                             f"use the lcjp_id values of police_force_areas.csv (e.g. {sorted(known)[:3]})",
                             row=first + 2, column="lcjp_id")
        if absent:
            raise InputError(path, f"area(s) {absent} have no tile", "add a row lcjp_id,row,col for each")
    return grid.sort_values(["row", "col"], ignore_index=True)


def colour_for(fraction: float) -> str:
    """Hex colour of a value scaled to [0, 1] on the sequential scale."""
    if fraction is None or not math.isfinite(fraction):
        return MISSING_FILL
    fraction = min(1.0, max(0.0, fraction))
    position = fraction * (len(_STOPS) - 1)
    low = min(int(position), len(_STOPS) - 2)
    t = position - low
    rgb = [round(a + (b - a) * t) for a, b in zip(_STOPS[low], _STOPS[low + 1])]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _text_colour(fill: str) -> str:
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#000000" if (0.299 * r + 0.587 * g + 0.114 * b) > 140 else "#ffffff"


def tile_values(grid: pd.DataFrame, values: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
    """Grid joined to the values to draw: columns ``lcjp_id, row, col, name, value, fill, label``.

    ``values`` has ``lcjp_id, value`` (missing value = suppressed or no data: drawn grey).
    """
    names = names or {}
    merged = grid.merge(values[["lcjp_id", "value"]], on="lcjp_id", how="left")
    merged["value"] = pd.to_numeric(merged["value"], errors="coerce").astype(float)
    finite = merged["value"].dropna()
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    span = (high - low) or 1.0
    merged["fill"] = [colour_for((v - low) / span) if pd.notna(v) else MISSING_FILL for v in merged["value"]]
    merged["name"] = [names.get(i, i) for i in merged["lcjp_id"]]
    merged["label"] = [f"{n}: {v:.2f}" if pd.notna(v) else f"{n}: no published value"
                       for n, v in zip(merged["name"], merged["value"])]
    return merged[["lcjp_id", "row", "col", "name", "value", "fill", "label"]]


def _words(name: str) -> list[str]:
    return [w for w in name.replace("-", " ").split() if w.lower() not in {"and", "of", "the", "&"}] or [name]


def _code_candidates(name: str) -> list[str]:
    """Three-letter codes for a name, best first: 1 word -> its first three letters (KEN); 2 words -> the first
    letter of the first and two of the last (WMI, WME); 3+ words -> initials (GMP-style); then every other
    choice of the first letter and two later letters, in order."""
    import itertools
    words = _words(name)
    letters = "".join(words).upper()
    first = letters[:1]
    if len(words) == 1:
        primary = letters[:3]
    elif len(words) == 2:
        primary = words[0][:1].upper() + words[1][:2].upper()
    else:
        primary = "".join(w[0] for w in words[:3]).upper()
    rest = ["".join((first,) + combo) for combo in itertools.combinations(letters[1:], 2)]
    out = [primary] + [c for c in rest if c != primary]
    return list(dict.fromkeys(c for c in out if len(c) == 3)) or [letters[:3].ljust(3, "X")]


def abbreviations(names: list[str]) -> dict[str, str]:
    """Unique three-letter tile codes, the same rule for every area (see _code_candidates); names whose best codes
    collide both move on to their next choice, so no area keeps a code another wanted."""
    candidates = {n: _code_candidates(n) for n in sorted(set(names))}
    position = {n: 0 for n in candidates}
    out: dict[str, str] = {}
    for _ in range(200):
        pending = [n for n in candidates if n not in out]
        if not pending:
            break
        wanted = {n: candidates[n][min(position[n], len(candidates[n]) - 1)] for n in pending}
        counts = pd.Series(list(wanted.values())).value_counts()
        taken = set(out.values())
        for n in pending:
            code = wanted[n]
            if counts[code] == 1 and code not in taken:
                out[n] = code
            else:
                position[n] += 1
    for n in candidates:
        out.setdefault(n, n[:3].upper())
    return out


def cartogram_svg(tiles: pd.DataFrame, *, title: str, link: Callable[[str], str] | None = None,
                  tile_size: int = 56, gap: int = 4, legend_title: str = "") -> str:
    """Inline SVG of the tiles from :func:`tile_values`, each linking to ``link(lcjp_id)``, with a legend."""
    n_rows = int(tiles["row"].max()) + 1
    n_cols = int(tiles["col"].max()) + 1
    step = tile_size + gap
    legend_height = 66 if legend_title else 46
    width = n_cols * step + gap
    height = n_rows * step + gap + legend_height
    labels = abbreviations(tiles["name"].astype(str).tolist())
    parts = [f'<svg role="group" aria-labelledby="cartogram-title" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" class="instep-cartogram">',
             f'<title id="cartogram-title">{html.escape(title)}</title>']
    for tile in tiles.itertuples(index=False):
        x, y = gap + tile.col * step, gap + tile.row * step
        text_fill = _text_colour(tile.fill)
        body = (f'<rect x="{x}" y="{y}" width="{tile_size}" height="{tile_size}" rx="4" fill="{tile.fill}" '
                f'stroke="#333" stroke-width="1"><title>{html.escape(tile.label)}</title></rect>'
                f'<text x="{x + tile_size / 2}" y="{y + tile_size / 2 + 5}" text-anchor="middle" font-size="13" '
                f'font-family="sans-serif" fill="{text_fill}" aria-hidden="true">{html.escape(labels[tile.name])}'
                f'</text>')
        if link is not None:
            body = f'<a href="{html.escape(link(tile.lcjp_id), quote=True)}" aria-label="{html.escape(tile.label, quote=True)}">{body}</a>'
        parts.append(body)
    finite = tiles["value"].dropna()
    if len(finite):
        y0 = n_rows * step + gap + 8
        if legend_title:
            parts.append(f'<text x="{gap}" y="{y0 + 10}" font-size="12" font-weight="bold" font-family="sans-serif">'
                         f'{html.escape(legend_title)}</text>')
            y0 += 18
        bar_width = min(width - 2 * gap, 240)
        for i in range(20):
            parts.append(f'<rect x="{gap + i * bar_width / 20:.1f}" y="{y0}" width="{bar_width / 20 + 0.5:.1f}" height="12" '
                         f'fill="{colour_for(i / 19)}"/>')
        parts.append(f'<text x="{gap}" y="{y0 + 28}" font-size="12" font-family="sans-serif">{finite.min():.2f} (lowest)</text>')
        parts.append(f'<text x="{gap + bar_width / 2}" y="{y0 + 28}" font-size="12" font-family="sans-serif" '
                     f'text-anchor="middle">{(finite.min() + finite.max()) / 2:.2f}</text>')
        parts.append(f'<text x="{gap + bar_width}" y="{y0 + 28}" font-size="12" font-family="sans-serif" '
                     f'text-anchor="end">{finite.max():.2f} (highest)</text>')
        parts.append(f'<rect x="{gap + bar_width + 16}" y="{y0}" width="12" height="12" fill="{MISSING_FILL}" stroke="#333"/>'
                     f'<text x="{gap + bar_width + 32}" y="{y0 + 11}" font-size="12" font-family="sans-serif">'
                     f'no published value</text>')
    parts.append("</svg>")
    return "".join(parts)
