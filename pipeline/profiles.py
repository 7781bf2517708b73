"""The ``profiles`` stage: every area profile in one process (``python -m pipeline.profiles``).

One DVC stage renders ``notebooks/05_area_profile.ipynb`` once per key of ``params.yaml`` ``areas`` and
writes ``reports/areas/<id>.html`` and ``<id>.ipynb``. Two worker processes (``--jobs``, default 2) each
keep one Jupyter kernel warm between areas (``pipeline.warm_kernel``: the kernel is reset to a fresh
state before every area), so the imports and kernel starts are paid twice, not 42 times.

Only areas whose inputs changed are rendered again. ``reports/areas`` is a ``persist: true`` output, and
``reports/areas/manifest.json`` records per area the key of everything its page is a function of (the
md5 of every dependency the stage declares in dvc.yaml, the ``publish`` and ``profile`` groups, that area's
``areas.<id>`` entry, the notebook command and the package versions) and the md5 of the two files written.
An area is rendered when its key or either file's md5 differs from the manifest (or the file is missing);
the manifest entry is written only after both files are in place, so a run killed at any point renders the
unfinished areas next time. ``--full`` ignores the manifest. ``tests/test_profiles.py`` checks that an
incremental run gives byte-identical pages to a full one.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from . import paths

STAGE = "profiles"
NOTEBOOK = "notebooks/05_area_profile.ipynb"
MANIFEST = "manifest.json"
MANIFEST_SCHEMA = 1


def area_argv(area: str, out_dir: Path | None = None) -> list[str]:
    """The ``pipeline.notebook`` arguments that render one area."""
    out = (out_dir or paths.REPORTS_AREAS) / area
    return [NOTEBOOK, "--out", paths.rel(out), "--section", "publish", "--section", "profile", "--area", area,
            "--stage", f"profile@{area}", "--title", f"In Step area profile - {area}"]


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def input_keys(areas: list[str], params: dict) -> dict[str, str]:
    """Per area, the sha256 of everything its page is made from (see the module docstring)."""
    from . import provenance
    definition = provenance.stages(sub_pipelines=False).get(STAGE)
    if definition is None:
        raise SystemExit(f"dvc.yaml has no stage '{STAGE}'")
    deps = {dep: provenance.path_md5(dep) for dep in sorted(definition["deps"])}
    shared = {"deps": deps, "publish": params.get("publish"), "profile": params.get("profile"),
              "versions": provenance.package_versions(), "schema": MANIFEST_SCHEMA}
    return {area: _digest({**shared, "area": (params.get("areas") or {}).get(area) or {},
                           "argv": area_argv(area)}) for area in areas}


def _file_md5(path: Path) -> str | None:
    from .provenance import file_md5
    return file_md5(path) if path.is_file() else None


def read_manifest(out_dir: Path) -> dict:
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("areas", {}) if data.get("schema") == MANIFEST_SCHEMA else {}


def write_manifest(out_dir: Path, entries: dict) -> None:
    from .io import write_json
    write_json({"schema": MANIFEST_SCHEMA, "areas": dict(sorted(entries.items()))}, out_dir / MANIFEST)


def _outputs(out_dir: Path, area: str) -> dict[str, str | None]:
    return {name: _file_md5(out_dir / name) for name in (f"{area}.html", f"{area}.ipynb")}


def areas_to_render(keys: dict[str, str], manifest: dict, out_dir: Path) -> list[str]:
    """Areas whose recorded key or output md5s do not match what is there now."""
    todo = []
    for area, key in keys.items():
        entry = manifest.get(area) or {}
        if entry.get("inputs") != key or entry.get("outputs") != _outputs(out_dir, area) \
                or None in entry.get("outputs", {None: None}).values():
            todo.append(area)
    return todo


def remove_unlisted(out_dir: Path, areas: list[str]) -> list[str]:
    """Delete pages of areas no longer in params.yaml (and files the stage does not write)."""
    keep = {MANIFEST} | {f"{a}{suffix}" for a in areas for suffix in (".html", ".ipynb")}
    removed = []
    for path in sorted(out_dir.iterdir()) if out_dir.is_dir() else []:
        if path.is_file() and path.name not in keep:
            path.unlink()
            removed.append(path.name)
    return removed


def render(areas: list[str] | None = None, *, jobs: int = 2, full: bool = False, progress: bool = True) -> list[str]:
    """Render the areas that need it (all with ``full``); returns the areas rendered."""
    from .config import load_params
    from .notebook import KERNEL_NAME
    from .warm_kernel import render_in_worker, run_until_failure, warm_pool

    params = load_params()
    areas = sorted(areas if areas is not None else (params.get("areas") or {}))
    out_dir = paths.REPORTS_AREAS
    out_dir.mkdir(parents=True, exist_ok=True)
    removed = remove_unlisted(out_dir, areas)
    keys = input_keys(areas, params)
    manifest = {} if full else {a: e for a, e in read_manifest(out_dir).items() if a in keys}
    todo = list(keys) if full else areas_to_render(keys, manifest, out_dir)
    for area in todo:
        manifest.pop(area, None)
    write_manifest(out_dir, manifest)  # nothing being redone is recorded as done
    start = time.perf_counter()
    if progress:
        note = f" (removed {len(removed)} stale file(s))" if removed else ""
        print(f"profiles: {len(todo)} of {len(areas)} area(s) to render{note}", flush=True)
    if not todo:
        return []

    def finish(result):
        manifest[result.stage] = {"inputs": keys[result.stage], "outputs": _outputs(out_dir, result.stage)}
        write_manifest(out_dir, manifest)
        return result

    def report(result, done):
        if progress:
            state = "ok" if result.returncode == 0 else "FAILED"
            print(f"  profile {result.stage}: {state} in {result.seconds:.1f} s ({done}/{len(todo)})", flush=True)

    workers = max(1, min(jobs, len(todo)))
    with warm_pool(workers, [paths.ROOT / NOTEBOOK], KERNEL_NAME) as pool:
        results = run_until_failure(todo, lambda area: pool.submit(render_in_worker, area, area_argv(area)),
                                    workers, report, finish=finish)
    failed = [r for r in results if r.returncode != 0]
    if failed:
        raise SystemExit("\n".join(f"profile {r.stage} failed:\n{r.output}" for r in failed))
    if progress:
        print(f"profiles: {len(todo)} rendered in {time.perf_counter() - start:.1f} s", flush=True)
    return todo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.profiles", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("INSTEP_JOBS", "2")),
                        help="worker processes, each with one warm kernel (default 2, or $INSTEP_JOBS)")
    parser.add_argument("--full", action="store_true", help="render every area, ignoring the manifest")
    args = parser.parse_args(argv)
    render(jobs=args.jobs, full=args.full)
    return 0


if __name__ == "__main__":
    sys.exit(main())
