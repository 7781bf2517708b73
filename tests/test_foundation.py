"""The project's skeleton: paths anchored at the root, area matching, notebooks without outputs, the runner."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from pipeline import paths
from pipeline.areas import AreaMatcher, load_partnerships, normalise_name
from pipeline.errors import InputError
from pipeline.notebook import notebook_parameters, run


def test_root_is_repo_and_independent_of_cwd(tmp_path, monkeypatch):
    assert (paths.ROOT / "dvc.yaml").is_file() and (paths.ROOT / "params.yaml").is_file()
    monkeypatch.chdir(tmp_path)
    code = "from pipeline import paths; print(paths.ROOT)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == paths.ROOT


def test_reference_table_has_43_forces_and_42_partnerships():
    partnerships = load_partnerships()
    assert len(partnerships) == 42
    assert partnerships["n_forces"].sum() == 43
    multi = partnerships[partnerships["n_forces"] > 1]
    assert len(multi) == 1 and multi.iloc[0]["pfa_codes"].count(";") == 1


@pytest.mark.parametrize("name, lcjp, pfa", [
    ("Avon & Somerset Constabulary", "avon-and-somerset", "E23000036"),
    ("Devon and Cornwall Police", "devon-and-cornwall", "E23000035"),
    ("MPS", "london", "E23000001"),
    ("  met ", "london", "E23000001"),
    ("City of London Police", "london", "E23000034"),
    ("London CJB", "london", None),
    ("Dyfed Powys", "dyfed-powys", "W15000004"),
    ("north wales police", "north-wales", "W15000001"),
    ("KENT", "kent", "E23000032"),
    ("E23000032", "kent", "E23000032"),
    ("Greater  Manchester Police", "greater-manchester", "E23000005"),
])
def test_area_variants_resolve(name, lcjp, pfa):
    match = AreaMatcher.from_reference().match(name)
    assert match.lcjp_id == lcjp
    assert match.pfa_code == pfa


@pytest.mark.parametrize("name, expected", [
    ("Yorkshire", "unknown area"),
    ("Kentt Police", "closest known names: Kent"),
    ("", "blank"),
])
def test_unknown_names_are_errors_listing_closest(name, expected):
    matcher = AreaMatcher.from_reference()
    with pytest.raises(InputError) as err:
        matcher.match(name, file="survey/x.csv", row=7)
    message = str(err.value)
    assert expected in message and "survey/x.csv" in message and "row 7" in message and "area_aliases.csv" in message


def test_ambiguous_alias_is_reported_not_guessed():
    forces = AreaMatcher.from_reference().forces
    aliases = pd.DataFrame({"alias": ["Valley", "Valley"], "area": ["E23000029", "E23000032"]})
    matcher = AreaMatcher(forces, aliases)
    assert matcher.lookup("valley") is None
    assert "ambiguous" in matcher.problem("Valley")


def test_match_series_is_vectorised_and_keeps_index():
    names = pd.Series(["Kent", "nowhere", "kent police"], index=[10, 11, 12])
    out = AreaMatcher.from_reference().match_series(names)
    assert list(out.index) == [10, 11, 12]
    assert out.loc[10, "lcjp_id"] == "kent" and out.loc[12, "lcjp_id"] == "kent"
    assert pd.isna(out.loc[11, "lcjp_id"]) and "unknown area" in out.loc[11, "area_problem"]


def test_normalise_name_strips_organisational_words():
    assert normalise_name("The Dyfed-Powys Police Service") == "dyfed powys"
    assert normalise_name("Avon & Somerset Local Criminal Justice Board") == "avon and somerset"


def test_notebooks_committed_without_outputs():
    notebooks = sorted(paths.NOTEBOOKS.glob("*.ipynb"))
    assert notebooks, "no notebooks found"
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name} has outputs"


def test_every_notebook_cell_is_valid_python():
    """A syntax error in a notebook otherwise shows only when its stage runs, minutes into a repro."""
    import ast
    for path in sorted(paths.NOTEBOOKS.glob("*.ipynb")):
        for number, cell in enumerate(nbformat.read(path, as_version=4).cells, start=1):
            if cell.cell_type == "code":
                source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
                try:
                    ast.parse(source)
                except SyntaxError as err:
                    pytest.fail(f"{path.name} cell {number}, line {err.lineno}: {err.msg}")


def test_every_notebook_has_a_parameters_cell():
    for path in sorted(paths.NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"


def test_parameters_come_from_params_groups():
    params = {"features": {"alpha_min": 0.7, "seed": 1}, "areas": {"kent": {"n_peers": 5}}}
    out = notebook_parameters(["features"], "kent", params)
    assert out == {"alpha_min": 0.7, "seed": 1, "area_id": "kent", "area_params": {"n_peers": 5}}
    with pytest.raises(SystemExit):
        notebook_parameters(["nope"], None, params)


def _tiny_notebook(path: Path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny report"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "instep", "display_name": "In Step", "language": "python"}
    nbformat.write(nb, path)


def test_runner_writes_offline_html(tmp_path):
    nb = tmp_path / "ok.ipynb"
    _tiny_notebook(nb, "print('value', x * 2)")
    out = tmp_path / "out" / "ok"
    run(nb, out, {"x": 21}, stage="tiny")
    html = out.with_suffix(".html").read_text(encoding="utf-8")
    assert "value 42" in html and "<title>Tiny report</title>" in html
    assert out.with_suffix(".html").stat().st_mode & 0o777 == 0o644  # readable by a web server, like every output
    external = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|import\s*\(?["']https?://""",
                          html, flags=re.I)
    assert external == [], "the report loads something from the network"
    assert json.loads(out.with_suffix(".ipynb").read_text())["cells"]


