"""What every tab gets: the app's settings (limits), the shared models and the workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from recognition.audio import AUDIO_SUFFIXES
from recognition.image_io import IMAGE_SUFFIXES
from recognition.video import VIDEO_SUFFIXES
from rigs.errors import AffectStudioError, InputFileError
from studio.web.jobs import Workspace
from studio.web.models import Models, shared_models

DEFAULT_HOST = "127.0.0.1"  # loopback: reachable from this machine only, unless --host says otherwise
DEFAULT_PORT = 7860


@dataclass
class StudioSettings:
    """Limits and server options of the web app (`app.py` flags set them)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    share: bool = False  # a public gradio.live link; only when asked for
    max_upload_mb: float = 50.0
    workers: int = 2  # long jobs (any tab) running at once; more wait in the queue
    queue_size: int = 32  # waiting jobs beyond this are refused
    max_audio_s: float = 60.0  # longer speech: use the CLI
    max_text_chars: int = 600
    max_video_s: float = 60.0  # Analyze: longer videos, use the CLI
    synthetic_max_images: int = 200  # larger synthetic runs: the page shows the CLI command instead (~30 ms an image)
    keep_minutes: float = 60.0  # job folders older than this are deleted
    workdir: Path | None = None  # None: a fresh temporary folder, deleted on close

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise AffectStudioError(f"workers must be at least 1, got {self.workers}")
        if self.max_upload_mb <= 0:
            raise AffectStudioError(f"max upload size must be positive, got {self.max_upload_mb:g} MB")


@dataclass
class StudioContext:
    settings: StudioSettings
    models: Models = field(default_factory=shared_models)
    workspace: Workspace | None = None

    def __post_init__(self) -> None:
        if self.workspace is None:
            self.workspace = Workspace(self.settings.workdir, keep_s=self.settings.keep_minutes * 60)

    # -- upload checks: the type by suffix, before any decoder sees the file ----------------------------

    def check_image(self, path: str | None, what: str = "portrait") -> Path:
        return _check(path, IMAGE_SUFFIXES, what, "an image")

    def check_audio(self, path: str | None, what: str = "speech") -> Path:
        return _check(path, AUDIO_SUFFIXES, what, "an audio file")

    def check_audio_length(self, audio, name: str) -> None:
        if audio.duration > self.settings.max_audio_s:
            raise InputFileError(
                name,
                f"{audio.duration:.0f} s of audio; the web app takes up to {self.settings.max_audio_s:.0f} s "
                "(use the affect-studio command line for longer speech)",
            )

    def check_text(self, text: str | None) -> str | None:
        text = (text or "").strip() or None
        if text and len(text) > self.settings.max_text_chars:
            raise AffectStudioError(
                f"the text has {len(text)} characters; the web app takes up to {self.settings.max_text_chars}"
            )
        return text


def _check(path: str | None, suffixes: frozenset[str], what: str, kind: str) -> Path:
    if not path:
        raise AffectStudioError(f"no {what} given")
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise InputFileError(
            path, f"not {kind} this app reads ({path.suffix or 'no suffix'}); use {', '.join(sorted(suffixes))}"
        )
    return path


def media_kind(path: str | Path) -> str:
    """'image', 'video' or 'audio' by suffix; `InputFileError` for anything else."""
    suffix = Path(path).suffix.lower()
    for kind, suffixes in (("image", IMAGE_SUFFIXES), ("video", VIDEO_SUFFIXES), ("audio", AUDIO_SUFFIXES)):
        if suffix in suffixes:
            return kind
    allowed = sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES | AUDIO_SUFFIXES)
    raise InputFileError(path, f"not an image, video or audio file this app reads; use {', '.join(allowed)}")
