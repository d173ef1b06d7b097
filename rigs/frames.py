"""`FrameSeries`: what every per-frame container shares (curves, motion, emotion tracks): frames at `fps`."""

from __future__ import annotations

import numpy as np


class FrameSeries:
    """Mixin for data sampled at `fps` frames per second; subclasses define `num_frames` and `fps`."""

    fps: float

    @property
    def num_frames(self) -> int:
        raise NotImplementedError

    @property
    def duration(self) -> float:
        """Seconds covered by the frames."""
        return self.num_frames / self.fps

    @property
    def times(self) -> np.ndarray:
        """`(frames,) float64` seconds of each frame."""
        return np.arange(self.num_frames) / self.fps