def test_executed_notebook_is_byte_identical_across_runs_with_rich_outputs(tmp_path):
    """A Styler's text/plain holds its memory address; two runs must still write the same bytes."""
    nb = tmp_path / "styled.ipynb"
    _tiny_notebook(nb, "import pandas as pd\npd.DataFrame({'a': [x]}).style.set_uuid('t')")
    written = []
    out = tmp_path / "out" / "styled"
    for _ in range(2):
        run(nb, out, {"x": 1}, stage="tiny")
        written.append(out.with_suffix(".ipynb").read_bytes())
    assert b"Styler" in written[0] and b" at 0x" not in written[0]
    assert written[0] == written[1]


def test_bare_dataframes_and_stylers_show_labels_not_column_names(tmp_path):
    nb = tmp_path / "bare.ipynb"
    _tiny_notebook(nb, "import pandas as pd\nfrom pipeline import report\nfrom IPython.display import display\n"
                       "report.install_display_labels()\n"
                       "frame = pd.DataFrame({'rows_read': [x], 'plain': [2], 'feature': ['performance_management']})"
                       ".set_index(pd.Index(['a'], name='lcjp_id'))\n"
                       "display(frame)\ndisplay(frame.style.set_uuid('u'))")
    out = tmp_path / "out" / "bare"
    run(nb, out, {"x": 1}, stage="tiny")
    page = out.with_suffix(".html").read_text(encoding="utf-8")
    assert "rows_read" not in page.split("</style>")[-1] and "lcjp_id" not in page.split("</style>")[-1]
    from pipeline.report import column_label
    assert page.count(column_label("rows_read")) >= 2 and "plain" in page
    assert "performance_management" not in page and "Performance management" in page  # name values as words


def test_tables_show_flags_as_yes_or_no():
    import pandas as pd

    from pipeline.report import table_html
    markup = table_html(pd.DataFrame({"kind": ["survey", "outcomes"], "synthetic": [True, False], "rows": [3, None]}))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", markup)
    assert cells == ["Survey", "yes", "3.0", "Outcomes", "no", ""], cells


def test_method_and_inference_labels():
    from pipeline.report import inference_label, method_label
    assert method_label("freedman_lane") == "Freedman–Lane permutation" and method_label("new_way") == "New way"
    assert inference_label("freedman_lane B=1999") == "Freedman–Lane permutation, B = 1,999"
    assert inference_label("hc3_t") == "HC3 t-test"


def test_name_columns_show_words_also_after_a_rename_to_labels():
    import pandas as pd

    from pipeline.report import column_label, table_html
    markup = table_html(pd.DataFrame({column_label("feature"): ["performance_management"]}))
    assert "performance_management" not in markup and "Performance management" in markup


def test_figure_alt_text_has_words_not_column_names():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pipeline.report import figure_html
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    markup = figure_html(fig, "Specification curve for performance_management and days_offence_to_completion")
    assert 'alt="Specification curve for performance management and days offence to completion"' in markup


def test_failing_notebook_names_stage_notebook_and_cell_and_leaves_no_report(tmp_path):
    nb = tmp_path / "bad.ipynb"
    _tiny_notebook(nb, "raise ValueError('planted failure')")
    out = tmp_path / "out" / "bad"
    out.parent.mkdir()
    out.with_suffix(".html").write_text("stale")
    with pytest.raises(SystemExit) as err:
        run(nb, out, {}, stage="tiny@stage")
    message = str(err.value)
    assert "tiny@stage" in message and "bad.ipynb" in message and "cell 2" in message and "planted failure" in message
    assert not out.with_suffix(".html").exists() and not out.with_suffix(".ipynb").exists()
    assert out.with_suffix(".FAILED.ipynb").exists()


