"""Provenance of every report page and of the estimate stage's metrics, and the ``verify`` check.

What a page records (in a visible footer and in an inert JSON block
``<script type="application/json" id="instep-provenance">``):

- no git commit: pages are cached DVC outputs, and a run-cache restore or a rerun at another commit must give
  the same bytes for the same inputs. The code a page was made with is identified by the md5 of the code
  files and folders its stage declares as dependencies (the same hashes DVC records in dvc.lock);
- a content hash of every dependency of the stage, resolved from ``dvc.yaml`` (``foreach`` stages such as
  ``profile@kent`` included) and hashed AT RUN TIME, because ``dvc.lock`` is only written after the stage
  finishes. Hashes are the ones DVC 3 writes to ``dvc.lock``: the md5 of a file's bytes, and for a
  directory the md5 of the JSON list ``[{"md5": ..., "relpath": ...}, ...]`` (sorted by relpath, files
  filtered by ``.dvcignore``) followed by ``.dir``;
- the values of the params the stage declares in ``dvc.yaml``, and every seed among them (any param
  whose name contains ``seed``);
- the Python version and the versions of key packages.

A footer is a function of the inputs, so reports stay deterministic. Outputs that are not pages carry the
same record in a file of their own: the estimate stage writes ``reports/estimate_provenance.json`` beside
``reports/metrics.json`` (:func:`write_record`), so the metrics hold statistics only.

Check the reports of a clone against its data, code and params (``make verify``)::

    python -m pipeline.provenance verify            # every reports/*.html, reports/areas/*.html, reports/*_provenance.json
    python -m pipeline.provenance verify --root DIR  # another clone
    python -m pipeline.provenance show STAGE         # the record a page of STAGE would carry now

``verify`` re-derives the hash of every dependency a page recorded and the current value of every
param it recorded, prints ``matches`` per page and overall, or lists what differs (file, recorded
hash, current hash; param, recorded value, current value), and exits with code 1 on any difference.
Package versions that differ are printed as notes; they do not fail the check.
"""
from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from . import paths

SCHEMA_VERSION = 1
SCRIPT_ID = "instep-provenance"
RECORD_SUFFIX = "_provenance.json"
KEY_PACKAGES = ["pandas", "numpy", "scipy", "statsmodels", "pingouin", "krippendorff",
                "pyfixest", "matplotlib", "pyarrow", "dvc", "papermill", "nbconvert"]
DVC_DEFAULT_IGNORES = [".hg/", ".git/", ".git", ".dvc/"]
# attribute order is not kept by every HTML exporter (nbconvert writes id before type)
_SCRIPT_RE = re.compile(r"""<script\b[^>]*\bid=["']""" + SCRIPT_ID + r"""["'][^>]*>(.*?)</script>""",
                        re.DOTALL | re.IGNORECASE)
