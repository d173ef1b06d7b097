"""Phone -> mouth pose over ARKit channels, with separate jaw and lip dominance (JALI's split).

Each phone has a target pose (ARKit weights for the mouth and jaw) and two dominance values: how
strongly it holds the jaw and how strongly it holds the lips against its neighbours during
coarticulation. Bilabials (p, b, m) and labiodentals (f, v) dominate the lips completely; alveolars and
velars barely touch the lips, so they take their neighbours' lip shapes (the "t" in "two" is rounded).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES

JAW_CHANNELS = ("jawOpen",)
LIP_CHANNELS = (
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthStretchRight", "mouthRollLower",
    "mouthRollUpper", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthSmileLeft", "mouthSmileRight", "tongueOut",
)  # fmt: skip
SPEECH_CHANNELS = JAW_CHANNELS + LIP_CHANNELS
BILABIALS = frozenset({"p", "b", "m"})
LABIODENTALS = frozenset({"f", "v"})
OPEN_VOWELS = frozenset({"aa", "ae", "ah", "ao", "aw", "ay"})
VOWELS = OPEN_VOWELS | {"eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"}


@dataclass(frozen=True)
class Viseme:
    jaw: float  # jawOpen target
    lips: dict[str, float] = field(default_factory=dict)  # symmetric channels given once, without Left/Right
    jaw_dominance: float = 0.5
    lip_dominance: float = 0.5


def _v(jaw: float, jaw_dom: float, lip_dom: float, **lips: float) -> Viseme:
    return Viseme(jaw, lips, jaw_dom, lip_dom)


# Targets at normal loudness; `mouthClose` equal to `jawOpen` means sealed lips with the jaw slightly down.
VISEMES: dict[str, Viseme] = {
    "sil": _v(0.02, 0.3, 0.3),
    # lips closed, pressed; the jaw rises too, but closure itself is imposed after blending
    # (coarticulation.enforce_articulation), so the jaw's dominance can leave room for short vowels
    "p": _v(0.06, 0.6, 1.0, mouthClose=0.06, mouthPress=0.35),
    "b": _v(0.06, 0.6, 1.0, mouthClose=0.06, mouthPress=0.25),
    "m": _v(0.05, 0.6, 1.0, mouthClose=0.05, mouthPress=0.2),
    # lower lip to the upper teeth
    "f": _v(0.12, 0.8, 1.0, mouthRollLower=0.5, mouthUpperUp=0.15),
    "v": _v(0.12, 0.8, 1.0, mouthRollLower=0.45, mouthUpperUp=0.12),
    "th": _v(0.16, 0.6, 0.6, tongueOut=0.15, mouthUpperUp=0.1),
    "dh": _v(0.15, 0.6, 0.5, tongueOut=0.12, mouthUpperUp=0.08),
    "t": _v(0.14, 0.6, 0.15, mouthStretch=0.12),
    "d": _v(0.15, 0.6, 0.15, mouthStretch=0.1),
    "n": _v(0.14, 0.5, 0.1, mouthStretch=0.08),
    "l": _v(0.2, 0.5, 0.15, mouthStretch=0.05),
    "s": _v(0.14, 0.7, 0.35, mouthStretch=0.25),
    "z": _v(0.14, 0.7, 0.3, mouthStretch=0.22),
    "sh": _v(0.14, 0.6, 0.7, mouthFunnel=0.4, mouthPucker=0.2),
    "zh": _v(0.14, 0.6, 0.7, mouthFunnel=0.4, mouthPucker=0.2),
    "ch": _v(0.14, 0.6, 0.7, mouthFunnel=0.35, mouthPucker=0.2),
    "jh": _v(0.15, 0.6, 0.7, mouthFunnel=0.35, mouthPucker=0.2),
    "k": _v(0.2, 0.4, 0.05),
    "g": _v(0.2, 0.4, 0.05),
    "ng": _v(0.16, 0.4, 0.05),
    "hh": _v(0.25, 0.2, 0.05),
    "r": _v(0.16, 0.5, 0.6, mouthPucker=0.35, mouthFunnel=0.2),
    "w": _v(0.1, 0.6, 0.9, mouthPucker=0.75, mouthFunnel=0.25),
    "y": _v(0.12, 0.5, 0.4, mouthStretch=0.25),
    # vowels
    "aa": _v(0.6, 1.0, 0.4, mouthLowerDown=0.2),
    "ae": _v(0.52, 1.0, 0.5, mouthStretch=0.25, mouthUpperUp=0.1, mouthLowerDown=0.15),
    "ah": _v(0.48, 1.0, 0.3, mouthLowerDown=0.12),
    "ao": _v(0.52, 1.0, 0.6, mouthFunnel=0.35, mouthPucker=0.1),
    "aw": _v(0.54, 1.0, 0.5, mouthFunnel=0.3, mouthPucker=0.15),
    "ay": _v(0.54, 1.0, 0.5, mouthStretch=0.2, mouthLowerDown=0.12),
    "eh": _v(0.36, 0.8, 0.5, mouthStretch=0.28),
    "er": _v(0.26, 0.7, 0.6, mouthFunnel=0.3, mouthPucker=0.2),
    "ey": _v(0.32, 0.8, 0.5, mouthStretch=0.3),
    "ih": _v(0.26, 0.7, 0.5, mouthStretch=0.3),
    "iy": _v(0.2, 0.7, 0.6, mouthStretch=0.45, mouthSmile=0.12),
    "ow": _v(0.36, 0.8, 0.75, mouthFunnel=0.5, mouthPucker=0.3),
    "oy": _v(0.36, 0.8, 0.7, mouthFunnel=0.45, mouthPucker=0.2),
    "uh": _v(0.26, 0.7, 0.6, mouthFunnel=0.3, mouthPucker=0.25),
    "uw": _v(0.16, 0.7, 0.85, mouthPucker=0.7, mouthFunnel=0.3),
}


def _expand(lips: dict[str, float]) -> dict[str, float]:
    """`mouthStretch` -> `mouthStretchLeft` and `mouthStretchRight`; full names pass through."""
    out = {}
    for name, value in lips.items():
        if name in ARKIT_INDEX:
            out[name] = value
        else:
            out[name + "Left"] = value
            out[name + "Right"] = value
    return out


def viseme_table() -> tuple[list[str], np.ndarray, np.ndarray]:
    """`(phones, poses (P, 52), dominance (P, 52))`: each phone's full ARKit target and per-channel
    dominance (the jaw value on jawOpen, the lip value elsewhere)."""
    phones = sorted(VISEMES)
    poses = np.zeros((len(phones), len(ARKIT_NAMES)), np.float32)
    dominance = np.zeros_like(poses)
    for i, phone in enumerate(phones):
        viseme = VISEMES[phone]
        poses[i, ARKIT_INDEX["jawOpen"]] = viseme.jaw
        for name, value in _expand(viseme.lips).items():
            poses[i, ARKIT_INDEX[name]] = value
        dominance[i] = viseme.lip_dominance
        dominance[i, ARKIT_INDEX["jawOpen"]] = viseme.jaw_dominance
    return phones, poses, dominance
