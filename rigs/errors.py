"""Errors a user can act on. Their message is one line that names the file and the problem."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path


def did_you_mean(word: str, choices: Iterable[str], suggest: Mapping[str, str] | None = None) -> str:
    """`" (did you mean 'happy'?)"` for the choice closest to a mistyped `word`, or "" when none is close;
    `suggest` maps a matched choice to the name to offer instead (an alias to what it stands for)."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    if not close:
        return ""
    return f" (did you mean {(suggest or {}).get(close[0], close[0])!r}?)"


class AffectStudioError(Exception):
    """An expected failure (bad input, unwritable output): shown to users as one line, no traceback."""


class FileError(AffectStudioError):
    """A problem with one file: `path` and `problem`, shown as `path: problem`."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):  # pickled with both arguments, so it crosses from a worker process intact
        return type(self), (self.path, self.problem)


class InputFileError(FileError):
    """An input file that cannot be used, e.g. `portrait.png: no face found`."""


class OutputFileError(FileError):
    """An output that cannot be written, e.g. `/ro/out.json: permission denied`."""
