"""Provenance of a report page: commit, input hashes (from dvc.lock), params, versions, seeds."""
from __future__ import annotations

import html
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

from . import paths

KEY_PACKAGES = ["pandas", "numpy", "scipy", "statsmodels", "pingouin", "dvc", "papermill", "nbconvert"]


def git_commit() -> tuple[str, bool]:
    """(commit, dirty) of the repo, or ('unknown', False) outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.ROOT,
                                    capture_output=True, text=True, check=True).stdout.strip())
        return commit, dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def stage_lock(stage: str) -> dict:
    """The stage's entry in dvc.lock (deps with md5, params), empty if not yet locked."""
    if not paths.DVC_LOCK.is_file():
        return {}
    lock = yaml.safe_load(paths.DVC_LOCK.read_text(encoding="utf-8")) or {}
    return (lock.get("stages") or {}).get(stage, {})


def footer_html(stage: str, inputs: list[str | Path] | None = None) -> str:
    commit, dirty = git_commit()
    lock = stage_lock(stage)
    deps = lock.get("deps", [])
    params = lock.get("params", {})
    versions = package_versions()
    rows = "".join(f"<li><code>{html.escape(d['path'])}</code> md5 <code>{html.escape(str(d.get('md5', '')))}"
                   f"</code></li>" for d in deps)
    param_text = html.escape(yaml.safe_dump(params, sort_keys=True, default_flow_style=True).strip()) if params else "none"
    version_text = ", ".join(f"{k} {v}" for k, v in versions.items())
    return (
        '<footer class="instep-footer"><h2>Provenance</h2>'
        f"<p>Stage <code>{html.escape(stage)}</code>; commit <code>{html.escape(commit)}</code>"
        f"{' (working tree had uncommitted changes)' if dirty else ''}.</p>"
        f"<p>Inputs as locked in dvc.lock:</p><ul>{rows or '<li>stage not yet in dvc.lock</li>'}</ul>"
        f"<p>Params: <code>{param_text}</code></p><p>Versions: {html.escape(version_text)}</p>"
        "<p>Check this page against a clone with <code>make verify</code>.</p></footer>"
    )
