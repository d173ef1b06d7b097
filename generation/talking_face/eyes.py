"""`EyeLayer`: blinks and gaze for one eye, drawn over the warped frame.

A warp can only squash the eye when the lid comes down (iris and sclera smear into a thin strip), so the
eye is redrawn in four parts:

- the eyeball: the portrait's eye with the iris taken out and its place filled with shaded sclera, moved
  with the head alone (eyeballs are rigid in the skull) and clipped to the frame's eye opening;
- the iris: cut from the portrait (its hidden part completed from the visible part), moved by the gaze,
  clamped inside the eye and clipped to the opening;
- the lashes: the photo's upper lashes and lid shadow inside the opening, lifted off the eyeball into a
  strip that follows the lid edge column by column, so a lid raised in fear or surprise takes them along
  and bares white sclera;
- the upper lid: as it descends, skin in the lid's own colour (sampled above the lid) covers the eye from
  the skin fold down to the moved lid edge, a little darker toward the lashes, with a thin dark lash line
  at the edge. At weight 1 the lid meets the lower lid and the eye is closed.

At rest every part reproduces the portrait's pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from generation.talking_face.mouth import luminance
from generation.talking_face.rig import (
    FeatureFrame,
    eye_polygon,
    fit_affine,
    polygon_coverage,
    roi_around,
    smoothstep,
)
from rigs.face_topology import (
    LEFT_EYE_CORNERS,
    LEFT_LOWER_LID,
    LEFT_UPPER_LID,
    LEFT_UPPER_RING2,
    LEFT_UPPER_RING3,
    RIGHT_EYE_CORNERS,
    RIGHT_LOWER_LID,
    RIGHT_UPPER_LID,
    RIGHT_UPPER_RING2,
    RIGHT_UPPER_RING3,
)

EYES = {
    # subject's side: corners (outer, inner), upper lid, lower lid, upper-lid rings, iris centre
    "right": (RIGHT_EYE_CORNERS, RIGHT_UPPER_LID, RIGHT_LOWER_LID, RIGHT_UPPER_RING2, RIGHT_UPPER_RING3, 468),
    "left": (LEFT_EYE_CORNERS, LEFT_UPPER_LID, LEFT_LOWER_LID, LEFT_UPPER_RING2, LEFT_UPPER_RING3, 473),
}


def _colour(pixels: np.ndarray, brightest: float, fallback: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels, np.float32).reshape(-1, 3)
    if len(pixels) < 3:
        return fallback.astype(np.float32)
    lum = luminance(pixels)
    return np.median(pixels[lum >= np.quantile(lum, 1 - brightest)], axis=0).astype(np.float32)


def _opening(points: np.ndarray, side: str, outer: int, inner: int, reach: float = 0.07) -> np.ndarray:
    """The eye-opening polygon with its corners pushed out along the eye by `reach` of its width: the
    landmark contour cuts the corners, and sclera left outside it would stay white through a blink."""
    polygon = eye_polygon(points, side).copy()
    axis = points[inner] - points[outer]
    polygon[0] -= reach * axis  # outer corner (eye_polygon starts at it)
    polygon[8] += reach * axis  # inner corner
    return polygon


class EyeLayer:
    """One eye (`side` = the subject's "left"/"right"), fitted once per portrait crop."""

    def __init__(self, source: np.ndarray, src_points: np.ndarray, side: str):
        self.side = side
        self.size = source.shape[0]
        (self.outer, self.inner), self.upper, self.lower, self.ring2, self.ring3, self.iris = EYES[side]
        pts = self.src_points = np.asarray(src_points, np.float32)
        self.contour = np.r_[self.outer, self.upper, self.inner, self.lower]
        self.upper_edge = np.r_[self.outer, self.upper, self.inner]  # the upper lid edge, corner to corner
        polygon = _opening(pts, side, self.outer, self.inner)
        self.width = float(np.linalg.norm(pts[self.outer] - pts[self.inner]))
        self.rest_gap = float(np.mean(np.linalg.norm(pts[self.lower] - pts[self.upper], axis=1)))
        centre = pts[self.iris]
        self.radius = float(np.mean(np.linalg.norm(pts[self.iris + 1 : self.iris + 5] - centre, axis=1)))
        self.radius = float(np.clip(self.radius, 0.12 * self.width, 0.3 * self.width))

        # the working box, with room for a wider eye and a moving iris
        self.box = roi_around(polygon, max(0.35 * self.width, 3.0), self.size)
        x0, y0, w, h = self.box
        roi = source[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
        cover = polygon_coverage(polygon, x0, y0, w, h)
        xs, ys = np.meshgrid(np.arange(x0, x0 + w, dtype=np.float32), np.arange(y0, y0 + h, dtype=np.float32))
        dist = np.hypot(xs - centre[0], ys - centre[1])
        r = self.radius

        # colours: sclera (bright part of the opening outside the iris), lid skin, lashes
        sclera_px = roi[(cover > 0.9) & (dist > r + 1.5)]
        fallback = np.array([215, 205, 195], np.float32)
        self.sclera = _colour(sclera_px, 0.2, fallback)  # the clear white: most of the opening is in shadow
        band = np.concatenate([pts[self.ring2], pts[self.ring3[::-1]]])
        band_mask = polygon_coverage(band, 0, 0, self.size, self.size) > 0.5
        self.lid = _colour(source[band_mask], 0.6, fallback * 0.85)
        lid_line = np.round(pts[self.upper]).astype(int)
        lid_line = np.clip(lid_line, 0, self.size - 1)
        self.lash = _colour(source[lid_line[:, 1], lid_line[:, 0]], 1.0, self.lid * 0.3) * 0.8

        # shaded sclera: a little darker under the upper lid and toward the corners
        frame = FeatureFrame(pts[self.outer], pts[self.inner])
        u, v = frame.grid(x0, y0, w, h)
        v_up = frame.profile(pts[self.upper_edge], u)
        v_lo = frame.profile(pts[np.r_[self.outer, self.lower, self.inner]], u)
        t = (v - v_up) / np.maximum(v_lo - v_up, 1.0)
        # the sclera continued from the portrait's own visible sclera nearby (normalised convolution, so
        # it keeps the photo's shading), falling back to the average where none is near
        clear = cv2.erode((cover > 0.99).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # not the lashes
        seen = clear & (dist > r + 1.0)
        sigma = max(1.5, 0.12 * self.width)
        weight = cv2.GaussianBlur(seen.astype(np.float32), (0, 0), sigma)
        spread = cv2.GaussianBlur(roi * seen[..., None], (0, 0), sigma)
        confident = np.clip(weight / 0.05, 0.0, 1.0)[..., None]
        local = spread / np.maximum(weight, 1e-6)[..., None]
        shade = 0.9 + 0.1 * smoothstep(-0.4, 0.5, t)  # the upper lid's shadow
        # beyond the portrait's lids (shown when the eye opens wider) the photo's sclera continued is the
        # shadowed strip under its lids, grey: blend it into the clear sclera colour there instead
        beyond = np.maximum(smoothstep(0.0, -0.25, t), smoothstep(1.0, 1.25, t))[..., None]
        confident = confident * (1 - beyond)
        sclera = (local * confident + self.sclera * (1 - confident)) * shade[..., None]

        # Pixels the lid edge only partly covers are split in two so the layers add back up to the
        # portrait at rest: mostly-eye pixels keep a lash-coloured lid share and un-mix the eye;
        # mostly-lid pixels keep the continued eyeball and un-mix the lid. The eyeball and iris layers
        # then hold no lash pixels to drag along when the lid moves.
        c = cover[..., None]
        eye_side = cover >= 0.5
        pure = np.clip((roi - self.lash * (1 - c)) / np.maximum(c, 0.5), 0, 255)  # valid where eye_side
        # the iris, opaque out to r + 0.5 and fading to r + 1.5; its hidden part mirrored from the visible
        iris_px = pure[eye_side & (dist <= r)]
        mean_iris = np.median(iris_px, axis=0) if len(iris_px) else self.lash * 1.5
        iris_rgb = np.where(eye_side[..., None], pure, mean_iris)
        my = np.clip(np.round(2 * (centre[1] - y0) - ys + y0).astype(int), 0, h - 1)  # mirrored row
        mx = np.clip(np.round(xs - x0).astype(int), 0, w - 1)
        mirror_ok = ~eye_side & eye_side[my, mx]
        iris_rgb[mirror_ok] = pure[my, mx][mirror_ok]
        alpha = np.clip(r + 1.5 - dist, 0.0, 1.0)
        self.iris_patch = np.dstack([iris_rgb, alpha]).astype(np.float32)
        # the eyeball without its iris: sclera in the iris's place and beyond the opening
        base = np.where(eye_side[..., None], pure, sclera)
        core = np.clip(r + 1.0 - dist, 0.0, 1.0)[..., None]  # the iris's place, feathered into the sclera
        base = base * (1 - core) + sclera * core
        # what the warp moves in the opening: lashes where the eye shows, the un-mixed lid where it half does
        at_rest = base * (1 - alpha[..., None]) + iris_rgb * alpha[..., None]
        # The upper lashes and the lid's shadow inside the opening belong to the lid: they are lifted off the
        # eyeball (the sclera continued under them) into a strip that moves with the lid edge, so a raised
        # lid takes them along and bares clear sclera, not a dark band left where the lid was. The strip's
        # colour is un-mixed so that at rest eyeball, iris and strip add up to the portrait again.
        pale = float(luminance(self.sclera))
        lash = np.clip((0.85 * pale - luminance(base)) / (0.45 * pale), 0.0, 1.0)
        lash *= eye_side & (t < 0.5) & (dist > r + 0.5)
        lash[lash < 0.1] = 0.0
        a = lash[..., None]
        base = np.where(a > 0, self.sclera * shade[..., None], base)  # clear sclera: the photo's is shadowed there
        under = base * (1 - alpha[..., None]) + iris_rgb * alpha[..., None]  # what the strip lies on at rest
        strip = np.clip((at_rest - (1 - a) * under) / np.maximum(a, 0.1), 0, 255)
        self.lash_strip = np.dstack([strip, lash]).astype(np.float32)
        self.eyeball = base.astype(np.float32)
        lid_share = np.clip((roi - at_rest * c) / np.maximum(1 - c, 0.5), 0, 255)
        self.rest_cover = cover
        self.fill = np.where(eye_side[..., None], np.broadcast_to(self.lash, roi.shape), lid_share).astype(np.float32)

    def render(self, image: np.ndarray, dst_points: np.ndarray, rigid_points: np.ndarray) -> None:
        """Paint the eye into `image` (the warped crop, in place)."""
        pts, src = dst_points, self.src_points
        opening = _opening(pts, self.side, self.outer, self.inner)
        rest = _opening(rigid_points, self.side, self.outer, self.inner)
        lid_edge = pts[self.upper_edge]
        frame = FeatureFrame(pts[self.outer], pts[self.inner])
        descent = float(np.mean(frame.uv(pts[self.upper])[1] - frame.uv(rigid_points[self.upper])[1]))
        x0, y0, w, h = roi_around(np.concatenate([opening, rest, pts[self.ring2]]), 2.0, self.size)
        to_roi = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
        bx, by = self.box[:2]
        from_box = np.array([[1, 0, bx], [0, 1, by], [0, 0, 1]], np.float64)
        rigid = np.vstack([fit_affine(src[self.contour], rigid_points[self.contour]), [0, 0, 1]])
        m_ball = (to_roi @ rigid @ from_box)[:2]
        ball = cv2.warpAffine(self.eyeball, m_ball, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        # gaze: the iris centre where the rig put it, kept inside the eye
        rest_centre = (rigid @ np.r_[src[self.iris], 1.0])[:2]
        eye_frame = FeatureFrame(rigid_points[self.outer], rigid_points[self.inner])
        cu, cv = eye_frame.uv(pts[self.iris])
        r_u = 0.55 * self.radius / eye_frame.length
        cu = np.clip(cu, r_u, 1 - r_u)
        ru, rv = eye_frame.uv(rest_centre)
        cv = float(np.clip(cv, rv - 0.45 * self.radius, rv + 0.45 * self.radius))
        target = rigid_points[self.outer] + cu * eye_frame.length * eye_frame.along + cv * eye_frame.across
        shift = np.eye(3)
        shift[:2, 2] = target - rest_centre
        m_iris = (to_roi @ shift @ rigid @ from_box)[:2]
        iris = cv2.warpAffine(self.iris_patch, m_iris, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        a_iris = iris[..., 3:4]
        ball = ball * (1 - a_iris) + iris[..., :3] * a_iris
        # the lashes go with the eyeball, and each column further as the lid edge above it moved: one
        # resampling, at the rigid map's inverse of (x - dx, y - dy)
        lid_at_rest = src[self.upper_edge] @ rigid[:2, :2].T + rigid[:2, 2]
        moved = lid_edge - lid_at_rest
        order = np.argsort(lid_at_rest[:, 0])
        columns = np.arange(w, dtype=np.float32) + x0
        dx = np.interp(columns, lid_at_rest[order, 0], moved[order, 0])
        dy = np.interp(columns, lid_at_rest[order, 0], moved[order, 1])
        xs = np.arange(w, dtype=np.float32)[None, :] - dx[None, :]
        ys = np.arange(h, dtype=np.float32)[:, None] - dy[None, :]
        back = np.linalg.inv(np.vstack([m_ball, [0, 0, 1]]))[:2]
        map_x = (back[0, 0] * xs + back[0, 1] * ys + back[0, 2]).astype(np.float32)
        map_y = (back[1, 0] * xs + back[1, 1] * ys + back[1, 2]).astype(np.float32)
        lashes = cv2.remap(self.lash_strip, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        ball = ball * (1 - lashes[..., 3:4]) + lashes[..., :3] * lashes[..., 3:4]

        u, v = frame.grid(x0, y0, w, h)
        gap = float(np.max(frame.uv(pts[self.lower])[1] - frame.uv(pts[self.upper])[1]))
        open_cover = polygon_coverage(opening, x0, y0, w, h) * np.clip(gap / 1.0, 0.0, 1.0)  # no line when shut
        roi = image[y0 : y0 + h, x0 : x0 + w].astype(np.float32)
        out = roi * (1 - open_cover[..., None]) + ball * open_cover[..., None]

        closing = float(np.clip(descent / max(0.25 * self.rest_gap, 0.5), 0.0, 1.0))
        raising = float(np.clip(-descent / max(0.25 * self.rest_gap, 0.5), 0.0, 1.0))
        edge = np.concatenate([opening[:1], lid_edge[1:-1], opening[8:9]])  # reaching past the corners
        if closing > 0:
            # lid skin from the fold (ring 2) down to the lid edge, in the colours of the skin just above
            # it in this frame (so it matches the light), a little darker toward the lashes
            fold = pts[np.r_[self.outer, self.ring2, self.inner]]
            band = np.concatenate([opening[:1], fold[1:-1], opening[8:9], edge[::-1]])
            v_fold, v_edge = frame.profile(fold, u), frame.profile(lid_edge, u)
            s = np.clip((v - v_fold) / np.maximum(v_edge - v_fold, 1.0), 0.0, 1.0)  # 0 at the fold, 1 at the edge
            skin_colour = self._skin_above(roi, frame, pts, x0, y0, u[0])  # (w, 3) per column
            shade = (1.0 - 0.15 * s**2) * (1 + 0.04 * np.sin(np.pi * np.clip(u, 0, 1)))
            skin = skin_colour[None, :, :] * shade[..., None]
            a_lid = cv2.GaussianBlur(polygon_coverage(band, x0, y0, w, h), (0, 0), 0.8) * smoothstep(0.0, 0.5, s)
            a_lid *= closing
            a_lid *= 1 - open_cover
            out = out * (1 - a_lid[..., None]) + skin * a_lid[..., None]
        if closing > 0 or raising > 0:
            # the lash line along the moved lid edge (a raised lid lifts its lashes off the eye too): a
            # crisp 1-pixel line inside a soft 2-pixel one, lashes, not a pen stroke
            shift_bits = 3
            line = np.round((edge - [x0, y0]) * (1 << shift_bits)).astype(np.int32)
            core, halo = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
            cv2.polylines(core, [line], False, 255, 1, cv2.LINE_AA, shift_bits)
            cv2.polylines(halo, [line], False, 255, 2, cv2.LINE_AA, shift_bits)
            a_lash = np.maximum(core.astype(np.float32) / 255.0, 0.45 * halo.astype(np.float32) / 255.0)
            a_lash *= 0.95 * max(closing, raising)
            out = out * (1 - a_lash[..., None]) + self.lash * a_lash[..., None]
        image[y0 : y0 + h, x0 : x0 + w] = np.clip(out + 0.5, 0, 255).astype(np.uint8)

    def _skin_above(
        self, roi: np.ndarray, frame: FeatureFrame, pts: np.ndarray, x0: int, y0: int, u_row: np.ndarray
    ) -> np.ndarray:
        """`(w, 3)`: per ROI column, the frame's skin colour a little above the lid fold (mixed with the
        fitted lid colour, smoothed along the eye, so a lash or a crease shadow does not streak down)."""
        samples = []
        fold, brow_side = np.r_[self.outer, self.ring2, self.inner], np.r_[self.outer, self.ring3, self.inner]
        for ring, lift in ((fold, 2.0), (brow_side, 0.0)):
            line = pts[ring] - lift * frame.across
            cu, _ = frame.uv(line)
            order = np.argsort(cu)
            xs = np.interp(u_row, cu[order], line[order, 0]) - x0
            ys = np.interp(u_row, cu[order], line[order, 1]) - y0
            xs = np.clip(xs, 0, roi.shape[1] - 1).astype(np.float32)
            ys = np.clip(ys, 0, roi.shape[0] - 1).astype(np.float32)
            samples.append(cv2.remap(roi, xs[None, :], ys[None, :], cv2.INTER_LINEAR)[0])
        colour = 0.35 * samples[0] + 0.35 * samples[1] + 0.3 * self.lid
        return cv2.GaussianBlur(colour[None], (0, 0), sigmaX=max(1.0, 0.08 * self.width), sigmaY=0.1)[0]

    def fill_opening(self, source: np.ndarray) -> None:
        """In place on the warp's source crop: take the eye out of the lids (lash colour inside the
        opening, the lid's share of the pixels its edge crosses), so a closing lid squashes the eye into a
        dark lash line, not a streak of sclera. At rest the eyeball layer adds the rest back exactly."""
        x0, y0, w, h = self.box
        roi = source[y0 : y0 + h, x0 : x0 + w]
        touched = self.rest_cover > 0
        roi[touched] = np.clip(self.fill[touched] + 0.5, 0, 255).astype(np.uint8)
