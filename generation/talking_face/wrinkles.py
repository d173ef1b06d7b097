"""`WrinkleLayer`: expression creases drawn over the warped face.

A warp moves skin but cannot fold it. A wrinkled nose (AU9), a raised upper lip (AU10) or lowered brows
(AU4) show in a photograph mostly as new creases, and without them a 2D warp of a sneer reads as joy or
anger. On the sample portrait mid-speech, the FER ensemble's p(disgusted) for the disgust pose went from
0.55 to 0.69 with the creases, p(angry) for anger from 0.49 to 0.81; in the sample talking-face videos
(with anger and disgust recalibrated on them) disgust reads in 53 % of frames instead of 5 %.

Game engines solve the same problem with wrinkle maps that the rig's channels blend in. Here each `Crease`
is a few polylines whose points are blends of landmarks (so they move with the face) and is shaded as a
soft dark fold with a lit ridge just above it, as deep as its driving ARKit channels rise above the
portrait's own (its creases are already in the photo): at rest the layer leaves the frame untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rigs.arkit import ARKIT_INDEX
from rigs.face_topology import NUM_LANDMARKS

Anchor = dict[int, float]  # landmark index -> weight; the weights sum to 1
# How much a crease at full strength darkens the skin: visible at video size, not drawn-on. 0.5 reads as the
# emotion asked for in 85 % of the sample's frames (0.35: 82 %, 0.7: 88 %; `hopper.jpg` 79, 78, 78 %); at 0.7
# the fold across the root of the nose looks like the bridge of a pair of glasses.
DEFAULT_DEPTH = 0.5
# per RGB channel, how much of that darkening a fold takes: shadow in skin is warm (light scattered under
# the skin comes out red), and an evenly darkened, whitened line read as grey wire, a glasses bridge
SHADOW_TINT = np.array([0.75, 1.0, 1.15], np.float32)


def between(a: int | Anchor, b: int | Anchor, t: float) -> Anchor:
    """The point `t` of the way from `a` to `b` (landmark indices or anchors)."""
    a, b = ({a: 1.0} if isinstance(a, int) else a), ({b: 1.0} if isinstance(b, int) else b)
    out = {i: (1 - t) * w for i, w in a.items()}
    for i, w in b.items():
        out[i] = out.get(i, 0.0) + t * w
    return out


@dataclass(frozen=True)
class Crease:
    """A fold of the skin.

    lines: polylines of anchors (MediaPipe landmark blends), drawn tapering to nothing at both ends;
    drive: the ARKit channels whose strongest value sets the depth; relief: channels subtracted from it
    (the mid-forehead folds belong to a raised inner brow alone, as in sadness, not to brows raised evenly
    in surprise); depth: relative to the layer's (shallow folds below 1).
    """

    name: str
    drive: tuple[str, ...]
    lines: tuple[tuple[Anchor, ...], ...]
    relief: tuple[str, ...] = ()
    depth: float = 1.0


def _nose(depth: float, out: float, side: str) -> Anchor:
    """A point on the nose: `depth` of the way down from between the eyes toward the tip, `out` of the way
    from the bridge toward the cheek on the subject's `side`."""
    corner, wing = (133, 129) if side == "right" else (362, 358)
    return between(between(6, 197, depth), between(corner, wing, depth), out)


def _across_nose_root(depth: float) -> tuple[Anchor, ...]:
    return _nose(depth, 0.45, "right"), _nose(depth, 0.0, "right"), _nose(depth, 0.45, "left")


def _nose_side(depth: float, side: str) -> tuple[Anchor, ...]:
    """An oblique fold on one side wall of the nose, down and out from near the bridge."""
    return _nose(depth, 0.25, side), _nose(depth + 0.3, 0.8, side)


