"""Face crops framed the way each bundled net was trained, from MediaPipe's 478 landmarks.

The nets came with their own detectors and framing: face-api crops around its 68 iBUG landmarks (no
rotation), `fer` around an OpenCV Haar box. We rebuild those boxes from MediaPipe landmarks, mapped to
the 68-point iBUG layout, so each net sees faces framed as in training.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# MediaPipe landmark index for each of the 68 iBUG points (jaw 0-16, brows 17-26, nose 27-35,
# eyes 36-47, mouth 48-67); the usual correspondence, nearest vertex of the 478-point mesh.
IBUG68_FROM_MEDIAPIPE = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87,
)  # fmt: skip

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


def ibug68(landmarks: np.ndarray) -> np.ndarray:
    """`(478, 2+)` MediaPipe landmarks in pixels -> `(68, 2)` iBUG points in pixels."""
    return np.asarray(landmarks, dtype=np.float64)[IBUG68_FROM_MEDIAPIPE, :2]


def expression_box(landmarks: np.ndarray) -> Box:
    """face-api's expression framing: the 68 points' bounding box, grown by 10% on each side."""
    points = ibug68(landmarks)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    dx, dy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    return (x0 - dx, y0 - dy, x1 + dx, y1 + dy)


def identity_box(landmarks: np.ndarray) -> Box:
    """face-api's "dlib" framing for the descriptor net: a square set by the eye-mouth distances."""
    points = ibug68(landmarks)
    right_eye, left_eye, mouth = points[36:42].mean(0), points[42:48].mean(0), points[48:68].mean(0)
    side = math.floor(np.mean([np.linalg.norm(mouth - left_eye), np.linalg.norm(mouth - right_eye)]) / 0.45)
    ref = (right_eye + left_eye + mouth) / 3.0
    x0, y0 = ref[0] - 0.5 * side, ref[1] - 0.43 * side
    return (x0, y0, x0 + side, y0 + side)


def fer_box(landmarks: np.ndarray) -> Box:
    """`fer`'s framing: an OpenCV Haar face box (square, forehead to above the chin) plus its 10 px margin.

    Calibrated on the sample portrait, where the Haar box is 1.07 x the 68 points' width, centred 0.21 of
    their height above their centre; fer's fixed 10 px margin was 10.5% of that box.
    """
    points = ibug68(landmarks)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    side = 1.07 * (x1 - x0) * (1 + 2 * 0.105)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.21 * (y1 - y0)
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def crop_square(image: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Cut `box` (clipped to the image), pad it to a centred square with black, resize to `size`.

    This is face-api's own input preparation; `(H, W, C) uint8 -> (size, size, C) uint8`. Downscaling
    averages pixels (no aliasing), upscaling is bilinear.
    """
    height, width = image.shape[:2]
    x0, y0 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    x1, y1 = min(width, math.floor(box[2])), min(height, math.floor(box[3]))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((size, size) + image.shape[2:], dtype=image.dtype)
    crop = image[y0:y1, x0:x1]
    h, w = crop.shape[:2]
    if h != w:
        diff = abs(h - w)
        after = math.floor(diff / 2 + 0.5)
        pad = [(0, 0)] * crop.ndim
        pad[0 if h < w else 1] = (diff - after, after)
        crop = np.pad(crop, pad)
    side = crop.shape[0]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)
