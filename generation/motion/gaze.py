"""Gaze after EmoFace: small saccades every 25-45 frames (at 60 fps), 0.1-0.2 of the eye's range, moving
in 5 frames, 40% of them back to the centre; as eye yaw/pitch in degrees and ARKit eyeLook weights."""

from __future__ import annotations

import numpy as np

from rigs.arkit import ARKIT_INDEX

EYE_RANGE_DEG = 30.0  # eyeLook weight 1.0 is this many degrees


def saccades(frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """`(frames, 2) float32` gaze yaw/pitch in degrees (both eyes look the same way)."""
    scale = fps / 60.0
    gaze = np.zeros((frames, 2), np.float32)
    current = np.zeros(2, np.float32)
    t = int(rng.integers(25, 46) * scale)
    hold_start = 0
    while hold_start < frames:
        end = min(frames, t)
        gaze[hold_start:end] = current
        if end >= frames:
            break
        if rng.random() < 0.4:
            target = np.zeros(2, np.float32)
        else:
            angle, radius = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.2)
            target = np.array([np.cos(angle), 0.6 * np.sin(angle)], np.float32) * radius * EYE_RANGE_DEG
        steps = max(1, int(round(5 * scale)))
        for i in range(steps):
            if end + i < frames:
                gaze[end + i] = current + (target - current) * (i + 1) / steps
        current = target
        hold_start = end + steps
        t = hold_start + int(rng.integers(25, 46) * scale)
    return gaze


def eye_look_weights(yaw: np.ndarray, pitch: np.ndarray) -> dict[str, np.ndarray]:
    """Gaze in degrees (yaw > 0 toward the subject's left, pitch > 0 down) -> ARKit eyeLook channels."""
    left = np.clip(yaw / EYE_RANGE_DEG, 0, 1)
    right = np.clip(-yaw / EYE_RANGE_DEG, 0, 1)
    down = np.clip(pitch / EYE_RANGE_DEG, 0, 1)
    up = np.clip(-pitch / EYE_RANGE_DEG, 0, 1)
    return {
        "eyeLookOutLeft": left, "eyeLookInRight": left,  # both eyes turn to the subject's left
        "eyeLookInLeft": right, "eyeLookOutRight": right,
        "eyeLookDownLeft": down, "eyeLookDownRight": down,
        "eyeLookUpLeft": up, "eyeLookUpRight": up,
    }  # fmt: skip


def apply_eye_look(blendshapes: np.ndarray, gaze: np.ndarray) -> None:
    """In place: write the eyeLook channels for `(frames, 2)` gaze degrees."""
    for name, values in eye_look_weights(gaze[:, 0], gaze[:, 1]).items():
        blendshapes[:, ARKIT_INDEX[name]] = values
