"""Mouth-shape vocabularies for 2D and game lip sync: Rhubarb's A-H and X, and Oculus/OpenXR's 15.

Phones are lower-case ARPAbet without stress (as `recognition.phonemes` gives them); "sil" is silence.
"""

from __future__ import annotations

from dataclasses import dataclass

# Rhubarb Lip Sync's mouth shapes (https://github.com/DanielSWolf/rhubarb-lip-sync, "Mouth shapes").
RHUBARB_SHAPES: dict[str, str] = {
    "A": "closed mouth: M, B, P",
    "B": "slightly open, clenched teeth: most consonants (K, S, T...), EE",
    "C": "open mouth: EH, AE",
    "D": "wide open mouth: AA",
    "E": "slightly rounded: AO, ER",
    "F": "puckered lips: UW, OW, W",
    "G": "upper teeth on lower lip: F, V",
    "H": "tongue raised behind the upper teeth: long L",
    "X": "idle, mouth at rest",
}

PHONE_TO_RHUBARB: dict[str, str] = {
    "p": "A", "b": "A", "m": "A",
    "f": "G", "v": "G",
    "l": "H",
    "uw": "F", "ow": "F", "w": "F", "oy": "F", "uh": "F",
    "ao": "E", "er": "E", "r": "E",
    "aa": "D", "aw": "D", "ay": "D",
    "eh": "C", "ae": "C", "ah": "C", "ey": "C",
    "iy": "B", "ih": "B", "y": "B", "k": "B", "g": "B", "ng": "B", "t": "B", "d": "B", "n": "B", "s": "B",
    "z": "B", "sh": "B", "zh": "B", "ch": "B", "jh": "B", "th": "B", "dh": "B", "hh": "B",
    "sil": "X",
}  # fmt: skip

# Oculus / OpenXR 15 visemes.
OCULUS_VISEMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou",
)  # fmt: skip
PHONE_TO_OCULUS: dict[str, str] = {
    "sil": "sil", "p": "PP", "b": "PP", "m": "PP", "f": "FF", "v": "FF", "th": "TH", "dh": "TH",
    "t": "DD", "d": "DD", "k": "kk", "g": "kk", "ng": "nn", "ch": "CH", "jh": "CH", "sh": "CH", "zh": "CH",
    "s": "SS", "z": "SS", "n": "nn", "l": "nn", "r": "RR", "er": "RR", "aa": "aa", "ae": "aa", "ah": "aa",
    "aw": "aa", "ay": "aa", "eh": "E", "ey": "E", "ih": "ih", "iy": "ih", "y": "ih", "ao": "oh",
    "ow": "oh", "oy": "oh", "uh": "ou", "uw": "ou", "w": "ou", "hh": "sil",
}  # fmt: skip


@dataclass(frozen=True)
class MouthCue:
    """One mouth shape held from `start` to `end` seconds (Rhubarb's output unit)."""

    start: float
    end: float
    shape: str  # a key of RHUBARB_SHAPES
