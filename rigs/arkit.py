"""ARKit's 52 face blendshapes: canonical names and order, and the MediaPipe name mapping.

The order is Apple's (`ARFaceAnchor.BlendShapeLocation`, Unreal's `ARFaceBlendShape` enum). Other tools
order the same names differently (MediaPipe alphabetically with `_neutral` first and no `tongueOut`, Unity
alphabetically, Live Link Face swaps Left/Right pairs of jaw and mouth), so always map by name.
Left/Right are the subject's own sides (image-right in an unmirrored photo).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)  # fmt: skip

ARKIT_INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_NAMES)}

# MediaPipe's face_blendshapes model names its outputs exactly like ARKit (camelCase), plus a `_neutral`
# score that ARKit does not have, and it never estimates `tongueOut`.
MEDIAPIPE_TO_ARKIT: dict[str, str] = {name: name for name in ARKIT_NAMES if name != "tongueOut"}
MEDIAPIPE_IGNORED = frozenset({"_neutral"})
NOT_ESTIMATED_BY_MEDIAPIPE = frozenset({"tongueOut"})


def arkit_vector(scores: Mapping[str, float]) -> np.ndarray:
    """Scores keyed by MediaPipe blendshape name -> `(52,) float32` in ARKit order, in [0, 1].

    Unknown names raise `KeyError`, `_neutral` is dropped, and channels MediaPipe does not estimate are 0.
    """
    weights = np.zeros(len(ARKIT_NAMES), dtype=np.float32)
    for name, score in scores.items():
        if name in MEDIAPIPE_IGNORED:
            continue
        weights[ARKIT_INDEX[MEDIAPIPE_TO_ARKIT[name]]] = score
    return np.clip(weights, 0.0, 1.0)
