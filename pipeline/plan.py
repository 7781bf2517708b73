"""The registered analysis plan, every deviation from it, the stage graph and what changed since a commit.

``analysis_plan.yaml`` (repo root) is data: the features and outcomes of the study, the confirmatory
family, and the ``settings`` registered for one params.yaml group (``params_group``, normally
``estimate``). Nothing here knows a feature, outcome or covariate name.

Record the plan (the ``plan`` stage in dvc.yaml)::

    python -m pipeline.plan record      # -> data/processed/plan_record.json

writes the plan's md5, the commit that introduced it (``git log --diff-filter=A``; ``uncommitted`` when
none), later commits that amended it and whether the working copy differs from the last commit.

For the findings report: :func:`plan_vs_run_table` (settings where params.yaml differs from the plan),
:func:`label_exploratory` (confirmatory vs exploratory per estimate), :func:`dag_text` (the stage
graph) and :func:`what_changed_table` (metrics and params against a git revision).
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
from .errors import InputError

PLAN_FILE = "analysis_plan.yaml"
REQUIRED_KEYS = ["plan_version", "params_group", "features", "outcomes", "confirmatory", "settings"]
NOT_SET = "(not set)"
NOT_IN_PLAN = "(not in plan)"
PLAN_VS_RUN_COLUMNS = ["setting", "planned", "run", "affects"]
WHAT_CHANGED_COLUMNS = ["kind", "name", "old", "new", "change", "difference"]
EDGE_COLUMNS = ["upstream", "stage", "via"]


# ---------------------------------------------------------------------------------------------------------
# Loading and checking the plan
# ---------------------------------------------------------------------------------------------------------
def load_plan(path: Path | None = None) -> dict[str, Any]:
    """The registered plan, checked for the keys every function here relies on."""
    path = Path(path or paths.ANALYSIS_PLAN)
    if not path.is_file():
        raise InputError(paths.rel(path), "the registered analysis plan is missing",
                         "restore analysis_plan.yaml from git (it is registered data, not generated)")
    try:
        plan = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(paths.rel(path), f"not valid YAML ({getattr(exc, 'problem', exc)})",
                         "fix the YAML syntax", row=mark.line + 1 if mark else None) from None
    if not isinstance(plan, dict):
        raise InputError(paths.rel(path), "the plan must be a mapping of keys to values",
                         f"start from the keys {REQUIRED_KEYS}")
    missing = [key for key in REQUIRED_KEYS if key not in plan]
    if missing:
        raise InputError(paths.rel(path), f"keys missing: {missing}", f"add them; required keys: {REQUIRED_KEYS}")
    for key in ("features", "outcomes"):
        if not isinstance(plan[key], list) or not all(isinstance(v, str) for v in plan[key]):
            raise InputError(paths.rel(path), f"'{key}' must be a list of names", f"write {key}: [name, ...]",
                             column=key)
    if not isinstance(plan["settings"], dict):
        raise InputError(paths.rel(path), "'settings' must be a mapping of setting -> planned value",
                         f"copy the registered values of params.yaml's '{plan['params_group']}' group",
                         column="settings")
    confirmatory_family(plan, path)  # checks the family
    return plan


def _family_entry(item: Any, index: int, where: str) -> tuple[str, str, str | None]:
    if isinstance(item, str):
        parts = [part.strip() for part in item.split("~")]
    elif isinstance(item, dict):
        parts = [item.get("feature"), item.get("outcome"), item.get("period")]
    else:
        parts = []
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise InputError(where, f"confirmatory entry {index + 1} ({item!r}) needs a feature and an outcome",
                         "write - {feature: NAME, outcome: NAME, period: level|change (optional)} or "
                         "'feature~outcome[~period]'", column="confirmatory.pairs")
    period = parts[2] if len(parts) > 2 and parts[2] else None
    return str(parts[0]), str(parts[1]), (str(period) if period is not None else None)


def confirmatory_family(plan: dict, path: Path | None = None) -> set[tuple[str, str, str | None]]:
    """The confirmatory family as (feature, outcome, outcome period or None for every period).

    ``confirmatory`` gives ``pairs`` (dicts ``{feature, outcome[, period]}`` or strings
    ``"feature~outcome[~period]"``, as pipeline.estimation accepts) and/or ``features`` x ``outcomes``
    (optionally x ``periods``); every name must be among the plan's ``features`` / ``outcomes``.
    """
    where = paths.rel(path or paths.ANALYSIS_PLAN)
    family = plan.get("confirmatory") or {}
    if not isinstance(family, dict):
        raise InputError(where, "'confirmatory' must be a mapping", "give pairs: or features: and outcomes:",
                         column="confirmatory")
    keys = {_family_entry(item, i, where) for i, item in enumerate(family.get("pairs") or [])}
    periods = family.get("periods") or [None]
    keys |= {(str(f), str(o), None if p is None else str(p)) for f in family.get("features") or []
             for o in family.get("outcomes") or [] for p in periods}
    if not keys:
        raise InputError(where, "the confirmatory family is empty",
                         "list confirmatory pairs, or confirmatory features and outcomes", column="confirmatory")
    unknown_f = sorted({k[0] for k in keys} - set(plan.get("features", [])))
    unknown_o = sorted({k[1] for k in keys} - set(plan.get("outcomes", [])))
    if unknown_f or unknown_o:
        raise InputError(where, f"the confirmatory family names features {unknown_f} / outcomes {unknown_o} "
                         "that the plan does not list", "add them to 'features' / 'outcomes' or fix the spelling",
                         column="confirmatory")
    return keys


def confirmatory_spec(plan: dict | None = None) -> list[dict[str, str]]:
    """The family in the form ``pipeline.estimation.estimate_associations(confirmatory=...)`` takes."""
    plan = load_plan() if plan is None else plan
    return [{"feature": f, "outcome": o, **({"period": p} if p is not None else {})}
            for f, o, p in sorted(confirmatory_family(plan), key=lambda k: (k[0], k[1], k[2] or ""))]


def confirmatory_models(plan: dict) -> list[str] | None:
    """Models whose results may be confirmatory (``confirmatory.models``); None = any model."""
    models = (plan.get("confirmatory") or {}).get("models")
    return [str(m) for m in models] if models else None


def unmatched_plan_names(plan: dict, features: list[str], outcomes: list[str]) -> "pd.DataFrame":  # noqa: F821
    """Plan names absent from the data (codebook features, measures): ``kind, name, problem``."""
    import pandas as pd

    rows = [{"kind": "feature", "name": f, "problem": "not a feature of the codebook"}
            for f in plan["features"] if f not in set(features)]
    rows += [{"kind": "outcome", "name": o, "problem": "not a measure of the outcome data"}
             for o in plan["outcomes"] if o not in set(outcomes)]
    return pd.DataFrame(rows, columns=["kind", "name", "problem"]).sort_values(["kind", "name"],
                                                                             ignore_index=True)


# ---------------------------------------------------------------------------------------------------------
# Recording the plan (the `plan` stage)
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


def record(out: Path | None = None, root: Path | None = None) -> dict[str, Any]:
    """Write :func:`plan_record` to data/processed/plan_record.json (deterministic JSON)."""
    from .io import write_json

    result = plan_record(root)
    write_json(result, Path(out or paths.processed("plan_record.json")))
    return result


def registration_table(record: dict | None = None, plan: dict | None = None) -> "pd.DataFrame":  # noqa: F821
    """The plan's registration for a report: ``item, value`` (commit, date, amendments, family).

    ``record`` defaults to data/processed/plan_record.json (the ``plan`` stage), else is computed now.
    """
    import pandas as pd

    if record is None:
        stored = paths.processed("plan_record.json")
        record = json.loads(stored.read_text(encoding="utf-8")) if stored.is_file() else plan_record()
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
# Deviations
# ---------------------------------------------------------------------------------------------------------
def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _comparable(value: Any) -> str:
    """Canonical text of a value: 2014 == 2014.0, lists compared as sets of scalars."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return json.dumps(float(value))
    if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) or v is None for v in value):
        return json.dumps(sorted((_comparable(v) for v in value)))
    return json.dumps(value, sort_keys=True, default=str)


