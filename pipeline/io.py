"""Deterministic writing of processed outputs (same inputs and params -> same bytes).

Floats are written at a documented precision: every float in a CSV, parquet or JSON output is rounded
to ``SIGNIFICANT_DIGITS`` (8) significant digits by :func:`round_significant` (correct decimal rounding
through Python's float formatting, the same on every machine) before it is written; whole-valued floats
(counts and populations held as floats) are kept exactly. Eight digits sit far above the last-digit noise
of BLAS kernels and thread counts (about 1e-12 relative on a direct computation) and of the iterative fits
(converged well below 1e-8), so two machines give the same bytes, while every published figure (two to
four digits) is unchanged. See docs/DATA_CONTRACT.md ("Precision").
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIGNIFICANT_DIGITS = 8


def _round_float(value: float, digits: int) -> float:
    if not math.isfinite(value) or value == 0 or value.is_integer():
        return value
    return float(f"{value:.{digits}g}")


def round_significant(values, digits: int = SIGNIFICANT_DIGITS):
    """Floats rounded to ``digits`` significant digits (a float, an array or a Series; other types as given).

    Each distinct value is rounded once, by decimal formatting (exact and machine-independent)."""
    if isinstance(values, (float, np.floating)):
        return type(values)(_round_float(float(values), digits))
    if isinstance(values, pd.Series):
        if not pd.api.types.is_float_dtype(values.dtype):
            return values
        mask = values.notna().to_numpy()
        raw = values.to_numpy(dtype="float64", na_value=np.nan)
        out = raw.copy()
        uniques, inverse = np.unique(raw[mask], return_inverse=True)
        out[mask] = np.array([_round_float(float(u), digits) for u in uniques], dtype="float64")[inverse]
        result = pd.Series(out, index=values.index, name=values.name)
        return result.astype(values.dtype) if values.dtype != np.float64 else result
    if isinstance(values, np.ndarray) and np.issubdtype(values.dtype, np.floating):
        return round_significant(pd.Series(values.ravel())).to_numpy().reshape(values.shape).astype(values.dtype)
    return values


def _format_float(value: float) -> str:
    """A float as CSV text: whole values in full ("56075912"), others at ``SIGNIFICANT_DIGITS``."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e17:
        return f"{value:.0f}"
    return f"{value:.{SIGNIFICANT_DIGITS}g}"


def round_frame(df: pd.DataFrame, digits: int = SIGNIFICANT_DIGITS) -> pd.DataFrame:
    """Copy of ``df`` with every float column rounded to ``digits`` significant digits."""
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c].dtype)]
    if not floats:
        return df
    out = df.copy()
    for column in floats:
        out[column] = round_significant(out[column], digits)
    return out


def _round_json(obj: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, (float, np.floating)):
        return _round_float(float(obj), digits)
    if isinstance(obj, dict):
        return {k: _round_json(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round_json(v, digits) for v in obj]
    return obj


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
    """Parquet without the index, floats at ``SIGNIFICANT_DIGITS``, fixed compression; written atomically."""
    frame = round_frame(df.reset_index(drop=True))
    _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd"))


def write_csv(df: pd.DataFrame, path: Path, float_format: str | None = None) -> None:
    """CSV with floats at ``SIGNIFICANT_DIGITS`` and '\\n' line endings; written atomically."""
    frame = round_frame(df)
    float_format = float_format or _format_float
    _atomic(path, lambda tmp: frame.to_csv(tmp, index=False, float_format=float_format, lineterminator="\n"))


def write_text(text: str, path: Path) -> None:
    """A text file (UTF-8, e.g. an HTML page), written atomically and readable by all like the other outputs."""
    _atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json(obj: Any, path: Path, *, digits: int | None = SIGNIFICANT_DIGITS) -> None:
    """Sorted-key, indented JSON, floats at ``digits`` significant digits (None: as computed, for files that are
    not outputs, such as the synthetic truth); written atomically."""
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(_round_json(obj, digits) if digits else obj, handle, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False, default=str)
            handle.write("\n")
    _atomic(path, write)
