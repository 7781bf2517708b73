"""Run one report notebook: papermill, then offline HTML export, in one Python process.

Used by every notebook stage in dvc.yaml::

    python -m pipeline.notebook notebooks/02_features.ipynb --out reports/features --section features
    python -m pipeline.notebook notebooks/05_area_profile.ipynb --out reports/areas/kent --area kent

Parameters come from params.yaml: each key of each ``--section`` group becomes a notebook
parameter of the same name; ``--area KEY`` adds ``area_id`` and ``area_params`` (the
``areas.KEY`` entry). The executed notebook (with code) is written to ``OUT.ipynb`` and the
reader's HTML (code hidden, self-contained) to ``OUT.html``. On failure nothing that looks
complete is left: the failed notebook is kept as ``OUT.FAILED.ipynb`` for inspection, the
outputs are removed, and the message names the stage, the notebook and the failing cell.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import paths
from .config import load_params

KERNEL_NAME = "instep"


def local_kernel_transport() -> dict:
    """Kernel connection settings: Unix sockets (IPC) in a fresh private folder where the system has them.

    Our kernels are only ever reached from this machine, and over TCP without keys recent ipykernel
    prints a warning at every start. ``remove_kernel_folder`` removes the folder afterwards.
    """
    if os.name == "nt":
        return {}
    folder = tempfile.mkdtemp(prefix="instep-kernel-")
    return {"transport": "ipc", "ip": os.path.join(folder, "kernel")}


def remove_kernel_folder(transport: dict) -> None:
    """Remove the folder ``local_kernel_transport`` made (the kernel's shutdown removes the sockets in it)."""
    if transport.get("transport") == "ipc":
        import shutil
        shutil.rmtree(Path(transport["ip"]).parent, ignore_errors=True)


def notebook_parameters(sections: list[str], area: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """The explicit parameters a notebook stage receives from params.yaml."""
    out: dict[str, Any] = {}
    for name in sections:
        if name not in params:
            raise SystemExit(f"params.yaml has no group '{name}' (asked for by --section)")
        group = params[name]
        if not isinstance(group, dict):
            out[name] = group
            continue
        for key, value in group.items():
            if key in out:
                raise SystemExit(f"parameter '{key}' appears in two --section groups; rename one")
            out[key] = value
    if area is not None:
        areas = params.get("areas", {})
        if area not in areas:
            raise SystemExit(f"params.yaml 'areas' has no entry '{area}'")
        out["area_id"] = area
        out["area_params"] = areas[area] or {}
    return out


def export_html(notebook_path: Path, html_path: Path, *, hide_code: bool = True, title: str | None = None) -> None:
    """Self-contained HTML via the project template (no CDN scripts; images are base64)."""
    import nbformat

    export_html_node(nbformat.read(notebook_path, as_version=4), html_path, hide_code=hide_code, title=title)


def export_html_node(nb, html_path: Path, *, hide_code: bool = True, title: str | None = None) -> None:
    """``export_html`` for a notebook already in memory."""
    nb.metadata["title"] = title or _first_heading(nb) or html_path.stem
    body, _ = _html_exporter(hide_code).from_notebook_node(nb)
    from .io import write_text
    write_text(body, html_path)  # atomic, mode 0644 like every output


@functools.lru_cache(maxsize=2)
def _html_exporter(hide_code: bool):
    """One exporter per process and setting (building one loads the templates: ~0.2 s)."""
    from nbconvert import HTMLExporter
    exporter = HTMLExporter(template_name="instep", extra_template_basedirs=[str(paths.TEMPLATES)])
    exporter.exclude_input = hide_code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    return exporter


def stable_cell_ids(nb) -> None:
    """Give papermill's injected-parameters cell a fixed id (papermill draws a random one each run),
    so the same inputs and params render byte-identical HTML."""
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"


TIMING_KEYS = ("start_time", "end_time", "duration")


def stable_metadata(nb, notebook: Path, out: Path) -> None:
    """Drop what differs between two runs of the same inputs: papermill's and the kernel's clock times
    (per cell and per notebook) and absolute paths (a clone elsewhere gives the same bytes). The executed
    notebook is a DVC output: same inputs and params, same bytes."""
    record = nb.metadata.get("papermill", {})
    for key in TIMING_KEYS:
        record.pop(key, None)
    record["input_path"] = paths.rel(notebook)
    record["output_path"] = paths.rel(out)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for key in TIMING_KEYS:
            cell.metadata.get("papermill", {}).pop(key, None)


MEMORY_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+>")


def stable_plain_text(nb) -> None:
    """Drop object addresses from the plain-text fallback of rich outputs (a Styler's ``text/plain`` is
    ``<pandas.io.formats.style.Styler at 0x7f...>``, a different address each run); readers see the HTML."""
    for cell in nb.cells:
        for output in cell.get("outputs", []) or []:
            plain = output.get("data", {}).get("text/plain")
            if isinstance(plain, str) and MEMORY_ADDRESS.search(plain):
                output["data"]["text/plain"] = MEMORY_ADDRESS.sub(">", plain)


def _first_heading(nb) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def _failing_cell(nb_path: Path) -> str:
    try:
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unknown cell"
    injected = {"injected-parameters", "papermill-error-cell-tag"}
    cells = [c for c in nb.get("cells", []) if not injected & set(c.get("metadata", {}).get("tags", []))]
    for index, cell in enumerate(cells):  # numbered as in the committed notebook (papermill's cells skipped)
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") == "error":
                source = "".join(cell.get("source", "")).strip().splitlines()
                first = source[0][:80] if source else ""
                return f"cell {index} (`{first}`): {output.get('ename')}: {output.get('evalue')}"
    return "unknown cell"


def run(notebook: Path, out: Path, parameters: dict[str, Any], *, stage: str | None = None,
        title: str | None = None, kernel_name: str = KERNEL_NAME, kernel=None) -> None:
    """Execute ``notebook`` with ``parameters`` and write ``OUT.ipynb`` and ``OUT.html``.

    ``kernel``: a running ``pipeline.warm_kernel.WarmKernel`` to execute in (reset to a fresh state
    first); by default papermill starts and stops a new kernel.
    """
    import nbformat
    import papermill as pm

    notebook = (paths.ROOT / notebook).resolve() if not Path(notebook).is_absolute() else Path(notebook)
    out = (paths.ROOT / out) if not Path(out).is_absolute() else Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    executed, html, failed = out.with_suffix(".ipynb"), out.with_suffix(".html"), out.with_suffix(".FAILED.ipynb")
    for stale in (executed, html, failed):
        stale.unlink(missing_ok=True)
    tmp = out.with_name(f".{out.name}.running.ipynb")
    engine_kwargs, transport = {}, {}
    if kernel is not None:
        kernel.reset()
        engine_kwargs["km"] = kernel.km
    else:  # papermill starts (and stops) the kernel; its kernel manager takes our transport from config
        from traitlets.config import Config
        transport = local_kernel_transport()
        engine_kwargs["config"] = Config({"KernelManager": transport})
    try:
        # request_save_on_cell_execute=False: papermill writes the notebook once at the end (and with the error
        # cell when one fails), not after every cell; the partial file is of no use here
        pm.execute_notebook(str(notebook), str(tmp), parameters=parameters, kernel_name=kernel_name,
                            cwd=str(paths.ROOT), progress_bar=False, log_output=False,
                            request_save_on_cell_execute=False, **engine_kwargs)
    except Exception as exc:  # papermill raises PapermillExecutionError; kernel failures raise others
        if tmp.exists():
            os.replace(tmp, failed)
        where = _failing_cell(failed) if failed.exists() else str(exc).splitlines()[0]
        raise SystemExit(
            f"Stage {stage or out.name} failed in notebook {paths.rel(notebook)} at {where}.\n"
            f"The executed notebook with the error is kept at {paths.rel(failed)}; no report was written."
        ) from None
    finally:
        remove_kernel_folder(transport)
    nb = nbformat.read(tmp, as_version=4)
    stable_cell_ids(nb)
    stable_metadata(nb, notebook, executed)
    stable_plain_text(nb)
    nbformat.write(nb, tmp)
    os.replace(tmp, executed)
    export_html_node(nb, html, hide_code=True, title=title)


def expand_each(each: list[str], argv: list[str]) -> dict[str, list[str]]:
    """``--each kind=survey,fieldwork`` over ``argv`` holding ``{kind}``: one argument list per value."""
    runs = {"": list(argv)}
    for spec in each:
        name, _, values = spec.partition("=")
        if not name or not values:
            raise SystemExit(f"--each takes NAME=V1,V2,...; got {spec!r}")
        runs = {f"{label} {value}".strip(): [a.replace("{" + name + "}", value) for a in args]
                for label, args in runs.items() for value in values.split(",")}
    return runs


def stage_argument_parser() -> argparse.ArgumentParser:
    """The stage command's arguments (also parsed by pipeline.warm_kernel and the report benchmark)."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.notebook", description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="output stem, e.g. reports/findings")
    parser.add_argument("--section", action="append", default=[], help="params.yaml group passed as parameters")
    parser.add_argument("--area", help="key of params.yaml 'areas' for a per-area report")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra string parameter fixed by the stage itself (e.g. kind=survey)")
    parser.add_argument("--stage", help="DVC stage name, for messages")
    parser.add_argument("--title", help="HTML page title")
    parser.add_argument("--kernel", default=KERNEL_NAME)
    return parser


def main(argv: list[str] | None = None, *, kernel=None) -> None:
    """The stage command. ``kernel``: see ``run`` (``pipeline.warm_kernel`` passes its warm kernel)."""
    args = stage_argument_parser().parse_args(argv)
    parameters = notebook_parameters(args.section, args.area, load_params())
    for item in args.set:
        key, _, value = item.partition("=")
        parameters[key] = value
    run(args.notebook, args.out, parameters, stage=args.stage, title=args.title, kernel_name=args.kernel,
        kernel=kernel)
    print(f"wrote {paths.rel(args.out.with_suffix('.html'))} and {paths.rel(args.out.with_suffix('.ipynb'))}")


if __name__ == "__main__":
    sys.exit(main())
