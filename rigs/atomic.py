"""Atomic file writes: write to a temporary file beside the target, then rename, so readers and resumed
jobs never see a half-written file and a failed write leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rigs.errors import OutputFileError


def describe_os_error(error: OSError) -> str:
    """A short human phrase for an OS error: 'permission denied', 'no space left on device', ..."""
    return (error.strerror or str(error)).lower()


def check_writable(path: str | Path) -> Path:
    """Fail early, before any work, if `path` cannot be created; returns it as a `Path`."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputFileError(path, "is a directory, expected a file path")
    if parent.exists() and not parent.is_dir():
        raise OutputFileError(path, f"{parent} is a file, not a folder")
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputFileError(path, f"cannot create folder {parent} ({describe_os_error(error)})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputFileError(path, f"folder {parent} is not writable")
    return path


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """`with atomic_write(p, "w") as f: ...` writes `p` whole or not at all.

    OS failures (read-only folder, full disk) become `OutputFileError` naming `path`.
    """
    path = check_writable(path)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as error:
        raise OutputFileError(path, describe_os_error(error)) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise OutputFileError(path, describe_os_error(error)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
