"""dvc.yaml declares exactly what each stage needs: its notebook, the pipeline modules it imports, its params group."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

from pipeline import paths

DVC = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load(paths.PARAMS.read_text())


def _imports_of_source(source: str, current: str | None = None) -> set[str]:
    """pipeline.* modules imported by a piece of Python source."""
    found: set[str] = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("pipeline")}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level and current:
                base = current.split(".")[: -node.level]  # "pipeline.clean.__init__" -> package "pipeline.clean"
                module = ".".join(base + ([module] if module else []))
            if module.startswith("pipeline"):
                found.add(module)
                found |= {f"{module}.{a.name}" for a in node.names}
    return found


def _module_path(module: str) -> Path | None:
    rel = Path(*module.split("."))
    for candidate in (paths.ROOT / rel.with_suffix(".py"), paths.ROOT / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _closure(modules: set[str]) -> set[Path]:
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        path = _module_path(module)
        if path is None or path in seen:
            continue
        seen.add(path)
        name = ".".join(path.relative_to(paths.ROOT).with_suffix("").parts)
        todo.extend(_imports_of_source(path.read_text(encoding="utf-8"), name))
    return seen


def _notebook_imports(nb_path: Path) -> set[str]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return _imports_of_source(source)


def _covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(paths.ROOT).as_posix()
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps)


NOTEBOOK_STAGES = {name: stage for name, stage in DVC.items()
                   if "notebooks/" in str(stage.get("cmd", stage.get("do", {}).get("cmd", "")))}


@pytest.mark.parametrize("name", sorted(NOTEBOOK_STAGES))
def test_stage_deps_cover_its_notebook_and_imported_modules(name):
    stage = NOTEBOOK_STAGES[name].get("do", NOTEBOOK_STAGES[name])
    deps = [str(d) for d in stage["deps"]]
    notebook = re.search(r"(notebooks/\S+\.ipynb)", stage["cmd"]).group(1)
    assert notebook in deps, f"{name}: notebook {notebook} not among deps"
    nb_path = paths.ROOT / notebook
    if not nb_path.is_file():
        pytest.skip(f"{notebook} not written yet")
    modules = _closure(_notebook_imports(nb_path) | {"pipeline.notebook"})
    top_init = paths.ROOT / "pipeline" / "__init__.py"
    missing = sorted(p.relative_to(paths.ROOT).as_posix() for p in modules if p != top_init and not _covered(p, deps))
    assert not missing, f"{name}: imports {missing} but does not list them as deps"
    for dep in deps:
        if dep.startswith("pipeline/"):
            assert (paths.ROOT / dep).exists(), f"{name}: dep {dep} does not exist"


@pytest.mark.parametrize("name", sorted(NOTEBOOK_STAGES))
def test_stage_params_are_groups_that_exist(name):
    stage = NOTEBOOK_STAGES[name].get("do", NOTEBOOK_STAGES[name])
    for group in stage.get("params", []):
        top = str(group).split(".")[0]
        assert top in PARAMS, f"{name}: params group {group} missing from params.yaml"
    sections = re.findall(r"--section (\S+)", stage["cmd"])
    declared = {str(g).split(".")[0] for g in stage.get("params", [])}
    assert set(sections) <= declared, f"{name}: reads {sections} but declares only {declared}"


def test_outputs_are_gitignored():
    ignored = (paths.ROOT / ".gitignore").read_text()
    assert "/data/processed/" in ignored and "/reports/" in ignored
