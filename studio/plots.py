"""Plots people read at a glance: emotion over time (class bands + derived valence/arousal)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rigs.atomic import atomic_write  # noqa: E402
from rigs.emotions import EMOTIONS, valence_arousal  # noqa: E402

EMOTION_COLOURS = {
    "neutral": "#9e9e9e",
    "happy": "#f4b400",
    "sad": "#4285f4",
    "angry": "#db4437",
    "fearful": "#8e44ad",
    "disgusted": "#0f9d58",
    "surprised": "#ff7f0e",
}


def plot_emotion_over_time(
    times: np.ndarray, probabilities: np.ndarray, path: str | Path, title: str = "Emotion over time"
) -> Path:
    """Stacked class probabilities `(frames, 7)` over `times` (s), and derived V/A below; PNG at `path`.

    Frames without a face (NaN rows) are left blank.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True, height_ratios=[3, 2])
    filled = np.nan_to_num(probabilities)
    top.stackplot(times, filled.T, labels=EMOTIONS, colors=[EMOTION_COLOURS[e] for e in EMOTIONS], alpha=0.9)
    top.set_ylim(0, 1)
    top.set_ylabel("probability")
    top.set_title(title)
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    va = valence_arousal(filled)
    va[np.isnan(probabilities).any(axis=1)] = np.nan
    bottom.plot(times, va[:, 0], label="valence (derived)", color="#2e7d32")
    bottom.plot(times, va[:, 1], label="arousal (derived)", color="#c62828")
    bottom.axhline(0, color="#bbbbbb", linewidth=0.8)
    bottom.set_ylim(-1, 1)
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return Path(path)
