"""Scoring a generated talking-face video the way DESIGN §4 measures quality, in one streaming pass.

    report = score_video("talking.mp4", fps=None, requested=motion, emotion=track, portrait=portrait,
                         audio=None, analyzer=pipeline, sample_every=2)
    Console().print(report.table())
    report.save_json("talking.score.json"); report.plot("talking.score.png")

Every frame goes through the face landmarker in tracking mode once; from that one pass come:

- **motion fidelity**: per channel, Pearson r between the requested curve and the re-detected
  blendshape minus the portrait's own resting value (channels whose request barely moves are skipped,
  and named; a channel the landmarker barely sees move, as it never sees mouthClose, is flagged: its r
  is noise); plus how many frames had a face at all;
- **emotion readability (Acc_emo)**: the FER ensemble on every `sample_every`-th frame; the fraction of
  frames (requested intensity > 0.3) whose top class is the requested dominant class, and the mean
  probability given to the requested class;
- **identity preservation (CSIM)**: cosine of identity embeddings, portrait vs sampled frames;
- **lip-sync offset**: the lag (within ±0.5 s) that maximises the correlation between the re-detected
  mouth opening and the audio energy envelope; separately, the lag against the requested opening;
- **temporal stability**: jitter of static landmarks after removing a per-frame similarity (the head's
  own motion), in inter-ocular distances; and, given the paste-back crop box, the mean frame-to-frame
  change in a band around the seam.

Memory stays flat in the video's length: frames are never kept, only a few numbers per frame; the FER
and identity crops of sampled frames are batched 16 at a time.

Speed (512² frames given as arrays, after warm-up, on this project's shared 2-core machine): 0.023 s per
frame with `sample_every=1` (landmarker 12 ms, identity net 6 ms, FER 2.3 ms, the rest ~2.5 ms) and
0.015 s with `sample_every=5`, the same on 1 and 2 cores (every stage runs one thread per call).
Decoding a file adds its H.264 decode, and each call analyses the portrait once (~0.1 s).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from recognition.audio import Audio
from recognition.emotion_track import EmotionTrack
from recognition.face import RELIABLE_BLENDSHAPES, FaceAnalyzer, FaceObservation
from recognition.face_crop import Box, crop_square, identity_box
from recognition.fer import ExpressionRecognizer
from recognition.identity import IDENTITY_SIZE, IdentityEncoder, cosine_similarity
from rigs.arkit import ARKIT_INDEX
from rigs.atomic import atomic_write
from rigs.emotions import EMOTIONS
from rigs.motion import HEAD_CHANNELS, FaceMotion

# Channels whose re-detection is compared with the request: the blendshapes the landmarker reads
# reliably, and the head pose.
FIDELITY_CHANNELS: tuple[str, ...] = (*RELIABLE_BLENDSHAPES, *HEAD_CHANNELS)
# A channel is scored only if its request moves: standard deviation at least this (weights, degrees).
MIN_REQUESTED_STD = {"weight": 0.02, "degrees": 0.5}
# A scored channel whose re-detected value moves less than this is flagged, its r being noise (weights,
# degrees): MediaPipe's mouthClose stays under 0.005 on every frame of a talking face (std 0.0005-0.001),
# sealed lips over a dropped jaw included.
MIN_DETECTED_STD = {"weight": 0.002, "degrees": 0.05}
# What the plot shows (and the report keeps per frame): name -> the channels averaged into it.
PLOT_CURVES: dict[str, tuple[str, ...]] = {
    "jawOpen": ("jawOpen",),
    "mouthClose": ("mouthClose",),
    "smile": ("mouthSmileLeft", "mouthSmileRight"),
    "blink": ("eyeBlinkLeft", "eyeBlinkRight"),
    "browInnerUp": ("browInnerUp",),
    "browDown": ("browDownLeft", "browDownRight"),
}

# MediaPipe mesh indices. Static points: nose bridge, eye corners, the upper face oval (forehead to
# temples) — parts that neither speech, blinks nor brows move, so what moves them is head motion or jitter.
STATIC_POINTS = (6, 168, 197, 195, 33, 133, 362, 263, 10, 338, 297, 332, 109, 67, 103, 21, 251, 54, 284, 127, 356)
EYE_OUTER_CORNERS = (33, 263)  # inter-ocular distance
INNER_LIP_PAIRS = ((13, 14), (82, 87), (312, 317))  # upper, lower inner-lip points across the mouth

EMOTION_MIN_INTENSITY = 0.3
LIPSYNC_MAX_LAG_S = 0.5
BATCH = 16  # sampled frames per FER / identity batch


# ---------------------------------------------------------------------------------------------------------
# Pure helpers (arrays in, numbers out)


def pearson(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """Pearson r of `(n,)` and `(n,)` over the entries where both are finite -> `(r, n used)`; r is NaN
    when fewer than 3 entries remain or either side is constant."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 3:
        return math.nan, n
    a, b = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return (float((a * b).sum() / den) if den > 1e-12 else math.nan), n


