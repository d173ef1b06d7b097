"""What a user asks for: an emotion override, written the way people type it.

    "happy"                      one class at full intensity
    "happy:0.8"                  one class at intensity 0.8
    "va:0.6,0.4"                 a valence/arousal point (the class follows from the circumplex)
    "0s:neutral,2.5s:happy:0.8"  a keyframed timeline; each key holds until the next, with a smooth ramp
    "auto"                       no override: use what recognition estimates

`parse_emotion_spec(text).track(duration, fps)` gives the `EmotionTrack` (source "user").
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from recognition.emotion_track import EmotionTrack
from rigs.emotions import CIRCUMPLEX, EMOTION_INDEX, EMOTIONS, AffectStudioError, UnknownEmotionError, canonical_emotion
from rigs.emotions import circumplex_probabilities as va_to_probabilities

TIME = re.compile(r"^(\d+(?:\.\d+)?)s$")

log = logging.getLogger(__name__)


class EmotionSpecError(AffectStudioError):
    """A malformed emotion spec; the message points at the bad token."""


@dataclass(frozen=True)
class EmotionKey:
    """One emotion state: a class at an intensity, or (when `valence` is set) a valence/arousal point."""

    emotion: str = "neutral"
    intensity: float = 1.0
    valence: float | None = None
    arousal: float | None = None

    def embedding(self) -> tuple[np.ndarray, float, float, float]:
        """(probabilities (7,), valence, arousal, intensity)."""
        if self.valence is not None:
            v, a = float(self.valence), float(self.arousal)
            return va_to_probabilities(v, a), v, a, float(min(1.0, np.hypot(v, a)))
        probabilities = np.zeros(len(EMOTIONS), np.float32)
        probabilities[EMOTION_INDEX[self.emotion]] = 1.0
        intensity = 0.0 if self.emotion == "neutral" else self.intensity
        v, a = CIRCUMPLEX[self.emotion]
        return probabilities, v * intensity, a * intensity, intensity


@dataclass
class EmotionSpec:
    """Parsed spec: `keys` at `times` (seconds, ascending); empty when `auto`."""

    keys: list[EmotionKey] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    text: str = "auto"

    @property
    def is_auto(self) -> bool:
        return not self.keys

    def track(self, duration: float, fps: float, ramp_s: float = 0.4) -> EmotionTrack:
        """The spec as a per-frame `EmotionTrack` of `round(duration * fps)` frames (needs a non-auto spec).
        Keys at or after `duration` (seconds) have no effect, and a warning says so."""
        if self.is_auto:
            raise ValueError("an 'auto' spec has no track of its own")
        late = [f"{time:g}s" for time in self.times[1:] if time >= duration]
        if late:
            log.warning(
                "emotion key(s) at %s come after the speech ends (%.1f s) and have no effect", ", ".join(late), duration
            )
        n = max(1, int(round(duration * fps)))
        t = np.arange(n) / fps
        states = [key.embedding() for key in self.keys]
        table = np.array([np.concatenate([p, [v, a, i]]) for p, v, a, i in states], dtype=np.float32)
        values = np.repeat(table[:1], n, axis=0)
        for k in range(1, len(self.keys)):
            # Raised-cosine ramp from the previous state to key k, starting at its time.
            w = np.clip((t - self.times[k]) / max(ramp_s, 1e-6), 0.0, 1.0)
            w = 0.5 - 0.5 * np.cos(np.pi * w)
            values = values * (1 - w[:, None]) + table[k] * w[:, None]
        return EmotionTrack(
            values[:, :7], values[:, 7], values[:, 8], values[:, 9], fps, source="user", metadata={"spec": self.text}
        )


def _number(token: str, text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise EmotionSpecError(f"bad {what} {text!r} in {token!r}: expected a number") from None
    if not low <= value <= high:
        raise EmotionSpecError(f"{what} {value:g} in {token!r} is out of range [{low:g}, {high:g}]")
    return value


def _key(token: str) -> EmotionKey:
    """`happy`, `happy:0.8` or `va:0.6,0.4` -> `EmotionKey`."""
    if token.lower().startswith("va:"):
        parts = token[3:].split(",")
        if len(parts) != 2:
            raise EmotionSpecError(f"bad token {token!r}: write a valence/arousal point as va:VALENCE,AROUSAL")
        return EmotionKey(
            valence=_number(token, parts[0], "valence", -1, 1), arousal=_number(token, parts[1], "arousal", -1, 1)
        )
    name, _, intensity = token.partition(":")
    try:
        emotion = canonical_emotion(name, context=token)
    except UnknownEmotionError as error:
        raise EmotionSpecError(str(error)) from None
    return EmotionKey(emotion, _number(token, intensity, "intensity", 0, 1) if intensity else 1.0)


def _tokens(text: str) -> list[str]:
    """Split keyframes on commas, keeping `va:V,A` pairs whole."""
    tokens: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if (
            tokens
            and re.search(r"va:[^,]*$", tokens[-1], re.IGNORECASE)
            and "," not in tokens[-1].split("va:")[-1]
            and not TIME.match(piece.split(":", 1)[0])
        ):
            tokens[-1] += "," + piece
        else:
            tokens.append(piece)
    return tokens


def parse_emotion_spec(text: str) -> EmotionSpec:
    """Parse a spec (see the module docstring); `EmotionSpecError` names the bad token and why."""
    text = (text or "").strip()
    if not text or text.lower() == "auto":
        return EmotionSpec()
    if not TIME.match(text.split(":", 1)[0]):
        return EmotionSpec([_key(text)], [0.0], text)
    keys, times = [], []
    for position, token in enumerate(_tokens(text), start=1):
        stamp, _, rest = token.partition(":")
        match = TIME.match(stamp)
        if not match or not rest:
            raise EmotionSpecError(f"bad token {token!r} (key {position}): write keys as TIMEs:EMOTION[:INTENSITY]")
        seconds = float(match.group(1))
        if times and seconds <= times[-1]:
            raise EmotionSpecError(f"key {position} {token!r} is not after the previous key ({times[-1]:g}s)")
        keys.append(_key(rest))
        times.append(seconds)
    return EmotionSpec(keys, times, text)
