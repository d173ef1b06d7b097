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


def _class_bands(ax, times: np.ndarray, probabilities: np.ndarray, title: str) -> None:
    """Stacked class probabilities over time; NaN rows (no estimate) are left blank."""
    filled = np.nan_to_num(probabilities)
    ax.stackplot(times, filled.T, labels=EMOTIONS, colors=[EMOTION_COLOURS[e] for e in EMOTIONS], alpha=0.9)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _valence_arousal(ax, times: np.ndarray, valence: np.ndarray, arousal: np.ndarray, label: str) -> None:
    ax.plot(times, valence, label=f"valence ({label})", color="#2e7d32")
    ax.plot(times, arousal, label=f"arousal ({label})", color="#c62828")
    ax.axhline(0, color="#bbbbbb", linewidth=0.8)
    ax.set_ylim(-1, 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _save(fig, path: str | Path) -> Path:
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)
    return Path(path)


def plot_emotion_over_time(
    times: np.ndarray, probabilities: np.ndarray, path: str | Path, title: str = "Emotion over time"
) -> Path:
    """Stacked class probabilities `(frames, 7)` over `times` (s), and derived V/A below; PNG at `path`.

    Frames without a face (NaN rows) are left blank.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True, height_ratios=[3, 2])
    _class_bands(top, times, probabilities, title)
    va = valence_arousal(probabilities)  # NaN rows (no face) stay NaN
    _valence_arousal(bottom, times, va[:, 0], va[:, 1], "derived")
    bottom.set_xlabel("time (s)")
    return _save(fig, path)


def plot_speech_analysis(analysis, path: str | Path) -> Path:
    """A `SpeechAnalysis` at a glance: waveform with speech segments and words, the fused emotion's
    class bands, and its valence/arousal; PNG at `path`."""
    audio, track = analysis.audio, analysis.emotion
    fig, (wave, bands, va) = plt.subplots(3, 1, figsize=(11, 7), sharex=True, height_ratios=[2, 3, 2])
    step = max(1, len(audio.samples) // 4000)
    envelope = np.abs(audio.samples[: len(audio.samples) // step * step]).reshape(-1, step).max(axis=1)
    t_env = np.arange(len(envelope)) * step / audio.sample_rate
    wave.fill_between(t_env, -envelope, envelope, color="#607d8b", linewidth=0)
    for start, end in analysis.segments:
        wave.axvspan(start, end, color="#ffe082", alpha=0.35, linewidth=0)
    for word in analysis.timeline.words:
        wave.text(
            (word.start + word.end) / 2,
            0.92,
            word.text,
            ha="center",
            va="top",
            fontsize=7,
            rotation=30,
            transform=wave.get_xaxis_transform(),
        )
    wave.set_yticks([])
    wave.set_title(
        f"{Path(audio.source).name if audio.source else 'speech'}: speech (shaded) and words "
        f"({analysis.timeline.method} phones)"
    )
    _class_bands(bands, track.times, track.probabilities, "emotion (fused: speech prosody + text)")
    _valence_arousal(va, track.times, track.valence, track.arousal, "fused")
    va.set_xlabel("time (s)")
    return _save(fig, path)


CURVE_GROUPS = {
    "mouth": ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft"),
    "eyes and brows": ("eyeBlinkLeft", "eyeWideLeft", "browInnerUp", "browDownLeft"),
    "head (deg)": ("headYaw", "headPitch", "headRoll"),
}


def plot_motion_curves(motion, path: str | Path, phones=None, title: str = "Rig curves") -> Path:
    """Key channels of a `FaceMotion` over time (mouth, eyes and brows, head), with phone labels on top
    when a `PhoneTimeline` is given; PNG at `path`."""
    fig, axes = plt.subplots(len(CURVE_GROUPS), 1, figsize=(12, 7), sharex=True)
    t = motion.times
    for ax, (group, channels) in zip(axes, CURVE_GROUPS.items(), strict=True):
        for channel in channels:
            ax.plot(t, motion[channel], label=channel, linewidth=1.2)
        ax.set_ylabel(group)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        if not group.startswith("head"):
            ax.set_ylim(-0.02, 1.02)
    if phones is not None:
        for phone in phones.speech_phones:
            axes[0].text(
                (phone.start + phone.end) / 2, 1.0, phone.label, ha="center", va="bottom", fontsize=6, color="#555555"
            )
    axes[0].set_title(title, pad=14)
    axes[-1].set_xlabel("time (s)")
    return _save(fig, path)


def plot_valence_arousal_path(
    valence: np.ndarray,
    arousal: np.ndarray,
    path: str | Path,
    title: str = "Valence / arousal",
    times: np.ndarray | None = None,
    labels: list[str] | None = None,
) -> Path:
    """Points `(n,)` on the valence/arousal plane with the circumplex classes marked; with `times`, a
    trajectory coloured by time (NaN points, e.g. frames without a face, are left out); with `labels`,
    one labelled point each (e.g. faces of an image). PNG at `path`."""
    from rigs.emotions import CIRCUMPLEX

    valence, arousal = np.asarray(valence, np.float64), np.asarray(arousal, np.float64)
    fig, ax = plt.subplots(figsize=(5.6, 5.2))
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="#cccccc", linewidth=0.8))
    ax.axhline(0, color="#dddddd", linewidth=0.8)
    ax.axvline(0, color="#dddddd", linewidth=0.8)
    for name, (v, a) in CIRCUMPLEX.items():
        ax.scatter([v], [a], s=30, color=EMOTION_COLOURS[name], zorder=2)
        ax.annotate(name, (v, a), textcoords="offset points", xytext=(4, 4), fontsize=8, color="#555555")
    ok = np.isfinite(valence) & np.isfinite(arousal)
    if times is not None and ok.any():
        t = np.asarray(times, np.float64)[ok]
        ax.plot(valence[ok], arousal[ok], color="#90a4ae", linewidth=0.8, zorder=3)
        points = ax.scatter(valence[ok], arousal[ok], c=t, cmap="viridis", s=12, zorder=4)
        fig.colorbar(points, ax=ax, label="time (s)", fraction=0.046, pad=0.04)
    elif ok.any():
        ax.scatter(valence[ok], arousal[ok], s=60, color="#212121", marker="x", zorder=4)
        for index in np.flatnonzero(ok):
            text = labels[index] if labels and index < len(labels) else str(index + 1)
            ax.annotate(text, (valence[index], arousal[index]), textcoords="offset points", xytext=(6, -10),
                        fontsize=9, weight="bold")  # fmt: skip
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xlabel("valence (unpleasant → pleasant)")
    ax.set_ylabel("arousal (calm → excited)")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_blendshapes(scores: np.ndarray, path: str | Path, title: str = "Blendshapes", top: int = 16) -> Path:
    """The `top` strongest of 52 ARKit blendshape scores `(52,)` as horizontal bars; PNG at `path`."""
    from rigs.arkit import ARKIT_NAMES

    scores = np.asarray(scores, np.float64)
    order = np.argsort(scores)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(6.5, 0.26 * len(order) + 1.1))
    ax.barh([ARKIT_NAMES[i] for i in order], scores[order], color="#5c6bc0")
    ax.set_xlim(0, 1)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("score")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_blendshapes_over_time(
    times: np.ndarray, blendshapes: np.ndarray, path: str | Path, title: str = "Blendshapes over time", top: int = 8
) -> Path:
    """The `top` ARKit channels of `(frames, 52)` scores that move most (standard deviation), over `times`
    (s); NaN rows (frames without a face) are gaps. PNG at `path`."""
    from rigs.arkit import ARKIT_NAMES

    blendshapes = np.asarray(blendshapes, np.float64)
    spread = np.nan_to_num(np.nanstd(blendshapes, axis=0)) if np.isfinite(blendshapes).any() else np.zeros(52)
    fig, ax = plt.subplots(figsize=(11, 3.8))
    for index in np.argsort(spread)[::-1][:top]:
        ax.plot(times, blendshapes[:, index], label=ARKIT_NAMES[index], linewidth=1.1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("score")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _save(fig, path)
