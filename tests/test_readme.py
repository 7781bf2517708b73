"""Every command the README shows in a ```bash block is one a test runs on a copy of the repo: tests/test_e2e.py
(in full, apart from `make repro` and `make test`, run as `make -n`), or, for the worked examples that build a
survey or fieldwork format, tests/test_readme_formats.py (each block as written). Adding a command to the README
without a check fails here."""
from __future__ import annotations

import re

from pipeline import paths

# command as written in the README -> how test_e2e.check_readme_commands runs it
README_COMMANDS = {
    "make repro": ["make", "-n", "repro"],               # the copy was built with `dvc repro`, what it runs
    "make test": ["make", "-n", "test"],                 # this suite
    "source .venv/bin/activate": None,                   # the e2e copy runs with this venv's bin first on PATH
    "dvc status": ["dvc", "status"],
    "dvc dag": ["dvc", "dag"],
    "dvc exp run -S '++areas.kent.n_peers=8'": ["dvc", "exp", "run", "-S", "++areas.kent.n_peers=8"],
    "dvc exp run -S features.rwg_min=0.6": ["dvc", "exp", "run", "-S", "features.rwg_min=0.6"],  # in full (~1 min)
    "dvc exp show": ["dvc", "exp", "show", "--no-pager"],
}


def readme_commands() -> list[str]:
    """Commands of the README's ```bash blocks, apart from the format worked examples (run by their own test)."""
    from tests.test_readme_formats import BUILDER
    text = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        if block.lstrip().startswith(BUILDER):
            continue
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_every_readme_command_is_checked():
    commands = readme_commands()
    assert "make repro" in commands and "make test" in commands
    from tests.test_readme_formats import format_examples
    assert format_examples(), "the README's format worked examples are not found"
    unchecked = [c for c in commands if c not in README_COMMANDS]
    assert not unchecked, f"README commands with no check in tests/test_e2e.py: {unchecked}"
