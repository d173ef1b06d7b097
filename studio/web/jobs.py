"""How a web request runs: in its own output folder, in a worker thread, with progress, cancellation and
one-line errors.

    async def generate(portrait, ..., progress=gr.Progress()):
        return await run_job(ctx.workspace, "talk", lambda job: work(job, portrait, ...), progress)

`work(job)` is plain blocking code that calls the pipelines; it writes under `job.folder` and reports
progress through `job.step(fraction, text)` or `job.frames(text)` (a `progress(done, total)` callback the
pipelines take). When Gradio cancels the request (the Stop button, a closed tab), the next progress
report raises `JobCancelled` inside the worker thread, so the CPU is freed within a frame or so instead of
at the end of the job. Expected failures (`AffectStudioError`) reach the page as one line naming the file
(its name, not the server's temporary path) and the problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from rigs.errors import AffectStudioError, InputFileError, OutputFileError

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobCancelled(Exception):
    """Raised inside a job's worker thread once its request was cancelled."""


class Workspace:
    """The app's own folder: `outputs/` (one sub-folder per job) and `samples/` (copies of the bundled
    samples for the examples). It is the only folder the app serves besides Gradio's upload cache.

    Job folders older than `keep_s` are deleted as new jobs start; the whole folder is deleted on
    `close()` when the workspace made it (a temporary folder)."""

    def __init__(self, root: str | Path | None = None, keep_s: float = 3600.0):
        self.owned = root is None
        self.root = Path(tempfile.mkdtemp(prefix="affect-studio-web-") if root is None else root).resolve()
        self.keep_s = keep_s
        self.outputs = self.root / "outputs"
        self.samples = self.root / "samples"
        self.outputs.mkdir(parents=True, exist_ok=True)
        self.samples.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def new_folder(self, kind: str) -> Path:
        """A fresh, empty folder for one job, e.g. `outputs/talk-k3j2x9/`."""
        self.sweep()
        self.outputs.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=self.outputs))

    def sweep(self) -> int:
        """Delete job folders older than `keep_s`; returns how many went."""
        now = time.time()
        removed = 0
        with self._lock:
            for folder in self.outputs.glob("*"):
                try:
                    if folder.is_dir() and now - folder.stat().st_mtime > self.keep_s:
                        shutil.rmtree(folder, ignore_errors=True)
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed

    def copy_samples(self, names: Iterable[str]) -> dict[str, Path]:
        """Copy bundled samples into `samples/` (so the examples do not depend on the working folder)."""
        from rigs.assets import sample_path

        copies = {}
        for name in names:
            target = self.samples / name
            if not target.exists():
                shutil.copyfile(sample_path(name), target)
            copies[name] = target
        return copies

    def close(self) -> None:
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)


class Job:
    """One request's work: its folder, its progress bar and its cancellation flag."""

    MIN_INTERVAL_S = 0.25  # between progress updates sent to the page

    def __init__(self, folder: Path, progress: Any = None):
        self.folder = folder
        self.stopped = threading.Event()
        self.warnings: list[str] = []  # what the pipelines warned of while this job ran, for the page
        self._progress = progress
        self._last_report = 0.0

    @contextlib.contextmanager
    def collecting_warnings(self) -> Iterator[None]:
        """Within the block, the studio's own warnings logged by this thread (several faces, a covered
        mouth, ...) are also kept in `self.warnings`, files named by their name, not the server's path."""
        handler = _ThreadWarnings(self.warnings)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            yield
        finally:
            root.removeHandler(handler)

    def check(self) -> None:
        """Raise `JobCancelled` if the request was cancelled."""
        if self.stopped.is_set():
            raise JobCancelled()

    def step(self, fraction: float, text: str, force: bool = True) -> None:
        """Report progress (0..1) with a short text; also the place where cancellation is noticed."""
        self.check()
        now = time.perf_counter()
        if self._progress is not None and (force or now - self._last_report >= self.MIN_INTERVAL_S):
            self._last_report = now
            self._progress(min(max(fraction, 0.0), 1.0), desc=text)

    def frames(self, text: str, start: float = 0.0, end: float = 1.0) -> Callable[[int, int], None]:
        """A `progress(done, total)` callback that maps its count onto [start, end] of the bar."""

        def report(done: int, total: int) -> None:
            fraction = start + (end - start) * done / max(total, 1)
            self.step(fraction, f"{text} {done}/{total}", force=done == total)

        return report


