"""pipeline.io writes floats at a documented precision (8 significant digits), the same on every machine."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from pipeline import io


def test_round_significant_values():
    s = pd.Series([0.123456789123, 123456789.0, np.nan, 1e-12 / 3, -2.5, 0.0, 98765.4321987])
    out = io.round_significant(s)
    assert out.tolist()[:2] == [0.12345679, 123456789.0] and np.isnan(out.iloc[2])
    assert out.tolist()[3:] == [3.3333333e-13, -2.5, 0.0, 98765.432]
    nullable = pd.Series([1.23456789012, None], dtype="Float64")
    rounded = io.round_significant(nullable)
    assert rounded.dtype == "Float64" and rounded.iloc[0] == 1.2345679 and rounded.isna().iloc[1]
    assert io.round_significant(pd.Series(["a"])).tolist() == ["a"]
    assert io.round_significant(np.float64(2 / 3)) == 0.66666667


def test_csv_parquet_json_at_the_precision(tmp_path):
    frame = pd.DataFrame({"x": [1 / 3, 2.0, 56075912.0], "n": [1, 2, 3], "label": ["a", "b", "c"]})
    io.write_csv(frame, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == "x,n,label\n0.33333333,1,a\n2,2,b\n56075912,3,c\n"
    io.write_parquet(frame, tmp_path / "t.parquet")
    assert pd.read_parquet(tmp_path / "t.parquet")["x"].tolist() == [0.33333333, 2.0, 56075912.0]
    io.write_json({"a": 1 / 7, "b": [2 / 3, 4], "c": True, "d": None}, tmp_path / "t.json")
    assert json.loads((tmp_path / "t.json").read_text()) == {"a": 0.14285714, "b": [0.66666667, 4], "c": True,
                                                             "d": None}
    io.write_json({"a": 1 / 7}, tmp_path / "raw.json", digits=None)
    assert json.loads((tmp_path / "raw.json").read_text())["a"] == 1 / 7


def test_last_digit_noise_does_not_change_the_bytes(tmp_path):
    """Values that differ by BLAS/thread noise (1e-13 relative) give the same file, bar values on a rounding edge."""
    rng = np.random.default_rng(3)
    values = rng.normal(size=5000) * 10.0 ** rng.integers(-6, 6, size=5000)
    noisy = values * (1 + rng.choice([-1, 1], size=5000) * 1e-13)
    a, b = io.round_significant(pd.Series(values)), io.round_significant(pd.Series(noisy))
    same = (a.to_numpy() == b.to_numpy()).mean()
    assert same > 0.9995, same  # an edge case needs a value within 1e-13 of a half-unit of the 8th digit
    io.write_csv(pd.DataFrame({"v": values[:200]}), tmp_path / "a.csv")
    io.write_csv(pd.DataFrame({"v": noisy[:200]}), tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
