"""FACS action units: names, the ARKit channels that express them, and EMFACS emotion prototypes.

The AU -> ARKit table follows the FACS definitions and is approximate by nature. Lips part (AU25) is not a
single ARKit channel: it is measured as jawOpen - mouthClose, the mouth opening the lip-sync metric uses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionUnit:
    number: int
    name: str
    arkit: tuple[str, ...]  # channels whose mean expresses this AU


ACTION_UNITS: tuple[ActionUnit, ...] = (
    ActionUnit(1, "inner brow raiser", ("browInnerUp",)),
    ActionUnit(2, "outer brow raiser", ("browOuterUpLeft", "browOuterUpRight")),
    ActionUnit(4, "brow lowerer", ("browDownLeft", "browDownRight")),
    ActionUnit(5, "upper lid raiser", ("eyeWideLeft", "eyeWideRight")),
    ActionUnit(6, "cheek raiser", ("cheekSquintLeft", "cheekSquintRight")),
    ActionUnit(7, "lid tightener", ("eyeSquintLeft", "eyeSquintRight")),
    ActionUnit(9, "nose wrinkler", ("noseSneerLeft", "noseSneerRight")),
    ActionUnit(10, "upper lip raiser", ("mouthUpperUpLeft", "mouthUpperUpRight")),
    ActionUnit(12, "lip corner puller", ("mouthSmileLeft", "mouthSmileRight")),
    ActionUnit(14, "dimpler", ("mouthDimpleLeft", "mouthDimpleRight")),
    ActionUnit(15, "lip corner depressor", ("mouthFrownLeft", "mouthFrownRight")),
    ActionUnit(16, "lower lip depressor", ("mouthLowerDownLeft", "mouthLowerDownRight")),
    ActionUnit(17, "chin raiser", ("mouthShrugLower",)),
    ActionUnit(18, "lip pucker", ("mouthPucker",)),
    ActionUnit(20, "lip stretcher", ("mouthStretchLeft", "mouthStretchRight")),
    ActionUnit(22, "lip funneler", ("mouthFunnel",)),
    ActionUnit(23, "lip tightener", ("mouthPressLeft", "mouthPressRight")),
    ActionUnit(24, "lip pressor", ("mouthPressLeft", "mouthPressRight")),
    ActionUnit(25, "lips part", ("jawOpen", "mouthClose")),  # jawOpen - mouthClose, see module doc
    ActionUnit(26, "jaw drop", ("jawOpen",)),
    ActionUnit(28, "lip suck", ("mouthRollLower", "mouthRollUpper")),
    ActionUnit(29, "jaw thrust", ("jawForward",)),
    ActionUnit(34, "cheek puff", ("cheekPuff",)),
    ActionUnit(45, "blink", ("eyeBlinkLeft", "eyeBlinkRight")),
)
ACTION_UNIT_BY_NUMBER: dict[int, ActionUnit] = {au.number: au for au in ACTION_UNITS}

# EMFACS prototypes: the AUs that make up each basic emotion (optional AUs included).
EMOTION_PROTOTYPES: dict[str, tuple[int, ...]] = {
    "neutral": (),
    "happy": (6, 12, 25),
    "sad": (1, 4, 15),
    "surprised": (1, 2, 5, 26),
    "fearful": (1, 2, 4, 5, 20, 26),
    "angry": (4, 5, 7, 23, 24),
    "disgusted": (9, 15, 16),
}
