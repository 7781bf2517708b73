"""Benchmark: reading the MoJ magistrates' court outcomes file (435,402 rows, 21 columns, gzipped CSV).

Fast: ``pipeline.official.read_magistrates_counts`` (6 columns via usecols, categoricals, compact ints);
naive: ``pd.read_csv(path)``; and the whole adapter (``read_outcome_sources``: read + checks + mapping +
aggregation). Each runs in a fresh Python process so its peak memory (max RSS) is its own; the import
baseline of that process is shown so the read's own share is visible. Target: adapter < 10 s, < 1 GB.

    .venv/bin/python benchmarks/bench_official.py [PATH] [--repeat N]

PATH defaults to ../shared/real-data/courtOutcomes/magoutcomes_2018_converted.csv.gz.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import pandas as pd
from pipeline import official
from pipeline.areas import AreaMatcher
path, way = Path(sys.argv[1]), sys.argv[2]
matcher = AreaMatcher.from_reference()
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if way == "naive":
    frame = pd.read_csv(path)
elif way == "fast":
    frame = official.read_magistrates_counts(path)
else:
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / path.name).symlink_to(path.resolve())
        frame, _ = official.read_outcome_sources(["moj_magistrates_conviction_ratio"], Path(folder), matcher)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "baseline_mb": baseline / 1024,
                  "frame_mb": frame.memory_usage(deep=True).sum() / 2**20, "rows": len(frame)}))
"""


def run(path: Path, way: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), way], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from pipeline import paths
    default = paths.SHARED / "real-data" / "courtOutcomes" / "magoutcomes_2018_converted.csv.gz"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=default)
    parser.add_argument("--repeat", type=int, default=3, help="runs per way; the best time is reported")
    args = parser.parse_args()
    if not args.path.is_file():
        raise SystemExit(f"{args.path} not found: pass the magistrates' outcomes CSV(.gz) as the first argument")
    results = {}
    for way in ("naive", "fast", "adapter"):
        runs = [run(args.path, way) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["seconds"])
        best["peak_mb"] = max(r["peak_mb"] for r in runs)
        results[way] = best
    print(f"file: {args.path} ({args.path.stat().st_size / 2**20:.1f} MB on disk); best of {args.repeat} runs")
    print(f"{'way':<9}{'rows':>10}{'seconds':>10}{'peak RSS MB':>13}{'import MB':>11}{'frame MB':>10}")
    for way, r in results.items():
        print(f"{way:<9}{r['rows']:>10}{r['seconds']:>10.2f}{r['peak_mb']:>13.0f}{r['baseline_mb']:>11.0f}"
              f"{r['frame_mb']:>10.1f}")
    naive, fast = results["naive"], results["fast"]
    print(f"fast vs naive: {naive['seconds'] / fast['seconds']:.1f}x faster, "
          f"{(naive['peak_mb'] - naive['baseline_mb']) / max(fast['peak_mb'] - fast['baseline_mb'], 1):.1f}x less "
          f"memory above the import baseline, frame {naive['frame_mb'] / fast['frame_mb']:.0f}x smaller")
    adapter = results["adapter"]
    ok = adapter["seconds"] < 10 and adapter["peak_mb"] < 1024
    print(f"whole adapter: {adapter['seconds']:.2f} s, peak {adapter['peak_mb']:.0f} MB -> "
          f"target (< 10 s, < 1 GB) {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
