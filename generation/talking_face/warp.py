"""`DenseWarp`: a piecewise-affine image warp driven by control points, cheap per frame.

    warp = DenseWarp(src_points, triangles, (width, height))   # once: per-pixel triangles + barycentrics
    out = warp(image, dst_points)                               # per frame: a few remaps

Per frame the control points' displacements become a dense *forward* displacement field `d` over the
source pixels (one sparse matrix product: each pixel is a fixed barycentric mix of its triangle's three
vertices, so the field is continuous across triangle edges and nothing tears). The image needs the
*backward* map, which is found by fixed-point iteration `p = q - d(p)` (each step one `cv2.remap` of the
field), then one bilinear `cv2.remap` of the image. Where the warp folds or opens a gap faster than the
iteration converges (inside a mouth opening, under a closing lid), the mouth and eye layers paint over.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import sparse


def rasterize_triangles(
    points: np.ndarray, triangles: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Which triangle covers each pixel centre, and where in it.

    Returns `ids` `(H, W) int32` (-1 where no triangle covers the pixel) and `bary` `(H, W, 3) float32`
    barycentric weights of the triangle's vertices (0 where uncovered)."""
    width, height = size
    ids = np.full((height, width), -1, np.int32)
    bary = np.zeros((height, width, 3), np.float32)
    p = points[triangles].astype(np.float64)  # (T, 3, 2)
    lo = np.clip(np.floor(p.min(axis=1)).astype(int), 0, [width - 1, height - 1])
    hi = np.clip(np.ceil(p.max(axis=1)).astype(int), 0, [width - 1, height - 1])
    eps = 1e-7
    for t in range(len(triangles)):
        (x0, y0), (x1, y1) = lo[t], hi[t]
        a, b, c = p[t]
        det = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
        if abs(det) < 1e-12:
            continue
        xs, ys = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        l1 = ((xs - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (ys - a[1])) / det
        l2 = ((b[0] - a[0]) * (ys - a[1]) - (xs - a[0]) * (b[1] - a[1])) / det
        l0 = 1.0 - l1 - l2
        inside = (l0 >= -eps) & (l1 >= -eps) & (l2 >= -eps)
        window = ids[y0 : y1 + 1, x0 : x1 + 1]
        take = inside & (window < 0)
        window[take] = t
        bary[y0 : y1 + 1, x0 : x1 + 1][take] = np.stack([l0, l1, l2], axis=-1)[take]
    return ids, bary


def _triangle_neighbours(triangles: np.ndarray) -> np.ndarray:
    """`(T, 3)`: the triangle across each edge (-1 on the hull)."""
    neighbours = np.full((len(triangles), 3), -1, np.int64)
    owner: dict[tuple[int, int], tuple[int, int]] = {}
    for t, tri in enumerate(triangles.tolist()):
        for k in range(3):
            edge = (min(tri[k], tri[(k + 1) % 3]), max(tri[k], tri[(k + 1) % 3]))
            if edge in owner:
                u, j = owner.pop(edge)
                neighbours[t, k], neighbours[u, j] = u, t
            else:
                owner[edge] = (t, k)
    return neighbours


class DenseWarp:
    """Piecewise-affine warp of `(H, W)` images over a fixed triangulation of `src_points` `(N, 2)` pixels
    (pixel centres at integers); `triangles` `(T, 3)` index `src_points`; `size` is `(width, height)`."""

    def __init__(self, src_points: np.ndarray, triangles: np.ndarray, size: tuple[int, int], iterations: int = 3):
        self.src_points = np.asarray(src_points, np.float32)
        self.size = size
        self.iterations = iterations
        width, height = size
        ids, bary = rasterize_triangles(self.src_points, np.asarray(triangles), size)
        covered = ids.ravel() >= 0
        rows = np.repeat(np.flatnonzero(covered), 3)
        cols = np.asarray(triangles)[ids.ravel()[covered]].ravel()
        vals = bary.reshape(-1, 3)[covered].ravel()
        # (H*W, N): field = interpolation @ displacement
        self.interpolation = sparse.csr_matrix(
            (vals.astype(np.float32), (rows, cols)), shape=(width * height, len(self.src_points))
        )
        self.covered = covered.reshape(height, width)
        self.ids = ids
        self.triangles = np.asarray(triangles)
        self._src_corners = self.src_points[self.triangles].astype(np.float64)  # (T, 3, 2)
        c = self._src_corners
        self._src_edges = np.stack([c[:, 1] - c[:, 0], c[:, 2] - c[:, 0]], axis=-1)  # (T, 2, 2), columns
        self._src_edges_inv = np.linalg.inv(self._src_edges + 1e-12 * np.eye(2))
        self._neighbours = _triangle_neighbours(self.triangles)
        xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        self.grid = np.stack([xs, ys], axis=-1)

    def field(self, displacement: np.ndarray) -> np.ndarray:
        """`(N, 2)` control-point displacements -> `(H, W, 2) float32` forward displacement per source pixel."""
        width, height = self.size
        d = self.interpolation @ np.asarray(displacement, np.float32)
        return np.asarray(d, np.float32).reshape(height, width, 2)

    def backward_map(self, dst_points: np.ndarray) -> np.ndarray:
        """`(H, W, 2) float32`: for each output pixel q, the source position p with p + d(p) = q.

        Fixed-point steps `p = q - d(p)` converge quickly where the warp is gentle. Where it squeezes or
        stretches hard (lips sealing, a jaw dropping, a lid closing) they crawl or oscillate, so the
        triangles deformed that much (and their neighbours) are inverted exactly instead: rasterised in
        the frame, each pixel mapped back through its triangle's affine map."""
        dst_points = np.asarray(dst_points, np.float32)
        field = self.field(dst_points - self.src_points)
        mapping = self.grid - field
        for _ in range(self.iterations - 1):
            at = cv2.remap(field, mapping, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            np.subtract(self.grid, at, out=mapping)
        dst = dst_points[self.triangles].astype(np.float64)
        e_dst = np.stack([dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]], axis=-1)
        affine = e_dst @ self._src_edges_inv  # (T, 2, 2): the forward map's linear part per triangle
        strain = np.linalg.norm(affine - np.eye(2), axis=(1, 2))
        hard = strain > 0.45
        if hard.any():
            hard[self._neighbours[hard][self._neighbours[hard] >= 0]] = True
            self._invert_exactly(mapping, np.flatnonzero(hard), dst, e_dst)
        return mapping

    def _invert_exactly(self, mapping: np.ndarray, triangles: np.ndarray, dst: np.ndarray, e_dst: np.ndarray) -> None:
        """In place: rasterise `triangles` at their frame positions and map their pixels back exactly."""
        width, height = self.size
        det = e_dst[:, 0, 0] * e_dst[:, 1, 1] - e_dst[:, 0, 1] * e_dst[:, 1, 0]
        triangles = triangles[det[triangles] > 1e-6]  # collapsed ones cover no pixel
        if not triangles.size:
            return
        corners = dst[triangles]
        lo = np.clip(np.ceil(corners.min(axis=1) - 1e-6), 0, [width - 1, height - 1]).astype(np.int64)
        hi = np.clip(np.floor(corners.max(axis=1) + 1e-6), 0, [width - 1, height - 1]).astype(np.int64)
        size = np.maximum(hi - lo + 1, 0)
        count = size[:, 0] * size[:, 1]
        owner = np.repeat(np.arange(len(triangles)), count)
        local = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        px = lo[owner, 0] + local % size[owner, 0]
        py = lo[owner, 1] + local // size[owner, 0]
        t = triangles[owner]
        inv = np.empty((len(triangles), 2, 2))
        d = det[triangles]
        e = e_dst[triangles]
        inv[:, 0, 0], inv[:, 1, 1] = e[:, 1, 1] / d, e[:, 0, 0] / d
        inv[:, 0, 1], inv[:, 1, 0] = -e[:, 0, 1] / d, -e[:, 1, 0] / d
        rel = np.column_stack([px, py]).astype(np.float64) - dst[t, 0]
        lam = np.einsum("nij,nj->ni", inv[owner], rel)
        inside = (lam[:, 0] >= -1e-6) & (lam[:, 1] >= -1e-6) & (lam.sum(axis=1) <= 1 + 1e-6)
        src = self._src_corners[t[inside], 0] + np.einsum("nij,nj->ni", self._src_edges[t[inside]], lam[inside])
        mapping[py[inside], px[inside]] = src.astype(np.float32)

    def __call__(self, image: np.ndarray, dst_points: np.ndarray) -> np.ndarray:
        """Warp `image` (the source, `(H, W, C)`) so `src_points` land on `dst_points`."""
        mapping = self.backward_map(dst_points)
        return cv2.remap(image, mapping, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
