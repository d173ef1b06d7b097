"""Rendering one job: emotion prototype × intensity + explicit AUs + gaze -> ARKit weights; head pose;
the portrait's `WarpRenderer` draws the still; then the job's augmentations. Labels come out with it.

    stills = StillRenderer(identities, resolution=256)   # fits each portrait once, on first use
    still = stills.render(job)                            # RenderedStill: image, ARKit, AUs, head, gaze

Expression channels are absolute on the rig (see `generation.talking_face.rig`): neutral on a smiling
photo takes the smile away. A mirror flip mirrors the labels too: Left/Right channels swap, yaw, roll
and gaze yaw change sign.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from generation.motion.expression import AU_STRENGTHS, action_unit_pose, expression_prototypes
from generation.motion.gaze import apply_eye_look
from generation.synthetic.augment import apply_augment
from generation.synthetic.identities import Identity, load_portrait
from generation.synthetic.jobs import Job
from generation.talking_face.renderer import WarpRenderer
from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from rigs.emotions import EMOTION_INDEX
from rigs.errors import AffectStudioError
from rigs.face_mesh import CanonicalFace, load_canonical_face
from rigs.facs import ACTION_UNITS


@functools.cache
def _mirror_order() -> np.ndarray:
    """ARKit index permutation that swaps every Left channel with its Right twin."""
    swapped = [name.replace("Left", "\0").replace("Right", "Left").replace("\0", "Right") for name in ARKIT_NAMES]
    return np.array([ARKIT_INDEX[name] for name in swapped])


def mirror_weights(weights: np.ndarray) -> np.ndarray:
    """`(52,)` ARKit weights of a face -> those of its mirror image (Left and Right swapped)."""
    return np.asarray(weights)[..., _mirror_order()]


def expression_weights(
    emotion: str, intensity: float, action_units: Sequence[tuple[int, float]]
) -> tuple[np.ndarray, dict[int, float]]:
    """The pose of one cell: `(52,) float32` ARKit weights and the AU intensities they express.

    The emotion's EMFACS prototype scaled by `intensity`, then each explicit AU raises its channels to at
    least its strength (AU25, lips part, opens the jaw). AU intensities cover every AU the rig knows."""
    weights = expression_prototypes()[EMOTION_INDEX[emotion]] * np.float32(intensity)
    aus = {au.number: 0.0 for au in ACTION_UNITS}
    for number, strength in AU_STRENGTHS[emotion].items():
        aus[number] = max(aus[number], strength * intensity)
    explicit = dict(action_units)
    for number, strength in explicit.items():
        aus[number] = max(aus[number], strength)
    lips_part = explicit.pop(25, 0.0)  # drawn as jaw opening; `rigs.facs` maps AU25 to a measurement
    weights = np.maximum(weights, action_unit_pose(explicit))
    weights[ARKIT_INDEX["jawOpen"]] = max(weights[ARKIT_INDEX["jawOpen"]], lips_part)
    return np.clip(weights, 0.0, 1.0).astype(np.float32), {n: round(v, 4) for n, v in aus.items()}


@dataclass
class RenderedStill:
    """A job's image and exact labels, after augmentation (so flipped labels for a flipped image).

    `arkit` `(52,)` is what the rig drew; `rest` `(52,)` the portrait's own blendshapes as the rig reads
    them (mirrored with the image), which the blendshape read-back needs."""

    image: np.ndarray
    arkit: np.ndarray
    rest: np.ndarray
    action_units: dict[int, float]
    head: tuple[float, float, float]
    gaze: tuple[float, float]


class StillRenderer:
    """Renders jobs of the given identities; each portrait is fitted once per process (LRU of `cache_size`
    fitted renderers; jobs come identity by identity, so a small cache suffices)."""

    def __init__(
        self,
        identities: Mapping[str, Identity],
        resolution: int,
        canonical: CanonicalFace | None = None,
        cache_size: int = 8,
    ):
        self.identities = identities
        self.resolution = resolution
        self.canonical = canonical or load_canonical_face()
        self.cache_size = cache_size
        self._renderers: OrderedDict[str, WarpRenderer] = OrderedDict()

    def renderer(self, identity_id: str) -> WarpRenderer:
        if identity_id in self._renderers:
            self._renderers.move_to_end(identity_id)
            return self._renderers[identity_id]
        identity = self.identities[identity_id]
        image, content_hash = load_portrait(identity.path)
        if content_hash != identity.content_hash:
            raise AffectStudioError(f"{identity.path}: the portrait changed during the run; start again")
        renderer = WarpRenderer(image, identity.face, self.canonical, self.resolution)
        self._renderers[identity_id] = renderer
        while len(self._renderers) > self.cache_size:
            self._renderers.popitem(last=False)
        return renderer

    def render(self, job: Job) -> RenderedStill:
        renderer = self.renderer(job.identity)
        weights, aus = expression_weights(job.emotion, job.intensity, job.action_units)
        gaze_yaw, gaze_pitch = job.gaze
        apply_eye_look(weights[None], np.array([job.gaze], np.float32))
        head = np.array(job.head, np.float32)
        eyes = np.array([gaze_yaw, gaze_pitch, gaze_yaw, gaze_pitch], np.float32)
        image = renderer.render(weights, head, eyes)
        image = apply_augment(image, job.augment, job.seed)
        rest = np.asarray(renderer.rig.rest_blendshapes, np.float32)
        yaw, pitch, roll = job.head
        if job.augment.flip:
            weights, rest = mirror_weights(weights), mirror_weights(rest)
            yaw, roll, gaze_yaw = -yaw, -roll, -gaze_yaw
        return RenderedStill(image, weights, rest, aus, (yaw + 0.0, pitch, roll + 0.0), (gaze_yaw + 0.0, gaze_pitch))