def test_ci_runs_make_test():
    text = (paths.ROOT / ".ci" / "run").read_text()
    assert "make test" in text and "set -e" in text


def test_dvc_config_is_offline():
    config = (paths.ROOT / ".dvc" / "config").read_text()
    assert "analytics = false" in config and "check_update = false" in config


def test_every_area_in_params_is_a_partnership():
    params = yaml.safe_load(paths.PARAMS.read_text())
    assert sorted(params["areas"]) == sorted(load_partnerships()["lcjp_id"])


def _lockfile():
    import importlib.util
    spec = importlib.util.spec_from_file_location("lockfile", paths.ROOT / "tools" / "lockfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_environment_yml_pins_equal_the_lock():
    lockfile = _lockfile()
    lock = lockfile.pins((paths.ROOT / "requirements.lock").read_text())
    env = yaml.safe_load((paths.ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in env["dependencies"]
    assert lockfile.pins("\n".join(p for p in pip_section if "==" in p)) == lock


def test_lock_matches_requirements_in():
    """`make lock` wrote the lock from this requirements.in: its sha256 stamp, every direct dependency pinned,
    every pin with hashes (so `make setup` installs with --require-hashes), rfc3987-syntax left out."""
    lockfile = _lockfile()
    text = (paths.ROOT / "requirements.lock").read_text()
    first = text.splitlines()[0]
    assert first == lockfile.STAMP + lockfile.sha256(), (
        "requirements.in changed since requirements.lock was generated: run `make lock` and commit both")
    locked = lockfile.pins(text)
    direct = lockfile.direct_requirements((paths.ROOT / "requirements.in").read_text())
    assert direct and not [name for name in direct if name not in locked], "direct dependency missing from lock"
    hashes = lockfile.hashed_pins(text)
    assert set(hashes) == set(locked) and min(hashes.values()) >= 1
    assert "rfc3987-syntax" not in locked


def test_lockfile_helpers_parse_what_uv_writes():
    lockfile = _lockfile()
    text = "# c\nRuamel.Yaml_clib==0.2.15 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\n"
    assert lockfile.pins(text) == {"ruamel-yaml-clib": "0.2.15"}
    assert lockfile.hashed_pins(text) == {"ruamel-yaml-clib": 2}
    assert lockfile.direct_requirements("a\nB_c[x]>=1  # why\n# none\n") == ["a", "b-c"]


def test_pyproject_declares_every_third_party_import_of_the_package():
    import ast
    import sys
    import tomllib
    from importlib import metadata

    declared = {_lockfile().normalise(d) for d in
                tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    providers = metadata.packages_distributions()
    used = set()
    for path in (paths.ROOT / "pipeline").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "pipeline":
                    used |= {_lockfile().normalise(d) for d in providers.get(top, [top])}
    assert not used - declared, f"imported by pipeline/ but not declared in pyproject.toml: {used - declared}"
    # needed at run time without an import statement naming them
    runtime = {"pyarrow": "pandas' parquet engine (engine='pyarrow')", "ipykernel": "the kernel notebooks run in",
               "distributed": "dask.distributed is the distributed package"}
    assert not declared - used - set(runtime), f"declared in pyproject.toml but never imported: {declared - used}"


def test_the_library_holds_no_fixtures_and_no_dvc_internals():
    """Test data builders live in tests/builders; nothing in pipeline/ imports DVC's internal API (dvc.api only)."""
    import re
    for gone in ("measurement/synthetic.py", "estimation/fixtures.py", "publish/testing.py", "clean/examples.py"):
        assert not (paths.ROOT / "pipeline" / gone).exists(), gone
    internal = re.compile(r"^\s*(from|import) dvc\.(repo|stage|dvcfile|output)\b", re.M)
    offenders = [p.name for p in (paths.ROOT / "pipeline").rglob("*.py") if internal.search(p.read_text())]
    assert not offenders, offenders
    assert not (paths.ROOT / "pipeline" / "orchestrate.py").exists()


def test_package_inits_are_lazy():
    """`import pipeline.clean` imports no submodule (they load on first use of a name)."""
    import subprocess
    import sys
    code = ("import sys, pipeline.clean; print(sorted(m for m in sys.modules if m.startswith('pipeline')));"
            "from pipeline.clean import clean_kind, write_result, parse_period; print(parse_period.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=paths.ROOT).stdout.splitlines()
    assert out[0] == "['pipeline', 'pipeline.clean']"
    assert out[1] == "pipeline.clean.periods"
