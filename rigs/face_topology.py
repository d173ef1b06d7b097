"""Named landmark sets of MediaPipe's 478-point face topology (the first 468 are the canonical mesh).

"Right"/"left" are the subject's sides (right = image-left in an unmirrored photo). Lip rows run from the
subject's right mouth corner to the left one; lids from the outer eye corner to the inner one.
"""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 478
IRIS = np.arange(468, 478)
RIGHT_IRIS, LEFT_IRIS = np.arange(468, 473), np.arange(473, 478)  # subject's sides; the first is centre

LIPS_INNER_UPPER = np.array([78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308])
LIPS_INNER_LOWER = np.array([78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308])
LIPS_OUTER_UPPER = np.array([61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291])
LIPS_OUTER_LOWER = np.array([61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291])
# the lip bodies' rings between the outer and inner contours (same column order)
LIPS_UPPER_RINGS = (
    np.array([76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306]),
    np.array([62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292]),
)
LIPS_LOWER_RINGS = (
    np.array([76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306]),
    np.array([62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292]),
)
# Eyes: lids from the outer corner to the inner corner, upper lid i facing lower lid i.
RIGHT_EYE_CORNERS = (33, 133)
RIGHT_UPPER_LID = np.array([246, 161, 160, 159, 158, 157, 173])
RIGHT_LOWER_LID = np.array([7, 163, 144, 145, 153, 154, 155])
RIGHT_UPPER_RING2 = np.array([247, 30, 29, 27, 28, 56, 190])
RIGHT_UPPER_RING3 = np.array([113, 225, 224, 223, 222, 221, 189])
LEFT_EYE_CORNERS = (263, 362)
LEFT_UPPER_LID = np.array([466, 388, 387, 386, 385, 384, 398])
LEFT_LOWER_LID = np.array([249, 390, 373, 374, 380, 381, 382])
LEFT_UPPER_RING2 = np.array([467, 260, 259, 257, 258, 286, 414])
LEFT_UPPER_RING3 = np.array([342, 445, 444, 443, 442, 441, 413])
FACE_OVAL = np.array([
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
])  # fmt: skip
CHIN, NOSE_TIP = 152, 1

# The mouth opening: the inner lip contour as one closed polygon.
MOUTH_OPENING = np.concatenate([LIPS_INNER_UPPER, LIPS_INNER_LOWER[-2:0:-1]])
RIGHT_BROW = np.array([70, 63, 105, 66, 107])
LEFT_BROW = np.array([300, 293, 334, 296, 336])
FOREHEAD = 10


def eye_opening(side: str) -> np.ndarray:
    """The eye opening of the subject's `side` ("right" or "left") as one closed polygon of indices."""
    outer, inner = RIGHT_EYE_CORNERS if side == "right" else LEFT_EYE_CORNERS
    upper, lower = (RIGHT_UPPER_LID, RIGHT_LOWER_LID) if side == "right" else (LEFT_UPPER_LID, LEFT_LOWER_LID)
    return np.concatenate([[outer], upper, [inner], lower[::-1]])


def triangles_inside(triangles: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """`(T,) bool`: triangles whose three vertices all lie on `polygon` (the faces that fill an opening)."""
    members = np.isin(triangles, polygon)
    return members.all(axis=1)
