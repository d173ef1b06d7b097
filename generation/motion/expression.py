"""The emotion layer: EMFACS prototypes -> action units -> ARKit offsets, per frame, from an
`EmotionTrack`; and how emotion changes articulation (a happy mouth is wider, a sad jaw moves less)."""

from __future__ import annotations

import functools

import numpy as np

from recognition.emotion_track import EmotionTrack
from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from rigs.emotions import EMOTIONS
from rigs.facs import ACTION_UNIT_BY_NUMBER

# AU intensities of each emotion at full strength: the EMFACS prototypes of `rigs.facs` (each of their
# units at least 0.5) plus alternatives seen in posed databases, with strengths calibrated by
# `scripts/calibrate_expressions.py` so that photos rendered with them read as the emotion to the FER
# ensemble on the bundled sample faces (its docstring keeps each run and hand change, with numbers).
# Anger and disgust use their EMFACS variants (upper lip raised, lip corners down, a little jaw drop);
# disgust sits halfway between two faces' needs, as one reads a raised upper lip as anger and the other
# needs it. Happiness is its EMFACS units alone (a dimpler made the jaw harder to read). Surprise pushes
# the lips forward (AU18; a funnel, AU22, reads as more jaw) and speaks unstretched (`SPEECH_STRETCH`), so
# its open mouth is an "oh", not the wide slot that read as fear. Fear widens the eyes only a little
# (AU5 0.25): at 0.5 they bulged, and the face stopped looking like its owner. The jaw is otherwise left
# to speech; lips part (AU25) is speech's.
AU_STRENGTHS: dict[str, dict[int, float]] = {
    "neutral": {},
    "happy": {6: 0.5, 12: 1.0},
    "sad": {1: 1.0, 4: 0.73, 15: 0.53, 28: 1.0, 16: 0.51, 7: 0.75},
    "angry": {4: 0.81, 5: 0.5, 7: 0.5, 23: 0.58, 24: 0.64, 9: 0.45, 10: 0.58, 16: 1.0, 26: 0.35},
    "fearful": {1: 0.5, 2: 0.5, 4: 0.56, 5: 0.25, 20: 0.5, 26: 0.22, 15: 0.77},
    "disgusted": {9: 1.0, 15: 0.5, 16: 0.59, 10: 0.37, 17: 0.54, 4: 0.46, 7: 0.71, 6: 0.12, 24: 0.05, 28: 1.0},
    "surprised": {1: 0.5, 2: 0.5, 5: 0.5, 26: 0.28, 18: 0.6},
}

# Multiplier on speech jaw opening, and lip stretch added while speaking (taken away where negative:
# a surprised mouth stays round), per emotion.
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
    "surprised": -0.3,
}


def action_unit_pose(strengths: dict[int, float]) -> np.ndarray:
    """`(52,) float32` ARKit weights of AU intensities `{AU number: strength}`: each AU raises the channels
    that express it (`rigs.facs`) to its strength; where AUs share a channel, the strongest wins."""
    pose = np.zeros(len(ARKIT_NAMES), np.float32)
    for au, strength in strengths.items():
        for channel in ACTION_UNIT_BY_NUMBER[au].arkit:
            pose[ARKIT_INDEX[channel]] = max(pose[ARKIT_INDEX[channel]], strength)
    return pose


@functools.cache
def expression_prototypes() -> np.ndarray:
    """`(7, 52) float32`, read-only: each emotion's full-strength ARKit pose (rows in `EMOTIONS` order).
    Built once per process (the synthetic-data renderer asks for it per image)."""
    table = np.stack([action_unit_pose(AU_STRENGTHS[emotion]) for emotion in EMOTIONS])
    table.flags.writeable = False
    return table


def expression_offsets(track: EmotionTrack, scale: float = 1.0) -> np.ndarray:
    """`(frames, 52)`: per-frame ARKit offsets, `intensity * sum_k p_k * prototype_k * scale`."""
    weights = track.probabilities * track.intensity[:, None] * scale
    return weights @ expression_prototypes()


def articulation_gains(track: EmotionTrack) -> tuple[np.ndarray, np.ndarray]:
    """`(jaw_gain (frames,), stretch_offset (frames,))` from the emotion mix, at the track's intensity."""
    jaw = np.array([JAW_GAIN[e] for e in EMOTIONS], np.float32)
    stretch = np.array([SPEECH_STRETCH[e] for e in EMOTIONS], np.float32)
    mix = track.probabilities * track.intensity[:, None]
    rest = 1.0 - track.intensity
    return rest + mix @ jaw, mix @ stretch
