"""Deterministic writing of processed outputs (same inputs and params -> same bytes)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Parquet without the index, fixed compression; written atomically."""
    _atomic(path, lambda tmp: df.reset_index(drop=True).to_parquet(tmp, index=False, engine="pyarrow",
                                                                    compression="zstd"))


def write_csv(df: pd.DataFrame, path: Path, float_format: str = "%.10g") -> None:
    """CSV with fixed float formatting and '\\n' line endings; written atomically."""
    _atomic(path, lambda tmp: df.to_csv(tmp, index=False, float_format=float_format, lineterminator="\n"))


def write_json(obj: Any, path: Path) -> None:
    """Sorted-key, indented JSON; written atomically."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(obj, handle, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False, default=str)
            handle.write("\n")
    _atomic(path, write)