_INTERP_RE = re.compile(r"\$\{\s*([^}]+?)\s*\}")
_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------------------------
# Hashing the way DVC 3 does
# ---------------------------------------------------------------------------------------------------------
def file_md5(path: Path) -> str:
    """md5 of a file's bytes (DVC 3's ``md5`` for a file; DVC 2's dos2unix variant is not used)."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Ignore:
    """``.dvcignore`` rules: the root file, nested ``.dvcignore`` files, and DVC's defaults.

    Rules are gitignore-style (pathspec), each file's patterns relative to its own folder. Negations
    work within one file; a negation cannot re-include what another ``.dvcignore`` file excluded.
    """

    def __init__(self, root: Path):
        import pathspec

        self._pathspec = pathspec
        self.root = root
        self.specs: dict[Path, Any] = {root: self._spec(root, DVC_DEFAULT_IGNORES)}

    def _spec(self, folder: Path, extra: list[str] | None = None):
        lines = list(extra or [])
        ignore_file = folder / ".dvcignore"
        if ignore_file.is_file():
            lines += [line.strip() for line in ignore_file.read_text(encoding="utf-8").splitlines()]
        return self._pathspec.GitIgnoreSpec.from_lines(lines) if lines else None

    def load(self, folder: Path) -> None:
        if folder not in self.specs:
            self.specs[folder] = self._spec(folder)

    def ignored(self, path: Path, is_dir: bool) -> bool:
        for base, spec in self.specs.items():
            if spec is None or (base != path.parent and base not in path.parents):
                continue
            rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
            if spec.match_file(rel):
                return True
        return False


def dir_entries(folder: Path, root: Path | None = None) -> list[dict[str, str]]:
    """``[{"md5", "relpath"}]`` of every file under ``folder`` that DVC would track, sorted by relpath."""
    root = Path(root or paths.ROOT)
    folder = Path(folder)
    ignore = _Ignore(root)
    for parent in [*reversed(folder.parents), folder]:
        if parent == root or root in parent.parents:
            ignore.load(parent)
    entries = []
    for current, dirnames, filenames in os.walk(folder):
        current_path = Path(current)
        ignore.load(current_path)
        dirnames[:] = sorted(d for d in dirnames if not ignore.ignored(current_path / d, is_dir=True))
        for name in filenames:
            file_path = current_path / name
            if ignore.ignored(file_path, is_dir=False):
                continue
            entries.append({"md5": file_md5(file_path), "relpath": file_path.relative_to(folder).as_posix()})
    return sorted(entries, key=lambda entry: entry["relpath"])


def dir_md5(folder: Path, root: Path | None = None) -> str:
    """DVC 3's ``.dir`` hash: md5 of ``json.dumps(entries, sort_keys=True)`` plus the suffix ``.dir``."""
    payload = json.dumps(dir_entries(folder, root), sort_keys=True).encode("utf-8")
    return hashlib.md5(payload).hexdigest() + ".dir"


def path_md5(relpath: str, root: Path | None = None) -> str | None:
    """The DVC hash of a repo path (file or directory), ``None`` when it does not exist."""
    root = Path(root or paths.ROOT)
    target = root / relpath
    if target.is_dir():
        return dir_md5(target, root)
    if target.is_file():
        return file_md5(target)
    return None


# ---------------------------------------------------------------------------------------------------------
# dvc.yaml: stages, foreach and ${...} resolved the way DVC resolves them
# ---------------------------------------------------------------------------------------------------------
def load_yaml(path: Path) -> dict:
    """A YAML file as a dict; a syntax error is an InputError naming the file and line."""
    from .errors import InputError

    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(paths.rel(path), f"not valid YAML ({getattr(exc, 'problem', None) or exc})",
                         "fix the YAML syntax at that line (e.g. quote a value holding ': ')",
                         row=mark.line + 1 if mark else None) from None


def _lookup(context: dict, dotted: str) -> Any:
    value: Any = context
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(dotted)
    return value


