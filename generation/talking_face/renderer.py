"""Renderers: ARKit weights + head + gaze -> a frame of the portrait's face.

    renderer = WarpRenderer(portrait, face, load_canonical_face(), resolution=512)
    crop = renderer.render(weights, head, eyes)        # (512, 512, 3) uint8, the square around the face
    frame = compose(portrait, crop, renderer.rig)      # the whole portrait with the face pasted back

`WarpRenderer`, the default, is the recipe: fit the rig once, then per frame move the control points
(`rig`), warp the portrait crop (`warp`), shade the expression creases (`wrinkles`), paint the mouth
interior (`mouth`) and the eyes (`eyes`).
Other renderers (a 3D mesh renderer such as pytorch3d, a neural one) implement the same `Renderer`
protocol and plug into `TalkingFacePipeline(renderer=...)` through a `RendererFactory`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from generation.talking_face.eyes import EyeLayer
from generation.talking_face.mouth import MouthInterior
from generation.talking_face.rig import PortraitRig
from generation.talking_face.warp import DenseWarp
from generation.talking_face.wrinkles import DEFAULT_DEPTH, WrinkleLayer
from recognition.face import FaceObservation
from rigs.face_mesh import CanonicalFace


class Renderer(Protocol):
    """Anything that turns one frame of `FaceMotion` into an image of one fitted portrait."""

    resolution: int

    @property
    def crop_box(self) -> tuple[float, float, float, float]:
        """The rendered square in portrait pixels: x0, y0, x1, y1 (may reach past the picture's edges)."""
        ...

    def render(self, weights: np.ndarray, head: np.ndarray | None = None, eyes: np.ndarray | None = None) -> np.ndarray:
        """`weights` `(52,)` ARKit in [0, 1], `head` `(3,)` yaw/pitch/roll degrees relative to the portrait,
        `eyes` `(4,)` gaze degrees -> `(resolution, resolution, 3) uint8` RGB, the square around the face."""
        ...

    def render_portrait(
        self, weights: np.ndarray, head: np.ndarray | None = None, eyes: np.ndarray | None = None
    ) -> np.ndarray:
        """The same frame as the whole portrait: `(H, W, 3) uint8` RGB, the portrait's size."""
        ...


# Builds a renderer for one video: (portrait `(H, W, 3) uint8` RGB, the face to animate) -> `Renderer`.
RendererFactory = Callable[[np.ndarray, FaceObservation], Renderer]


class WarpRenderer:
    """The default renderer: a piecewise-affine warp of the portrait with expression creases, a synthesised
    mouth interior, eyelids and moving irises. Fitting costs ~0.2 s; a 512² frame ~10-20 ms on one core.
    `wrinkle_depth`: how dark a crease at full strength is (0: none; `generation.talking_face.wrinkles`)."""

    def __init__(
        self,
        portrait: np.ndarray,
        face: FaceObservation,
        canonical: CanonicalFace,
        resolution: int = 512,
        wrinkle_depth: float = DEFAULT_DEPTH,
    ):
        self.portrait = portrait
        self.rig = PortraitRig.fit(portrait, face, canonical, resolution)
        self.resolution = resolution
        self.warp = DenseWarp(self.rig.src_points, self.rig.triangles, (resolution, resolution))
        self.wrinkles = WrinkleLayer(self.rig.face_size, wrinkle_depth, rest=self.rig.rest_weights())
        self.mouth = MouthInterior(self.rig.source, self.rig.src_points)
        self.eyes = [EyeLayer(self.rig.source, self.rig.src_points, side) for side in ("left", "right")]
        # what the warp moves: the crop with the mouth and eye openings filled (the layers redraw them)
        self.warp_source = self.rig.source.copy()
        self.mouth.fill_interior(self.warp_source)
        for eye in self.eyes:
            eye.fill_opening(self.warp_source)
        self.paste_mask = paste_mask(self.rig, portrait.shape[:2])
        self.last_points: np.ndarray | None = None  # the last rendered frame's control points (for layers on top)

    @property
    def crop_box(self) -> tuple[float, float, float, float]:
        (x0, y0), side = self.rig.window.origin, self.rig.window.side
        return (x0, y0, x0 + side, y0 + side)

    def render(self, weights: np.ndarray, head: np.ndarray | None = None, eyes: np.ndarray | None = None) -> np.ndarray:
        weights = np.clip(np.asarray(weights, np.float32), 0.0, 1.0)
        head = np.zeros(3, np.float32) if head is None else np.asarray(head, np.float32)
        points = self.last_points = self.rig.points(weights, head, eyes)
        rigid = self.rig.rigid_points(head)
        frame = self.warp(self.warp_source, points)
        self.wrinkles.render(frame, points, weights)
        self.mouth.render(frame, points, rigid)
        for eye in self.eyes:
            eye.render(frame, points, rigid)
        return frame

    def render_portrait(
        self, weights: np.ndarray, head: np.ndarray | None = None, eyes: np.ndarray | None = None
    ) -> np.ndarray:
        """The whole portrait with the rendered face pasted back (same size as the portrait)."""
        return compose(self.portrait, self.render(weights, head, eyes), self.rig, self.paste_mask)


def paste_mask(rig: PortraitRig, image_shape: tuple[int, int], feather: float = 0.06) -> np.ndarray:
    """`(side, side) float32` in [0, 1] over the crop window, in portrait pixels: 1 inside, easing to 0
    over the outer `feather` of the window. Fixed per portrait, so the seam cannot flicker; the warp holds
    the window's border still, so the blend there mixes two near-identical images."""
    box = _window_box(rig, image_shape)
    x0, y0, x1, y1 = box
    xs = (np.arange(x0, x1, dtype=np.float32) - rig.window.origin[0]) / rig.window.side
    ys = (np.arange(y0, y1, dtype=np.float32) - rig.window.origin[1]) / rig.window.side

    def ramp(t: np.ndarray) -> np.ndarray:
        edge = np.minimum(t, 1.0 - t) / feather
        e = np.clip(edge, 0.0, 1.0)
        return e * e * (3 - 2 * e)

    return np.outer(ramp(ys), ramp(xs)).astype(np.float32)


def _window_box(rig: PortraitRig, image_shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The crop window's pixels inside the portrait: x0, y0, x1, y1 (exclusive)."""
    height, width = image_shape[:2]
    ox, oy = rig.window.origin
    side = rig.window.side
    x0, y0 = max(0, int(np.ceil(ox))), max(0, int(np.ceil(oy)))
    x1, y1 = min(width, int(np.floor(ox + side)) + 1), min(height, int(np.floor(oy + side)) + 1)
    return x0, y0, x1, y1


def compose(full_image: np.ndarray, crop: np.ndarray, rig: PortraitRig, mask: np.ndarray | None = None) -> np.ndarray:
    """Paste a rendered `crop` back into (a copy of) `full_image` through the feathered, fixed mask;
    pixels outside the crop window are returned unchanged."""
    x0, y0, x1, y1 = _window_box(rig, full_image.shape)
    if mask is None:
        mask = paste_mask(rig, full_image.shape)
    s = rig.window.scale
    # The crop is the portrait upsampled (and warped): sampling it back at the portrait's pixel centres
    # with a cubic kernel returns the untouched parts almost exactly (mean error ~0.2 grey levels), where
    # area averaging would soften the whole face. A light blur keeps drawn 1-pixel lines from aliasing.
    source = cv2.GaussianBlur(crop, (0, 0), 0.4) if s > 1.0 else crop
    m = np.array(
        [[s, 0, (x0 - rig.window.origin[0]) * s], [0, s, (y0 - rig.window.origin[1]) * s]], np.float64
    )  # portrait pixel (x0 + j, y0 + i) -> crop pixel
    placed = cv2.warpAffine(
        source, m, (x1 - x0, y1 - y0), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    out = full_image.copy()
    region = out[y0:y1, x0:x1].astype(np.float32)
    a = mask[..., None]
    out[y0:y1, x0:x1] = np.clip(region * (1 - a) + placed * a + 0.5, 0, 255).astype(np.uint8)
    return out
