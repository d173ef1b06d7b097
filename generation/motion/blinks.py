"""Blinks after EmoFace: a per-clip rate drawn log-normally (mu 3.518, sigma 0.532 in blinks/min,
clamped to 15-100), a 13-frame (at 60 fps) close-open profile, placed at pauses when one is near."""

from __future__ import annotations

import numpy as np

BLINK_PROFILE_60FPS = np.array([0.15, 0.5, 0.85, 1.0, 1.0, 0.9, 0.75, 0.6, 0.45, 0.32, 0.2, 0.1, 0.04], np.float32)


def blink_profile(fps: float) -> np.ndarray:
    """The eyelid closure `(k,)` in [0, 1] for one blink at `fps` (217 ms long)."""
    k = max(3, int(round(len(BLINK_PROFILE_60FPS) * fps / 60)))
    return np.interp(np.linspace(0, 1, k), np.linspace(0, 1, len(BLINK_PROFILE_60FPS)), BLINK_PROFILE_60FPS)


def blink_times(
    duration: float,
    rng: np.random.Generator,
    rate_scale: float = 1.0,
    pauses: np.ndarray | None = None,
    snap_s: float = 0.5,
) -> np.ndarray:
    """Blink onsets in seconds. `pauses` (seconds) are preferred moments: a blink within `snap_s` of one
    moves onto it, so eyes close between phrases rather than mid-word."""
    if rate_scale <= 0:
        return np.zeros(0)
    rate = float(np.clip(np.exp(rng.normal(3.518, 0.532)), 15, 100)) * rate_scale  # blinks per minute
    mean_gap = 60.0 / rate
    times, t = [], rng.uniform(0.3, mean_gap)
    while t < duration - 0.2:
        times.append(t)
        t += max(0.4, rng.gamma(4.0, mean_gap / 4.0))  # regular-ish, never two blinks at once
    times = np.array(times)
    if pauses is not None and len(pauses) and len(times):
        nearest = pauses[np.abs(pauses[None, :] - times[:, None]).argmin(axis=1)]
        times = np.where(np.abs(nearest - times) <= snap_s, nearest, times)
        times = np.unique(np.round(times, 3))
    return times


def blink_curve(times: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """`(frames,) float32` eyelid closure in [0, 1] with a blink starting at each of `times`."""
    curve = np.zeros(frames, np.float32)
    profile = blink_profile(fps)
    for onset in times:
        a = int(round(onset * fps))
        b = min(frames, a + len(profile))
        if 0 <= a < frames:
            curve[a:b] = np.maximum(curve[a:b], profile[: b - a])
    return curve
