"""Streaming MP4 writer (H.264, browser-playable yuv420p), one frame at a time, atomically renamed.

Frames go straight to the encoder, so memory stays flat however long the video is; the file appears
under its final name only once it is complete.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rigs.atomic import check_writable, describe_os_error
from rigs.errors import OutputFileError


class VideoWriter:
    """`with VideoWriter("out.mp4", fps=25) as w: w.write(rgb_frame)`; frames are `(H, W, 3) uint8` RGB.

    Odd frame sizes are padded by one pixel (H.264 with 4:2:0 chroma needs even sizes).
    """

    def __init__(self, path: str | Path, fps: float, crf: int = 20, preset: str = "veryfast"):
        self.path = check_writable(path)
        self.fps = fps
        self.crf, self.preset = crf, preset
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part.mp4")
        os.close(fd)
        self._tmp = Path(tmp)
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        self._stream = None

    def _open_stream(self, width: int, height: int) -> None:
        rate = Fraction(self.fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = width + width % 2, height + height % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(self.crf), "preset": self.preset, "movflags": "+faststart"}

    def write(self, frame: np.ndarray) -> None:
        height, width = frame.shape[:2]
        if self._stream is None:
            self._open_stream(width, height)
        if width % 2 or height % 2:
            frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        try:
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
        except OSError as error:
            self.abort()
            raise OutputFileError(self.path, describe_os_error(error)) from None

    def close(self) -> Path:
        """Flush the encoder and move the finished file into place."""
        try:
            if self._stream is not None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
            self._container.close()
            os.replace(self._tmp, self.path)
        except OSError as error:
            self.abort()
            raise OutputFileError(self.path, describe_os_error(error)) from None
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the container may already be broken; the file goes anyway
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