def pearson_p_value(r: float, n: int) -> float:
    """Two-sided p of r under no correlation (t-test, n - 2 degrees of freedom). Frames of a smooth curve
    are not independent, so this is optimistic; read it as 'is there any signal', not as a precise p."""
    from scipy.stats import t as student_t

    if not np.isfinite(r) or n < 3:
        return math.nan
    if abs(r) >= 1.0:
        return 0.0
    statistic = r * math.sqrt((n - 2) / (1 - r * r))
    return float(2 * student_t.sf(abs(statistic), n - 2))


def lagged_correlation(follower: np.ndarray, leader: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r of `follower[t]` with `leader[t - lag]` for every lag in `-max_lag..max_lag` frames.

    Returns `(lags (2L+1,) int, r (2L+1,) float)`. A peak at lag > 0 means the follower moves `lag` frames
    after the leader; NaN entries (frames without a face) are left out of each sum.
    """
    follower, leader = np.asarray(follower, np.float64), np.asarray(leader, np.float64)
    n = min(len(follower), len(leader))
    lags = np.arange(-max_lag, max_lag + 1)
    r = np.full(len(lags), np.nan)
    for k, lag in enumerate(lags):
        if abs(lag) > n - 3:  # fewer than 3 frames overlap
            continue
        if lag >= 0:
            a, b = follower[lag:n], leader[: n - lag]
        else:
            a, b = follower[: n + lag], leader[-lag:n]
        r[k] = pearson(a, b)[0]
    return lags, r


def peak_lag(lags: np.ndarray, r: np.ndarray) -> tuple[int, float, float]:
    """The best lag of a `lagged_correlation` -> `(lag in frames, the same refined to a fraction of a frame
    by a parabola through the peak and its neighbours, peak r)`; `(0, nan, nan)` if r is all NaN."""
    if not np.isfinite(r).any():
        return 0, math.nan, math.nan
    k = int(np.nanargmax(r))
    refined = float(lags[k])
    if 0 < k < len(r) - 1 and np.isfinite(r[k - 1]) and np.isfinite(r[k + 1]):
        curvature = r[k - 1] - 2 * r[k] + r[k + 1]
        if curvature < 0:
            refined += float(np.clip(0.5 * (r[k - 1] - r[k + 1]) / curvature, -0.5, 0.5))
    return int(lags[k]), refined, float(r[k])


def audio_envelope(samples: np.ndarray, sample_rate: int, times: np.ndarray, window_s: float, floor_db: float = 40.0):
    """Audio level at each frame time: RMS over `window_s` centred on each of `times` (s), in dB, clipped
    to `floor_db` below the loudest frame (silence is 'closed', not minus infinity). `(frames,) float64`;
    frames past the end of the audio are NaN."""
    samples = np.asarray(samples, np.float64)
    power = np.concatenate([[0.0], np.cumsum(samples * samples)])
    half = max(1, int(round(window_s * sample_rate / 2)))
    centres = np.round(np.asarray(times) * sample_rate).astype(np.int64)
    start, end = np.clip(centres - half, 0, len(samples)), np.clip(centres + half, 0, len(samples))
    out = np.full(len(centres), np.nan)
    ok = end - start > half // 2
    out[ok] = 10 * np.log10(np.maximum((power[end[ok]] - power[start[ok]]) / (end[ok] - start[ok]), 1e-12))
    if ok.any():
        out[ok] = np.maximum(out[ok], np.nanmax(out) - floor_db)
    return out


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2-D similarity (rotation, uniform scale, translation) taking `(K, 2)` `src` onto `dst`
    (Umeyama): returns `(K, 2)`, `src` mapped."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(s) @ d) / max((a * a).sum() / len(src), 1e-12))
    return scale * a @ rotation.T + md


def static_jitter(previous: np.ndarray, current: np.ndarray) -> float:
    """Frame-to-frame motion of the static landmarks that a similarity cannot explain: mean residual
    displacement after fitting `previous` onto `current`, over inter-ocular distance. `(478, 2+)` each."""
    p, c = previous[list(STATIC_POINTS), :2], current[list(STATIC_POINTS), :2]
    iod = float(np.linalg.norm(current[EYE_OUTER_CORNERS[0], :2] - current[EYE_OUTER_CORNERS[1], :2]))
    residual = np.linalg.norm(fit_similarity(p, c) - c, axis=1)
    return float(residual.mean() / max(iod, 1e-6))


def mouth_gap(landmarks: np.ndarray) -> float:
    """Inner-lip gap over inter-ocular distance: the mouth opening as the geometry shows it."""
    gaps = [np.linalg.norm(landmarks[a, :2] - landmarks[b, :2]) for a, b in INNER_LIP_PAIRS]
    iod = np.linalg.norm(landmarks[EYE_OUTER_CORNERS[0], :2] - landmarks[EYE_OUTER_CORNERS[1], :2])
    return float(np.mean(gaps) / max(iod, 1e-6))


def seam_band_mask(shape: tuple[int, int], box: tuple[float, float, float, float], width: float) -> np.ndarray:
    """`(H, W) bool`: pixels within `width` pixels of the edge of `box` (x0, y0, x1, y1), on both sides."""
    h, w = shape
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    inside_outer = (xs >= x0 - width) & (xs < x1 + width) & (ys >= y0 - width) & (ys < y1 + width)
    inside_inner = (xs >= x0 + width) & (xs < x1 - width) & (ys >= y0 + width) & (ys < y1 - width)
    return inside_outer & ~inside_inner


# ---------------------------------------------------------------------------------------------------------
# The report


def _floats(values) -> list[float | None]:
    """An array as a JSON list: NaN -> null, 5 significant decimals."""
    return [None if not np.isfinite(v) else round(float(v), 5) for v in np.asarray(values, np.float64).ravel()]


def _array(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], np.float64)


def _text(value, spec: str = ".3f") -> str:
    """A number for people; '—' for None or NaN."""
    return "—" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:{spec}}"


def nearest_face(faces: list[FaceObservation], box: Box | None) -> FaceObservation | None:
    """The face to score among `faces` (largest first): the largest if `box` is None, else the one whose
    centre is nearest the centre of `box` `(x0, y0, x1, y1)`, provided it is within one box width of it
    (farther away it is another face, and the animated one was not found)."""
    if not faces:
        return None
    if box is None:
        return faces[0]
    centre = np.array([box[0] + box[2], box[1] + box[3]]) / 2

    def distance(face: FaceObservation) -> float:
        return float(np.hypot(*(np.array([face.box[0] + face.box[2], face.box[1] + face.box[3]]) / 2 - centre)))

    closest = min(faces, key=distance)
    return closest if distance(closest) <= box[2] - box[0] else None


def _number(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 5)


@dataclass
class ChannelFidelity:
    """One channel: Pearson `r` (and its optimistic `p`) of requested vs re-detected over `frames`
    frames with a face; `gain` = slope of (re-detected - `rest`) on requested; `rest` = the portrait's
    own value (blendshape score, or head angle in degrees); `detected_std` = how much the re-detected
    value moved (NaN in reports saved before it was kept)."""

    r: float
    p: float
    gain: float
    rest: float
    requested_std: float
    frames: int
    detected_std: float = math.nan


@dataclass
class ScoreReport:
    """Everything `score_video` measured; see the module docstring for what each part means.

    Per-frame series (`times`, `requested`, `redetected`, ...) are kept so the report can be plotted
    again from its JSON; they are `(frames,)` arrays, NaN where there was nothing to measure.
    """

    frames: int
    fps: float
    sample_every: int
    detected_fraction: float
    # motion fidelity
    channels: dict[str, ChannelFidelity]
    skipped_channels: list[str]
    # emotion readability
    emotion_requested: str | None = None  # the most frequent requested dominant class
    emotion_accuracy: float | None = None  # Acc_emo
    emotion_mean_probability: float | None = None
    emotion_frames: int = 0
    emotion_predicted: dict[str, float] = field(default_factory=dict)  # top-class shares on those frames
    # identity
    identity_mean: float | None = None
    identity_min: float | None = None
    identity_frames: int = 0
    # lip sync: lag > 0 means the mouth moves after the sound (the picture is late)
    lipsync_lag_frames: int | None = None
    lipsync_lag_ms: float | None = None  # refined to a fraction of a frame
    lipsync_confidence: float | None = None  # peak correlation
    lipsync_margin: float | None = None  # peak minus the median over all lags
    opening_lag_frames: int | None = None  # re-detected vs requested opening
    opening_lag_ms: float | None = None
    opening_confidence: float | None = None
    opening_signal: str = "inner-lip gap / inter-ocular distance"
    # temporal stability
    jitter: float | None = None  # mean, inter-ocular distances per frame
    jitter_p95: float | None = None
    seam_flicker: float | None = None  # mean |frame-to-frame difference| in the seam band, grey levels
    seam_flicker_max: float | None = None
    # per-frame series
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    requested: dict[str, np.ndarray] = field(default_factory=dict)  # PLOT_CURVES, requested weight
    redetected: dict[str, np.ndarray] = field(default_factory=dict)  # PLOT_CURVES, minus the rest value
    opening: np.ndarray = field(default_factory=lambda: np.zeros(0))  # re-detected gap (minus rest)
    requested_opening: np.ndarray = field(default_factory=lambda: np.zeros(0))  # jawOpen - mouthClose
    audio_level: np.ndarray = field(default_factory=lambda: np.zeros(0))  # dB
    emotion_probability: np.ndarray = field(default_factory=lambda: np.zeros(0))  # FER p(requested class)
    emotion_intensity: np.ndarray = field(default_factory=lambda: np.zeros(0))  # requested intensity
    lipsync_lags: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    lipsync_curve: np.ndarray = field(default_factory=lambda: np.zeros(0))  # r per lag, audio
    opening_curve: np.ndarray = field(default_factory=lambda: np.zeros(0))  # r per lag, requested
    notes: list[str] = field(default_factory=list)

    @property
    def mean_r(self) -> float | None:
        """Mean Pearson r over the scored channels, including those flagged as barely moving: leaving them
        out would let a frozen render (nothing moves, so everything is "noise") escape this number."""
        values = [c.r for c in self.channels.values() if np.isfinite(c.r)]
        return float(np.mean(values)) if values else None

    # -- serialisation ----------------------------------------------------------------------------------

    _SERIES = ("times", "opening", "requested_opening", "audio_level", "emotion_probability",
               "emotion_intensity", "lipsync_curve", "opening_curve")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "channels":
                value = {k: {f: _number(v) if f != "frames" else v for f, v in vars(c).items()}
                         for k, c in value.items()}  # fmt: skip
            elif name in ("requested", "redetected"):
                value = {k: _floats(v) for k, v in value.items()}
            elif name in self._SERIES:
                value = _floats(value)
            elif name == "lipsync_lags":
                value = [int(v) for v in value]
            elif isinstance(value, float):
                value = _number(value)
            data[name] = value
        data["mean_r"] = _number(self.mean_r)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreReport:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["channels"] = {
            k: ChannelFidelity(**{f: (math.nan if v is None else v) for f, v in c.items()})
            for k, c in data["channels"].items()
        }
        for name in ("requested", "redetected"):
            values[name] = {k: _array(v) for k, v in data.get(name, {}).items()}
        for name in cls._SERIES:
            values[name] = _array(data.get(name, []))
        values["lipsync_lags"] = np.asarray(data.get("lipsync_lags", []), int)
        return cls(**values)

    def save_json(self, path: str | Path) -> Path:
        with atomic_write(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        return Path(path)

    @classmethod
    def load_json(cls, path: str | Path) -> ScoreReport:
        return cls.from_dict(json.loads(Path(path).read_text()))

    # -- reading it -------------------------------------------------------------------------------------

    def table(self, title: str = "Video score"):
        """A rich `Table`: one row per measure, with what it means."""
        from rich.table import Table

        table = Table(title=f"{title}: {self.frames} frames at {self.fps:g} fps", show_lines=False)
        table.add_column("measure", style="bold")
        table.add_column("value", justify="right")
        table.add_column("what it means")
        table.add_row("face found", f"{self.detected_fraction:.1%}", "frames where the landmarker re-detected a face")
        table.add_row("motion fidelity", _text(self.mean_r), f"mean Pearson r over {len(self.channels)} channel(s)")
        for name, c in self.channels.items():
            detail = f"n={c.frames}, p={_text(c.p, '.1e')}, gain={_text(c.gain, '.2f')}"
            if c.detected_std < MIN_DETECTED_STD[_unit(name)]:
                detail += f"; re-detected value barely moves (std {c.detected_std:.4f}): r is noise"
            table.add_row(f"  {name}", _text(c.r), detail)
        if self.skipped_channels:
            table.add_row("  skipped", str(len(self.skipped_channels)), ", ".join(self.skipped_channels))
        table.add_row(
            "Acc_emo", _text(self.emotion_accuracy, ".1%"),
            f"FER top class = requested '{self.emotion_requested}' on {self.emotion_frames} frame(s) "
            f"(intensity > {EMOTION_MIN_INTENSITY}); mean p = {_text(self.emotion_mean_probability, '.2f')}",
        )  # fmt: skip
        table.add_row(
            "identity (CSIM)", _text(self.identity_mean),
            f"cosine to the portrait, min {_text(self.identity_min)} over {self.identity_frames} frame(s)",
        )  # fmt: skip
        table.add_row(
            "lip-sync lag", f"{_text(self.lipsync_lag_frames, 'd')} fr / {_text(self.lipsync_lag_ms, '.0f')} ms",
            f"mouth vs audio level, r={_text(self.lipsync_confidence, '.2f')} "
            f"(margin {_text(self.lipsync_margin, '.2f')}); > 0: the mouth is late",
        )  # fmt: skip
        table.add_row(
            "opening lag", f"{_text(self.opening_lag_frames, 'd')} fr / {_text(self.opening_lag_ms, '.0f')} ms",
            f"re-detected vs requested opening, r={_text(self.opening_confidence, '.2f')}",
        )  # fmt: skip
        table.add_row(
            "jitter", _text(self.jitter, ".4f"),
            f"static landmarks, inter-ocular distances per frame after removing head motion "
            f"(p95 {_text(self.jitter_p95, '.4f')})",
        )  # fmt: skip
        if self.seam_flicker is not None:  # None: nothing was pasted back (a close-up, or frames given alone)
            table.add_row(
                "seam flicker",
                _text(self.seam_flicker, ".2f"),
                f"grey levels per frame in the paste-back band (max {_text(self.seam_flicker_max, '.2f')})",
            )
        for note in self.notes:
            table.add_row("note", "", note)
        return table

    def plot(self, path: str | Path) -> Path:
        """Requested vs re-detected curves, FER of the requested class, and the lip-sync lag curves; PNG."""
        from studio.plots import _save, plt

        panels = [name for name in PLOT_CURVES if name in self.requested]
        fig, axes = plt.subplots(len(panels) + 2, 1, figsize=(11, 2.0 * (len(panels) + 2) + 0.5))
        t = self.times
        for ax, name in zip(axes, panels, strict=False):
            ax.plot(t, self.requested[name], color="#455a64", label="requested")
            ax.plot(t, self.redetected[name], color="#e65100", label="re-detected − rest")
            score = self.channels.get(PLOT_CURVES[name][0])
            ax.set_ylabel(name)
            ax.set_title(f"{name}: r = {score.r:.2f}" if score else f"{name} (not scored)", fontsize=9, loc="left")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        emotion_ax, lag_ax = axes[-2], axes[-1]
        if self.emotion_requested is not None and len(self.emotion_intensity) == len(t):
            sampled = np.isfinite(self.emotion_probability)
            emotion_ax.plot(t[sampled], self.emotion_probability[sampled], "o-", ms=3, color="#f4b400",
                            label=f"FER p({self.emotion_requested})")  # fmt: skip
            emotion_ax.plot(t, self.emotion_intensity, color="#9e9e9e", label="requested intensity")
            emotion_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        emotion_ax.set_ylim(-0.02, 1.02)
        emotion_ax.set_title(
            f"emotion readability: Acc_emo = {_text(self.emotion_accuracy, '.0%')}, mean p(requested) = "
            f"{_text(self.emotion_mean_probability, '.2f')}",
            fontsize=9, loc="left",
        )  # fmt: skip
        emotion_ax.set_xlabel("time (s)")
        lag_ms = self.lipsync_lags * 1000.0 / self.fps
        if len(self.lipsync_curve):
            lag_ax.plot(lag_ms, self.lipsync_curve, "o-", ms=3, color="#1565c0", label="mouth vs audio level")
        if len(self.opening_curve):
            lag_ax.plot(lag_ms, self.opening_curve, "o-", ms=3, color="#2e7d32", label="mouth vs requested")
        lag_ax.axvline(0, color="#bbbbbb", linewidth=0.8)
        lag_ax.set_xlabel("lag (ms; > 0: the mouth moves after)")
        lag_ax.set_ylabel("r")
        lag_ax.set_title(
            f"lip sync: best lag {_text(self.lipsync_lag_frames, 'd')} frames "
            f"({_text(self.lipsync_lag_ms, '.0f')} ms), "
            f"r = {_text(self.lipsync_confidence, '.2f')}; requested vs re-detected opening: "
            f"{_text(self.opening_lag_frames, 'd')} frames",
            fontsize=9, loc="left",
        )  # fmt: skip
        if len(self.lipsync_curve) or len(self.opening_curve):
            lag_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        return _save(fig, path)


# ---------------------------------------------------------------------------------------------------------
# Scoring


def _timed_frames(video, fps: float) -> Iterator[tuple[float, np.ndarray]]:
    """`(seconds, frame)` from a path, `(seconds, frame)` pairs, or bare frames (stamped `i / fps`)."""
    if isinstance(video, (str, Path)):
        from recognition.video import iter_frames

        yield from iter_frames(video)
        return
    for index, item in enumerate(video):
        if isinstance(item, tuple):
            yield float(item[0]), item[1]
        else:
            yield index / fps, item


def _at(times: np.ndarray, fps: float, count: int) -> np.ndarray:
    """Row index into a `count`-frame curve at `fps` for each of `times`; -1 past its end."""
    index = np.round(np.asarray(times) * fps).astype(int)
    return np.where((index >= 0) & (index < count), index, -1)


class _SampledModels:
    """FER and identity on sampled frames, in batches: crops are cut as frames arrive, nets run per batch."""

    def __init__(self, expressions: ExpressionRecognizer | None, identity: IdentityEncoder | None):
        self.expressions, self.identity = expressions, identity
        self.indices: list[int] = []
        self.rgb: list[np.ndarray] = []
        self.grey: list[np.ndarray] = []
        self.id_crops: list[np.ndarray] = []
        self.probabilities: dict[int, np.ndarray] = {}
        self.embeddings: dict[int, np.ndarray] = {}

    def add(self, index: int, frame: np.ndarray, face: FaceObservation) -> None:
        self.indices.append(index)
        if self.expressions is not None:
            rgb, grey = self.expressions.crops(frame, [face.landmarks])
            self.rgb.append(rgb[0])
            self.grey.append(grey[0])
        if self.identity is not None:
            self.id_crops.append(crop_square(frame, identity_box(face.landmarks), IDENTITY_SIZE))
        if len(self.indices) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.indices:
            return
        if self.expressions is not None:
            estimates = self.expressions.predict_crops(np.stack(self.rgb), np.stack(self.grey))
            for i, estimate in zip(self.indices, estimates, strict=True):
                self.probabilities[i] = estimate.probabilities
        if self.identity is not None:
            for i, embedding in zip(self.indices, self.identity.embed_crops(np.stack(self.id_crops)), strict=True):
                self.embeddings[i] = embedding
        self.indices, self.rgb, self.grey, self.id_crops = [], [], [], []


class _SeamFlicker:
    """Mean |frame-to-frame grey difference| in the band around the paste-back box, streamed."""

    def __init__(self, box: tuple[float, float, float, float], width: float | None):
        self.box, self.width = box, width
        self.mask: np.ndarray | None = None
        self.previous: np.ndarray | None = None
        self.values: list[float] = []

    def update(self, frame: np.ndarray) -> None:
        if self.mask is None:
            side = max(self.box[2] - self.box[0], self.box[3] - self.box[1])
            self.mask = seam_band_mask(frame.shape[:2], self.box, self.width or max(2.0, 0.03 * side))
        band = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[self.mask].astype(np.float32)
        if self.previous is not None:
            self.values.append(float(np.abs(band - self.previous).mean()))
        self.previous = band


class VideoScorer:
    """Scores generated videos with components built once and reused (pass them in, or defaults are
    built here): `VideoScorer(analyzer, expressions, identity)(video, requested, portrait=...)`."""

    def __init__(
        self,
        analyzer: FaceAnalyzer | None = None,
        expressions: ExpressionRecognizer | None = None,
        identity: IdentityEncoder | None = None,
    ):
        self.analyzer = analyzer or FaceAnalyzer()
        self.expressions = expressions or ExpressionRecognizer()
        self.identity = identity or IdentityEncoder()

    @classmethod
    def from_pipeline(cls, pipeline) -> VideoScorer:
        """Reuse a `FaceAnalysisPipeline`'s landmarker, FER and identity encoder."""
        return cls(pipeline.analyzer, pipeline.expressions, pipeline.identity)

    def __call__(
        self,
        video: str | Path | Iterable[np.ndarray] | Iterable[tuple[float, np.ndarray]],
        requested: FaceMotion,
        *,
        portrait: np.ndarray,
        fps: float | None = None,
        emotion: EmotionTrack | None = None,
        audio: Audio | None = None,
        sample_every: int = 1,
        crop_box: tuple[float, float, float, float] | None = None,
        seam_width: float | None = None,
        face_box: Box | None = None,
        frame_face_box: Box | None = None,
    ) -> ScoreReport:
        """Score one video against what was asked of it (see `score_video`)."""
        frame_face_box = frame_face_box or face_box
        if sample_every < 1:
            raise ValueError("sample_every must be >= 1")
        notes: list[str] = []
        if fps is None:
            if isinstance(video, (str, Path)):
                from recognition.video import video_info

                fps = video_info(video).fps
            else:
                fps = requested.fps
        if audio is None and isinstance(video, (str, Path)):
            audio = _audio_track(video)
            if audio is not None:
                notes.append("audio: the video's own track")

        # The portrait at rest: the reference for blendshapes, head pose, mouth gap and identity.
        rest_face = nearest_face(self.analyzer(portrait), face_box)
        if rest_face is None:
            raise ValueError("no face found in the portrait" + (f" near {face_box}" if face_box else ""))
        rest_values = {name: _channel_value(rest_face, name) for name in FIDELITY_CHANNELS}
        rest_gap = mouth_gap(rest_face.landmarks)
        rest_identity = self.identity(portrait, [rest_face])[0] if self.identity else None

        sampled = _SampledModels(self.expressions if emotion is not None else None, self.identity)
        seam = _SeamFlicker(crop_box, seam_width) if crop_box is not None else None
        times: list[float] = []
        values: list[np.ndarray] = []  # FIDELITY_CHANNELS per frame (NaN without a face)
        gaps: list[float] = []
        jitters: list[float] = []
        previous_landmarks: np.ndarray | None = None
        nan_row = np.full(len(FIDELITY_CHANNELS), np.nan)
        tracked = self.analyzer.track(_timed_frames(video, fps), around=frame_face_box)
        for index, (seconds, frame, faces) in enumerate(tracked):
            face = nearest_face(faces, frame_face_box)
            times.append(seconds)
            if face is None:
                values.append(nan_row)
                gaps.append(math.nan)
                previous_landmarks = None
            else:
                values.append(np.array([_channel_value(face, name) for name in FIDELITY_CHANNELS]))
                gaps.append(mouth_gap(face.landmarks) - rest_gap)
                if previous_landmarks is not None:
                    jitters.append(static_jitter(previous_landmarks, face.landmarks))
                previous_landmarks = face.landmarks
                if index % sample_every == 0:
                    sampled.add(index, frame, face)
            if seam is not None:
                seam.update(frame)
        sampled.flush()

        n = len(times)
        t = np.asarray(times, np.float64)
        redetected = np.array(values).reshape(n, len(FIDELITY_CHANNELS))
        found = np.isfinite(redetected[:, 0])
        row = _at(t, requested.fps, requested.num_frames)
        if (row < 0).any():
            notes.append(f"{int((row < 0).sum())} frame(s) outside the requested motion's time span")
        requested_curves = {name: np.where(row >= 0, requested[name][np.maximum(row, 0)], np.nan)
                            for name in FIDELITY_CHANNELS}  # fmt: skip

        # motion fidelity
        channels, skipped = {}, []
        for j, name in enumerate(FIDELITY_CHANNELS):
            asked, seen = requested_curves[name], redetected[:, j] - rest_values[name]
            std = float(np.nanstd(asked)) if np.isfinite(asked).any() else 0.0
            if std < MIN_REQUESTED_STD[_unit(name)]:
                skipped.append(name)
                continue
            r, used = pearson(asked, seen)
            ok = np.isfinite(asked) & np.isfinite(seen)
            gain = float(np.polyfit(asked[ok], seen[ok], 1)[0]) if used >= 3 else math.nan
            detected_std = float(seen[ok].std()) if used else math.nan
            channels[name] = ChannelFidelity(
                r, pearson_p_value(r, used), gain, rest_values[name], std, used, detected_std
            )

        report = ScoreReport(
            frames=n, fps=float(fps), sample_every=sample_every,
            detected_fraction=float(found.mean()) if n else 0.0, channels=channels, skipped_channels=skipped,
            times=t, notes=notes,
        )  # fmt: skip
        for plot_name, members in PLOT_CURVES.items():
            report.requested[plot_name] = np.mean([requested_curves[m] for m in members], axis=0)
            cols = [FIDELITY_CHANNELS.index(m) for m in members]
            report.redetected[plot_name] = np.mean(
                [redetected[:, c] - rest_values[m] for c, m in zip(cols, members, strict=True)], axis=0
            )

        _score_emotion(report, emotion, sampled.probabilities, t)
        if rest_identity is not None and sampled.embeddings:
            cosines = cosine_similarity(np.stack(list(sampled.embeddings.values())), rest_identity)
            report.identity_mean, report.identity_min = float(cosines.mean()), float(cosines.min())
            report.identity_frames = len(cosines)

        # lip sync
        max_lag = max(1, int(round(LIPSYNC_MAX_LAG_S * fps)))
        report.opening = np.asarray(gaps, np.float64)
        report.requested_opening = requested_curves["jawOpen"] - requested_curves["mouthClose"]
        report.lipsync_lags = np.arange(-max_lag, max_lag + 1)
        if audio is not None:
            report.audio_level = audio_envelope(audio.samples, audio.sample_rate, t, window_s=2.0 / fps)
            lags, curve = lagged_correlation(report.opening, report.audio_level, max_lag)
            lag, refined, peak = peak_lag(lags, curve)
            report.lipsync_curve = curve
            if np.isfinite(peak):
                report.lipsync_lag_frames, report.lipsync_lag_ms = lag, refined * 1000.0 / fps
                report.lipsync_confidence = peak
                report.lipsync_margin = float(peak - np.nanmedian(curve))
        asked_opening = report.requested_opening[np.isfinite(report.requested_opening)]
        if len(asked_opening) and asked_opening.std() > MIN_REQUESTED_STD["weight"]:
            lags, curve = lagged_correlation(report.opening, report.requested_opening, max_lag)
            lag, refined, peak = peak_lag(lags, curve)
            report.opening_curve = curve
            if np.isfinite(peak):
                report.opening_lag_frames, report.opening_lag_ms = lag, refined * 1000.0 / fps
                report.opening_confidence = peak

        # temporal stability
        if jitters:
            report.jitter, report.jitter_p95 = float(np.mean(jitters)), float(np.percentile(jitters, 95))
        if seam is not None and seam.values:
            report.seam_flicker, report.seam_flicker_max = float(np.mean(seam.values)), float(np.max(seam.values))
        return report


def _unit(name: str) -> str:
    """A fidelity channel's unit: "degrees" for the head, "weight" for blendshapes."""
    return "degrees" if name in HEAD_CHANNELS else "weight"


def _channel_value(face: FaceObservation, name: str) -> float:
    if name in HEAD_CHANNELS:
        pose = face.head_pose
        return {"headYaw": pose.yaw, "headPitch": pose.pitch, "headRoll": pose.roll}[name]
    return float(face.blendshapes[ARKIT_INDEX[name]])


def _score_emotion(
    report: ScoreReport, emotion: EmotionTrack | None, probabilities: dict[int, np.ndarray], times: np.ndarray
) -> None:
    """Acc_emo and the mean probability of the requested class, over sampled frames with a face whose
    requested intensity is above `EMOTION_MIN_INTENSITY`."""
    n = len(times)
    report.emotion_probability = np.full(n, np.nan)
    if emotion is None:
        return
    row = _at(times, emotion.fps, emotion.num_frames)
    requested_class = np.where(row >= 0, emotion.probabilities.argmax(axis=1)[np.maximum(row, 0)], -1)
    report.emotion_intensity = np.where(row >= 0, emotion.intensity[np.maximum(row, 0)], np.nan)
    strong = report.emotion_intensity > EMOTION_MIN_INTENSITY
    counted = [i for i in probabilities if requested_class[i] >= 0 and strong[i]]
    for i, p in probabilities.items():
        if requested_class[i] >= 0:
            report.emotion_probability[i] = p[requested_class[i]]
    classes = requested_class[requested_class >= 0]
    if len(classes):
        report.emotion_requested = EMOTIONS[int(np.bincount(classes).argmax())]
    report.emotion_frames = len(counted)
    if not counted:
        return
    top = np.array([int(np.argmax(probabilities[i])) for i in counted])
    wanted = requested_class[counted]
    report.emotion_accuracy = float(np.mean(top == wanted))
    report.emotion_mean_probability = float(np.mean([probabilities[i][requested_class[i]] for i in counted]))
    report.emotion_predicted = {EMOTIONS[c]: round(float(np.mean(top == c)), 4) for c in np.unique(top)}


def _audio_track(path: str | Path) -> Audio | None:
    """The video's own audio track, or None if it has none."""
    from recognition.audio import load_audio
    from rigs.errors import InputFileError

    try:
        return load_audio(path)
    except InputFileError:
        return None


def score_video(
    video: str | Path | Iterable[np.ndarray] | Iterable[tuple[float, np.ndarray]],
    fps: float | None,
    requested: FaceMotion,
    emotion: EmotionTrack | None,
    portrait: np.ndarray,
    audio: Audio | None = None,
    analyzer=None,
    sample_every: int = 1,
    *,
    crop_box: tuple[float, float, float, float] | None = None,
    seam_width: float | None = None,
    face_box: Box | None = None,
    frame_face_box: Box | None = None,
) -> ScoreReport:
    """Score a generated talking-face video against what was requested, in one streaming pass.

    - `video`: a file path, or an iterable of `(H, W, 3) uint8` RGB frames or `(seconds, frame)` pairs;
    - `fps`: the video's frame rate (None: the file's, or `requested.fps` for frames);
    - `requested`: the `FaceMotion` the video was rendered from (weights relative to the portrait);
    - `emotion`: the requested `EmotionTrack` (None: no Acc_emo);
    - `portrait`: `(H, W, 3) uint8` RGB, the identity and resting-face reference;
    - `audio`: the speech (None: a video file's own track, if any; else no lip-sync offset);
    - `analyzer`: a `VideoScorer`, a `FaceAnalysisPipeline` (its landmarker, FER and identity encoder are
      reused), a `FaceAnalyzer`, or None (defaults built for this call: build a `VideoScorer` once when
      scoring many videos);
    - `sample_every`: FER and identity run on every k-th frame (the landmarker always runs on all);
    - `crop_box`: `(x0, y0, x1, y1)` frame pixels of the paste-back window, for the seam flicker check;
    - `face_box`: `(x0, y0, x1, y1)` pixels of the animated face in the portrait, for a picture with
      several faces (None: the largest, see `nearest_face`); `frame_face_box`: where it is in the video's
      frames, when they are not the portrait's pixels (a close-up; None: `face_box`).

    Returns a `ScoreReport`.
    """
    if isinstance(analyzer, VideoScorer):
        scorer = analyzer
    elif isinstance(analyzer, FaceAnalyzer) or analyzer is None:
        scorer = VideoScorer(analyzer)
    else:  # a FaceAnalysisPipeline, or anything with its three components
        scorer = VideoScorer.from_pipeline(analyzer)
    return scorer(
        video, requested, portrait=portrait, fps=fps, emotion=emotion, audio=audio, sample_every=sample_every,
        crop_box=crop_box, seam_width=seam_width, face_box=face_box, frame_face_box=frame_face_box,
    )  # fmt: skip


@functools.cache
def shared_scorer() -> VideoScorer:
    """One `VideoScorer` per process (its models load once)."""
    return VideoScorer()


def score_talking_face(
    result, portrait: np.ndarray, sample_every: int = 2, scorer: VideoScorer | None = None
) -> ScoreReport:
    """Score a `TalkingFaceResult` against what was asked of it (the scorer `TalkingFacePipeline` takes):
    its motion, its emotion track, its speech, the face it animated and the paste-back window for the
    seam check (a close-up has no seam). `scorer`: the `VideoScorer` to use (default: the process-wide
    `shared_scorer()`; the web app passes one built on its thread-safe, shared landmarker)."""
    x0, y0, x1, y1 = result.crop_box
    pasted_back = result.shown_box is None
    return score_video(
        result.video_path,
        result.motion.fps,
        result.motion,
        result.curves.emotion,
        portrait,
        result.curves.speech.audio,
        analyzer=scorer or shared_scorer(),
        sample_every=sample_every,
        crop_box=result.crop_box if pasted_back else None,
        seam_width=max(4.0, 0.04 * (x1 - x0)),
        face_box=result.face.box,
        frame_face_box=result.to_video(result.face.box),
    )
