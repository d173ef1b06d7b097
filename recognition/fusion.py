"""Fusing emotion estimates into one `EmotionTrack` (the SynchroRaMa recipe: text sentiment + speech
emotion + audio valence/arousal, and a driving face when there is one), then applying a user override.

Per frame, each source's embedding is weighted by `weight[source] * confidence[frame]`; the result is
smoothed in time so the face does not flicker between classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from recognition.emotion_spec import EmotionSpec
from recognition.emotion_track import EmotionTrack


@dataclass
class FusionConfig:
    weights: dict[str, float] = field(default_factory=lambda: {"speech": 1.0, "text": 1.0, "face": 1.5})
    smoothing_s: float = 0.6  # width of the moving average, seconds
    override_mode: str = "replace"  # "replace": the user's emotion wins; "blend": mixed with the estimate
    override_weight: float = 0.7  # share of the user's emotion in "blend" mode


def resample(track: EmotionTrack, fps: float, frames: int) -> EmotionTrack:
    """The track on another frame grid (`frames` frames at `fps`), by linear interpolation in time."""
    if track.fps == fps and track.num_frames == frames:
        return track
    t_new = np.arange(frames) / fps
    t_old = track.times
    values = np.column_stack([track.embedding, track.confidence])
    if track.num_frames == 1:
        out = np.repeat(values, frames, axis=0)
    else:
        out = np.column_stack([np.interp(t_new, t_old, values[:, j]) for j in range(values.shape[1])])
    out[:, :7] /= np.maximum(out[:, :7].sum(axis=1, keepdims=True), 1e-6)
    return EmotionTrack(out[:, :7], out[:, 7], out[:, 8], out[:, 9], fps, out[:, 10], track.source, track.metadata)


def smooth(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average of `(frames, channels)` along frames with edge padding; `width` frames."""
    if width <= 1 or len(values) < 2:
        return values
    pad = width // 2
    padded = np.pad(values, ((pad, width - 1 - pad), (0, 0)), mode="edge")
    kernel = np.ones(width) / width
    return np.column_stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(values.shape[1])])


def fuse(
    tracks: Sequence[EmotionTrack], fps: float, duration: float, config: FusionConfig | None = None
) -> EmotionTrack:
    """Confidence-weighted, smoothed average of `tracks` on a common grid -> `EmotionTrack` ("fused").

    Frames where no source is confident fall back to neutral at zero intensity.
    """
    config = config or FusionConfig()
    frames = max(1, int(round(duration * fps)))
    total = np.zeros((frames, 10))
    weight = np.zeros(frames)
    for track in tracks:
        grid = resample(track, fps, frames)
        w = config.weights.get(track.source, 1.0) * grid.confidence
        total += grid.embedding * w[:, None]
        weight += w
    neutral = np.zeros(10)
    neutral[0] = 1.0  # probabilities: neutral; valence, arousal, intensity: 0
    mixed = np.where(weight[:, None] > 1e-6, total / np.maximum(weight, 1e-6)[:, None], neutral)
    mixed = smooth(mixed, int(round(config.smoothing_s * fps)))
    mixed[:, :7] /= np.maximum(mixed[:, :7].sum(axis=1, keepdims=True), 1e-6)
    confidence = np.clip(weight / max(1e-6, sum(config.weights.get(t.source, 1.0) for t in tracks) or 1), 0, 1)
    sources = "+".join(t.source for t in tracks) or "none"
    return EmotionTrack(
        mixed[:, :7], mixed[:, 7], mixed[:, 8], mixed[:, 9], fps, confidence, "fused", {"sources": sources}
    )


def estimate_needed(spec: EmotionSpec, config: FusionConfig | None = None) -> bool:
    """Whether `apply_override(estimate, spec, ..., config)` uses the estimate: for "auto", and to blend the
    user's emotion with it; a user's emotion that replaces it needs none (callers can skip estimating)."""
    return spec.is_auto or (config or FusionConfig()).override_mode != "replace"


def apply_override(
    estimate: EmotionTrack | None, spec: EmotionSpec, fps: float, duration: float, config: FusionConfig | None = None
) -> EmotionTrack:
    """The final track: the estimate when `spec` is auto, else the user's emotion replacing or blended with it."""
    config = config or FusionConfig()
    if spec.is_auto:
        if estimate is None:
            raise ValueError("an 'auto' emotion needs an estimate to fall back on")
        return estimate
    user = spec.track(duration, fps)
    if estimate is None or config.override_mode == "replace":
        return user
    if config.override_mode != "blend":
        raise ValueError(f"override_mode must be 'replace' or 'blend', not {config.override_mode!r}")
    grid = resample(estimate, fps, user.num_frames)
    k = config.override_weight
    mixed = k * user.embedding + (1 - k) * grid.embedding
    return EmotionTrack(
        mixed[:, :7], mixed[:, 7], mixed[:, 8], mixed[:, 9], fps, source="user+estimate", metadata={"spec": spec.text}
    )
