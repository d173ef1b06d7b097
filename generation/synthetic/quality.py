"""Recognition in the loop: score every generated image and keep, relabel or reject it.

    scorer = QualityScorer()
    scores = scorer.score(images, expected, references)   # batched: FER and identity nets run once per batch
    decision = decide(scores[0], "sad", spec.quality)      # Decision("relabelled", "fearful", "...")

The scores (DESIGN §4, for stills):
- **detectability**: the face landmarker finds a face in the image;
- **emotion agreement**: the FER ensemble's probability of the requested class (and its top class);
- **blendshape read-back**: mean absolute error between the landmarker's blendshapes and what was asked,
  over the channels it reads reliably (`recognition.face.RELIABLE_BLENDSHAPES`). Expression channels are
  absolute on the rig; the others are offsets from the portrait, so for those the portrait's own reading
  is added to the request;
- **identity cosine**: face-descriptor cosine between the image and the portrait.

The decision is SynFER's pseudo-label calibration: a sample whose FER reading disagrees with the request
but confidently names another class gets that class as its label (`relabelled`), the rest are rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from generation.synthetic.spec import QualitySpec
from generation.talking_face.rig import EXPRESSION_CHANNELS
from recognition.face import RELIABLE_BLENDSHAPES, FaceAnalyzer, FaceAnalyzerConfig
from recognition.face_crop import crop_square, identity_box
from recognition.fer import ExpressionRecognizer
from recognition.identity import IDENTITY_SIZE, IdentityEncoder, cosine_similarity
from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from rigs.emotions import EMOTION_INDEX, EMOTIONS, valence_arousal

_READBACK = np.array([ARKIT_INDEX[name] for name in RELIABLE_BLENDSHAPES])
_OFFSET = np.ones(len(ARKIT_NAMES), bool)
_OFFSET[EXPRESSION_CHANNELS] = False


def expected_blendshapes(arkit: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """What the landmarker should read on a still rendered with `arkit` `(52,)` from a portrait whose own
    reading is `rest` `(52,)`: expression channels as asked, the others on top of the portrait's."""
    expected = np.array(arkit, np.float32)
    expected[_OFFSET] += np.asarray(rest, np.float32)[_OFFSET]
    return np.clip(expected, 0.0, 1.0)


def readback_error(redetected: np.ndarray, expected: np.ndarray) -> float:
    """Mean absolute error over `RELIABLE_BLENDSHAPES` of two `(52,)` blendshape vectors."""
    return float(np.abs(np.asarray(redetected)[_READBACK] - np.asarray(expected)[_READBACK]).mean())


@dataclass
class QualityScores:
    """One image's scores; all None but `detected` when no face was found."""

    detected: bool
    probabilities: np.ndarray | None = None  # (7,) FER ensemble over EMOTIONS
    identity_cosine: float | None = None
    blendshape_error: float | None = None
    head: tuple[float, float, float] | None = None  # re-detected yaw, pitch, roll (absolute, degrees)

    @property
    def top(self) -> str | None:
        return None if self.probabilities is None else EMOTIONS[int(np.argmax(self.probabilities))]

    def probability(self, emotion: str) -> float:
        return 0.0 if self.probabilities is None else float(self.probabilities[EMOTION_INDEX[emotion]])

    def to_dict(self, requested: str) -> dict:
        """Flat, JSON-ready; the same keys whether or not a face was found (None when not)."""

        def r(value, digits=4):
            return None if value is None else round(float(value), digits) + 0.0

        va = valence_arousal(self.probabilities) if self.probabilities is not None else (None, None)
        return {
            "detected": self.detected,
            "fer_top": self.top,
            "fer_probability": r(self.probability(requested)) if self.detected else None,
            "fer_probabilities": None if self.probabilities is None else [r(p) for p in self.probabilities],
            "valence_derived": r(va[0]),
            "arousal_derived": r(va[1]),
            "identity_cosine": r(self.identity_cosine),
            "blendshape_error": r(self.blendshape_error),
            "detected_head": None if self.head is None else [r(v, 2) for v in self.head],
        }


@dataclass(frozen=True)
class Decision:
    decision: str  # "kept", "relabelled" or "rejected"
    label: str  # the class the image is filed under (the requested one when rejected)
    reason: str  # why, in a few words


def decide(scores: QualityScores, requested: str, quality: QualitySpec) -> Decision:
    """Keep, relabel or reject by the spec's thresholds (see `QualitySpec`)."""
    if not scores.detected:
        return Decision("rejected", requested, "no face re-detected")
    if scores.identity_cosine is not None and scores.identity_cosine < quality.min_identity_cosine:
        return Decision(
            "rejected", requested, f"identity cosine {scores.identity_cosine:.2f} < {quality.min_identity_cosine:g}"
        )
    if scores.blendshape_error is not None and scores.blendshape_error > quality.max_blendshape_error:
        return Decision(
            "rejected", requested, f"blendshape error {scores.blendshape_error:.2f} > {quality.max_blendshape_error:g}"
        )
    p = scores.probability(requested)
    if p >= quality.min_emotion_probability:
        return Decision("kept", requested, f"FER p({requested}) {p:.2f}")
    top = scores.top
    p_top = scores.probability(top)
    if quality.relabel and top != requested and p_top >= quality.min_relabel_probability:
        return Decision("relabelled", top, f"FER reads {top} {p_top:.2f} (p({requested}) {p:.2f})")
    return Decision("rejected", requested, f"FER p({requested}) {p:.2f} < {quality.min_emotion_probability:g}")


class QualityScorer:
    """Scores batches of generated face images. The landmarker runs without the extra SSD detector: the
    images are face crops, where its own detector is enough (and ~10x cheaper)."""

    def __init__(
        self,
        analyzer: FaceAnalyzer | None = None,
        expressions: ExpressionRecognizer | None = None,
        encoder: IdentityEncoder | None = None,
    ):
        self._own_analyzer = analyzer is None
        self.analyzer = analyzer or FaceAnalyzer(FaceAnalyzerConfig(max_faces=1, use_detector=False))
        self.expressions = expressions or ExpressionRecognizer()
        self.encoder = encoder or IdentityEncoder()

    def score(
        self, images: Sequence[np.ndarray], expected: Sequence[np.ndarray], references: Sequence[np.ndarray]
    ) -> list[QualityScores]:
        """`images` `(R, R, 3) uint8`, `expected` `(52,)` blendshapes (see `expected_blendshapes`) and
        `references` `(128,)` portrait embeddings, one each per image -> one `QualityScores` each."""
        scores = [QualityScores(False) for _ in images]
        found = []
        for i, image in enumerate(images):
            faces = self.analyzer(image)
            if faces:
                found.append((i, faces[0]))
        if not found:
            return scores
        rgb, grey = zip(*(ExpressionRecognizer.crops(images[i], [face.landmarks]) for i, face in found), strict=True)
        estimates = self.expressions.predict_crops(np.concatenate(rgb), np.concatenate(grey))
        crops = np.stack([crop_square(images[i], identity_box(face.landmarks), IDENTITY_SIZE) for i, face in found])
        embeddings = self.encoder.embed_crops(crops)
        for (i, face), estimate, embedding in zip(found, estimates, embeddings, strict=True):
            pose = face.head_pose
            scores[i] = QualityScores(
                detected=True,
                probabilities=estimate.probabilities,
                identity_cosine=float(cosine_similarity(embedding, references[i])),
                blendshape_error=readback_error(face.blendshapes, expected[i]),
                head=(pose.yaw, pose.pitch, pose.roll),
            )
        return scores

    def close(self) -> None:
        if self._own_analyzer:
            self.analyzer.close()
