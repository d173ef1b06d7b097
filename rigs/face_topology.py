"""Named landmark sets of MediaPipe's 478-point face topology (the first 468 are the canonical mesh).

"Right"/"left" are the subject's sides (right = image-left in an unmirrored photo). Lip rows run from the
subject's right mouth corner to the left one; lids from the outer eye corner to the inner one.
"""

from __future__ import annotations

import numpy as np

LIPS_OUTER_UPPER = np.array([61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291])
LIPS_OUTER_LOWER = np.array([61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291])
LIPS_INNER_UPPER = np.array([78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308])
LIPS_INNER_LOWER = np.array([78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308])
# The mouth opening: the inner lip contour as one closed polygon.
MOUTH_OPENING = np.concatenate([LIPS_INNER_UPPER, LIPS_INNER_LOWER[-2:0:-1]])

RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
RIGHT_UPPER_LID = np.array([246, 161, 160, 159, 158, 157, 173])
RIGHT_LOWER_LID = np.array([7, 163, 144, 145, 153, 154, 155])
LEFT_EYE_CORNERS = (263, 362)
LEFT_UPPER_LID = np.array([466, 388, 387, 386, 385, 384, 398])
LEFT_LOWER_LID = np.array([249, 390, 373, 374, 380, 381, 382])


def eye_opening(side: str) -> np.ndarray:
    """The eye opening of the subject's `side` ("right" or "left") as one closed polygon of indices."""
    outer, inner = RIGHT_EYE_CORNERS if side == "right" else LEFT_EYE_CORNERS
    upper, lower = (RIGHT_UPPER_LID, RIGHT_LOWER_LID) if side == "right" else (LEFT_UPPER_LID, LEFT_LOWER_LID)
    return np.concatenate([[outer], upper, [inner], lower[::-1]])


RIGHT_BROW = np.array([70, 63, 105, 66, 107])
LEFT_BROW = np.array([300, 293, 334, 296, 336])
FACE_OVAL = np.array([
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
])  # fmt: skip
NOSE_TIP, CHIN, FOREHEAD = 1, 152, 10
# Iris landmarks (478 topology only): centre first, then four ring points.
RIGHT_IRIS = np.arange(468, 473)
LEFT_IRIS = np.arange(473, 478)


def triangles_inside(triangles: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """`(T,) bool`: triangles whose three vertices all lie on `polygon` (the faces that fill an opening)."""
    members = np.isin(triangles, polygon)
    return members.all(axis=1)
