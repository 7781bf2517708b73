"""Reading params.yaml (grouped by stage) and the registered analysis plan."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import paths


def load_params(path: Path | None = None) -> dict[str, Any]:
    with open(path or paths.PARAMS, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def section(name: str, path: Path | None = None) -> dict[str, Any]:
    """One stage's group of params (``clean``, ``features``, ...); a missing group is an error."""
    params = load_params(path)
    if name not in params:
        raise KeyError(f"params.yaml has no '{name}' group; groups present: {sorted(params)}")
    return params[name]
