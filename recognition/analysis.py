"""`FaceAnalysisPipeline`: everything recognition can say about the faces in an image or a video.

>>> pipeline = FaceAnalysisPipeline()
>>> result = pipeline.image(load_image("portrait.png"))
>>> result.faces[0].emotion.top
'happy'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recognition.action_units import action_units
from recognition.face import FaceAnalyzer, FaceObservation
from recognition.fer import EmotionEstimate, ExpressionRecognizer
from recognition.identity import IdentityEncoder
from rigs.atomic import atomic_write
from rigs.emotions import EMOTIONS
from rigs.errors import InputFileError
from rigs.facs import ACTION_UNIT_BY_NUMBER


@dataclass
class FaceAnalysis:
    """One face: geometry (`face`), expression (`emotion`), AU intensities and an identity embedding."""

    face: FaceObservation
    emotion: EmotionEstimate
    action_units: dict[int, float]
    identity: np.ndarray | None = None  # (128,) float32

    def to_dict(self, include_landmarks: bool = True) -> dict[str, Any]:
        data = self.face.to_dict(include_landmarks)
        data["emotion"] = self.emotion.to_dict()
        data["action_units"] = {
            f"AU{n:02d}": {"name": ACTION_UNIT_BY_NUMBER[n].name, "intensity": round(v, 4)}
            for n, v in self.action_units.items()
        }
        if self.identity is not None:
            data["identity_embedding"] = self.identity.round(5).tolist()
        return data


@dataclass
class ImageAnalysis:
    """All faces of one image, largest first."""

    width: int
    height: int
    faces: list[FaceAnalysis]
    source: str | None = None

    def to_dict(self, include_landmarks: bool = True) -> dict[str, Any]:
        return {
            "source": self.source,
            "width": self.width,
            "height": self.height,
            "faces": [f.to_dict(include_landmarks) for f in self.faces],
            "notes": "valence/arousal are derived from the 7 class probabilities (circumplex), not measured",
        }

    def require_face(self, source: str | Path) -> ImageAnalysis:
        """`self`, or a one-line `InputFileError` naming `source` if the image shows no face."""
        if not self.faces:
            raise InputFileError(source, f"no face found in the {self.width}x{self.height} image")
        return self

    def save_json(self, path: str | Path) -> Path:
        with atomic_write(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        return Path(path)


@dataclass
class VideoAnalysis:
    """Per-frame results of the largest face (the tracked subject); frames without a face are None."""

    fps: float
    times: np.ndarray  # (frames,) seconds
    frames: list[FaceAnalysis | None]
    width: int
    height: int
    source: str | None = None
    probabilities: np.ndarray = field(init=False)  # (frames, 7), NaN where no face

    def __post_init__(self) -> None:
        self.probabilities = np.full((len(self.frames), len(EMOTIONS)), np.nan, dtype=np.float32)
        for i, frame in enumerate(self.frames):
            if frame is not None:
                self.probabilities[i] = frame.emotion.probabilities

    @property
    def detected_fraction(self) -> float:
        return float(np.mean([f is not None for f in self.frames])) if self.frames else 0.0

    def require_face(self, source: str | Path) -> VideoAnalysis:
        """`self`, or a one-line `InputFileError` naming `source` if no frame showed a face."""
        if not self.frames:
            raise InputFileError(source, "video has no frames")
        if self.detected_fraction == 0:
            raise InputFileError(source, f"no face found in any of the {len(self.frames)} frames")
        return self

    def to_dict(self, include_landmarks: bool = False) -> dict[str, Any]:
        return {
            "source": self.source,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "frames": [
                {"time": round(float(t), 4), "face": None if f is None else f.to_dict(include_landmarks)}
                for t, f in zip(self.times, self.frames, strict=True)
            ],
            "notes": "valence/arousal are derived from the 7 class probabilities (circumplex), not measured",
        }

    def save_json(self, path: str | Path) -> Path:
        with atomic_write(path, "w") as f:
            json.dump(self.to_dict(), f)
        return Path(path)


class FaceAnalysisPipeline:
    """Face geometry + expression + AUs (+ identity) for images and videos.

    Components are passed in (or built once with defaults) and reused for every call.
    """

    def __init__(
        self,
        analyzer: FaceAnalyzer | None = None,
        expressions: ExpressionRecognizer | None = None,
        identity: IdentityEncoder | None = None,
    ):
        self.analyzer = analyzer or FaceAnalyzer()
        self.expressions = expressions or ExpressionRecognizer()
        self.identity = identity

    def _describe(self, image: np.ndarray, faces: list[FaceObservation]) -> list[FaceAnalysis]:
        if not faces:
            return []
        emotions = self.expressions(image, faces)
        identities = self.identity(image, faces) if self.identity else [None] * len(faces)
        return [
            FaceAnalysis(face, emotion, action_units(face.blendshapes), identity)
            for face, emotion, identity in zip(faces, emotions, identities, strict=True)
        ]

    def image(self, image: np.ndarray, source: str | None = None) -> ImageAnalysis:
        """`(H, W, 3) uint8` RGB -> `ImageAnalysis` with every face, largest first."""
        height, width = image.shape[:2]
        return ImageAnalysis(width, height, self._describe(image, self.analyzer(image)), source)

    def video(
        self,
        frames: Iterable[tuple[float, np.ndarray]],
        fps: float,
        source: str | None = None,
        on_frame: Callable[[float, np.ndarray, FaceAnalysis | None], None] | None = None,
    ) -> VideoAnalysis:
        """`(seconds, RGB frame)` pairs -> per-frame analysis of the largest face, in tracking mode.

        `on_frame(seconds, frame, analysis)` is called for each frame as it is done (progress bars,
        annotated video writers), so frames need not be kept in memory.
        """
        times: list[float] = []
        results: list[FaceAnalysis | None] = []
        size = (0, 0)
        for seconds, frame, faces in self.analyzer.track(frames):
            size = (frame.shape[1], frame.shape[0])
            described = self._describe(frame, faces[:1])
            analysis = described[0] if described else None
            times.append(seconds)
            results.append(analysis)
            if on_frame is not None:
                on_frame(seconds, frame, analysis)
        return VideoAnalysis(fps, np.asarray(times), results, size[0], size[1], source)
