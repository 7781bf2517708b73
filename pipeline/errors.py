"""Errors a person can act on: which file, which row and column, and what to do."""
from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input that stops the pipeline. The message names file, row, column and the fix.

    ``row`` is the 1-based data row number as a spreadsheet shows it (header = row 1, first
    data row = row 2), so a user can jump straight to it.
    """

    def __init__(self, file: str | Path | None, problem: str, fix: str,
                 row: int | None = None, column: str | None = None):
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.problem = problem
        self.fix = fix
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        location = ", ".join(where) if where else "input"
        super().__init__(f"{location}: {problem}. How to fix: {fix}")
