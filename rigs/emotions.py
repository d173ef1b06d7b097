"""The seven emotion classes every model and generator speaks, and their place on the circumplex.

Class order is face-api's: neutral, happy, sad, angry, fearful, disgusted, surprised. Other models order
their classes differently; they are mapped to these names by name, never by index.
"""

from __future__ import annotations

import numpy as np

from rigs.errors import AffectStudioError, did_you_mean

EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
EMOTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(EMOTIONS)}

# Spellings people and other models use for the same classes.
ALIASES: dict[str, str] = {
    "calm": "neutral",
    "happiness": "happy", "joy": "happy",
    "sadness": "sad",
    "anger": "angry",
    "fear": "fearful", "afraid": "fearful",
    "disgust": "disgusted",
    "surprise": "surprised", "astonished": "surprised",
}  # fmt: skip

# Valence and arousal in [-1, 1] (Russell 1980, circumplex). Russell has no "disgust": we place it at
# (-0.60, 0.35), unpleasant and moderately aroused, between angry and sad; this is our choice.
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 0.0),
    "happy": (0.83, 0.53),
    "sad": (-0.65, -0.27),
    "angry": (-0.52, 0.58),
    "fearful": (-0.34, 0.64),
    "disgusted": (-0.60, 0.35),
    "surprised": (0.16, 0.89),
}
CIRCUMPLEX_TABLE = np.array([CIRCUMPLEX[name] for name in EMOTIONS], dtype=np.float32)  # (7, 2)


class UnknownEmotionError(AffectStudioError):
    """An emotion name that is neither a class nor an alias; `context` is the text it was found in."""

    def __init__(self, name: str, context: str | None = None):
        self.name = name
        where = f" in {context!r}" if context and context.strip() != name.strip() else ""
        hint = did_you_mean(name.strip().lower(), [*EMOTIONS, *ALIASES], suggest=ALIASES)
        super().__init__(f"unknown emotion {name!r}{where}{hint}; valid emotions: {', '.join(EMOTIONS)}")


def canonical_emotion(name: str, context: str | None = None) -> str:
    """`'Fear'` -> `'fearful'`; raises `UnknownEmotionError` listing the valid names (and quoting
    `context`, the text the name came from, when it says more than the name)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in EMOTION_INDEX:
        raise UnknownEmotionError(name, context)
    return key


def valence_arousal(probabilities: np.ndarray) -> np.ndarray:
    """Derived valence/arousal: class probabilities `(..., 7)` -> `(..., 2)` expected circumplex point.

    This is a derivation from a classifier, not a valence/arousal model: say "derived" wherever it is shown.
    """
    return np.asarray(probabilities, dtype=np.float32) @ CIRCUMPLEX_TABLE


def circumplex_probabilities(valence, arousal, temperature: float = 0.25) -> np.ndarray:
    """Valence and arousal `(...)` in [-1, 1] -> `(..., 7)` class probabilities over `EMOTIONS`.

    Softmax of minus the distance to each class's circumplex point, divided by `temperature` (smaller
    is more decisive). The inverse direction of `valence_arousal`, up to that blur.
    """
    point = np.stack([np.asarray(valence, np.float32), np.asarray(arousal, np.float32)], axis=-1)
    distance = np.linalg.norm(point[..., None, :] - CIRCUMPLEX_TABLE, axis=-1)
    logits = -distance / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return (p / p.sum(axis=-1, keepdims=True)).astype(np.float32)


def ranked_emotions(probabilities: np.ndarray) -> list[tuple[str, float]]:
    """`(7,)` probabilities over `EMOTIONS` -> `(emotion, probability)` pairs, most likely first."""
    order = np.argsort(-np.asarray(probabilities))
    return [(EMOTIONS[i], float(probabilities[i])) for i in order]


def probability_table(probabilities: np.ndarray, digits: int = 4) -> dict[str, float]:
    """`(7,)` probabilities over `EMOTIONS` -> `{emotion: probability}`, rounded for JSON."""
    return {e: round(float(p), digits) for e, p in zip(EMOTIONS, probabilities, strict=True)}


class RankedEmotions:
    """Mixin for estimates holding `probabilities` `(7,)` over `EMOTIONS`: the top class and the ranking."""

    probabilities: np.ndarray

    @property
    def top(self) -> str:
        return self.ranked()[0][0]

    def ranked(self) -> list[tuple[str, float]]:
        """`(emotion, probability)` pairs, most likely first."""
        return ranked_emotions(self.probabilities)