def _display(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _run_settings(params: dict | None, plan: dict) -> dict[str, Any]:
    """The run's settings: the plan's params group of params.yaml (or ``params`` given directly)."""
    group = plan["params_group"]
    if params is None:
        from .config import load_params
        params = load_params()
    if group in params and isinstance(params[group], dict):
        return params[group]
    return params  # already the group (e.g. a notebook's parameters)


def deviations(plan: dict | None = None, params: dict | None = None) -> list[dict[str, Any]]:
    """Every setting where the run differs from the plan: ``{setting, planned, run}`` (raw values)."""
    plan = load_plan() if plan is None else plan
    run_group = _run_settings(params, plan)
    planned = _flatten(plan["settings"])
    run = _flatten({k: v for k, v in run_group.items() if k != "confirmatory"})
    if "confirmatory" in run_group and "confirmatory" not in plan["settings"]:
        # the run declares its own family: it must be the registered one
        run_family = {_family_entry(item, i, "params.yaml") for i, item in
                      enumerate(run_group["confirmatory"] or [])}
        planned["confirmatory"] = confirmatory_spec(plan)
        run["confirmatory"] = [{"feature": f, "outcome": o, **({"period": p} if p else {})}
                               for f, o, p in sorted(run_family, key=lambda k: (k[0], k[1], k[2] or ""))]
    elif "confirmatory" in run_group:
        run["confirmatory"] = run_group["confirmatory"]
    out = []
    for setting in sorted(set(planned) | set(run)):
        p, r = planned.get(setting, NOT_IN_PLAN), run.get(setting, NOT_SET)
        if setting in planned and setting in run and _comparable(p) == _comparable(r):
            continue
        out.append({"setting": setting, "planned": p, "run": r})
    return out


def _affected_names(deviation: dict, features: set[str], outcomes: set[str]) -> tuple[str, set[str], set[str]]:
    """Which results a deviation touches: ('all', ..) or ('some', features, outcomes).

    A setting whose dotted name holds a feature or outcome name (a per-outcome option) touches that
    feature/outcome; a list of feature/outcome names (which ones to analyse) touches the names added
    or removed; any other setting touches every result.
    """
    parts = set(deviation["setting"].split("."))
    f_hit, o_hit = parts & features, parts & outcomes
    if f_hit or o_hit:
        return "some", f_hit, o_hit
    p, r = deviation["planned"], deviation["run"]
    if isinstance(p, list) or isinstance(r, list):
        p_set = {str(v) for v in p} if isinstance(p, list) else set()
        r_set = {str(v) for v in r} if isinstance(r, list) else set()
        changed, names = p_set ^ r_set, p_set | r_set
        if changed and names & (features | outcomes):
            # a list of which features (or outcomes) to analyse: a name new to the plan is one of them too
            if names & features and not names & outcomes:
                return "some", changed, set()
            if names & outcomes and not names & features:
                return "some", set(), changed
            if changed <= (features | outcomes):
                return "some", changed & features, changed & outcomes
    return "all", set(), set()


def plan_vs_run_table(plan: dict | None = None, params: dict | None = None,
                      estimates: "pd.DataFrame | None" = None) -> "pd.DataFrame":  # noqa: F821
    """Every setting where params.yaml (the plan's ``params_group``) differs from the registered plan.

    Columns ``setting, planned, run, affects`` (``affects``: ``all results`` or the features/outcomes
    touched). Empty (with these columns) when the run follows the plan.
    """
    import pandas as pd

    plan = load_plan() if plan is None else plan
    features = set(plan["features"]) | (set(estimates["feature"].astype(str)) if estimates is not None else set())
    outcomes = set(plan["outcomes"]) | (set(estimates["outcome"].astype(str)) if estimates is not None else set())
    rows = []
    for dev in deviations(plan, params):
        scope, f_hit, o_hit = _affected_names(dev, features, outcomes)
        affects = "all results" if scope == "all" else ", ".join(
            [f"feature {f}" for f in sorted(f_hit)] + [f"outcome {o}" for o in sorted(o_hit)])
        rows.append({"setting": dev["setting"], "planned": _display(dev["planned"]), "run": _display(dev["run"]),
                     "affects": affects})
    rows += covariate_deviations(plan, estimates)
    return pd.DataFrame(rows, columns=PLAN_VS_RUN_COLUMNS).astype("string")


def covariate_deviations(plan: dict, estimates: "pd.DataFrame | None") -> list[dict[str, str]]:  # noqa: F821
    """A plan-vs-run row when the covariates the primary fits used (``estimates['covariates']``) differ from
    the plan's ``covariates_registered`` (e.g. something ``covariates: auto`` added); [] otherwise (issue 14)."""
    registered = plan.get("covariates_registered")
    if registered is None or estimates is None or "covariates" not in estimates.columns:
        return []
    rows = estimates[estimates["model"] == "ols"] if "model" in estimates.columns else estimates
    used = sorted({c for v in rows["covariates"].dropna().astype(str) for c in v.split(";") if c})
    if set(used) == set(map(str, registered)):
        return []
    extra = [c for c in used if c not in set(map(str, registered))]
    missing = [c for c in registered if c not in set(used)]
    what = "; ".join(filter(None, [f"added: {', '.join(extra)}" if extra else "",
                                   f"left out: {', '.join(missing)}" if missing else ""]))
    return [{"setting": "covariates (as resolved by the run)", "planned": ", ".join(map(str, registered)),
             "run": f"{', '.join(used)} ({what})", "affects": "all results"}]


def label_exploratory(estimates_df: "pd.DataFrame", plan: dict | None = None,  # noqa: F821
                      params: dict | None = None) -> "pd.DataFrame":  # noqa: F821
    """``estimates_df`` plus ``analysis`` (confirmatory | exploratory), ``deviation`` and ``analysis_note``.

    A result is confirmatory only when its (feature, outcome) is in the registered confirmatory family,
    its model is a registered confirmatory model (``confirmatory.models``, when the plan lists them) and
    no deviation from the plan touches it. ``deviation`` lists the deviations that touch the row
    ("setting: planned X, run Y"; empty when none). ``params`` is params.yaml as a dict, or just the
    plan's params group; by default params.yaml is read.
    """
    import pandas as pd

    plan = load_plan() if plan is None else plan
    for column in ("feature", "outcome"):
        if column not in estimates_df.columns:
            raise InputError("estimates", f"column '{column}' is missing", "pass estimates.csv as written by the "
                             "estimate stage", column=column)
    family = confirmatory_family(plan)
    models = confirmatory_models(plan)
    features = set(plan["features"]) | set(estimates_df["feature"].astype(str))
    outcomes = set(plan["outcomes"]) | set(estimates_df["outcome"].astype(str))
    scoped = [(dev, *_affected_names(dev, features, outcomes)) for dev in deviations(plan, params)]

    def column(name: str) -> list:
        if name not in estimates_df.columns:
            return [None] * len(estimates_df)
        return [None if pd.isna(v) else str(v) for v in estimates_df[name]]

    analysis, deviation_text, notes = [], [], []
    for feature, outcome, period, model in zip(column("feature"), column("outcome"), column("outcome_period"),
                                               column("model")):
        touching = [dev for dev, scope, f_hit, o_hit in scoped
                    if scope == "all" or feature in f_hit or outcome in o_hit]
        reasons = []
        if (feature, outcome, period) not in family and (feature, outcome, None) not in family:
            reasons.append("outside the registered confirmatory family")
        if models is not None and model is not None and model not in models:
            reasons.append(f"model {model} is not a registered confirmatory model")
        if touching:
            reasons.append("affected by a deviation from the plan")
        analysis.append("exploratory" if reasons else "confirmatory")
        notes.append("; ".join(reasons) if reasons else "registered confirmatory test, run as planned")
        deviation_text.append("; ".join(f"{d['setting']}: planned {_display(d['planned'])}, run "
                                        f"{_display(d['run'])}" for d in touching))
    out = estimates_df.copy()
    out["analysis"] = pd.array(analysis, dtype="string")
    out["deviation"] = pd.array(deviation_text, dtype="string")
    out["analysis_note"] = pd.array(notes, dtype="string")
    return out


# ---------------------------------------------------------------------------------------------------------
# The stage graph
# ---------------------------------------------------------------------------------------------------------
def _overlaps(dep: str, out: str) -> bool:
    dep, out = dep.rstrip("/"), out.rstrip("/")
    return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")


def stage_edges(root: Path | None = None, stages: dict | None = None) -> "pd.DataFrame":  # noqa: F821
    """Edges of the DVC stage graph: ``upstream, stage, via`` (the dep path that links them)."""
    import pandas as pd

    from . import provenance

    stages = provenance.stages(root) if stages is None else stages
    rows = []
    for name, definition in stages.items():
        for dep in definition["deps"]:
            for other, other_def in stages.items():
                if other != name and any(_overlaps(dep, out) for out in other_def["outs"]):
                    rows.append({"upstream": other, "stage": name, "via": dep})
    return (pd.DataFrame(rows, columns=EDGE_COLUMNS).drop_duplicates()
            .sort_values(EDGE_COLUMNS, ignore_index=True))


def upstream_stages(stage: str, root: Path | None = None, stages: dict | None = None) -> list[str]:
    """Every stage whose outputs ``stage`` reads, directly or through other stages (sorted)."""
    edges = stage_edges(root, stages)
    parents: dict[str, set[str]] = {}
    for up, down in zip(edges["upstream"], edges["stage"]):
        parents.setdefault(down, set()).add(up)
    seen: set[str] = set()
    todo = [stage]
    while todo:
        for parent in parents.get(todo.pop(), set()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return sorted(seen - {stage})


def _collapsed(name: str, groups: dict[str, list[str]]) -> str:
    group = name.split("@", 1)[0]
    members = groups.get(group, [])
    if "@" in name and len(members) > 1:
        return f"{group}@* ({len(members)} stages: {members[0].split('@', 1)[1]} … {members[-1].split('@', 1)[1]})"
    return name


def dag_text(root: Path | None = None, stages: dict | None = None) -> str:
    """The stage graph as text, in run order, one line per stage: ``stage <- upstream, ...``.

    Computed from dvc.yaml (a stage depends on another when one of its deps is, lies inside or contains
    the other's output). ``foreach`` stages (``profile@kent`` ...) are collapsed to one line.
    """
    from . import provenance

    stages = provenance.stages(root) if stages is None else stages
    groups: dict[str, list[str]] = {}
    for name in sorted(stages):
        if "@" in name:
            groups.setdefault(name.split("@", 1)[0], []).append(name)
    edges = stage_edges(root, stages)
    parents: dict[str, set[str]] = {_collapsed(n, groups): set() for n in stages}
    for up, down in zip(edges["upstream"], edges["stage"]):
        parents[_collapsed(down, groups)].add(_collapsed(up, groups))
    # Kahn's algorithm, ties broken by dvc.yaml order, so the text is deterministic.
    order_key = {}
    for index, name in enumerate(stages):
        order_key.setdefault(_collapsed(name, groups), index)
    remaining = {node: set(ups) - {node} for node, ups in parents.items()}
    lines = []
    width = max((len(node) for node in remaining), default=0)
    while remaining:
        ready = sorted((n for n, ups in remaining.items() if not ups), key=order_key.get)
        if not ready:  # a cycle: DVC would refuse it; print the rest as is
            ready = sorted(remaining, key=order_key.get)
        for node in ready:
            ups = sorted(parents[node] - {node}, key=order_key.get)
            lines.append(f"{node.ljust(width)}  <- {', '.join(ups)}" if ups else node)
            del remaining[node]
        for ups in remaining.values():
            ups.difference_update(ready)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# What changed since a revision
# ---------------------------------------------------------------------------------------------------------
def _git_show(rev: str, relpath: str, root: Path) -> str | None:
    return _git(["show", f"{rev}:{relpath}"], root)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _metric_items(metrics: dict) -> dict[tuple[str, str], Any]:
    """Flattened metrics.json: metrics as ``metric``; the provenance block's hashes as ``input`` and its
    versions as ``version`` (its params and git state are covered elsewhere and left out)."""
    out: dict[tuple[str, str], Any] = {}
    for name, value in _flatten({k: v for k, v in metrics.items() if k != "provenance"}).items():
        out[("metric", name)] = value
    block = metrics.get("provenance")
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

    sources = [("reports/metrics.json", lambda text: _metric_items(json.loads(text))),
               ("params.yaml", lambda text: {("param", k): v
                                             for k, v in _flatten(yaml.safe_load(text) or {}).items()})]
    for relpath, parse in sources:
        old_text = _git_show(rev, relpath, root)
        current = root / relpath
        new_text = current.read_text(encoding="utf-8") if current.is_file() else None
        if old_text is None or new_text is None:
            if old_text != new_text:
                rows.append({"kind": "file", "name": relpath,
                             "old": pd.NA if old_text is None else "present",
                             "new": pd.NA if new_text is None else "present",
                             "change": f"not committed at {rev}" if old_text is None else "removed",
                             "difference": math.nan})
            continue
        compare(parse(old_text), parse(new_text))
    table = pd.DataFrame(rows, columns=WHAT_CHANGED_COLUMNS)
    for column in ["kind", "name", "old", "new", "change"]:
        table[column] = table[column].astype("string")
    table["difference"] = table["difference"].astype("float64")
    return table.sort_values(["kind", "name"], ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.plan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("record", help="write data/processed/plan_record.json")
    sub.add_parser("deviations", help="print every setting where params.yaml differs from the plan")
    sub.add_parser("dag", help="print the stage graph")
    changed = sub.add_parser("changed", help="metrics and params now vs a git revision")
    changed.add_argument("--rev", default="HEAD")
    args = parser.parse_args(argv)
    if args.command == "record":
        result = record()
        print(f"recorded {result['plan_file']} md5 {result['md5']}, introduced in {result['introduced_commit']}"
              f" -> {paths.rel(paths.processed('plan_record.json'))}")
    elif args.command == "deviations":
        table = plan_vs_run_table()
        print("the run follows the registered plan" if table.empty else table.to_string(index=False))
    elif args.command == "dag":
        print(dag_text())
    else:
        table = what_changed_table(args.rev)
        print(f"nothing changed since {args.rev}" if table.empty else table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
