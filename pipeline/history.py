"""What git says, computed where nothing caches it: the plan's registration history and what changed since a
commit (``python -m pipeline.history plan|changed``).

Report pages are cached DVC outputs, so they hold nothing that depends on git (a run-cache restore or a rerun at
another commit must give the same bytes). These tables are computed on demand instead:

    python -m pipeline.history plan               # when analysis_plan.yaml was registered and amended
    python -m pipeline.history changed [--rev R]  # metrics and params now against commit R (default HEAD)
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from . import paths
from .provenance import RECORD_SUFFIX
from .plan import PLAN_FILE, _comparable, _display, _flatten, confirmatory_models, confirmatory_spec, load_plan

# the estimate stage's provenance record, git-tracked beside reports/metrics.json
ESTIMATE_RECORD = f"reports/estimate{RECORD_SUFFIX}"
WHAT_CHANGED_COLUMNS = ["kind", "name", "old", "new", "change", "difference"]


# ---------------------------------------------------------------------------------------------------------
# The plan's registration (git history)
# ---------------------------------------------------------------------------------------------------------
def _git(args: list[str], root: Path) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def plan_record(root: Path | None = None, plan_file: str = PLAN_FILE) -> dict[str, Any]:
    """Hash of the plan and its git history: when it was registered and whether it was amended since."""
    from .provenance import file_md5

    root = Path(root or paths.ROOT)
    path = root / plan_file
    load_plan(path)
    log = _git(["log", "--format=%H %cI", "--", plan_file], root) or ""
    history = [line.split(" ", 1) for line in log.splitlines() if line.strip()]  # newest first
    added = (_git(["log", "--diff-filter=A", "--format=%H", "--", plan_file], root) or "").split()
    introduced = added[-1] if added else "uncommitted"  # oldest addition: the registration
    dates = dict(history)
    amendments = [{"commit": c, "date": d} for c, d in reversed(history) if c != introduced]
    tracked = _git(["ls-files", "--error-unmatch", plan_file], root) is not None
    changed = _git(["diff", "--quiet", "HEAD", "--", plan_file], root) is None if tracked else True
    return {
        "plan_file": plan_file,
        "md5": file_md5(path),
        "introduced_commit": introduced,
        "introduced_date": dates.get(introduced, ""),
        "amendments": amendments,
        "working_copy_differs_from_commit": bool(changed),
    }


def record(out: Path, root: Path | None = None) -> dict[str, Any]:
    """Write :func:`plan_record` to ``out`` (deterministic JSON)."""
    from .io import write_json

    result = plan_record(root)
    write_json(result, Path(out))
    return result


def registration_table(record: dict | None = None, plan: dict | None = None) -> "pd.DataFrame":  # noqa: F821
    """The plan's registration for a report: ``item, value`` (commit, date, amendments, family).

    ``record`` defaults to :func:`plan_record` computed now.
    """
    import pandas as pd

    if record is None:
        record = plan_record()
    plan = load_plan() if plan is None else plan
    family = confirmatory_spec(plan)
    amendments = record.get("amendments") or []
    rows = [
        ("plan file", f"{record['plan_file']} (md5 {record['md5']})"),
        ("registered in commit", f"{record['introduced_commit']} {record.get('introduced_date', '')}".strip()),
        ("amended since", "; ".join(f"{a['commit']} {a['date']}" for a in amendments) if amendments else "never"),
        ("working copy differs from its last commit", "yes" if record.get("working_copy_differs_from_commit")
         else "no"),
        ("confirmatory family", f"{len(family)} tests: " + "; ".join(
            f"{e['feature']} ~ {e['outcome']}" + (f" ({e['period']})" if "period" in e else "") for e in family)),
        ("confirmatory models", ", ".join(confirmatory_models(plan) or ["any"])),
        ("confirmatory adjustment", str((plan.get("confirmatory") or {}).get("adjustment", "not stated"))),
        ("registered settings of params group", plan["params_group"]),
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).astype("string")


# ---------------------------------------------------------------------------------------------------------
# What changed since a revision
# ---------------------------------------------------------------------------------------------------------
def _git_show(rev: str, relpath: str, root: Path) -> str | None:
    return _git(["show", f"{rev}:{relpath}"], root)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _metric_items(metrics: dict, record: dict | None = None) -> dict[tuple[str, str], Any]:
    """Flattened metrics.json as ``metric`` items, and the estimate stage's provenance record
    (reports/estimate_provenance.json; a ``provenance`` block inside metrics.json in clones made before
    issue 18) as its hashes, ``input``, and its versions, ``version`` (its params are covered by params.yaml)."""
    out: dict[tuple[str, str], Any] = {}
    for name, value in _flatten({k: v for k, v in metrics.items() if k != "provenance"}).items():
        out[("metric", name)] = value
    block = record if isinstance(record, dict) else metrics.get("provenance")
    if isinstance(block, dict):
        deps = block.get("deps") or {}
        if isinstance(deps, list):
            deps = {d.get("path"): d.get("md5") for d in deps}
        for path, md5 in deps.items():
            out[("input", str(path))] = md5
        for name, version in (block.get("versions") or {}).items():
            out[("version", str(name))] = version
    return out


def what_changed_table(rev: str = "HEAD", root: Path | None = None) -> "pd.DataFrame":  # noqa: F821
    """Metrics (reports/metrics.json) and params (params.yaml) now against their committed state at ``rev``.

    Columns ``kind`` (metric | input | version | param | file), ``name``, ``old``, ``new``, ``change``
    (``+0.012`` style for numbers, else changed / added / removed) and ``difference`` (new - old for
    numbers, NA otherwise). Only what differs is listed. A file absent at ``rev`` (or now) gives one
    ``file`` row saying so rather than every entry as added.
    """
    import pandas as pd

    root = Path(root or paths.ROOT)
    rows: list[dict] = []

    def compare(kind_items_old: dict, kind_items_new: dict) -> None:
        for key in sorted(set(kind_items_old) | set(kind_items_new)):
            old, new = kind_items_old.get(key, None), kind_items_new.get(key, None)
            if key in kind_items_old and key in kind_items_new and _comparable(old) == _comparable(new):
                continue
            kind, name = key
            if key not in kind_items_old:
                change, diff = "added", math.nan
            elif key not in kind_items_new:
                change, diff = "removed", math.nan
            elif _is_number(old) and _is_number(new):
                diff = float(new) - float(old)
                change = f"{diff:+.6g}"
            else:
                change, diff = "changed", math.nan
            rows.append({"kind": kind, "name": name,
                         "old": _display(old) if key in kind_items_old else pd.NA,
                         "new": _display(new) if key in kind_items_new else pd.NA,
                         "change": change, "difference": diff})

    def read(relpath: str, at_rev: bool) -> str | None:
        if at_rev:
            return _git_show(rev, relpath, root)
        current = root / relpath
        return current.read_text(encoding="utf-8") if current.is_file() else None

    def metric_items(text: str, at_rev: bool) -> dict:
        record_text = read(ESTIMATE_RECORD, at_rev)
        return _metric_items(json.loads(text), json.loads(record_text) if record_text else None)

    sources = [("reports/metrics.json", metric_items),
               ("params.yaml", lambda text, at_rev: {("param", k): v
                                                     for k, v in _flatten(yaml.safe_load(text) or {}).items()})]
    for relpath, parse in sources:
        old_text, new_text = read(relpath, True), read(relpath, False)
        if old_text is None or new_text is None:
            if old_text != new_text:
                rows.append({"kind": "file", "name": relpath,
                             "old": pd.NA if old_text is None else "present",
                             "new": pd.NA if new_text is None else "present",
                             "change": f"not committed at {rev}" if old_text is None else "removed",
                             "difference": math.nan})
            continue
        compare(parse(old_text, True), parse(new_text, False))
    table = pd.DataFrame(rows, columns=WHAT_CHANGED_COLUMNS)
    for column in ["kind", "name", "old", "new", "change"]:
        table[column] = table[column].astype("string")
    table["difference"] = table["difference"].astype("float64")
    return table.sort_values(["kind", "name"], ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.history", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plan", help="the plan's registration commit, date and amendments")
    changed = sub.add_parser("changed", help="metrics and params now vs a git revision")
    changed.add_argument("--rev", default="HEAD")
    args = parser.parse_args(argv)
    if args.command == "plan":
        print(registration_table().to_string(index=False))
    else:
        table = what_changed_table(args.rev)
        print(f"nothing changed since {args.rev}" if table.empty else table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
