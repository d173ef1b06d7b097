"""Atomic file writes: write to a temporary file beside the target, then rename, so readers and resumed
jobs never see a half-written file and a failed write leaves nothing behind."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rigs.errors import OutputFileError


def _process_umask() -> int:
    """The process's umask (reading it means setting it: done once, at import, before any threads)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# `tempfile.mkstemp` creates files readable by their owner only; the finished file gets the permissions
# a plain `open()` would have given it (0666 less the umask), so datasets and videos can be shared.
FILE_MODE = 0o666 & ~_process_umask()


def describe_os_error(error: OSError) -> str:
    """A short human phrase for an OS error: 'permission denied', 'no space left on device', ..."""
    return (error.strerror or str(error)).lower()


def check_writable(path: str | Path) -> Path:
    """Fail early, before any work, if `path` cannot be created; returns it as a `Path`."""
    path = Path(path)
    if path.is_dir():
        raise OutputFileError(path, "is a directory, expected a file path")
    check_writable_folder(path.parent if str(path.parent) else Path("."), target=path)
    return path


def check_writable_folder(folder: str | Path, target: str | Path | None = None) -> Path:
    """Fail early if `folder` cannot be created or written to (the error names `target`, default the
    folder); creates it; returns it as a `Path`."""
    folder = Path(folder)
    target = folder if target is None else target
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise OutputFileError(target, f"{blocker} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputFileError(target, f"cannot create folder {folder} ({describe_os_error(error)})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputFileError(target, f"folder {folder} is not writable")
    return folder


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_parts(path: Path) -> int:
    """Delete temporary files that killed writers of `path` left behind (their process is gone);
    returns how many. Temporary names carry the writer's pid: `.<name>.<pid>.<random>.part...`."""
    removed = 0
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part*"):
        pid = part.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            part.unlink(missing_ok=True)
            removed += 1
    return removed


def temporary_file(path: Path, suffix: str = ".part", remove_stale: bool = True) -> Path:
    """Create an empty temporary file beside `path`, named for it and this process (see
    `remove_stale_parts`); stale ones from killed runs are removed first, unless the caller cleans its
    whole folder once itself (`remove_stale=False`: the scan lists the folder, costly per file in a big one)."""
    if remove_stale:
        remove_stale_parts(path)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=suffix)
    except OSError as error:
        raise OutputFileError(path, describe_os_error(error)) from None
    os.close(fd)
    os.chmod(name, FILE_MODE)
    return Path(name)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb", remove_stale: bool = True) -> Iterator[IO]:
    """`with atomic_write(p, "w") as f: ...` writes `p` whole or not at all (`remove_stale`: see
    `temporary_file`).

    OS failures (read-only folder, full disk) become `OutputFileError` naming `path`.
    """
    path = check_writable(path)
    tmp = temporary_file(path, remove_stale=remove_stale)
    try:
        with open(tmp, mode) as f:
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
