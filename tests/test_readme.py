"""Every command the README shows in a ```bash block is one tests/test_e2e.py runs on its copy of the repo
(short ones in full, long ones through `make -n` or `dvc exp run --dry`): adding a command to the README without a
check fails here."""
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
    "dvc exp run -S features.rwg_min=0.6": ["dvc", "exp", "run", "--dry", "-S", "features.rwg_min=0.6"],
    "dvc exp show": ["dvc", "exp", "show", "--no-pager"],
}


def readme_commands() -> list[str]:
    text = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_every_readme_command_is_checked():
    commands = readme_commands()
    assert "make repro" in commands and "make test" in commands
    unchecked = [c for c in commands if c not in README_COMMANDS]
    assert not unchecked, f"README commands with no check in tests/test_e2e.py: {unchecked}"
