"""`generate_motion`: the audio-to-motion recipe, step by step (see the package docstring)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.signal import savgol_filter

from generation.motion.blinks import blink_curve, blink_times
from generation.motion.coarticulation import (
    CoarticulationConfig,
    articulated_phones,
    blend_visemes,
    enforce_articulation,
    frame_phone_spans,
    speech_activity,
)
from generation.motion.expression import articulation_gains, expression_offsets
from generation.motion.gaze import apply_eye_look, saccades
from generation.motion.head import head_motion
from generation.motion.visemes import SPEECH_CHANNELS, VOWELS
from recognition.audio import Audio, frame_rms_db
from recognition.emotion_track import EmotionTrack
from recognition.fusion import resample
from recognition.phonemes import SILENCE, PhoneTimeline
from rigs.arkit import ARKIT_INDEX
from rigs.errors import AffectStudioError
from rigs.motion import SUPPORTED_FPS, FaceMotion

SPEECH_INDEX = [ARKIT_INDEX[c] for c in SPEECH_CHANNELS]
STRETCH = [ARKIT_INDEX["mouthStretchLeft"], ARKIT_INDEX["mouthStretchRight"]]
BLINK = [ARKIT_INDEX["eyeBlinkLeft"], ARKIT_INDEX["eyeBlinkRight"]]
WIDE = [ARKIT_INDEX["eyeWideLeft"], ARKIT_INDEX["eyeWideRight"]]


@dataclass
class MotionConfig:
    fps: float = 60.0
    seed: int = 0
    mouth_amplitude: float = 1.0  # scales speech articulation
    expression_scale: float = 1.0  # scales the emotion layer
    blink_rate: float = 1.0  # multiplies EmoFace's sampled rate; 0 turns blinks off
    gaze: bool = True
    head_motion: float = 1.0  # 0 keeps the head still
    smoothing: bool = True
    coarticulation: CoarticulationConfig = field(default_factory=CoarticulationConfig)

    def __post_init__(self) -> None:
        if self.fps not in SUPPORTED_FPS:
            raise AffectStudioError(
                f"unsupported fps {self.fps:g}; choose one of {', '.join(f'{f:g}' for f in SUPPORTED_FPS)}"
            )
        for name in ("mouth_amplitude", "expression_scale", "blink_rate", "head_motion"):
            value = getattr(self, name)
            if not 0.0 <= value <= 3.0:
                raise AffectStudioError(f"{name} must be between 0 and 3, got {value:g}")


def loudness_strength(audio: Audio | None, fps: float, frames: int) -> np.ndarray:
    """`(frames,)` articulation strength in [0.75, 1.15]: louder speech opens the mouth wider."""
    if audio is None or len(audio.samples) == 0:
        return np.ones(frames, np.float32)
    level = frame_rms_db(audio.samples, audio.sample_rate, hop_s=1.0 / fps)
    level = np.pad(level, (0, max(0, frames - len(level))), mode="edge")[:frames]
    loud = np.percentile(level, 95)
    return np.clip(0.95 + 0.2 * (level - (loud - 10.0)) / 10.0, 0.75, 1.15).astype(np.float32)


def stressed_syllables(timeline: PhoneTimeline, strength: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Vowels louder than the utterance's typical vowel: (onset seconds, nod size in degrees)."""
    vowels = [
        (p.start, strength[a:b].mean())
        for p, (_, a, b) in zip(timeline.phones, frame_phone_spans(timeline, fps, len(strength)), strict=True)
        if p.label in VOWELS and p.duration >= 0.06
    ]
    if not vowels:
        return np.zeros(0), np.zeros(0)
    times, level = np.array(vowels).T
    stressed = level > np.median(level) + 0.02
    return times[stressed], 2.0 + 20.0 * (level[stressed] - np.median(level))


def generate_motion(
    timeline: PhoneTimeline, emotion: EmotionTrack, audio: Audio | None = None, config: MotionConfig | None = None
) -> FaceMotion:
    """Phones (+ emotion, + audio for loudness) -> `FaceMotion` at `config.fps`."""
    config = config or MotionConfig()
    fps = config.fps
    duration = max(timeline.duration, audio.duration if audio is not None else 0.0, 1.0 / fps)
    frames = int(np.ceil(duration * fps - 1e-9))
    rng = np.random.default_rng(config.seed)
    emotion = resample(emotion, fps, frames)
    jaw_gain, stretch_offset = articulation_gains(emotion)
    strength = loudness_strength(audio, fps, frames)
    speaking = speech_activity(timeline, fps, frames)

    # 1. speech: coarticulated visemes, as strong as the voice is loud, shaped by emotion
    articulated = articulated_phones(timeline, config.coarticulation)
    pose = blend_visemes(articulated, fps, frames, config.coarticulation)
    pose[:, SPEECH_INDEX] *= (strength * config.mouth_amplitude)[:, None]
    pose[:, ARKIT_INDEX["jawOpen"]] *= jaw_gain
    pose[:, ARKIT_INDEX["mouthClose"]] *= jaw_gain
    pose[:, STRETCH] += (stretch_offset * speaking)[:, None]  # clipped to [0, 1] below

    # 2. emotion layer
    pose += expression_offsets(emotion, config.expression_scale)
    np.clip(pose, 0.0, 1.0, out=pose)

    # 3. smoothing (EmoFace's Savitzky-Golay, window 15 at 60 fps), then closures imposed again
    if config.smoothing and frames >= 7:
        window = max(5, int(round(15 * fps / 60)) | 1)
        pose = savgol_filter(pose, min(window, frames - (1 - frames % 2)), 3, axis=0)
        np.clip(pose, 0.0, 1.0, out=pose)
    enforce_articulation(pose, articulated, fps, config.coarticulation)

    # 4. blinks, preferring pauses
    pauses = np.array([p.start for p in timeline.phones if p.label == SILENCE and p.duration > 0.15])
    blinks = blink_curve(blink_times(duration, rng, config.blink_rate, pauses), fps, frames)
    pose[:, BLINK] = np.maximum(pose[:, BLINK], blinks[:, None])
    pose[:, WIDE] *= (1.0 - blinks)[:, None]

    # 5. gaze and head
    gaze = saccades(frames, fps, rng) if config.gaze else np.zeros((frames, 2), np.float32)
    apply_eye_look(pose, gaze)
    stress_times, stress_sizes = stressed_syllables(timeline, strength, fps)
    head = head_motion(frames, fps, rng, stress_times, stress_sizes, emotion.arousal, config.head_motion)

    metadata = {
        "generator": "affect-studio procedural audio-to-motion",
        "phones": timeline.method,
        "emotion_source": emotion.source,
        "config": {k: v for k, v in asdict(config).items() if k != "coarticulation"},
    }
    return FaceMotion(np.clip(pose, 0, 1), head, np.column_stack([gaze, gaze]), fps, metadata)
