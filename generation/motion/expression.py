"""The emotion layer: EMFACS prototypes -> action units -> ARKit offsets, per frame, from an
`EmotionTrack`; and how emotion changes articulation (a happy mouth is wider, a sad jaw moves less)."""

from __future__ import annotations

import numpy as np

from recognition.emotion_track import EmotionTrack
from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from rigs.emotions import EMOTIONS
from rigs.facs import ACTION_UNIT_BY_NUMBER

# AU intensities of each emotion at full strength, after the EMFACS prototypes in `rigs.facs`
# (sad adds AU17 and disgust AU10, EMFACS' listed alternatives). Lips part (AU25) comes from speech.
AU_STRENGTHS: dict[str, dict[int, float]] = {
    "neutral": {},
    "happy": {6: 0.55, 12: 0.8},
    "sad": {1: 0.7, 4: 0.45, 15: 0.6, 17: 0.3},
    "angry": {4: 0.85, 5: 0.3, 7: 0.6, 23: 0.45, 24: 0.35},
    "fearful": {1: 0.7, 2: 0.5, 4: 0.4, 5: 0.75, 20: 0.55, 26: 0.15},
    "disgusted": {9: 0.7, 10: 0.45, 15: 0.35, 16: 0.25},
    "surprised": {1: 0.8, 2: 0.75, 5: 0.7, 26: 0.25},
}

# Multiplier on speech jaw opening, and extra lip stretch while speaking, per emotion.
JAW_GAIN = {
    "neutral": 1.0,
    "happy": 1.0,
    "sad": 0.8,
    "angry": 0.92,
    "fearful": 1.0,
    "disgusted": 0.9,
    "surprised": 1.15,
}
SPEECH_STRETCH = {
    "neutral": 0.0,
    "happy": 0.12,
    "sad": 0.0,
    "angry": 0.05,
    "fearful": 0.1,
    "disgusted": 0.05,
    "surprised": 0.0,
}


def expression_prototypes() -> np.ndarray:
    """`(7, 52) float32`: each emotion's full-strength ARKit pose (rows in `EMOTIONS` order)."""
    table = np.zeros((len(EMOTIONS), len(ARKIT_NAMES)), np.float32)
    for row, emotion in enumerate(EMOTIONS):
        for au, strength in AU_STRENGTHS[emotion].items():
            for channel in ACTION_UNIT_BY_NUMBER[au].arkit:
                table[row, ARKIT_INDEX[channel]] = max(table[row, ARKIT_INDEX[channel]], strength)
    return table


def expression_offsets(track: EmotionTrack, scale: float = 1.0) -> np.ndarray:
    """`(frames, 52)`: per-frame ARKit offsets, `intensity * sum_k p_k * prototype_k * scale`."""
    weights = track.probabilities * track.intensity[:, None] * scale
    return weights @ expression_prototypes()


def articulation_gains(track: EmotionTrack) -> tuple[np.ndarray, np.ndarray]:
    """`(jaw_gain (frames,), extra_stretch (frames,))` from the emotion mix, at the track's intensity."""
    jaw = np.array([JAW_GAIN[e] for e in EMOTIONS], np.float32)
    stretch = np.array([SPEECH_STRETCH[e] for e in EMOTIONS], np.float32)
    mix = track.probabilities * track.intensity[:, None]
    rest = 1.0 - track.intensity
    return rest + mix @ jaw, mix @ stretch
