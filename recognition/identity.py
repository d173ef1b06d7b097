"""Face identity: 128-d embeddings (face-api's face recognition net) and their cosine similarity.

Used to score identity preservation: how much a generated face still looks like the portrait.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recognition import models
from recognition.face_crop import crop_square, identity_box

IDENTITY_SIZE = 150


class IdentityEncoder:
    """`IdentityEncoder()(image, faces) -> (N, 128) float32` embeddings, one row per `FaceObservation`."""

    def __init__(self) -> None:
        self._net = models.load("faceapi_recognition")

    def __call__(self, image: np.ndarray, faces: Sequence[Any]) -> np.ndarray:
        crops = np.stack([crop_square(image, identity_box(f.landmarks), IDENTITY_SIZE) for f in faces])
        return self.embed_crops(crops)

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """`(N, 150, 150, 3) uint8` RGB aligned crops -> `(N, 128) float32` embeddings."""
        if len(crops) == 0:
            return np.zeros((0, 128), dtype=np.float32)
        return self._net.map_batches(crops.transpose(0, 3, 1, 2).astype(np.float32), chunk=16)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of embeddings `(..., 128)` and `(..., 128)` -> `(...)`, in [-1, 1]."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    num = (a * b).sum(axis=-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return num / np.maximum(den, 1e-12)
