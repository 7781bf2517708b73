"""Clean-stage speed: library time for the demo data, and the vectorised steps against naive row loops.

    .venv/bin/python benchmarks/bench_clean.py

Target: the whole clean of the demo data (four kinds, no writing) well under one second of CPU time.
Prints the best of N runs (CPU time, so other processes on the machine matter less) and the ratios.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from pipeline import paths
from pipeline.areas import AreaMatcher
from pipeline.clean import KINDS, clean_kind
from pipeline.clean.labels import Synonyms, normalise_label
from pipeline.clean.readers import read_text_csv

REPEATS = 5


def best_of(fn, repeats=REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    matcher = AreaMatcher.from_reference()
    for kind in KINDS:  # warm-up (imports, regex compilation)
        clean_kind(kind, matcher=matcher)
    per_kind = {kind: best_of(lambda k=kind: clean_kind(k, matcher=matcher)) for kind in KINDS}
    total = sum(per_kind.values())
    print("clean of the demo data, CPU seconds (best of %d):" % REPEATS)
    for kind, seconds in per_kind.items():
        print(f"  {kind:<11} {seconds:.3f}")
    print(f"  {'total':<11} {total:.3f}  (target < 1.0: {'met' if total < 1.0 else 'NOT met'})")

    # Area names: one lookup per distinct name vs one per row.
    areas = pd.concat([read_text_csv(p)[0]["area"] for p in sorted(paths.RAW_OUTCOMES.glob("*.csv"))
                       if "area" in read_text_csv(p)[0].columns], ignore_index=True)
    fast = best_of(lambda: matcher.match_series(areas))
    naive = best_of(lambda: [matcher.lookup(a) for a in areas], repeats=2)
    print(f"area matching of {len(areas)} outcome rows: vectorised {fast:.4f}s, per row {naive:.4f}s, "
          f"ratio {naive / fast:.1f}x")

    # Likert labels: factorize + array indexing vs normalising every cell.
    synonyms = Synonyms.load()
    frames = [read_text_csv(p)[0] for p in sorted(paths.RAW_SURVEY.glob("*.csv"))]
    items = clean_kind("survey", matcher=matcher).codebook["item"].tolist()
    labels = pd.concat([f[items] for f in frames if set(items) <= set(f.columns)], ignore_index=True)
    table = synonyms.maps["likert"]

    def vectorised():
        codes, uniques = pd.factorize(labels.to_numpy(dtype=object).ravel(), use_na_sentinel=False)
        lookup = np.array([table.get(normalise_label(u)) for u in uniques] + [None], dtype=object)
        return lookup[codes]

    def per_cell():
        return [[table.get(normalise_label(v)) for v in row] for row in labels.itertuples(index=False)]

    fast = best_of(vectorised)
    naive = best_of(per_cell, repeats=2)
    print(f"Likert labels, {labels.size} cells: vectorised {fast:.4f}s, per cell {naive:.4f}s, "
          f"ratio {naive / fast:.1f}x")


if __name__ == "__main__":
    main()
