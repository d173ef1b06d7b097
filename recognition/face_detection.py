"""Face detection for still images: face-api's SSD MobileNetV1 (ONNX), which finds small faces and
group photos' faces that the landmarker's own short-range detector misses."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from recognition import models
from recognition.nets.faceapi_ssd import INPUT_SIZE, postprocess


@dataclass
class Detection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    score: float  # in [0, 1]


def ssd_input(image: np.ndarray) -> np.ndarray:
    """`(H, W, 3) uint8` RGB -> `(1, 3, 512, 512) float32` in [0, 255]: face-api's framing (the image at
    the top-left of a black square), resized with area averaging when shrinking (less aliasing than
    face-api's plain bilinear, which loses small faces in large photos)."""
    height, width = image.shape[:2]
    side = max(height, width)
    square = np.zeros((side, side, 3), dtype=np.uint8)
    square[:height, :width] = image
    interpolation = cv2.INTER_AREA if side > INPUT_SIZE else cv2.INTER_LINEAR
    resized = cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation)
    return resized.transpose(2, 0, 1)[None].astype(np.float32)


class FaceDetector:
    """`FaceDetector()(image) -> [Detection]`, best score first."""

    def __init__(self, min_confidence: float = 0.5, max_faces: int = 100):
        self.min_confidence = min_confidence
        self.max_faces = max_faces
        self._net = models.load("faceapi_ssd_mobilenetv1")

    def __call__(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        boxes, scores = self._net.run(ssd_input(image))
        found = postprocess(boxes[0], scores[0], height, width, self.min_confidence, self.max_faces)
        return [Detection((x0, y0, x1, y1), score) for x0, y0, x1, y1, score in found]
