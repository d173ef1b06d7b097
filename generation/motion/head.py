"""Head motion: slow drift (smoothed noise) plus nods on stressed syllables, scaled by arousal."""

from __future__ import annotations

import numpy as np


def smooth_noise(frames: int, fps: float, rng: np.random.Generator, cutoff_hz: float) -> np.ndarray:
    """`(frames,)` zero-mean, unit-RMS noise with no content above about `cutoff_hz`."""
    step = max(1, int(round(fps / (2 * cutoff_hz))))
    knots = rng.standard_normal(frames // step + 3)
    x = np.arange(frames) / step
    i = np.floor(x).astype(int)
    f = x - i
    w = 0.5 - 0.5 * np.cos(np.pi * f)  # cosine interpolation between knots: smooth, band-limited
    curve = knots[i] * (1 - w) + knots[i + 1] * w
    curve -= curve.mean()
    return curve / max(curve.std(), 1e-6)


def nod_pulses(stress_times: np.ndarray, strengths: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """`(frames,)` pitch in degrees: a quick dip down and back (~0.4 s) at each stressed syllable."""
    curve = np.zeros(frames, np.float32)
    length = int(round(0.4 * fps))
    kernel = np.sin(np.linspace(0, np.pi, max(3, length))) ** 2
    for t, s in zip(stress_times, strengths, strict=True):
        a = int(round(t * fps)) - length // 3  # the head leads the syllable slightly
        lo, hi = max(0, a), min(frames, a + len(kernel))
        if lo < hi:
            curve[lo:hi] += s * kernel[lo - a : hi - a]
    return curve


def head_motion(
    frames: int,
    fps: float,
    rng: np.random.Generator,
    stress_times: np.ndarray,
    stress_strengths: np.ndarray,
    arousal: np.ndarray,
    scale: float = 1.0,
) -> np.ndarray:
    """`(frames, 3) float32` yaw, pitch, roll in degrees."""
    if scale <= 0 or frames == 0:
        return np.zeros((frames, 3), np.float32)
    liveliness = 1.0 + 0.5 * np.clip(arousal, -1, 1)  # calmer heads move less
    yaw = 2.5 * smooth_noise(frames, fps, rng, 0.25)
    pitch = 1.5 * smooth_noise(frames, fps, rng, 0.3) + nod_pulses(stress_times, stress_strengths, fps, frames)
    roll = 1.2 * smooth_noise(frames, fps, rng, 0.2)
    return (np.column_stack([yaw, pitch, roll]) * (scale * liveliness)[:, None]).astype(np.float32)
