"""requirements.lock helpers for `make lock` and tests/test_foundation.py (no network, standard library only).

    python tools/lockfile.py stamp      # after `uv pip compile`: line 1 = requirements.in's sha256
    python tools/lockfile.py env        # environment.yml (conda) with the lock's exact pins
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS_IN = ROOT / "requirements.in"
LOCK = ROOT / "requirements.lock"
ENVIRONMENT = ROOT / "environment.yml"
STAMP = "# requirements.in sha256: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256(path: Path = REQUIREMENTS_IN) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def direct_requirements(text: str) -> list[str]:
    """The normalised names requirements.in lists (comments, markers and extras dropped)."""
    names = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(normalise(re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0]))
    return names


def pins(text: str) -> dict[str, str]:
    """``{normalised name: version}`` of every ``name==version`` line of a lock."""
    return {normalise(m.group(1)): m.group(2) for m in map(_PIN.match, text.splitlines()) if m}


def hashed_pins(text: str) -> dict[str, int]:
    """Number of ``--hash`` lines under each pin."""
    counts: dict[str, int] = {}
    current = None
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            current = normalise(match.group(1))
            counts[current] = 0
        elif current and line.strip().startswith("--hash="):
            counts[current] += 1
        elif line.strip() and not line.startswith(" "):
            current = None
    return counts


def stamp() -> None:
    body = [line for line in LOCK.read_text(encoding="utf-8").splitlines() if not line.startswith(STAMP)]
    LOCK.write_text("\n".join([STAMP + sha256(), *body]) + "\n", encoding="utf-8")


def environment_yml(lock_text: str) -> str:
    lines = ["# conda users: the same exact pins as requirements.lock (written by `make lock`; "
             "tests/test_foundation.py checks they agree).", "name: instep", "channels:", "  - conda-forge",
             "dependencies:", "  - python=3.11", "  - pip", "  - pip:"]
    lines += [f"      - {name}=={version}" for name, version in sorted(pins(lock_text).items())]
    lines.append("      - -e .")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["stamp"]:
        stamp()
    elif argv[:1] == ["env"]:
        ENVIRONMENT.write_text(environment_yml(LOCK.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
