"""`EmotionTrack`: one emotion embedding per frame — the contract between emotion recognition (speech,
text, face, user overrides) and every generator.

The embedding of frame `i` is `[7 class probabilities (rigs.emotions.EMOTIONS order), valence, arousal,
intensity]`: `(frames, 10) float32`, probabilities summing to 1, valence/arousal in [-1, 1], intensity in
[0, 1] (how strongly the emotion shows: 0 is a neutral face whatever the class).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rigs.curves import Curves
from rigs.emotions import EMOTIONS
from rigs.frames import FrameSeries

EMBEDDING_CHANNELS: tuple[str, ...] = EMOTIONS + ("valence", "arousal", "intensity")


@dataclass
class EmotionTrack(FrameSeries):
    """Per-frame emotion at `fps`. `confidence` `(frames,)` in [0, 1] says how much to trust each frame
    (fusion weighs sources by it); `source` names where it came from ("speech", "text", "user", ...)."""

    probabilities: np.ndarray  # (frames, 7)
    valence: np.ndarray  # (frames,)
    arousal: np.ndarray  # (frames,)
    intensity: np.ndarray  # (frames,)
    fps: float
    confidence: np.ndarray | None = None  # (frames,), defaults to ones
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.probabilities = np.asarray(self.probabilities, dtype=np.float32).reshape(-1, len(EMOTIONS))
        n = len(self.probabilities)
        self.valence = np.asarray(self.valence, dtype=np.float32).reshape(n)
        self.arousal = np.asarray(self.arousal, dtype=np.float32).reshape(n)
        self.intensity = np.asarray(self.intensity, dtype=np.float32).reshape(n)
        self.confidence = (
            np.ones(n, dtype=np.float32)
            if self.confidence is None
            else np.asarray(self.confidence, np.float32).reshape(n)
        )

    @property
    def num_frames(self) -> int:
        return len(self.probabilities)

    @property
    def embedding(self) -> np.ndarray:
        """`(frames, 10) float32`: probabilities, valence, arousal, intensity."""
        return np.column_stack([self.probabilities, self.valence, self.arousal, self.intensity]).astype(np.float32)

    def dominant(self) -> list[str]:
        """The most likely class per frame."""
        return [EMOTIONS[i] for i in self.probabilities.argmax(axis=1)]

    def to_curves(self) -> Curves:
        return Curves(self.embedding, self.fps, EMBEDDING_CHANNELS, {"source": self.source, **self.metadata})

    @classmethod
    def from_curves(cls, curves: Curves) -> EmotionTrack:
        values = curves.select(EMBEDDING_CHANNELS).values
        meta = dict(curves.metadata)
        source = meta.pop("source", "")
        return cls(values[:, :7], values[:, 7], values[:, 8], values[:, 9], curves.fps, source=source, metadata=meta)
