"""Most similar areas ("peers") from covariates, by standardised Euclidean distance.

Each covariate is taken at the latest year every area has (or the latest year per area when
years differ), log-transformed when strictly positive and strongly right-skewed (population,
for instance, where London would otherwise dominate), and standardised to mean 0, SD 1 across
areas; the distance between two areas is the Euclidean distance over those z-scores divided
by sqrt(number of covariates), so it reads as a root-mean-square difference in SDs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

PEER_COLUMNS = ["lcjp_id", "peer_id", "rank", "distance", "chosen_by"]


def covariate_matrix(covariates: pd.DataFrame, *, skew_threshold: float = 1.0) -> pd.DataFrame:
    """Areas x covariates (one row per ``lcjp_id``), z-scored, ready for distances.

    ``covariates`` is the long ``covariates.parquet`` (``lcjp_id, year, variable, value``).
    Variables missing for some area are dropped (they cannot be compared); so are constants.
    """
    needed = {"lcjp_id", "variable", "value"}
    if not needed <= set(covariates.columns):
        raise KeyError(f"covariates need columns {sorted(needed)}; found {list(covariates.columns)}")
    data = covariates.dropna(subset=["value"]).copy()
    data["value"] = pd.to_numeric(data["value"], errors="coerce").astype(float)
    sort_keys = ["variable", "lcjp_id"] + (["year"] if "year" in data.columns else [])
    data = data.sort_values(sort_keys, kind="mergesort")
    latest = data.groupby(["variable", "lcjp_id"], sort=True)["value"].last()
    wide = latest.unstack("variable").sort_index()
    wide = wide.dropna(axis=1, how="any")
    columns = {}
    for name in sorted(wide.columns):
        col = wide[name].astype(float)
        if (col > 0).all() and col.skew() > skew_threshold:
            col = np.log(col)
        sd = col.std(ddof=1)
        if not np.isfinite(sd) or sd == 0:
            continue
        columns[name] = (col - col.mean()) / sd
    return pd.DataFrame(columns, index=wide.index)


def peer_distances(matrix: pd.DataFrame, area_id: str) -> pd.DataFrame:
    """Distance of every other area to ``area_id``: columns ``lcjp_id, peer_id, distance`` (sorted)."""
    if area_id not in matrix.index:
        raise KeyError(f"area '{area_id}' has no covariates; areas with covariates: {list(matrix.index)[:5]}...")
    if matrix.shape[1] == 0:
        raise ValueError("no covariate is available for every area, so similarity cannot be measured")
    diff = matrix.sub(matrix.loc[area_id], axis=1)
    distance = np.sqrt((diff ** 2).sum(axis=1) / matrix.shape[1])
    out = pd.DataFrame({"lcjp_id": area_id, "peer_id": distance.index.astype(str), "distance": distance.to_numpy()})
    out = out[out["peer_id"] != area_id]
    return out.sort_values(["distance", "peer_id"], ignore_index=True)


def choose_peers(covariates: pd.DataFrame, area_id: str, *, n_peers: int = 5,
                 peers: list[str] | None = None) -> pd.DataFrame:
    """The area's peers: ``lcjp_id, peer_id, rank, distance, chosen_by``.

    Explicit ``peers`` (params ``areas.<id>.peers``) win and are reported as ``chosen_by =
    'params'`` with their distance where computable; otherwise the ``n_peers`` nearest areas by
    standardised covariate distance (ties broken by id, so the choice is deterministic).
    """
    try:
        distances = peer_distances(covariate_matrix(covariates), area_id)
    except (KeyError, ValueError):
        if not peers:
            raise
        distances = pd.DataFrame(columns=["lcjp_id", "peer_id", "distance"])
    if peers:
        lookup = dict(zip(distances["peer_id"], distances["distance"]))
        rows = [{"lcjp_id": area_id, "peer_id": p, "distance": lookup.get(p, np.nan), "chosen_by": "params"}
                for p in peers if p != area_id]
        out = pd.DataFrame(rows, columns=["lcjp_id", "peer_id", "distance", "chosen_by"])
    else:
        out = distances.head(int(n_peers)).copy()
        out["chosen_by"] = "covariate distance"
    out["rank"] = np.arange(1, len(out) + 1)
    out["distance"] = out["distance"].astype(float)
    return out[PEER_COLUMNS].reset_index(drop=True)
