"""`PortraitRig`: one portrait fitted once to the canonical face, so ARKit weights and head angles become
control-point positions in a square crop around the face.

    rig = PortraitRig.fit(image, face, load_canonical_face(), resolution=512)
    points = rig.points(weights, head, eyes)       # (N, 2) crop pixels, same order as rig.src_points

Control points, in this order: the 478 landmarks, an outer ring (the face oval scaled by ~1.6 about the
face centre: hair, ears, neck, moving with the head with a falloff), then a static ring on the crop's
border. Coordinates follow OpenCV's convention (pixel centres at integers); MediaPipe's landmarks (pixel
corners at integers) are shifted by half a pixel on the way in.

Weights are ARKit values. Expression channels (smile, frown, brows, squint, ...) are absolute: the
portrait's own expression, as the landmarker reads it, is the starting point, so asking for smile 0 on a
smiling photo takes the smile away and `rest_weights()` reproduces the photo. Speech, blink and gaze
channels are offsets from the photo (their readings on a still photo are not a pose to undo).
Two portrait-specific corrections sit on top of the canonical basis, because a basis in centimetres
cannot know this portrait's own eye and lip openings: the blink rows close exactly this portrait's eyes,
and a "seal" term closes this portrait's lip gap: mouthClose relative to jawOpen closes the gap the rest
pose and the expression leave (bilabials seal even when the photo shows teeth or a sneer raises the upper
lip), mouthPress closes the rest gap only. However the jaw and lips open the mouth, it narrows toward
its corners like a lens (a jaw rotation alone opens a box). Where shapes or the head turn would fold
the mesh in 2D, the skin around the fold is relaxed (`untangle`); a 2D warp cannot show occlusion.

The module also holds the small geometry helpers the mouth and eye layers share (`FeatureFrame`,
`polygon_coverage`, ...).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import sparse
from scipy.spatial import Delaunay

from recognition.face import FaceObservation
from rigs.arkit import ARKIT_INDEX
from rigs.face_mesh import NUM_VERTICES, CanonicalFace
from rigs.face_topology import (
    CHIN,
    FACE_OVAL,
    IRIS,
    LEFT_EYE_CORNERS,
    LEFT_IRIS,
    LEFT_LOWER_LID,
    LEFT_UPPER_LID,
    LEFT_UPPER_RING2,
    LEFT_UPPER_RING3,
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    LIPS_LOWER_RINGS,
    LIPS_OUTER_LOWER,
    LIPS_OUTER_UPPER,
    LIPS_UPPER_RINGS,
    NUM_LANDMARKS,
    RIGHT_EYE_CORNERS,
    RIGHT_IRIS,
    RIGHT_LOWER_LID,
    RIGHT_UPPER_LID,
    RIGHT_UPPER_RING2,
    RIGHT_UPPER_RING3,
)

# How much further than the canonical basis the expression channels move a photo. The basis is built so
# the landmarker reads each shape back at its weight; recognisers of emotion (and people, on a
# photo at video size) need about twice that deformation to read brows, squints and frowns, which
# `scripts/calibrate_expressions.py` measured (calibrated with this gain).
PHOTO_EXPRESSION_GAIN = 2.0
# The same for the jaw. On a photo the landmarker reads a warped-open mouth as much less open than the
# moved landmarks are (jawOpen 0.5 posed reads 0.08 from the frame where the posed points read 0.32), and
# what it does read is dominated by the lip shapes (mouthFunnel) rather than the jaw: 1.5x the opening
# looks like natural speech and raises the re-detected jawOpen's correlation with the request from
# 0.46-0.89 to 0.67-0.91 over the 7 emotions (`bench/talking_face.py`); 2x reads better still but looks
# like shouting. mouthClose takes the same gain, so "mouthClose equal to jawOpen" still seals the lips.
PHOTO_JAW_GAIN = 1.5
JAW_OPENING_CHANNELS = np.array([ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]])
# How an open mouth narrows toward its corners: the opening at fraction x along the mouth is at most
# (2 sqrt(x (1 - x))) ** CORNER_PROFILE of the widest (1: an ellipse, 0: no limit).
CORNER_PROFILE = 1.0

# Expression channels (the emotion layer's): absolute, measured from the portrait's own expression.
# All but the smile are amplified by the gain: a smile already reads at 1x and, amplified, taking a photo's
# own smile away overshoots into a grimace that also confuses the landmarker's reading of the jaw.
# Speech, blinks and gaze channels are offsets from the photo.
EXPRESSION_CHANNELS = np.array([ARKIT_INDEX[name] for name in (
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft",
    "mouthDimpleRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight",
)])  # fmt: skip
AMPLIFIED_CHANNELS = np.setdiff1d(EXPRESSION_CHANNELS, [ARKIT_INDEX["mouthSmileLeft"], ARKIT_INDEX["mouthSmileRight"]])


def inner_lip_gaps(points: np.ndarray) -> np.ndarray:
    """`(9,)`: the 2D distance between each pair of inner-lip points between the corners (upper and lower
    lip, from the subject's right), for landmarks `points` `(>= 478, 2+)`."""
    return np.linalg.norm(points[LIPS_INNER_LOWER[1:-1], :2] - points[LIPS_INNER_UPPER[1:-1], :2], axis=1)


def mouth_polygon(points: np.ndarray) -> np.ndarray:
    """`(20, 2)`: the inner-lip contour (upper lip corner to corner, then the lower lip back)."""
    return np.concatenate([points[LIPS_INNER_UPPER], points[LIPS_INNER_LOWER[-2:0:-1]]])


def eye_polygon(points: np.ndarray, side: str) -> np.ndarray:
    """`(16, 2)`: the eye opening of the subject's `side` eye ("left"/"right"), lid by lid."""
    outer, inner = LEFT_EYE_CORNERS if side == "left" else RIGHT_EYE_CORNERS
    upper, lower = (LEFT_UPPER_LID, LEFT_LOWER_LID) if side == "left" else (RIGHT_UPPER_LID, RIGHT_LOWER_LID)
    return np.concatenate([points[[outer]], points[upper], points[[inner]], points[lower[::-1]]])


@dataclass
class CropWindow:
    """A square window of the portrait (`origin` in portrait pixels, `side` in portrait pixels) rendered at
    `resolution` pixels a side; pixel centres at integers in both spaces."""

    origin: tuple[float, float]
    side: float
    resolution: int

    @property
    def scale(self) -> float:
        """Crop pixels per portrait pixel."""
        return self.resolution / self.side

    def to_crop(self, xy: np.ndarray) -> np.ndarray:
        return (np.asarray(xy, np.float32) - np.asarray(self.origin, np.float32)) * np.float32(self.scale)

    def to_portrait(self, xy: np.ndarray) -> np.ndarray:
        return np.asarray(xy, np.float32) / np.float32(self.scale) + np.asarray(self.origin, np.float32)

    def matrix(self) -> np.ndarray:
        """`(2, 3)` affine map portrait -> crop pixels (for `cv2.warpAffine`)."""
        s = self.scale
        return np.array([[s, 0, -s * self.origin[0]], [0, s, -s * self.origin[1]]], np.float64)

    def cut(self, image: np.ndarray) -> np.ndarray:
        """The window of `image` at `resolution`, edges replicated where it leaves the portrait."""
        if self.scale < 1:  # shrinking: low-pass first so the resampling does not alias
            sigma = 0.5 / self.scale
            image = cv2.GaussianBlur(image, (0, 0), sigma)
        interpolation = cv2.INTER_CUBIC if self.scale > 1 else cv2.INTER_LINEAR
        return cv2.warpAffine(
            image, self.matrix(), (self.resolution, self.resolution), flags=interpolation,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip


@dataclass
class PortraitRig:
    """A portrait fitted to the canonical face (see the module docstring). Fields, crop pixels unless said:

    - `window`: where the crop sits in the portrait; `source`: `(R, R, 3) uint8` the crop itself;
    - `src_points` `(N, 2) float32`: control points at rest; `depth` `(478,)`: landmark z (smaller = nearer);
    - `basis` `(52, 468, 3) float32`: vertex displacement per unit ARKit weight (x, y, z crop pixels);
    - `seal` `(468, 3)`: the displacement that closes the portrait's rest lip gap (mouthPress's);
    - `affine` `(3, 3)`: canonical centimetres -> crop pixels (x, y, z);
    - `triangles` `(T, 3) int32`: the warp's triangulation of the control points (irises left out);
    - `ring`, `border`: index slices of the two rings; `ring_follow` `(K,)`: how much of the head's
      motion each ring point takes; `pivot` `(3,)`: the head's rotation centre (x, y, z crop pixels).
    """

    window: CropWindow
    source: np.ndarray
    src_points: np.ndarray
    depth: np.ndarray
    basis: np.ndarray
    seal: np.ndarray
    affine: np.ndarray
    triangles: np.ndarray
    ring: slice
    border: slice
    ring_follow: np.ndarray
    pivot: np.ndarray
    rest_blendshapes: np.ndarray
    neighbours: sparse.csr_matrix  # (N, N) row-normalised adjacency of the triangulation
    foldable: np.ndarray  # (T,) bool: triangles inside a mouth or eye opening, allowed to collapse
    pinned: np.ndarray  # indices of the lip and lid contours: untangling moves the skin around them instead
    src_area: np.ndarray  # (T,) triangle areas at rest

    @property
    def resolution(self) -> int:
        return self.window.resolution

    @property
    def face_size(self) -> float:
        """Face width in crop pixels (the oval's extent)."""
        oval = self.src_points[FACE_OVAL]
        return float(np.ptp(oval[:, 0]))

    @functools.cached_property
    def rest_lip_gap(self) -> np.ndarray:
        """`(9,)` the portrait's own gaps between the inner-lip pairs (crop pixels, from its right)."""
        return inner_lip_gaps(self.src_points)

    @classmethod
    def fit(
        cls,
        image: np.ndarray,
        face: FaceObservation,
        canonical: CanonicalFace,
        resolution: int = 512,
        crop_scale: float = 2.2,
        ring_scale: float = 1.6,
        border_points_per_side: int = 8,
        expression_gain: float = PHOTO_EXPRESSION_GAIN,
        jaw_gain: float = PHOTO_JAW_GAIN,
    ) -> PortraitRig:
        """Fit once per portrait: `image` `(H, W, 3) uint8` RGB, `face` its `FaceObservation`;
        `expression_gain` and `jaw_gain` scale the expression channels' and the jaw's displacements (see
        `PHOTO_EXPRESSION_GAIN`, `PHOTO_JAW_GAIN`)."""
        landmarks = np.asarray(face.landmarks, np.float32).copy()
        landmarks[:, :2] -= 0.5  # MediaPipe pixel corners -> OpenCV pixel centres

        # 1. the crop window: a square ~2.2x the face box, centred on the face
        x0, y0 = landmarks[:, :2].min(axis=0)
        x1, y1 = landmarks[:, :2].max(axis=0)
        side = crop_scale * max(x1 - x0, y1 - y0)
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        window = CropWindow((float(centre[0] - side / 2), float(centre[1] - side / 2)), float(side), resolution)
        s = window.scale
        points3 = np.column_stack([window.to_crop(landmarks[:, :2]), landmarks[:, 2] * s]).astype(np.float32)

        # 2. canonical cm -> crop px: least-squares 3D affine on the 468 mesh vertices
        verts = np.asarray(canonical.vertices, np.float64)
        design = np.column_stack([verts, np.ones(len(verts))])
        solution, *_ = np.linalg.lstsq(design, points3[:NUM_VERTICES].astype(np.float64), rcond=None)
        affine = solution[:3].T.astype(np.float32)  # (3, 3): delta_px = affine @ delta_cm
        basis = np.einsum("kvc,pc->kvp", np.asarray(canonical.basis, np.float32), affine).astype(np.float32)
        basis[AMPLIFIED_CHANNELS] *= expression_gain
        basis[JAW_OPENING_CHANNELS] *= jaw_gain
        basis = _portrait_blinks(basis, points3)
        seal = _lip_seal(points3)

        # 3. the rings: the face oval scaled about the face centre, and the crop's border
        oval = points3[FACE_OVAL, :2]
        oval_centre = oval.mean(axis=0)
        margin = 0.03 * resolution
        ring = np.clip(oval_centre + ring_scale * (oval - oval_centre), margin, resolution - 1 - margin)
        n = border_points_per_side
        t = np.linspace(0, resolution - 1, n + 1)[:-1]
        last = resolution - 1.0
        border = np.concatenate([
            np.column_stack([t, np.zeros(n)]), np.column_stack([np.full(n, last), t]),
            np.column_stack([last - t, np.full(n, last)]), np.column_stack([np.zeros(n), last - t]),
        ]).astype(np.float32)  # fmt: skip
        src_points = np.concatenate([points3[:, :2], ring, border]).astype(np.float32)
        # the head turns with a depth that varies smoothly across the image: landmarks at the side of the
        # face sit nearly on top of each other in 2D but far apart in depth, and raw depths would fold them
        depth = _smooth_over_image(points3[:, :2], points3[:, 2], sigma=0.06 * np.ptp(points3[FACE_OVAL, 0]))
        ring_slice = slice(NUM_LANDMARKS, NUM_LANDMARKS + len(ring))
        border_slice = slice(ring_slice.stop, ring_slice.stop + len(border))

        # hair above the eyes follows the head almost fully, the neck below the chin hardly at all
        face_w = float(np.ptp(oval[:, 0]))
        face_h = float(np.ptp(oval[:, 1]))
        up = np.clip((points3[CHIN, 1] - ring[:, 1]) / (face_h + 1e-6), 0.0, 1.0)  # 0 at chin level, 1 above
        ring_follow = (0.3 + 0.6 * up**0.7).astype(np.float32)

        # the head turns about a point below the chin, half a face width behind the face
        pivot = np.array(
            [oval_centre[0], points3[CHIN, 1] + 0.2 * face_h, points3[FACE_OVAL, 2].mean() + 0.5 * face_w],
            np.float32,
        )
        triangles = _triangulate(src_points, exclude=IRIS)
        edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
        edges = np.concatenate([edges, edges[:, ::-1]])
        adjacency = sparse.csr_matrix(
            (np.ones(len(edges), np.float32), (edges[:, 0], edges[:, 1])), shape=(len(src_points),) * 2
        )
        adjacency.data[:] = 1.0  # duplicates summed: back to 0/1
        degree = np.asarray(adjacency.sum(axis=1)).ravel()
        neighbours = sparse.diags(1.0 / np.maximum(degree, 1)) @ adjacency
        openings = np.zeros(len(src_points), bool)
        openings[
            np.r_[
                LIPS_INNER_UPPER,
                LIPS_INNER_LOWER,
                RIGHT_UPPER_LID,
                RIGHT_LOWER_LID,
                LEFT_UPPER_LID,
                LEFT_LOWER_LID,
                RIGHT_EYE_CORNERS,
                LEFT_EYE_CORNERS,
            ]
        ] = True
        foldable = openings[triangles].all(axis=1)
        pinned = np.flatnonzero(openings)
        return cls(
            window, window.cut(image), src_points, depth, basis, seal, affine, triangles,
            ring_slice, border_slice, ring_follow, pivot, np.asarray(face.blendshapes, np.float32).copy(),
            neighbours.tocsr().astype(np.float32), foldable, pinned, triangle_areas(src_points, triangles),
        )  # fmt: skip

    # -- per frame -------------------------------------------------------------------------------------

    def rest_weights(self) -> np.ndarray:
        """`(52,)` weights that reproduce the portrait: its own expression channels, zero elsewhere."""
        weights = np.zeros(len(self.rest_blendshapes), np.float32)
        weights[EXPRESSION_CHANNELS] = self.rest_blendshapes[EXPRESSION_CHANNELS]
        return weights

    def landmarks3d(self, weights: np.ndarray, eyes: np.ndarray | None = None) -> np.ndarray:
        """`(478, 3)` landmarks posed by `weights` (52,) before head rotation, gaze applied to the irises.

        Expression channels are absolute (the portrait's own expression is subtracted), the others are
        offsets from the photo; `rest_weights()` gives the portrait itself."""
        weights = np.array(weights, np.float32)
        weights[EXPRESSION_CHANNELS] -= self.rest_blendshapes[EXPRESSION_CHANNELS]
        points = np.column_stack([self.src_points[:NUM_LANDMARKS], self.depth]).astype(np.float32)
        active = np.flatnonzero(weights)
        if active.size:
            # the lips' shapes first, then the seals, then the jaw (which mouthClose closes against)
            lips = np.setdiff1d(active, JAW_OPENING_CHANNELS)
            points[:NUM_VERTICES] += np.tensordot(weights[lips], self.basis[lips], axes=1)
            closure, press = seal_amounts(weights)
            if closure > 0:
                points[:NUM_VERTICES] += closure * _lip_seal(points)
            if press > closure:
                points[:NUM_VERTICES] += (press - closure) * self.seal
            jaw = np.intersect1d(active, JAW_OPENING_CHANNELS)
            points[:NUM_VERTICES] += np.tensordot(weights[jaw], self.basis[jaw], axes=1)
            points[:NUM_VERTICES] += _rounded_corners(points, self.rest_lip_gap)
            _keep_lids_apart(points)
        # the eyeballs are rigid with the skull: irises move only with gaze (and the head, below)
        if eyes is not None and np.any(eyes):
            for iris, (yaw, pitch) in ((LEFT_IRIS, eyes[0:2]), (RIGHT_IRIS, eyes[2:4])):
                shift_cm = 1.2 * np.array([np.sin(np.radians(yaw)), -np.sin(np.radians(pitch)), 0.0], np.float32)
                points[iris] += self.affine @ shift_cm
        return points

    def rotate(self, points3: np.ndarray, head: np.ndarray, amount: np.ndarray | float = 1.0) -> np.ndarray:
        """Rotate `(M, 3)` crop-space points about the pivot by `head` (yaw, pitch, roll degrees) and project
        orthographically -> `(M, 2)`; `amount` `(M,)` blends each point between rest (0) and rotated (1)."""
        if not np.any(head):
            return points3[:, :2].copy()
        yaw, pitch, roll = np.radians(np.asarray(head, np.float64))
        cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
        rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
        ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        rotation = rz @ ry @ rx  # camera axes: x right, y up, z toward the viewer (HeadPose's convention)
        flip = np.array([1.0, -1.0, -1.0])  # crop space: y down, z away from the viewer
        local = (points3 - self.pivot) * flip
        moved = (local @ rotation.T) * flip + self.pivot
        amount = np.asarray(amount, np.float32).reshape(-1, 1) if np.ndim(amount) else amount
        return (points3[:, :2] + amount * (moved[:, :2] - points3[:, :2])).astype(np.float32)

    def points(self, weights: np.ndarray, head: np.ndarray, eyes: np.ndarray | None = None) -> np.ndarray:
        """Destination control points `(N, 2)` crop pixels for ARKit `weights` `(52,)`, `head` `(3,)`
        degrees (yaw, pitch, roll, relative to the portrait) and optional gaze `eyes` `(4,)` degrees."""
        posed = self.landmarks3d(weights, eyes)
        head = np.zeros(3) if head is None else np.asarray(head, np.float64)
        out = self.src_points.copy()
        out[:NUM_LANDMARKS] = self.rotate(posed, head)
        ring = self.src_points[self.ring]
        ring3 = np.column_stack([ring, np.full(len(ring), self.depth[FACE_OVAL].mean())])
        out[self.ring] = self.rotate(ring3, head, self.ring_follow)
        return self.untangle(out)

    def untangle(self, points: np.ndarray, max_iterations: int = 8) -> np.ndarray:
        """Relax the displacement of vertices around folded triangles toward their neighbours' until no
        triangle turns over (a 2D warp cannot show one part of the face hiding another). Triangles inside
        the mouth and eye openings may collapse: the mouth and eye layers cover them. The lip and lid
        contours stay where the shapes put them (sealed lips must stay sealed); the skin around gives way."""
        displacement = points - self.src_points
        for iteration in range(max_iterations):
            area = triangle_areas(self.src_points + displacement, self.triangles)
            folded = (area < 0.05 * self.src_area) & ~self.foldable
            if not folded.any():
                break
            region = np.zeros(len(points), bool)
            region[self.triangles[folded].ravel()] = True
            for _ in range(min(iteration // 4, 2)):  # widen a little when a fold resists
                region |= (self.neighbours @ region.astype(np.float32)) > 0
            region[self.border] = False
            region[self.pinned] = False
            smooth = self.neighbours @ displacement
            displacement[region] = 0.3 * displacement[region] + 0.7 * smooth[region]
        return (self.src_points + displacement).astype(np.float32)

    def rigid_points(self, head: np.ndarray) -> np.ndarray:
        """`(478, 2)`: the landmarks moved by the head alone (where the skull, teeth and eyeballs go)."""
        points3 = np.column_stack([self.src_points[:NUM_LANDMARKS], self.depth])
        return self.rotate(points3, np.zeros(3) if head is None else np.asarray(head, np.float64))


def _smooth_over_image(xy: np.ndarray, values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-weighted average of `values` over points near each point in 2D."""
    d2 = np.sum((xy[:, None, :] - xy[None, :, :]) ** 2, axis=-1)
    weights = np.exp(-d2 / (2 * sigma**2))
    return ((weights @ values) / weights.sum(axis=1)).astype(np.float32)


def triangle_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Signed areas `(T,)`, positive for the winding `_triangulate` produces."""
    p = points[triangles]
    return 0.5 * (
        (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
    )


def seal_amounts(weights: np.ndarray) -> tuple[float, float]:
    """`(closure, press)`, each 0-1: how far to close the lips. Closure is mouthClose relative to jawOpen
    (ARKit's mouthClose closes the lips against an open jaw, so equal values mean sealed lips: a bilabial)
    and closes whatever gap the lip shapes leave; press (2x mouthPress) closes only the portrait's rest
    gap, so an expression that presses the lips and raises the upper lip (anger) still bares the teeth."""
    jaw, close = weights[ARKIT_INDEX["jawOpen"]], weights[ARKIT_INDEX["mouthClose"]]
    press = 0.5 * (weights[ARKIT_INDEX["mouthPressLeft"]] + weights[ARKIT_INDEX["mouthPressRight"]])
    ratio = close / max(jaw, 0.02) if close > 0 else 0.0
    return float(np.clip(ratio, 0.0, 1.0)), float(np.clip(2.0 * press, 0.0, 1.0))


def _lip_seal(points3: np.ndarray, fraction: np.ndarray | float = 1.0) -> np.ndarray:
    """`(468, 3)`: for landmarks `points3` `(>= 468, 3)`, moves the inner lips onto each other (the upper
    40% of the way, the lower 60%), the lip bodies' rings out to the outer contours a little less, so lips
    keep their thickness as they close. `fraction` `(9,)` or a number: how much of each gap to close
    (the 9 pairs of inner-lip points between the corners, from the subject's right)."""
    seal = np.zeros((NUM_VERTICES, 3), np.float32)
    gap = (points3[LIPS_INNER_LOWER[1:-1]] - points3[LIPS_INNER_UPPER[1:-1]]) * np.reshape(fraction, (-1, 1))
    gap[:, 2] = 0.0
    upper = (LIPS_INNER_UPPER, LIPS_UPPER_RINGS[1], LIPS_UPPER_RINGS[0], LIPS_OUTER_UPPER)
    lower = (LIPS_INNER_LOWER, LIPS_LOWER_RINGS[1], LIPS_LOWER_RINGS[0], LIPS_OUTER_LOWER)
    for ring_u, ring_l, follow in zip(upper, lower, (1.0, 0.95, 0.9, 0.8), strict=True):
        seal[ring_u[1:-1]] = 0.4 * follow * gap
        seal[ring_l[1:-1]] = -0.6 * follow * gap
    return seal


def _rounded_corners(points3: np.ndarray, rest_gap: np.ndarray) -> np.ndarray:
    """`(468, 3)`: closes the lips' opening near the corners, so an open mouth is a lens, not a box.

    A jaw rotation lowers the whole lower lip about as far near the corners as in the middle, but the
    corners are where the lips join: a real open mouth narrows toward them. Each of the 9 inner-lip
    pairs may open beyond its `rest_gap` (px) at most `CORNER_PROFILE` of the widest opening at its place
    along the mouth; what is beyond is sealed the way `_lip_seal` seals, rings following. The box comes
    from the canonical basis itself (its jawOpen, a pure mandible rotation, opens the pairs next to the
    corners 0.91 of the middle, and the glTF morph targets carry that too); a jaw template in
    `scripts/build_arkit_basis.py` that narrows at the corners would fix it at the root, but it would still
    need this for the sum of shapes and the photo's own gap."""
    gap = inner_lip_gaps(points3)
    opening = np.maximum(gap - rest_gap, 0.0)
    if opening.max() < 0.5:
        return np.zeros((NUM_VERTICES, 3), np.float32)
    right, left = points3[LIPS_INNER_UPPER[0], :2], points3[LIPS_INNER_UPPER[-1], :2]
    axis = left - right
    middle = (points3[LIPS_INNER_UPPER[1:-1], :2] + points3[LIPS_INNER_LOWER[1:-1], :2]) / 2
    along = np.clip((middle - right) @ axis / float(axis @ axis), 0.02, 0.98)
    allowed = opening.max() * (2.0 * np.sqrt(along * (1.0 - along))) ** CORNER_PROFILE
    excess = np.maximum(opening - allowed, 0.0)
    return _lip_seal(points3, excess / np.maximum(gap, 1e-6))


def _portrait_blinks(basis: np.ndarray, points3: np.ndarray) -> np.ndarray:
    """Replace the blink rows on the lids with ones that close this portrait's eyes exactly at weight 1:
    the upper lid travels its whole opening onto the lower lid, the skin above follows less. (Closing at
    the lower lid, not midway, is what the landmarker reads as a closed eye: 0.56 against 0.48.)"""
    basis = basis.copy()
    eyes = (
        ("eyeBlinkRight", RIGHT_UPPER_LID, RIGHT_LOWER_LID, RIGHT_UPPER_RING2, RIGHT_UPPER_RING3),
        ("eyeBlinkLeft", LEFT_UPPER_LID, LEFT_LOWER_LID, LEFT_UPPER_RING2, LEFT_UPPER_RING3),
    )
    for name, upper, lower, ring2, ring3 in eyes:
        k = ARKIT_INDEX[name]
        gap = points3[lower] - points3[upper]
        gap[:, 2] = 0.0
        basis[k, upper] = gap  # the lid edge comes down onto the lower lid, which stays
        basis[k, lower] = 0.0
        basis[k, ring2] = 0.7 * gap
        basis[k, ring3] = 0.25 * gap
    return basis


def _keep_lids_apart(points: np.ndarray) -> None:
    """In place: where a combination of shapes pushed an upper lid (or upper lip) past its partner, put
    both at their midpoint, so the opening closes instead of turning inside out."""
    pairs = (
        (RIGHT_UPPER_LID, RIGHT_LOWER_LID), (LEFT_UPPER_LID, LEFT_LOWER_LID),
        (LIPS_INNER_UPPER[1:-1], LIPS_INNER_LOWER[1:-1]),
    )  # fmt: skip
    for upper, lower in pairs:
        # "down" for this feature: perpendicular to the corner-to-corner axis
        axis = points[upper[-1], :2] - points[upper[0], :2]
        down = np.array([-axis[1], axis[0]], np.float32) / (np.linalg.norm(axis) + 1e-6)
        if down[1] < 0:
            down = -down
        crossed = (points[lower, :2] - points[upper, :2]) @ down < 0
        if np.any(crossed):
            mid = 0.5 * (points[upper[crossed]] + points[lower[crossed]])
            points[upper[crossed]] = mid
            points[lower[crossed]] = mid


def constraint_edges() -> list[tuple[int, int]]:
    """Contours the warp's triangles must not cross: the lips (inner and outer) and the eye openings."""
    chains = [
        LIPS_INNER_UPPER, LIPS_INNER_LOWER, LIPS_OUTER_UPPER, LIPS_OUTER_LOWER,
        np.r_[RIGHT_EYE_CORNERS[0], RIGHT_UPPER_LID, RIGHT_EYE_CORNERS[1]],
        np.r_[RIGHT_EYE_CORNERS[0], RIGHT_LOWER_LID, RIGHT_EYE_CORNERS[1]],
        np.r_[LEFT_EYE_CORNERS[0], LEFT_UPPER_LID, LEFT_EYE_CORNERS[1]],
        np.r_[LEFT_EYE_CORNERS[0], LEFT_LOWER_LID, LEFT_EYE_CORNERS[1]],
        np.r_[FACE_OVAL, FACE_OVAL[0]],
    ]  # fmt: skip
    return [(int(a), int(b)) for chain in chains for a, b in zip(chain[:-1], chain[1:], strict=True)]


def _triangulate(points: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """Delaunay triangulation of `points` (minus `exclude`), with edges flipped so the lip, eye and face
    contours are triangle edges (a triangle straddling a lip line would drag one lip with the other)."""
    keep = np.setdiff1d(np.arange(len(points)), exclude)
    tri = Delaunay(points[keep].astype(np.float64))
    triangles = keep[tri.simplices].astype(np.int64)
    for a, b in constraint_edges():
        for _ in range(8):  # a contour segment between close neighbours crosses at most a few edges
            if not (_flip_towards(triangles, points, a, b) or _flip_towards(triangles, points, b, a)):
                break
    # one winding for all (positive `triangle_areas`), so a turned-over triangle shows as a negative area
    cross = triangle_areas(points, triangles)
    triangles[cross < 0] = triangles[cross < 0][:, [0, 2, 1]]
    return triangles.astype(np.int32)


def _segments_cross(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    return orient(p1, p2, q1) * orient(p1, p2, q2) < 0 and orient(q1, q2, p1) * orient(q1, q2, p2) < 0


def _flip_towards(triangles: np.ndarray, points: np.ndarray, a: int, b: int) -> bool:
    """If segment a-b is not an edge, flip one edge crossing it (when the quad is convex); True if flipped."""
    has_a = np.any(triangles == a, axis=1)
    if np.any(has_a & np.any(triangles == b, axis=1)):
        return False
    for t in np.flatnonzero(has_a):
        others = [v for v in triangles[t] if v != a]
        c, d = others
        if not _segments_cross(points[a], points[b], points[c], points[d]):
            continue
        # the triangle on the other side of edge c-d
        shares = np.any(triangles == c, axis=1) & np.any(triangles == d, axis=1)
        shares[t] = False
        (u,) = np.flatnonzero(shares)[:1] if shares.any() else (None,)
        if u is None:
            return False
        e = next(v for v in triangles[u] if v not in (c, d))
        if not (_segments_cross(points[a], points[e], points[c], points[d])):
            return False  # not a convex quad: flipping would fold
        triangles[t] = (a, c, e)
        triangles[u] = (a, e, d)
        return True
    return False


@dataclass
class FeatureFrame:
    """Coordinates along a feature (mouth, eye) from corner `c0` to corner `c1`: `u` in [0, 1] along the
    corner-to-corner axis, `v` pixels across it (positive toward the image's bottom side of the axis)."""

    c0: np.ndarray
    c1: np.ndarray

    def __post_init__(self) -> None:
        axis = np.asarray(self.c1, np.float32) - np.asarray(self.c0, np.float32)
        self.length = float(np.linalg.norm(axis)) + 1e-6
        self.along = axis / self.length
        normal = np.array([-self.along[1], self.along[0]], np.float32)
        self.across = normal if normal[1] >= 0 else -normal

    def uv(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = np.asarray(xy, np.float32) - np.asarray(self.c0, np.float32)
        return rel @ self.along / self.length, rel @ self.across

    def profile(self, contour: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The `v` of a polyline `contour` `(K, 2)` (corner to corner) at positions `u`."""
        cu, cv = self.uv(contour)
        order = np.argsort(cu)
        return np.interp(u, cu[order], cv[order]).astype(np.float32)

    def grid(self, x0: int, y0: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """`(u, v)` of every pixel centre in the box (x0, y0, width, height), each `(height, width)`."""
        xs, ys = np.meshgrid(np.arange(x0, x0 + width, dtype=np.float32), np.arange(y0, y0 + height, dtype=np.float32))
        return self.uv(np.stack([xs, ys], axis=-1))


def polygon_coverage(polygon: np.ndarray, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """`(height, width) float32` in [0, 1]: anti-aliased coverage of `polygon` (crop pixels) in the box."""
    mask = np.zeros((height, width), np.uint8)
    shift = 4
    pts = np.round((np.asarray(polygon, np.float64) - [x0, y0]) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, shift)
    return mask.astype(np.float32) / 255.0


def paint_coverage(polygon: np.ndarray, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """Coverage grown by about a pixel: 1 on and next to the polygon, anti-aliased beyond. A layer painted
    with it at rest covers every pixel where this is 1, so those pixels may be changed in the warp's
    source (see `MouthInterior.fill_interior`, `EyeLayer.fill_opening`) and still come back exactly."""
    grown = cv2.dilate(polygon_coverage(polygon, x0, y0, width, height), np.ones((3, 3), np.uint8))
    return np.minimum(2.0 * grown, 1.0)


def roi_around(polygon: np.ndarray, margin: float, size: int) -> tuple[int, int, int, int]:
    """Integer box `(x0, y0, width, height)` around `polygon` plus `margin`, clipped to a `size`² crop."""
    lo = np.floor(np.asarray(polygon).min(axis=0) - margin).astype(int)
    hi = np.ceil(np.asarray(polygon).max(axis=0) + margin).astype(int)
    lo = np.clip(lo, 0, size - 1)
    hi = np.clip(hi, 0, size - 1)
    return int(lo[0]), int(lo[1]), int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)


def fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """`(2, 3)` least-squares affine map taking `src` `(K, 2)` points onto `dst`."""
    design = np.column_stack([src, np.ones(len(src))]).astype(np.float64)
    solution, *_ = np.linalg.lstsq(design, np.asarray(dst, np.float64), rcond=None)
    return solution.T


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)
