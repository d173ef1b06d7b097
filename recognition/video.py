"""Reading video files frame by frame (PyAV), with one-line errors naming the file and the problem."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from rigs.errors import InputFileError

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    duration: float  # seconds (0 if the container does not say)
    frame_count: int  # 0 if the container does not say


def _open(path: Path):
    if not path.exists():
        raise InputFileError(path, "file not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as error:
        raise InputFileError(path, f"not a readable video ({error.__class__.__name__})") from None
    if not container.streams.video:
        container.close()
        raise InputFileError(path, "has no video stream")
    return container


def video_info(path: str | Path) -> VideoInfo:
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
        if not duration and container.duration:
            duration = container.duration / av.time_base
        return VideoInfo(stream.width, stream.height, fps, duration, stream.frames or 0)


def iter_frames(path: str | Path) -> Iterator[tuple[float, np.ndarray]]:
    """Yield `(seconds, (H, W, 3) uint8 RGB)` for every frame, decoding one at a time (flat memory)."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                seconds = float(frame.time) if frame.time is not None else index / float(stream.average_rate or 25)
                yield seconds, frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as error:
            raise InputFileError(path, f"corrupt or truncated video ({error.__class__.__name__})") from None