class _ThreadWarnings(logging.Handler):
    """Keeps the messages of WARNING records from the studio's packages logged by the thread that made it."""

    PACKAGES = ("generation", "recognition", "rigs", "studio")

    def __init__(self, messages: list[str]):
        super().__init__(logging.WARNING)
        self.messages, self.thread = messages, threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and record.name.split(".")[0] in self.PACKAGES:
            self.messages.append(re.sub(r"(?:/[^/\s]+)+/([^/\s]+)", r"\1", record.getMessage()))


def user_message(error: AffectStudioError, hide: Iterable[Path] = ()) -> str:
    """One line for the page: file errors name the file by its own name, not the server's temporary path."""
    if isinstance(error, (InputFileError, OutputFileError)):
        text = f"{error.path.name}: {error.problem}"
    else:
        text = str(error)
        for folder in hide:
            text = text.replace(str(folder) + "/", "").replace(str(folder), "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def upload_folders() -> list[Path]:
    """Where uploads and cached files live (hidden from error messages)."""
    from gradio.utils import get_upload_folder

    return [Path(get_upload_folder()), Path(tempfile.gettempdir())]


async def run_job(workspace: Workspace, kind: str, work: Callable[[Job], T], progress: Any = None) -> T:
    """Run `work(job)` in a worker thread (see the module docstring) and return its result."""
    job = Job(workspace.new_folder(kind), progress)

    def target() -> T:
        try:
            with job.collecting_warnings():
                return work(job)
        except BaseException:
            shutil.rmtree(job.folder, ignore_errors=True)  # nothing of a failed job is served
            raise

    try:
        return await asyncio.to_thread(target)
    except asyncio.CancelledError:
        job.stopped.set()
        log.info("%s job cancelled: its worker stops at its next progress report", kind)
        raise
    except Exception as error:
        raise page_error(error, workspace, kind) from None


async def stream_job(
    workspace: Workspace, kind: str, work: Callable[[Job, Callable[[Any], None]], T], progress: Any = None
) -> AsyncIterator[Any]:
    """Like `run_job`, for work that shows partial results as it goes: `work(job, show)` calls
    `show(outputs)` whenever it has something new (a fuller preview grid); each is yielded to the page,
    then the work's return value last. Use it as `async for outputs in stream_job(...): yield outputs`."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    job = Job(workspace.new_folder(kind), progress)

    def send(message: tuple[str, Any]) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, message)
        except RuntimeError:  # the server's loop is gone (shutting down): nobody is listening
            job.stopped.set()

    def target() -> None:
        try:
            with job.collecting_warnings():
                send(("done", work(job, lambda outputs: send(("show", outputs)))))
        except BaseException as error:
            shutil.rmtree(job.folder, ignore_errors=True)
            send(("error", error))

    threading.Thread(target=target, name=f"affect-studio-{kind}", daemon=True).start()
    finished = False
    try:
        while True:
            what, value = await queue.get()
            if what == "show":
                yield value
            elif what == "done":
                finished = True
                yield value
                return
            else:
                finished = True
                raise page_error(value, workspace, kind) from None
    finally:
        if not finished:  # cancelled (Stop, a closed tab) or the page went away
            job.stopped.set()
            log.info("%s job cancelled: its worker stops at its next progress report", kind)


def page_error(error: BaseException, workspace: Workspace, kind: str) -> Exception:
    """The `gr.Error` a failed job shows: one line for expected failures, a pointer to the log otherwise."""
    if isinstance(error, JobCancelled):
        return gr.Error("Cancelled.", title="Stopped", print_exception=False)
    if isinstance(error, gr.Error):
        return error
    if isinstance(error, AffectStudioError):
        message = user_message(error, [workspace.root, *upload_folders()])
        log.info("%s job refused: %s", kind, message)
        return gr.Error(message, title="Can't do that", duration=None, print_exception=False)
    log.error("%s job failed", kind, exc_info=(type(error), error, error.__traceback__))
    return gr.Error(
        f"Unexpected error ({type(error).__name__}); the details are in the server log.",
        title="Something broke",
        duration=None,
    )


def zip_files(files: Iterable[Path], path: Path, base: Path) -> Path:
    """A zip of `files`, named relative to `base`."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, file.relative_to(base).as_posix())
    return path


def table_rows(table) -> tuple[list[str], list[list[str]]]:
    """A rich `Table` (the CLI's score card, face and speech tables) as `(headers, rows)` of plain text,
    for a `gr.Dataframe`; the CLI and the page show the same table."""
    from rich.text import Text

    def plain(cell: Any) -> str:
        if isinstance(cell, Text):
            return cell.plain
        return Text.from_markup(str(cell)).plain if isinstance(cell, str) else str(cell)

    headers = [plain(column.header).replace("\n", " ") for column in table.columns]
    columns = [[plain(cell) for cell in column.cells] for column in table.columns]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    return headers, rows
