"""pipeline.warm_kernel: stage commands run in kernels kept warm must give what a fresh kernel gives."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipeline import paths, warm_kernel

pytestmark = pytest.mark.xdist_group("warm_kernel")


def _notebook(path: Path, cells: list[str]) -> Path:
    nb = {"cells": [], "metadata": {"kernelspec": {"name": "instep", "display_name": "In Step", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for i, source in enumerate(cells):
        nb["cells"].append({"cell_type": "code", "id": f"c{i}", "metadata": {"tags": ["parameters"] if i == 0 else []},
                            "source": source, "outputs": [], "execution_count": None})
    nb["cells"].insert(0, {"cell_type": "markdown", "id": "h", "metadata": {}, "source": "# Probe"})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def _render(commands: dict[str, str], root: Path, jobs: int = 1) -> subprocess.CompletedProcess:
    script = textwrap.dedent(f"""
        import json, sys
        from pipeline import warm_kernel
        if __name__ == "__main__":
            results = warm_kernel.render_stage_commands(json.loads(sys.argv[1]), {jobs}, progress=False)
            print(json.dumps([[r.stage, r.returncode, r.output] for r in results]))
    """)
    env = dict(os.environ, INSTEP_ROOT=str(root), MPLBACKEND="Agg", PYTHONHASHSEED="0")
    return subprocess.run([sys.executable, "-c", script, json.dumps(commands)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def test_stage_command_parsing():
    argv = warm_kernel.notebook_argv('python -m pipeline.notebook notebooks/05.ipynb --out reports/areas/kent '
                                     '--area kent --title "In Step area profile - kent"')
    assert argv == ["notebooks/05.ipynb", "--out", "reports/areas/kent", "--area", "kent",
                    "--title", "In Step area profile - kent"]
    assert warm_kernel.notebook_argv("bash build.sh") is None
    assert warm_kernel.notebook_argv(["python -m pipeline.notebook a", "echo b"]) is None  # a list of commands
    parsed = warm_kernel.parse_notebook_command("python -m pipeline.notebook x.ipynb --out y --kernel k")
    assert str(parsed.notebook) == "x.ipynb" and parsed.kernel == "k" and parsed.argv[0] == "x.ipynb"
    assert warm_kernel.parse_notebook_command("make b") is None


def test_notebook_imports_are_collected(tmp_path):
    nb = _notebook(tmp_path / "n.ipynb", ["x = 1", "import pandas as pd\nfrom pipeline import paths\ny = pd.Series([1])",
                                          "if True:\n    import json\nimport pandas as pd"])
    assert warm_kernel.notebook_imports(nb).splitlines() == ["import pandas as pd", "from pipeline import paths"]


def test_no_state_leaks_between_notebooks_and_a_dead_kernel_is_replaced(tmp_path):
    """Variables, history, execution counts, rcParams, open figures, warnings filters, pandas options (02_features
    sets display.max_columns) and numpy print options of one notebook do not reach the next; a notebook that kills its kernel fails with its stage named and the next one
    runs in a new kernel."""
    root = tmp_path / "repo"
    for name in ("params.yaml", "dvc.yaml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text((paths.ROOT / name).read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copytree(paths.TEMPLATES, root / "templates")
    _notebook(root / "notebooks" / "probe.ipynb", [
        "tag = 'x'",
        "import warnings\nimport matplotlib\nimport matplotlib.pyplot as plt\nimport numpy as np\nimport pandas as pd\n"
        "print('leaked' in dir(), matplotlib.rcParams['lines.linewidth'], len(plt.get_fignums()),\n"
        "      len(warnings.filters), len(In), pd.get_option('display.max_columns'), np.get_printoptions()['precision'])",
        "leaked = 1\nmatplotlib.rcParams['lines.linewidth'] = 9.0\nplt.figure()\nwarnings.simplefilter('ignore')\n"
        "pd.set_option('display.max_columns', 3)\nnp.set_printoptions(precision=2)",
    ])
    _notebook(root / "notebooks" / "killer.ipynb", ["tag = 'x'", "import os\nos._exit(3)"])
    command = "python -m pipeline.notebook notebooks/{nb}.ipynb --out out/{out} --stage {out}"
    commands = {"s1": command.format(nb="probe", out="s1"), "s2": command.format(nb="killer", out="s2")}
    result = _render(commands, root)
    assert result.returncode == 0, result.stderr
    outcome = {stage: (code, text) for stage, code, text in json.loads(result.stdout.strip().splitlines()[-1])}
    assert outcome["s1"][0] == 0, outcome["s1"][1]
    assert outcome["s2"][0] == 1 and "Stage s2 failed" in outcome["s2"][1]
    result = _render({"s3": command.format(nb="probe", out="s3"), "s4": command.format(nb="probe", out="s4")}, root)
    assert result.returncode == 0, result.stderr

    def printed(stage):
        nb = json.loads((root / "out" / f"{stage}.ipynb").read_text(encoding="utf-8"))
        cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
        return [c["execution_count"] for c in cells], "".join(cells[-2]["outputs"][0]["text"])

    fresh = printed("s1")
    assert fresh[1].startswith("False ") and printed("s3") == fresh and printed("s4") == fresh


def test_warm_profiles_equal_cold_profiles_byte_for_byte(tmp_path):
    """The area profile rendered by the stage command in a fresh process and in a warm kernel (after
    another area) gives the same HTML."""
    from tests.builders import publish as testing
    root = tmp_path / "repo"
    (root / "data" / "raw").mkdir(parents=True)
    shutil.copytree(paths.RAW_REFERENCE, root / "data" / "raw" / "reference")
    for name in ("templates", "notebooks"):
        shutil.copytree(paths.ROOT / name, root / name)
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(paths.ROOT / name, root / name)
    testing.write_fixture(root, plant=True, small_area="cumbria", fieldwork_areas=("kent", "cumbria"))
    areas = ["kent", "cumbria", "gwent"]
    command = ('python -m pipeline.notebook notebooks/05_area_profile.ipynb --out reports/{d}/{a} --section publish --section profile '
               '--area {a} --stage profile@{a} --title "In Step area profile - {a}"')
    env = dict(os.environ, INSTEP_ROOT=str(root), MPLBACKEND="Agg", PYTHONHASHSEED="0")
    for area in areas[:2]:
        args = warm_kernel.notebook_argv(command.format(d="cold", a=area))
        cold = subprocess.run([sys.executable, "-m", "pipeline.notebook", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=300)
        assert cold.returncode == 0, cold.stderr
    result = _render({f"profile@{a}": command.format(d="warm", a=a) for a in reversed(areas)}, root)
    assert result.returncode == 0, result.stderr
    for area in areas[:2]:
        cold = (root / "reports" / "cold" / f"{area}.html").read_bytes()
        assert cold == (root / "reports" / "warm" / f"{area}.html").read_bytes(), area
