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


RUNNERS = ("pipeline.notebook", "pipeline.warm_kernel", "pipeline.profiles")
NOTEBOOK_STAGES = {name: stage for name, stage in DVC.items()
                   if any(f"python -m {runner}" in str(stage.get("cmd", "")) for runner in RUNNERS)}


def _stage_notebook(stage: dict) -> str:
    found = re.search(r"(notebooks/\S+\.ipynb)", stage["cmd"])
    if found:
        return found.group(1)
    from pipeline import profiles
    assert "pipeline.profiles" in stage["cmd"]
    return profiles.NOTEBOOK


def _runner_module(stage: dict) -> str:
    return re.search(r"python -m (pipeline\.\w+)", stage["cmd"]).group(1)


def test_the_pipeline_has_a_notebook_stage_per_report():
    assert {"clean_responses", "clean_context", "features", "estimate", "findings", "profiles"} <= set(NOTEBOOK_STAGES)


@pytest.mark.parametrize("name", sorted(NOTEBOOK_STAGES))
def test_stage_deps_cover_its_notebook_and_imported_modules(name):
    stage = NOTEBOOK_STAGES[name]
    deps = [str(d) for d in stage["deps"]]
    notebook = _stage_notebook(stage)
    assert notebook in deps, f"{name}: notebook {notebook} not among deps"
    assert "templates" in deps, f"{name}: the HTML export reads templates/"
    nb_path = paths.ROOT / notebook
    modules = _closure(_notebook_imports(nb_path) | {"pipeline.notebook", _runner_module(stage)})
    top_init = paths.ROOT / "pipeline" / "__init__.py"
    missing = sorted(p.relative_to(paths.ROOT).as_posix() for p in modules if p != top_init and not _covered(p, deps))
    assert not missing, f"{name}: imports {missing} but does not list them as deps"
    for dep in deps:
        assert (paths.ROOT / dep).exists() or dep.startswith(("data/processed/", "reports/")), \
            f"{name}: dep {dep} does not exist"


@pytest.mark.parametrize("name", sorted(NOTEBOOK_STAGES))
def test_processed_files_a_notebook_names_are_declared(name):
    """Files the notebook names through pipeline.paths (paths.processed("x"), paths.FORCES_CSV...) are deps
    or outputs of the stage: pyarrow opens parquet files without a Python open, so the audit hook of
    tests/test_e2e.py cannot see those reads."""
    stage = NOTEBOOK_STAGES[name]
    nb = json.loads((paths.ROOT / _stage_notebook(stage)).read_text(encoding="utf-8"))
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    named = {f"data/processed/{n}" for n in re.findall(r"""paths\.processed\(\s*["']([^"']+)["']""", source)}
    for constant in re.findall(r"paths\.([A-Z][A-Z_]+)", source):
        value = getattr(paths, constant)
        if isinstance(value, Path) and value.suffix:
            named.add(paths.rel(value))
    covered = [*map(str, stage["deps"]), *[next(iter(o)) if isinstance(o, dict) else o for o in stage.get("outs", [])]]
    hidden = sorted(n for n in named if not any(n == c or n.startswith(c.rstrip("/") + "/") for c in covered))
    assert not hidden, f"{name}: the notebook reads {hidden} but the stage does not declare them"


@pytest.mark.parametrize("name", sorted(NOTEBOOK_STAGES))
def test_stage_params_are_groups_that_exist(name):
    stage = NOTEBOOK_STAGES[name]
    for group in stage.get("params", []):
        top = str(group).split(".")[0]
        assert top in PARAMS, f"{name}: params group {group} missing from params.yaml"
    each = dict(spec.split("=", 1) for spec in re.findall(r"--each (\S+)", stage["cmd"]))
    sections = []
    for section in re.findall(r"--section (\S+)", stage["cmd"]):
        for name, values in each.items():
            if "{" + name + "}" in section:
                sections += [section.replace("{" + name + "}", v) for v in values.split(",")]
                break
        else:
            sections.append(section)
    declared = {str(g).split(".")[0] for g in stage.get("params", [])}
    assert set(sections) <= declared, f"{name}: reads {sections} but declares only {declared}"


def test_outputs_are_gitignored():
    ignored = (paths.ROOT / ".gitignore").read_text()
    assert "/data/processed/" in ignored and "/reports/" in ignored