# Subject's sides, as ARKit names them: MediaPipe's 133 / 129 / 55 are the right eye's inner corner, the
# right nose wing and the right brow's inner end; 362 / 358 / 285 their left twins.
CREASES: tuple[Crease, ...] = (
    # AU9: folds across the root of the nose and along its sides
    Crease("nose root", ("noseSneerLeft", "noseSneerRight"), tuple(_across_nose_root(t) for t in (0.1, 0.3))),
    Crease("nose right", ("noseSneerRight",), tuple(_nose_side(t, "right") for t in (0.15, 0.4)), depth=0.8),
    Crease("nose left", ("noseSneerLeft",), tuple(_nose_side(t, "left") for t in (0.15, 0.4)), depth=0.8),
    # AU9 and AU10: the nasolabial folds, from the nose wing down past the mouth corner
    Crease("nasolabial right", ("noseSneerRight", "mouthUpperUpRight"), (({129: 1}, {203: 1}, {206: 1}, {216: 1}),)),
    Crease("nasolabial left", ("noseSneerLeft", "mouthUpperUpLeft"), (({358: 1}, {423: 1}, {426: 1}, {436: 1}),)),
    # AU4: vertical furrows between the brows
    Crease("glabella right", ("browDownRight",), ((between(9, 55, 0.45), between(168, 193, 0.45)),)),
    Crease("glabella left", ("browDownLeft",), ((between(9, 285, 0.45), between(168, 417, 0.45)),)),
    Crease(  # AU1 without AU2: short horizontal folds in the middle of the forehead
        "mid-forehead",
        ("browInnerUp",),
        tuple((between(105, 104, t), between(9, 151, t), between(334, 333, t)) for t in (0.35, 0.7)),
        relief=("browOuterUpLeft", "browOuterUpRight"),
        depth=0.6,
    ),
)


PIECES = 12  # segments each crease line is drawn in
TAPER = np.sin(np.pi * (np.arange(PIECES) + 0.5) / PIECES) ** 0.7  # each segment's share: wrinkles taper


def resampling(count: int) -> np.ndarray:
    """`(PIECES + 1, count)`: weights placing `PIECES + 1` points evenly along a polyline of `count` points
    (evenly in its parameter: each stretch between two of its points gets the same number of pieces)."""
    at = np.linspace(0.0, count - 1, PIECES + 1)
    low = np.minimum(at.astype(int), count - 2)
    weights = np.zeros((PIECES + 1, count), np.float32)
    weights[np.arange(PIECES + 1), low] = 1.0 - (at - low)
    weights[np.arange(PIECES + 1), low + 1] = at - low
    return weights


