"""Is the mouth visible? Lips are redder than the skin around them; a hand, a mask or a microphone is not.

    contrast = lip_contrast(image, face.landmarks)   # CIELAB a* units; None on a colourless photo
    if mouth_looks_covered(image, face.landmarks): ...

The face landmarker still finds a face whose mouth is covered and places the lips where they would be,
so a talking-face render would draw a moving mouth over the hand. The cue here is colour: the mean
red-green (CIELAB a*) of the lip band between the outer and inner lip contours, minus that of a ring of
skin around the mouth (the lip polygon grown 1.6x about its centre). On 8 uncovered colour faces (the
bundled portrait, hopper and astronaut, and the 5 faces the landmarker finds in insightface's `t1.jpg`)
it is +3.7 to +16.1; with the mouth covered by a black bar, a patch of the face's own cheek colour, or a
surgical mask (light blue, white, black, green), -11.3 to +0.3 over the 44 covered faces still found
(`bench/mouth_cover.py`). Black-and-white photos have no a* to compare, and a mouth under
`MIN_MOUTH_WIDTH` pixels wide is too few pixels to compare (a pixel of landmark error moves the band
onto the skin: the sample portrait shrunk to a 17 px face read +0.8), so they get no verdict.
Skin-toned lipstick, a thick moustache or a very dark photo can read as covered, and a hand redder than
the face may not: callers warn, they do not refuse.
"""

from __future__ import annotations

import cv2
import numpy as np

from rigs.face_topology import LIPS_INNER_LOWER, LIPS_INNER_UPPER, LIPS_OUTER_LOWER, LIPS_OUTER_UPPER

# Lip a* minus skin a* below which the mouth counts as covered (CIELAB a*, OpenCV's 8-bit scale = 1 unit).
MIN_LIP_CONTRAST = 2.0
# Below this mean chroma (sqrt(a*^2 + b*^2)) over the face the photo is black and white, or nearly.
MIN_FACE_CHROMA = 4.0
RING_SCALE = 1.6
# Narrower mouths (outer lip corner to corner, pixels) get no verdict; the bundled faces shrunk until the
# mouth is 10-13 px wide still read +3.6 to +5.5.
MIN_MOUTH_WIDTH = 10.0


def lip_contrast(image: np.ndarray, landmarks: np.ndarray) -> float | None:
    """Lip a* minus surrounding skin a*, for an RGB `image` `(H, W, 3) uint8` and the face's `landmarks`
    `(478, 2+)` in its pixels; None when the face has no colour (a grey photo) or the mouth is too small
    to judge."""
    points = np.asarray(landmarks, np.float64)[:, :2]
    outer = np.concatenate([points[LIPS_OUTER_UPPER], points[LIPS_OUTER_LOWER[-2:0:-1]]])
    if np.linalg.norm(points[LIPS_OUTER_UPPER[0]] - points[LIPS_OUTER_UPPER[-1]]) < MIN_MOUTH_WIDTH:
        return None
    inner = np.concatenate([points[LIPS_INNER_UPPER], points[LIPS_INNER_LOWER[-2:0:-1]]])
    grown = (outer - outer.mean(0)) * RING_SCALE + outer.mean(0)
    x0, y0 = np.floor(np.maximum(grown.min(0), 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(grown.max(0) + 1, image.shape[1::-1])).astype(int)
    if x1 <= x0 or y1 <= y0:
        return None
    offset = np.array([x0, y0])
    lips = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(lips, [np.round(outer - offset).astype(np.int32)], 1)
    cv2.fillPoly(lips, [np.round(inner - offset).astype(np.int32)], 0)
    ring = np.zeros_like(lips)
    cv2.fillPoly(ring, [np.round(grown - offset).astype(np.int32)], 1)
    cv2.fillPoly(ring, [np.round(outer - offset).astype(np.int32)], 0)
    if not lips.any() or not ring.any():
        return None
    lab = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1, :3]), cv2.COLOR_RGB2LAB).astype(np.float32) - 128.0
    if face_chroma(image, points) < MIN_FACE_CHROMA:
        return None
    return float(lab[lips > 0, 1].mean() - lab[ring > 0, 1].mean())


def face_chroma(image: np.ndarray, points: np.ndarray) -> float:
    """Mean CIELAB chroma (sqrt(a*^2 + b*^2)) over the landmarks' bounding box: about 0 for a grey photo."""
    x0, y0 = np.floor(np.maximum(points.min(0), 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(points.max(0) + 1, image.shape[1::-1])).astype(int)
    box = np.ascontiguousarray(image[y0:y1, x0:x1, :3])
    if box.size == 0:
        return 0.0
    lab = cv2.cvtColor(box, cv2.COLOR_RGB2LAB).astype(np.float32) - 128.0
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def mouth_looks_covered(image: np.ndarray, landmarks: np.ndarray) -> bool:
    """True when the lips are no redder than the skin around them (see the module docstring)."""
    contrast = lip_contrast(image, landmarks)
    return contrast is not None and contrast < MIN_LIP_CONTRAST
