"""The README's worked examples for survey and fieldwork files as the tools save them ("Survey and fieldwork
files as the tools save them"), run as written in a copy of the repo: build the format from the demo data, `rm`
the CSVs, `cp` the file in, re-run. The features, the estimates and reports/metrics.json then equal the CSV route's
byte for byte (the hashes of the input files, which must differ, are in reports/estimate_provenance.json since
issue 18, and that file is the one output of the stage not compared).

Two substitutions, both said here: the examples' `/tmp/instep-*` folders become this test's own temporary folder
(so two runs of the suite never share one), and `make repro` runs `dvc repro estimate`, the part of `make repro`
that writes the features, estimates and metrics (the pages after it are checked by tests/test_e2e.py).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline import paths
from tests.builders.repo import BIN, copy_repo, dvc, run_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("readme_formats")]

BUILDER = ".venv/bin/python -m tests.builders.formats"
COMPARED = ("data/processed/area_features.csv", "data/processed/estimates.csv", "reports/metrics.json")


def format_examples(readme: Path | None = None) -> dict[str, list[str]]:
    """README ```bash blocks that start by building a format with the test builders: format -> commands."""
    text = (readme or paths.ROOT / "README.md").read_text(encoding="utf-8")
    examples = {}
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
        lines = [line for line in lines if line and not line.startswith("#")]
        if lines and lines[0].startswith(BUILDER):
            examples[lines[0].split()[3]] = lines
    return examples


def _outputs(root: Path) -> dict:
    record = json.loads((root / "reports" / "estimate_provenance.json").read_text(encoding="utf-8"))
    return {"record": record, **{name: (root / name).read_bytes() for name in COMPARED}}


@pytest.fixture(scope="module")
def csv_route(tmp_path_factory) -> dict:
    root = copy_repo(tmp_path_factory.mktemp("csv") / "instep")
    dvc(root, "repro", "estimate")
    return _outputs(root)


def test_the_readme_shows_an_example_per_format():
    assert set(format_examples()) >= {"sav", "xlsx", "two-header", "qdpx"}
    for commands in format_examples().values():
        assert commands[-1] == "make repro" and any(c.startswith("cp ") for c in commands), commands


@pytest.mark.parametrize("fmt", sorted(format_examples()))
def test_worked_example_gives_the_csv_routes_numbers(fmt, csv_route, tmp_path):
    root = copy_repo(tmp_path / "instep")
    (root / ".venv").symlink_to(BIN.parent)  # the examples call .venv/bin/python, as a clone after make setup has
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    removed = {path.name for command in format_examples()[fmt] if command.startswith("rm ")
               for pattern in command.split()[1:] for path in root.glob(pattern)}  # the CSVs the example deletes
    assert removed, f"{fmt}: the example deletes nothing"
    ran = []
    for command in format_examples()[fmt]:
        command = command.replace("/tmp/instep-", f"{scratch}/instep-")
        if command == "make repro":
            dvc(root, "repro", "estimate")
        else:
            run_in(root, ["bash", "-c", f"set -eo pipefail; {command}"])
        ran.append(command)
    assert ran[-1] == "make repro"
    kind = "fieldwork" if fmt == "qdpx" else "survey"
    copied = {name for command in ran if command.startswith("cp ")
              for name in (Path(part).name for part in command.split()[1:-1])}
    copied = {p.name for p in (root / "data" / "raw" / kind).iterdir()
              if any(Path(p.name).match(pattern) for pattern in copied)}
    assert copied, f"{fmt}: nothing the example copies is in data/raw/{kind}"
    inputs = json.loads((root / "data" / "processed" / f"inputs_{kind}.json").read_text(encoding="utf-8"))
    read = {Path(entry["path"].split(" [")[0]).name for entry in inputs["files"]}  # "file [sheet NAME]" -> file
    copied -= {"columns.csv"}  # the two-header mapping: read with its export, not a data file of its own
    assert copied <= read, f"{fmt}: the clean stage did not read {sorted(copied - read)}"
    assert not removed & read, f"{fmt}: the clean stage still read {sorted(removed & read)}"
    got = _outputs(root)
    for name in COMPARED:
        assert got[name] == csv_route[name], f"{fmt}: {name} differs from the CSV route's"
    inputs_file = f"data/processed/inputs_{kind}.json"  # names the files read: the record tells the routes apart
    assert got["record"]["deps"][inputs_file] != csv_route["record"]["deps"][inputs_file]