class WrinkleLayer:
    """Draws `CREASES` over a rendered face crop, in place.

    face_size: the face's width in crop pixels (sets the crease width); depth: how much a crease at full
    strength darkens the skin (0 turns the layer off); rest: `(52,)` the portrait's own ARKit weights,
    which its pixels already show. ~1.3 ms per 512² frame while creases show (one core).
    """

    def __init__(
        self,
        face_size: float,
        depth: float = DEFAULT_DEPTH,
        rest: np.ndarray | None = None,
        creases: tuple[Crease, ...] = CREASES,
    ):
        self.depth = float(depth)
        self.creases = creases
        self.sigma = max(0.6, 0.008 * face_size)  # the fold's blur, crop pixels
        # every line's drawn points as fixed blends of the landmarks: one matrix product per frame
        blocks: list[np.ndarray] = []
        self.line_rows: list[list[slice]] = []  # per crease, its lines' rows in `sample_weights`
        for crease in creases:
            rows = []
            for line in crease.lines:
                anchors = np.zeros((len(line), NUM_LANDMARKS), np.float32)
                for row, anchor in enumerate(line):
                    for index, weight in anchor.items():
                        anchors[row, index] = weight
                start = sum(len(block) for block in blocks)
                blocks.append(resampling(len(line)) @ anchors)
                rows.append(slice(start, start + PIECES + 1))
            self.line_rows.append(rows)
        self.sample_weights = np.concatenate(blocks)
        self.drive = [np.array([ARKIT_INDEX[c] for c in crease.drive]) for crease in creases]
        self.relief = [np.array([ARKIT_INDEX[c] for c in crease.relief], int) for crease in creases]
        rest = np.zeros(len(ARKIT_INDEX), np.float32) if rest is None else np.asarray(rest, np.float32)
        self.rest_folding = self._folding(rest)
        self.crease_depth = np.array([crease.depth for crease in creases], np.float32)
        self.fold_peak, self.ridge_peak = _line_peak(self.sigma), _line_peak(2 * self.sigma)

    def strengths(self, weights: np.ndarray) -> np.ndarray:
        """`(len(creases),)` in [0, 1]: each crease's depth for `(52,)` ARKit `weights`, beyond the
        portrait's own."""
        folding = np.clip(self._folding(np.asarray(weights, np.float32)) - self.rest_folding, 0.0, 1.0)
        return folding * self.crease_depth

    def _folding(self, weights: np.ndarray) -> np.ndarray:
        return np.array(
            [
                max(0.0, float(weights[drive].max()) - (float(weights[relief].mean()) if relief.size else 0.0))
                for drive, relief in zip(self.drive, self.relief, strict=True)
            ],
            np.float32,
        )

    def render(self, frame: np.ndarray, points: np.ndarray, weights: np.ndarray) -> None:
        """Shade the creases into `frame` `(S, S, 3) uint8` for control `points` `(N, 2)` crop pixels (the
        landmarks first) and ARKit `weights` `(52,)`."""
        if self.depth <= 0:
            return
        strengths = self.strengths(weights)
        active = [(rows, float(s)) for rows, s in zip(self.line_rows, strengths, strict=True) if s >= 0.05]
        if not active:
            return
        samples = self.sample_weights @ points[:NUM_LANDMARKS].astype(np.float32)
        drawn = np.concatenate([samples[r] for rows, _ in active for r in rows])
        margin = 6 * self.sigma
        x0, y0 = np.maximum(np.floor(drawn.min(axis=0) - margin), 0).astype(int)
        x1, y1 = np.minimum(np.ceil(drawn.max(axis=0) + margin), frame.shape[1::-1]).astype(int)
        if x1 <= x0 or y1 <= y0:
            return
        folds = np.zeros((y1 - y0, x1 - x0), np.float32)
        for rows, strength in active:
            for r in rows:
                xy = np.round((samples[r] - (x0, y0)) * 16).astype(np.int32).tolist()  # 1/16-pixel precision
                for k in range(PIECES):
                    cv2.line(folds, xy[k], xy[k + 1], strength * float(TAPER[k]), 1, cv2.LINE_AA, 4)
        dark = cv2.GaussianBlur(folds, (0, 0), self.sigma) / self.fold_peak
        # the ridge above a fold catches the light: the folds lifted, blurred wider
        lift = max(1, round(2.5 * self.sigma))
        ridge = np.zeros_like(folds)
        ridge[:-lift] = folds[lift:]
        light = np.clip(cv2.GaussianBlur(ridge, (0, 0), 2 * self.sigma) / self.ridge_peak - dark, 0.0, 1.0)
        patch = frame[y0:y1, x0:x1].astype(np.float32)
        patch *= 1.0 - self.depth * np.clip(dark, 0.0, 1.0)[..., None] * SHADOW_TINT
        patch *= 1.0 + (0.25 * self.depth * light)[..., None]
        frame[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)


def _line_peak(sigma: float) -> float:
    """The peak of a full-strength line blurred by `sigma`: dividing by it makes a crease at strength 1
    darken the skin by exactly `depth`."""
    size = int(12 * sigma) + 8
    canvas = np.zeros((size, size), np.float32)
    cv2.line(canvas, (0, size // 2 * 16), ((size - 1) * 16, size // 2 * 16), 1.0, 1, cv2.LINE_AA, 4)
    return float(cv2.GaussianBlur(canvas, (0, 0), sigma).max())
