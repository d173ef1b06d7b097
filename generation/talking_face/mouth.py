"""`MouthInterior`: what shows between the lips when they part — a warp alone only stretches lip pixels.

Layers, back to front, all clipped to the destination's inner-lip polygon with anti-aliased edges:
the dark cavity (from the face's own lip colour), the tongue low in the mouth, a hint of lower teeth that
ride on the jaw, and the upper teeth, which are fixed to the skull: they move with the head only, so the
upper lip uncovers more of them as it rises and the lower lip uncovers the cavity as the jaw drops.

When the portrait already shows teeth (its lips are parted), the upper teeth are the portrait's own: the
opening at rest is cut out once as a "teeth plate" and moved rigidly with the head, so at rest the frame
is the portrait exactly; otherwise the teeth are drawn, tinted by the face's colours. At an opening of
zero the layer vanishes, so closed lips (bilabials) show nothing of it; over an opening the portrait had
(and the warp has filled with lip), a soft shadow marks where the lips meet.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from generation.talking_face.rig import (
    FeatureFrame,
    fit_affine,
    inner_lip_gaps,
    mouth_polygon,
    polygon_coverage,
    roi_around,
    smoothstep,
)
from rigs.face_topology import (
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    LIPS_OUTER_LOWER,
    LIPS_OUTER_UPPER,
)

# the angle one tooth takes around the dental arch, seen from the front (radians): ~4 teeth per side show
TOOTH_ANGLE = 0.3
# how much each of R, G, B darkens in the shadow between sealed lips: red a little less, so it reads as a
# shadow on lips rather than a grey line drawn over them
SEAM_TINT = np.array([0.8, 1.0, 1.0], np.float32)
# landmarks that move with the skull around the mouth (nose, upper cheeks): where the upper teeth go
RIGID_AROUND_MOUTH = np.array([1, 2, 4, 5, 6, 19, 94, 97, 98, 326, 327, 168, 197, 195, 3, 248, 236, 456, 48, 278])


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


def _median_colour(image: np.ndarray, mask: np.ndarray, brightest: float = 1.0) -> np.ndarray | None:
    """Median colour of `image` where `mask`, optionally over the `brightest` fraction of those pixels."""
    pixels = image[mask].astype(np.float32)
    if len(pixels) < 4:
        return None
    if brightest < 1.0:
        lum = luminance(pixels)
        pixels = pixels[lum >= np.quantile(lum, 1.0 - brightest)]
    return np.median(pixels, axis=0).astype(np.float32)


@dataclass
class MouthColours:
    """RGB float colours, 0-255, all derived from the portrait."""

    lip: np.ndarray
    skin: np.ndarray
    teeth: np.ndarray
    throat: np.ndarray
    tongue: np.ndarray


@dataclass
class TeethPlate:
    """The portrait's own visible teeth: an RGBA patch of the source crop at `(x0, y0)`, extended upward
    (more teeth under a rising lip) and fading out below and beyond the corners."""

    rgba: np.ndarray  # (h, w, 4) float32
    x0: int
    y0: int
    lips: np.ndarray  # (h, w, 3) float32: the box with the teeth taken out (what the warp moves)
    rest_cover: np.ndarray  # (h, w) float32: the opening's coverage at rest


def seam_shadow(frame: FeatureFrame, u: np.ndarray, v: np.ndarray, points: np.ndarray) -> np.ndarray:
    """How much the line where sealed lips meet darkens each pixel at mouth coordinates `(u, v)`, in
    [0, 1) (a multiplier's complement, so the shadow keeps the lips' own hue). The line is a smooth curve
    from corner to corner through the middle of the inner-lip contours (which kink near the corners, and a
    polyline through them drew a hook there); a soft profile across it, deepest toward the corners, where
    the lips fold in, and fading just before them."""
    cu, cv_up = frame.uv(points[LIPS_INNER_UPPER[1:-1]])
    middle = 0.5 * (cv_up + frame.profile(points[LIPS_INNER_LOWER], cu))
    # v = u (1 - u)(a + b u + c u^2): through both corners (v = 0 there), bending as the lips do
    t = cu.astype(np.float64)
    coef, *_ = np.linalg.lstsq((t * (1 - t))[:, None] * np.vander(t, 3, increasing=True), middle, rcond=None)
    uc = np.clip(u, 0.0, 1.0)
    curve = uc * (1 - uc) * np.polynomial.polynomial.polyval(uc, coef)
    width = max(0.6, 0.014 * frame.length)  # ~1.2 px at 512 px
    across = np.exp(-0.5 * ((v - curve) / width) ** 2)
    edge = np.minimum(u, 1.0 - u)
    along = (0.22 + 0.28 * smoothstep(0.2, 0.04, edge)) * smoothstep(0.0, 0.03, edge)
    return (across * along).astype(np.float32)


class MouthInterior:
    """Fitted once per portrait (`source` crop `(R, R, 3) uint8`, `src_points` rig control points);
    `render` paints the interior into a warped frame in place."""

    def __init__(self, source: np.ndarray, src_points: np.ndarray, open_threshold: float = 0.04):
        self.size = source.shape[0]
        self.src_points = np.asarray(src_points, np.float32)
        pts = self.src_points
        inner = mouth_polygon(pts)
        outer = np.concatenate([pts[LIPS_OUTER_UPPER], pts[LIPS_OUTER_LOWER[-2:0:-1]]])
        full = (0, 0, self.size, self.size)
        inner_mask = polygon_coverage(inner, *full) > 0.5
        outer_mask = polygon_coverage(outer, *full) > 0.5
        self.width = float(np.linalg.norm(pts[308] - pts[78]))
        lip_mask = outer_mask & ~cv2.dilate(inner_mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        reach = max(2, int(0.25 * self.width))
        near = cv2.dilate(outer_mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=reach)
        skin_mask = near.astype(bool) & ~cv2.dilate(outer_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)

        self.rest_gap = float(inner_lip_gaps(pts).mean())
        self.source_open = self.rest_gap > max(1.5, open_threshold * self.width)

        lip = _median_colour(source, lip_mask)
        skin = _median_colour(source, skin_mask)
        lip = lip if lip is not None else np.array([170, 90, 90], np.float32)
        skin = skin if skin is not None else lip * 1.2
        eroded = cv2.erode(inner_mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        teeth = _median_colour(source, eroded, brightest=0.4) if self.source_open else None
        if teeth is None:
            # off-white, a little of the skin's warmth, no brighter than the face's own highlights allow
            teeth = (0.75 * np.array([246, 238, 222], np.float32) + 0.25 * skin) * np.array([1.0, 0.98, 0.94])
            teeth *= min(1.0, 1.25 * float(luminance(skin)) / float(luminance(teeth)) + 0.1)
        self.colours = MouthColours(
            lip=lip, skin=skin, teeth=np.clip(teeth, 0, 255),
            throat=np.clip(lip * np.array([0.4, 0.2, 0.19], np.float32), 0, 255),
            tongue=np.clip(lip * np.array([0.9, 0.58, 0.56], np.float32), 0, 255),
        )  # fmt: skip
        self.plate = self._cut_plate(source, inner) if self.source_open else None

    def coverage(self, points: np.ndarray, x0: int, y0: int, w: int, h: int):
        """How much of each pixel in the box the opening between the inner lips covers (anti-aliased,
        and fading out where the lips are under a pixel apart, so a closed mouth draws no line), with the
        mouth's frame: `(cover, frame, u, v, v_up, v_lo, gap)`."""
        frame = FeatureFrame(points[78], points[308])
        u, v = frame.grid(x0, y0, w, h)
        v_up = frame.profile(points[LIPS_INNER_UPPER], u)
        v_lo = frame.profile(points[LIPS_INNER_LOWER], u)
        gap = np.maximum(v_lo - v_up, 0.0)
        cover = polygon_coverage(mouth_polygon(points), x0, y0, w, h) * np.clip(gap / 1.2, 0.0, 1.0)
        return cover, frame, u, v, v_up, v_lo, gap

    def fill_interior(self, source: np.ndarray) -> None:
        """In place on the warp's source crop: replace what shows between parted lips with the lips'
        own colour (inpainted from around), so the lips carry no sliver of teeth when they move and a
        sealed mouth is lips against lips. Pixels the lip edge only partly covers keep the lip's share;
        the teeth plate holds the rest, so at rest the two add back up to the portrait exactly."""
        if self.plate is None:
            return
        p = self.plate
        h, w = p.rgba.shape[:2]
        source[p.y0 : p.y0 + h, p.x0 : p.x0 + w] = np.where(
            (p.rest_cover > 0)[..., None],
            np.clip(p.lips + 0.5, 0, 255).astype(np.uint8),
            source[p.y0 : p.y0 + h, p.x0 : p.x0 + w],
        )

    def _cut_plate(self, source: np.ndarray, inner: np.ndarray) -> TeethPlate:
        pts = self.src_points
        L = float(np.linalg.norm(pts[308] - pts[78]))
        reach = 0.06 * L  # how far the teeth go on above the lip line (then the gum)
        x0, y0, w, h = roi_around(inner, reach + 3.0, self.size)
        cover, frame, u, v, v_up, v_lo, _ = self.coverage(pts, x0, y0, w, h)
        roi = source[y0 : y0 + h, x0 : x0 + w]
        # the lips without the teeth: inpainted from the lip pixels around the opening
        hole = cv2.dilate((cover > 0.02).astype(np.uint8), np.ones((3, 3), np.uint8))
        lips = cv2.inpaint(np.ascontiguousarray(roi), hole, 3, cv2.INPAINT_TELEA)
        # outside the opening, the teeth continue from just inside it (the first rows are the lip's edge)
        v_sample = np.clip(v, v_up + 1.5, np.maximum(v_lo - 0.5, v_up + 1.5))
        at = frame.c0 + (np.clip(u, 0.03, 0.97) * L)[..., None] * frame.along + v_sample[..., None] * frame.across
        extended = cv2.remap(
            source.astype(np.float32),
            at[..., 0].astype(np.float32),
            at[..., 1].astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        # where the lip edge covers part of a pixel, split it so lips * (1 - cover) + teeth * cover is the
        # portrait again: mostly-teeth pixels keep the inpainted lip and un-mix the teeth, mostly-lip
        # pixels keep the continued teeth and un-mix the lip (dividing by at least 1/2 either way)
        src = roi.astype(np.float32)
        c = cover[..., None]
        lips = lips.astype(np.float32)
        teeth_side = c >= 0.5
        rgb = np.where(teeth_side, np.clip((src - lips * (1 - c)) / np.maximum(c, 0.5), 0, 255), extended)
        lips = np.where(teeth_side, lips, np.clip((src - extended * c) / np.maximum(1 - c, 0.5), 0, 255))
        lips = np.where((cover > 0)[..., None], lips, src)
        alpha = (
            smoothstep(reach + 1.0, reach - 0.5, v_up - v)  # the gum line above
            * np.clip(1.0 - (v - v_lo - 1.0) / 1.5, 0.0, 1.0)  # the tips below (opaque wherever cover > 0)
            * np.clip(1.0 - (np.maximum(-u, u - 1.0) * L - 1.0) / 1.5, 0.0, 1.0)  # the corners
        )
        return TeethPlate(np.dstack([rgb, alpha]).astype(np.float32), x0, y0, lips, cover)

    def render(self, image: np.ndarray, dst_points: np.ndarray, rigid_points: np.ndarray) -> None:
        """Paint the interior into `image` (the warped crop, in place). `dst_points`: the frame's control
        points; `rigid_points` `(478, 2)`: the landmarks moved by the head alone."""
        polygon = mouth_polygon(dst_points)
        x0, y0, w, h = roi_around(polygon, 2.0, self.size)
        cover, frame, u, v, v_up, v_lo, gap = self.coverage(dst_points, x0, y0, w, h)
        up_u, up_v = frame.uv(dst_points[LIPS_INNER_UPPER])
        widest = float(np.max(frame.profile(dst_points[LIPS_INNER_LOWER], up_u) - up_v))
        roi = image[y0 : y0 + h, x0 : x0 + w]
        if widest < 3.0 and self.source_open:
            # nearly sealed over the portrait's erased opening: draw the shadow where the lips meet (a
            # portrait with closed lips brings its own, and the warp moves it)
            shadow = seam_shadow(frame, u, v, dst_points) * (1.0 - widest / 3.0)
            roi[:] = np.clip(roi * (1.0 - shadow[..., None] * SEAM_TINT) + 0.5, 0, 255).astype(np.uint8)
        if widest < 0.35 or not cover.any():
            return  # lips together: nothing of the interior shows
        layer = self._synthetic(frame, u, v, v_up, v_lo, gap, rigid_points, x0, y0, w, h)
        if self.plate is not None:
            affine = fit_affine(self.src_points[RIGID_AROUND_MOUTH], rigid_points[RIGID_AROUND_MOUTH])
            plate = self._place_plate(affine, x0, y0, w, h)
            alpha = plate[..., 3:4]
            layer = layer * (1.0 - alpha) + plate[..., :3] * alpha
        c = cover[..., None]
        roi[:] = np.clip(roi * (1.0 - c) + layer * c + 0.5, 0, 255).astype(np.uint8)

    def _place_plate(self, affine: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        """The teeth plate moved by `affine` (source -> frame crop pixels), cut to the ROI."""
        p = self.plate
        # plate pixel (i, j) sits at source (p.x0 + j, p.y0 + i); ROI pixel (r, c) at frame (x0 + c, y0 + r)
        to_roi = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
        from_plate = np.array([[1, 0, p.x0], [0, 1, p.y0], [0, 0, 1]], np.float64)
        m = (to_roi @ np.vstack([affine, [0, 0, 1]]) @ from_plate)[:2]
        return cv2.warpAffine(p.rgba, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def _synthetic(self, frame, u, v, v_up, v_lo, gap, rigid_points, x0, y0, w, h) -> np.ndarray:
        """`(h, w, 3) float32`: cavity, tongue, lower teeth and (without a plate) upper teeth."""
        col = self.colours
        L = frame.length
        uc = np.clip(u, 0.0, 1.0)
        t = np.clip((v - v_up) / np.maximum(gap, 1e-3), 0.0, 1.0)
        # cavity: darkest deep in the middle, the cheeks' inner walls a little lighter and redder
        depth = np.maximum(np.sin(np.pi * uc), 0.0) ** 0.7 * np.maximum(4 * t * (1 - t), 0.0) ** 0.5
        cavity = col.throat * (1.0 - 0.5 * depth)[..., None]
        side = smoothstep(0.22, 0.02, np.minimum(uc, 1 - uc))[..., None]
        layer = cavity * (1 - 0.6 * side) + (col.lip * 0.45) * 0.6 * side

        # tongue: low in the mouth, its top edge an arch, lighter toward the front
        arch = np.maximum(np.sin(np.pi * uc), 0.0) ** 0.6
        v_tongue = v_lo - np.minimum(0.4 * gap, 0.14 * L) * arch
        alpha_t = smoothstep(-1.0, 1.0, v - v_tongue) * smoothstep(0.05 * L, 0.1 * L, gap) * (arch > 0.2)
        shade_t = 0.5 + 0.45 * np.clip((v - v_tongue) / np.maximum(v_lo - v_tongue, 1e-3), 0, 1) ** 0.7
        tongue = col.tongue * shade_t[..., None]
        layer = layer * (1 - alpha_t[..., None]) + tongue * alpha_t[..., None]

        # lower teeth: a narrow band riding on the lower lip, mostly hidden by it
        lower_h = np.minimum(0.03 * L, 0.15 * gap)
        centre = smoothstep(0.28, 0.12, np.abs(uc - 0.5))
        alpha_l = smoothstep(-0.6, 0.6, v - (v_lo - lower_h)) * centre * 0.8
        teeth_l = col.teeth * (0.92 - 0.25 * (np.abs(uc - 0.5) / 0.28))[..., None]
        layer = layer * (1 - alpha_l[..., None]) + teeth_l * alpha_l[..., None]

        # upper teeth and gum are on the skull: where the upper lip line is at rest, moved by the head only
        rigid = FeatureFrame(rigid_points[78], rigid_points[308])
        xs, ys = np.meshgrid(np.arange(x0, x0 + w, dtype=np.float32), np.arange(y0, y0 + h, dtype=np.float32))
        ru, _ = rigid.uv(np.stack([xs, ys], -1))
        v_rest = frame.profile(rigid_points[LIPS_INNER_UPPER], u)
        lr = rigid.length
        span = np.clip(2 * ru - 1, -1.2, 1.2)
        across = smoothstep(0.48, 0.4, np.abs(ru - 0.5))
        gum_top, gum_bottom = v_rest - 0.11 * lr, v_rest - 0.03 * lr
        alpha_g = smoothstep(gum_top - 0.7, gum_top + 0.7, v) * smoothstep(gum_bottom + 0.7, gum_bottom - 0.7, v)
        alpha_g *= across
        layer = layer * (1 - alpha_g[..., None]) + (col.lip * 0.8) * alpha_g[..., None]
        if self.plate is None:  # drawn teeth below the lip line at rest
            layer = self._drawn_upper_teeth(layer, v, v_rest, gum_bottom, ru, span, across, lr)

        # the lips' shadow on what is behind them
        shadow = 1 - 0.22 * np.exp(-(v - v_up) / max(0.025 * L, 0.8)) - 0.12 * np.exp(-(v_lo - v) / max(0.02 * L, 0.8))
        return layer * np.clip(shadow, 0.3, 1.0)[..., None]

    def _drawn_upper_teeth(self, layer, v, v_rest, top, ru, span, across, lr) -> np.ndarray:
        """The upper teeth of a portrait that shows none, over `layer`: teeth evenly spaced around the
        dental arch (so seen from the front they narrow toward the corners), each with rounded corners
        at its biting edge and a shadowed gap to the next; the side teeth sink into the mouth's shadow."""
        # position around the arch, in teeth from the midline (the gap between the central incisors)
        arch_angle = np.arcsin(np.clip(0.95 * span, -0.95, 0.95))
        k = np.abs(arch_angle) / TOOTH_ANGLE
        within = k - np.floor(k)  # 0 and 1 at the gaps, 0.5 mid-tooth
        edge = np.abs(2 * within - 1)  # 0 mid-tooth, 1 at a gap
        tooth_h = 0.12 * lr * (1 - 0.5 * span**2)  # incisors longest, the arch rising to the sides
        bottom = v_rest + tooth_h * (1 - 0.35 * edge**6)  # rounded corners at the biting edge
        alpha = smoothstep(top - 0.7, top + 0.7, v) * smoothstep(bottom + 0.7, bottom - 0.7, v) * across
        # the gap between two teeth: a thin shadow (its width measured around the arch)
        gap_px = np.abs(within - np.round(within)) * TOOTH_ANGLE * lr / 2  # distance to the nearest gap
        gaps = 1 - 0.4 * np.exp(-((gap_px / 0.7) ** 2))
        shade = (1 - 0.6 * span**2) * gaps * (0.86 + 0.14 * smoothstep(bottom, top, v))
        teeth = self.colours.teeth * shade[..., None]
        return layer * (1 - alpha[..., None]) + teeth * alpha[..., None]
