"""Errors that reach the user as one clear line: ``<path>: <problem>``."""
from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input (unreadable, empty or mismatched media, a wrong path...).

    The CLI prints ``str(err)`` as a single line and exits non-zero.
    """

    def __init__(self, path: str | Path | None, problem: str):
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class NoFaceError(InputError):
    """No face could be found where one is required."""
