"""`FaceMotion`: facial animation on the ARKit rig — what audio-to-motion produces and every exporter,
renderer and preview consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from rigs.curves import Curves
from rigs.frames import FrameSeries

HEAD_CHANNELS: tuple[str, ...] = ("headYaw", "headPitch", "headRoll")
EYE_CHANNELS: tuple[str, ...] = ("leftEyeYaw", "leftEyePitch", "rightEyeYaw", "rightEyePitch")
MOTION_CHANNELS: tuple[str, ...] = ARKIT_NAMES + HEAD_CHANNELS + EYE_CHANNELS
SUPPORTED_FPS: tuple[float, ...] = (24.0, 25.0, 30.0, 50.0, 60.0)


@dataclass
class FaceMotion(FrameSeries):
    """Per-frame face animation at `fps`.

    - `blendshapes`: `(frames, 52) float32` in [0, 1], ARKit order (`rigs.arkit.ARKIT_NAMES`);
    - `head`: `(frames, 3) float32` degrees, yaw / pitch / roll (yaw > 0 turns toward the subject's left,
      pitch > 0 looks down, roll > 0 tilts counter-clockwise as the viewer sees it — as `HeadPose`);
    - `eyes`: `(frames, 4) float32` degrees, left yaw / left pitch / right yaw / right pitch (same signs).
    `metadata` holds JSON-serialisable facts: source audio, emotion spec, seed, generator settings.
    """

    blendshapes: np.ndarray
    head: np.ndarray
    eyes: np.ndarray
    fps: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.blendshapes = np.asarray(self.blendshapes, dtype=np.float32)
        n = len(self.blendshapes)
        self.head = np.asarray(self.head, dtype=np.float32).reshape(n, 3)
        self.eyes = np.asarray(self.eyes, dtype=np.float32).reshape(n, 4)
        if self.blendshapes.shape != (n, len(ARKIT_NAMES)):
            raise ValueError(f"blendshapes must be (frames, 52), got {self.blendshapes.shape}")

    @classmethod
    def still(cls, frames: int, fps: float) -> FaceMotion:
        """A neutral, motionless face for `frames` frames."""
        return cls(np.zeros((frames, 52)), np.zeros((frames, 3)), np.zeros((frames, 4)), fps)

    @property
    def num_frames(self) -> int:
        return len(self.blendshapes)

    def __getitem__(self, channel: str) -> np.ndarray:
        """One channel's `(frames,)` values by name (ARKit, head or eye channel)."""
        if channel in ARKIT_INDEX:
            return self.blendshapes[:, ARKIT_INDEX[channel]]
        if channel in HEAD_CHANNELS:
            return self.head[:, HEAD_CHANNELS.index(channel)]
        if channel in EYE_CHANNELS:
            return self.eyes[:, EYE_CHANNELS.index(channel)]
        raise KeyError(channel)

    def to_curves(self) -> Curves:
        values = np.column_stack([self.blendshapes, self.head, self.eyes])
        return Curves(values, self.fps, MOTION_CHANNELS, dict(self.metadata))

    @classmethod
    def from_curves(cls, curves: Curves) -> FaceMotion:
        values = curves.select(MOTION_CHANNELS).values
        return cls(values[:, :52], values[:, 52:55], values[:, 55:59], curves.fps, dict(curves.metadata))

    def save(self, path: str | Path) -> Path:
        """`.npz` or `.json` (see `Curves.save`)."""
        return self.to_curves().save(path)

    @classmethod
    def load(cls, path: str | Path) -> FaceMotion:
        return cls.from_curves(Curves.load(path))