def _interpolate(value: Any, context: dict, where: str) -> Any:
    if isinstance(value, dict):
        return {_interpolate(k, context, where): _interpolate(v, context, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, context, where) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def lookup(name: str) -> Any:
        try:
            return _lookup(context, name)
        except KeyError:
            raise KeyError(f"dvc.yaml stage {where}: ${{{name}}} is not defined in params.yaml, vars or "
                           f"foreach") from None

    whole = _INTERP_RE.fullmatch(value)
    if whole:
        return lookup(whole.group(1))
    return _INTERP_RE.sub(lambda m: str(lookup(m.group(1))), value)


def resolve_stages(dvc_yaml: dict, params: dict) -> dict[str, dict]:
    """Every stage of a parsed dvc.yaml with ``foreach`` expanded and ``${...}`` substituted.

    Returns ``{name: {"cmd", "deps", "params", "outs", "group"}}``; ``group`` is the name before ``@``.
    Dict ``foreach`` gives ``name@key`` (``${key}``, ``${item}``, ``${item.field}``); list ``foreach``
    gives ``name@item`` for scalars and ``name@index`` otherwise, as DVC names them.
    """
    context: dict[str, Any] = dict(params)
    for entry in dvc_yaml.get("vars") or []:
        if isinstance(entry, dict):
            context.update(entry)
    out: dict[str, dict] = {}
    for name, definition in (dvc_yaml.get("stages") or {}).items():
        if "foreach" in definition:
            items = _interpolate(definition["foreach"], context, name)
            if isinstance(items, dict):
                pairs = [(str(key), {"key": key, "item": item}) for key, item in items.items()]
            elif isinstance(items, list):
                pairs = [(str(item) if isinstance(item, (str, int, float)) else str(index), {"item": item})
                         for index, item in enumerate(items)]
            else:
                raise ValueError(f"dvc.yaml stage {name}: foreach must give a list or a dict, got {items!r}")
            for suffix, local in pairs:
                full = f"{name}@{suffix}"
                body = _interpolate(definition.get("do") or {}, {**context, **local}, full)
                out[full] = _normalise_stage(body, name)
        elif "matrix" in definition:
            raise ValueError(f"dvc.yaml stage {name}: 'matrix' stages are not supported (their names are "
                             "opaque, dvc #10904); use foreach")
        else:
            out[name] = _normalise_stage(_interpolate(definition, context, name), name)
    return out


def _out_paths(entries: list) -> list[str]:
    result = []
    for entry in entries or []:
        result.extend(entry.keys() if isinstance(entry, dict) else [entry])
    return [str(p) for p in result]


def _normalise_stage(body: dict, group: str) -> dict:
    outs = []
    for key in ("outs", "metrics", "plots"):
        outs += _out_paths(body.get(key) or [])
    return {
        "cmd": body.get("cmd"),
        "deps": [str(d) for d in body.get("deps") or []],
        "params": list(body.get("params") or []),
        "outs": outs,
        "group": group,
    }


# Pipelines kept out of the default `dvc repro` (root dvc.yaml): their stages are addressed "file:stage" as DVC
# addresses them, and every path in them is relative to the repo root (wdir: ..).
SUB_PIPELINES = ["validation/study.yaml"]


def stages(root: Path | None = None, *, sub_pipelines: bool = True) -> dict[str, dict]:
    """The resolved stages of the repo's dvc.yaml and (unless ``sub_pipelines=False``) of the sub-pipelines
    (see :func:`resolve_stages`)."""
    root = Path(root or paths.ROOT)
    params = load_yaml(root / "params.yaml")
    found = resolve_stages(load_yaml(root / "dvc.yaml"), params)
    for sub in SUB_PIPELINES if sub_pipelines else []:
        if (root / sub).is_file():
            for name, body in resolve_stages(load_yaml(root / sub), params).items():
                found[f"{sub}:{name}"] = body
    return found


# Pages rendered many times by one stage: ``profile@kent`` is the ``profiles`` stage's page for ``kent`` and
# records only that area's entry of the per-area params group (so one area's change leaves the others' bytes).
PER_AREA_PAGES = {"profile": ("profiles", "areas")}


def find_stage(stage: str, all_stages: dict[str, dict]) -> str | None:
    """The address of ``stage`` ("validate" finds "validation/study.yaml:validate"); None if undefined."""
    if stage in all_stages:
        return stage
    matches = [name for name in all_stages if name.endswith(":" + stage)]
    return matches[0] if len(matches) == 1 else None


def page_definition(page: str, all_stages: dict[str, dict]) -> dict | None:
    """The definition behind a page made by a stage that renders several pages, with only the params that page
    reads: ``profile@kent`` (the ``profiles`` stage, ``areas.kent`` for ``areas``) or ``clean_survey`` (a
    ``python -m pipeline.warm_kernel --each ...`` stage whose expanded commands pass ``--stage clean_survey``;
    the params are its ``--section`` groups). None if no stage makes such a page."""
    import shlex
    group, _, item = page.partition("@")
    if item and group in PER_AREA_PAGES and PER_AREA_PAGES[group][0] in all_stages:
        batch, per_item = PER_AREA_PAGES[group]
        definition = dict(all_stages[batch])
        definition["params"] = [f"{per_item}.{item}" if p == per_item else p for p in definition["params"]]
        return definition
    from .notebook import expand_each
    for body in all_stages.values():
        parts = shlex.split(body["cmd"]) if isinstance(body.get("cmd"), str) else []
        if parts[:3] != ["python", "-m", "pipeline.warm_kernel"] or "--" not in parts:
            continue
        split = parts.index("--")
        options, argv = parts[3:split], parts[split + 1:]
        each = [options[i + 1] for i, o in enumerate(options[:-1]) if o == "--each"]
        for run_argv in expand_each(each, argv).values():
            pairs = dict(zip(run_argv[:-1], run_argv[1:]))
            if pairs.get("--stage") == page:
                sections = [run_argv[i + 1] for i, a in enumerate(run_argv[:-1]) if a == "--section"]
                return {**body, "params": [p for p in body["params"] if p in sections]}
    return None


def stage_params(declared: list, root: Path | None = None) -> dict[str, Any]:
    """Values of a stage's declared params: ``{"features": {...}, "areas.kent": {...}}``.

    Entries are keys of params.yaml, or ``{file: [keys]}`` for another params file (then named
    ``file:key``; an empty key list means the whole file).
    """
    root = Path(root or paths.ROOT)
    cache: dict[str, dict] = {}

    def values_of(file: str) -> dict:
        if file not in cache:
            path = root / file
            cache[file] = load_yaml(path) if path.is_file() else {}
        return cache[file]

    out: dict[str, Any] = {}
    for entry in declared:
        if isinstance(entry, str):
            out[entry] = _lookup_or_missing(values_of("params.yaml"), entry)
        elif isinstance(entry, dict):
            for file, keys in entry.items():
                prefix = "" if file == "params.yaml" else f"{file}:"
                if not keys:
                    out[prefix.rstrip(":") or file] = values_of(file)
                for key in keys or []:
                    out[prefix + key] = _lookup_or_missing(values_of(file), key)
    return out


_MISSING = "<missing>"


def _lookup_or_missing(values: dict, key: str) -> Any:
    try:
        return _lookup(values, key)
    except KeyError:
        return _MISSING


def seeds_in(params: dict[str, Any]) -> dict[str, Any]:
    """Every param whose name contains 'seed', with its dotted name."""
    found: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif "seed" in prefix.rsplit(".", 1)[-1].lower():
            found[prefix] = value

    walk("", params)
    return dict(sorted(found.items()))


# ---------------------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------------------
def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def stage_lock(stage: str) -> dict:
    """The stage's entry in dvc.lock (written by DVC after the stage ran), empty if not yet locked."""
    if not paths.DVC_LOCK.is_file():
        return {}
    lock = yaml.safe_load(paths.DVC_LOCK.read_text(encoding="utf-8")) or {}
    return (lock.get("stages") or {}).get(stage, {})


# ---------------------------------------------------------------------------------------------------------
# The record a page carries
# ---------------------------------------------------------------------------------------------------------
def provenance_record(stage: str, inputs: list[str | Path] | None = None, root: Path | None = None) -> dict:
    """Everything a page of ``stage`` records: commit, dependency hashes, params, seeds, versions.

    ``inputs`` adds files beyond the stage's dvc.yaml deps (paths relative to the repo root).
    """
    root = Path(root or paths.ROOT)
    all_stages = stages(root, sub_pipelines=False)  # a page of dvc.yaml reads nothing else
    if find_stage(stage, all_stages) is None and page_definition(stage, all_stages) is None:
        all_stages = stages(root)
    address = find_stage(stage, all_stages)
    definition = all_stages.get(address) if address else None
    if definition is None:
        definition = page_definition(stage, all_stages)
    dep_paths = list(definition["deps"]) if definition else []
    for extra in inputs or []:
        extra_path = Path(extra)
        rel = extra_path.resolve().relative_to(root.resolve()).as_posix() if extra_path.is_absolute() \
            else extra_path.as_posix()
        dep_paths.append(rel)
    deps = [{"path": p, "md5": path_md5(p, root)} for p in sorted(set(dep_paths))]
    params = stage_params(definition["params"], root) if definition else {}
    return {
        "schema": SCHEMA_VERSION,
        "stage": stage,
        "stage_defined": definition is not None,
        "deps": deps,
        "params": params,
        "seeds": seeds_in(params),
        "versions": package_versions(),
    }


def json_record(stage: str, inputs: list[str | Path] | None = None) -> dict:
    """The provenance record of ``stage`` as a JSON file stores it, hashes keyed by path
    (``{"deps": {path: md5}}``) so :func:`pipeline.history.what_changed_table` compares them entry by entry."""
    record = provenance_record(stage, inputs=inputs)
    block = dict(record)
    block["deps"] = {dep["path"]: dep["md5"] for dep in record["deps"]}
    return block


def record_file(stage: str, root: Path | None = None) -> Path:
    """Where the provenance of a stage's non-HTML outputs is written: ``reports/<stage>_provenance.json``.

    It is a file of its own, beside ``reports/metrics.json`` and not inside it, so the metrics are a function of
    the statistics alone: the same data read from another format (whose input files, and so their hashes,
    differ) gives a byte-identical metrics.json (issue 18).
    """
    return Path(root or paths.ROOT) / "reports" / f"{stage}{RECORD_SUFFIX}"


def write_record(stage: str, inputs: list[str | Path] | None = None) -> Path:
    """Write :func:`json_record` of ``stage`` to :func:`record_file` (deterministic JSON); returns the path."""
    from .io import write_json
    path = record_file(stage)
    write_json(json_record(stage, inputs=inputs), path)
    return path


def _record_json(record: dict) -> str:
    text = json.dumps(record, sort_keys=True, ensure_ascii=True, default=str, separators=(",", ":"))
    return text.replace("</", "<\\/")  # inert inside <script>; JSON reads "\/" as "/"


def footer_html(stage: str, inputs: list[str | Path] | None = None, root: Path | None = None) -> str:
    """The provenance footer of a report page: readable text plus the JSON block ``verify`` reads."""
    record = provenance_record(stage, inputs=inputs, root=root)
    return render_footer(record)


def render_footer(record: dict) -> str:
    esc = html.escape
    code = [dep for dep in record["deps"] if dep["path"].startswith(("pipeline", "notebooks/", "templates"))]
    state = (f": code identified by the content hashes of its {len(code)} code dependencies below"
             if code else "")
    warning = "" if record["stage_defined"] else (
        f"<p><strong>Stage <code>{esc(record['stage'])}</code> is not defined in dvc.yaml: its inputs and "
        "params could not be recorded.</strong></p>")
    dep_rows = "".join(
        f"<tr><td><code>{esc(dep['path'])}</code></td><td><code>{esc(dep['md5'] or 'missing')}</code></td></tr>"
        for dep in record["deps"])
    params_text = yaml.safe_dump(record["params"], sort_keys=True, default_flow_style=False,
                                 allow_unicode=True).strip() if record["params"] else "none"
    seeds = ", ".join(f"<code>{esc(k)} = {esc(json.dumps(v))}</code>" for k, v in record["seeds"].items()) \
        or "none among this stage's params"
    versions = ", ".join(f"{esc(k)} {esc(v)}" for k, v in record["versions"].items())
    return (
        '<footer class="instep-footer" role="contentinfo"><h2>Provenance</h2>'
        f"<p>Stage <code>{esc(record['stage'])}</code>"
        f"{state}.</p>{warning}"
        f"<p>Seeds: {seeds}.</p>"
        f"<details><summary>Inputs this page depends on ({len(record['deps'])}), content hashes taken when the "
        "page was made (DVC md5; <code>.dir</code> for folders)</summary>"
        f"<table><thead><tr><th>path</th><th>md5</th></tr></thead><tbody>{dep_rows}</tbody></table></details>"
        f"<details><summary>Params used</summary><pre>{esc(params_text)}</pre></details>"
        f"<p>Versions: {versions}.</p>"
        "<p>Check this page against a clone: <code>make verify</code> "
        "(<code>python -m pipeline.provenance verify</code>).</p>"
        f'<script type="application/json" id="{SCRIPT_ID}">{_record_json(record)}</script>'
        "</footer>"
    )


def records_in_html(text: str) -> list[dict]:
    """The provenance records embedded in a report page (normally one)."""
    return [json.loads(match) for match in _SCRIPT_RE.findall(text)]


# ---------------------------------------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------------------------------------
VERIFY_COLUMNS = ["page", "stage", "kind", "name", "recorded", "current", "matches"]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def verify_record(record: dict, page: str, root: Path | None = None,
                  _hash_cache: dict[str, str | None] | None = None) -> list[dict]:
    """Rows (see ``VERIFY_COLUMNS``) comparing one record with the current clone.

    ``kind`` is ``input`` (dependency hash), ``param``, ``stage`` (stage no longer in dvc.yaml) or
    ``version`` (a note: a different package version does not fail the check).
    """
    root = Path(root or paths.ROOT)
    cache = {} if _hash_cache is None else _hash_cache
    stage = record.get("stage", "")
    rows = []

    def row(kind, name, recorded, current, matches):
        rows.append({"page": page, "stage": stage, "kind": kind, "name": name, "recorded": recorded,
                     "current": current, "matches": bool(matches)})

    deps = record.get("deps") or []
    dep_items = deps.items() if isinstance(deps, dict) else [(d["path"], d["md5"]) for d in deps]
    for path, recorded in sorted(dep_items):
        if path not in cache:
            cache[path] = path_md5(path, root)
        current = cache[path]
        row("input", path, str(recorded), str(current) if current else "missing", recorded == current)
    declared = stage_params(list(record.get("params") or {}), root)
    for name, recorded in sorted((record.get("params") or {}).items()):
        current = declared[name]
        row("param", name, _canonical(recorded), _canonical(current), _canonical(recorded) == _canonical(current))
    if record.get("stage_defined", True) and stage and find_stage(stage, stages(root)) is None \
            and page_definition(stage, stages(root)) is None:
        row("stage", stage, "defined", "not in dvc.yaml", False)
    current_versions = package_versions()
    for name, recorded in sorted((record.get("versions") or {}).items()):
        current = current_versions.get(name, "unknown")
        if recorded != current:
            row("version", name, recorded, current, False)
    return rows


def report_pages(root: Path | None = None) -> list[Path]:
    """Every HTML report of a clone: reports/*.html and reports/areas/*.html, sorted."""
    root = Path(root or paths.ROOT)
    reports = root / "reports"
    return sorted([*reports.glob("*.html"), *(reports / "areas").glob("*.html")])


def verify_reports(root: Path | None = None) -> "pd.DataFrame":  # noqa: F821
    """One row per checked item of every report page and of every ``reports/*_provenance.json`` record.

    A page without a provenance block gives a row of kind ``footer`` that does not match.
    """
    import pandas as pd

    root = Path(root or paths.ROOT)
    rows: list[dict] = []
    cache: dict[str, str | None] = {}
    for page in report_pages(root):
        rel = page.relative_to(root).as_posix()
        records = records_in_html(page.read_text(encoding="utf-8", errors="replace"))
        if not records:
            rows.append({"page": rel, "stage": "", "kind": "footer", "name": "provenance block",
                         "recorded": "absent", "current": "required", "matches": False})
        for record in records:
            rows.extend(verify_record(record, rel, root, cache))
    for record_path in sorted((root / "reports").glob(f"*{RECORD_SUFFIX}")):
        try:
            block = json.loads(record_path.read_text(encoding="utf-8"))
        except ValueError:
            block = None
        rel = record_path.relative_to(root).as_posix()
        if isinstance(block, dict):
            rows.extend(verify_record(block, rel, root, cache))
        else:
            rows.append({"page": rel, "stage": "", "kind": "footer", "name": "provenance record",
                         "recorded": "unreadable", "current": "required", "matches": False})
    return pd.DataFrame(rows, columns=VERIFY_COLUMNS)


def _print_verify(table, out=None) -> int:
    out = out or sys.stdout
    if table.empty:
        print("nothing to verify: no HTML reports under reports/ (run `make repro` first)", file=out)
        return 1
    failed = False
    for page, rows in table.groupby("page", sort=True):
        problems = rows[~rows["matches"] & (rows["kind"] != "version")]
        notes = rows[rows["kind"] == "version"]
        if problems.empty:
            print(f"{page}: matches", file=out)
        else:
            failed = True
            print(f"{page}: DIFFERS", file=out)
            for item in problems.itertuples():
                label = {"input": "file", "param": "param"}.get(item.kind, item.kind)
                print(f"  {label} {item.name}: recorded {item.recorded}, current {item.current}", file=out)
        for item in notes.itertuples():
            print(f"  note: {item.name} was {item.recorded} when the page was made, is {item.current} now",
                  file=out)
    print("overall: DIFFERS" if failed else "overall: matches", file=out)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.provenance",
                                     description="Provenance of report pages: verify a clone, or show a record.")
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="re-derive every recorded hash and param; exit 1 on a difference")
    verify.add_argument("--root", type=Path, default=None, help="repository root (default: this clone)")
    show = sub.add_parser("show", help="print the provenance record a page of STAGE would carry now")
    show.add_argument("stage")
    args = parser.parse_args(argv)
    if args.command == "verify":
        return _print_verify(verify_reports(args.root))
    print(json.dumps(provenance_record(args.stage), indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
