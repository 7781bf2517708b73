"""Fits that share areas, design and outcomes, grouped once (used by associations and robustness)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import design


def controls(prep, covariates_spec, model: str) -> pd.DataFrame:
    names = design.resolve_covariates(covariates_spec, prep.cov)
    ctl = prep.cov.table[names]
    if model == "ols_region_fe":
        ctl = pd.concat([ctl, design.region_dummies(prep.cov.region)], axis=1)
    return ctl


def blocks(prep, controls: pd.DataFrame, features: list[str]):
    """Group (period, feature, outcome) into blocks sharing areas, design and outcomes."""
    blocks: dict[tuple, dict] = {}
    designs: dict[tuple, tuple] = {}
    for period, Yw in sorted(prep.targets.items()):
        grouped: dict[tuple, dict] = {}  # features observed in the same areas share the outcome grouping
        for feature in features:
            xs = prep.features[feature].dropna()
            base = xs.index.intersection(Yw.index)
            if tuple(base) not in grouped:
                masks = Yw.loc[base].notna()
                groups: dict[tuple, list[str]] = {}
                for outcome in Yw.columns:
                    groups.setdefault(tuple(masks[outcome].to_numpy()), []).append(outcome)
                grouped[tuple(base)] = groups
            for key, outs in grouped[tuple(base)].items():
                areas = base[np.array(key, bool)]
                akey = tuple(areas)
                if akey not in designs:
                    designs[akey] = design.build_design(areas, controls)
                idx, Z, znames, notes = designs[akey]
                bkey = (period, tuple(idx), tuple(outs))
                blk = blocks.setdefault(bkey, {"period": period, "idx": idx, "Z": Z, "znames": znames, "outs": outs,
                                               "features": [], "notes": notes, "set_aside": {}})
                blk["features"].append(feature)
                blk["set_aside"][feature] = sorted(set(base) - set(idx))
    return list(blocks.values())
