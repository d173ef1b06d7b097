"""The canonical face mesh (MediaPipe's 468-vertex face model) and its ARKit blendshape basis.

Both live in `assets/models/canonical_face.npz`, built by `scripts/build_arkit_basis.py` from the face
landmarker `.task` (its geometry metadata holds the mesh). The first 468 of the landmarker's 478
landmarks are this mesh's vertices, in the same order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from rigs.assets import model_path

NUM_VERTICES = 468


@dataclass(frozen=True)
class CanonicalFace:
    """`vertices` `(468, 3) float32` in centimetres (x to the viewer's right, y up, z toward the viewer);
    `uvs` `(468, 2) float32` texture coordinates in [0, 1]; `triangles` `(898, 3) int32` vertex indices,
    counter-clockwise seen from the front; `basis` `(52, 468, 3) float32`: the displacement, in cm, of
    each ARKit blendshape at weight 1 (ARKit order), so a pose is `vertices + weights @ basis`."""

    vertices: np.ndarray
    uvs: np.ndarray
    triangles: np.ndarray
    basis: np.ndarray

    def pose(self, weights: np.ndarray) -> np.ndarray:
        """`(52,)` or `(frames, 52)` ARKit weights -> `(468, 3)` or `(frames, 468, 3)` vertex positions."""
        weights = np.asarray(weights, dtype=np.float32)
        return self.vertices + np.tensordot(weights, self.basis, axes=([-1], [0]))


@functools.cache
def load_canonical_face() -> CanonicalFace:
    """The bundled mesh and basis, loaded once per process."""
    with np.load(model_path("canonical_face.npz")) as data:
        return CanonicalFace(
            data["vertices"].astype(np.float32),
            data["uvs"].astype(np.float32),
            data["triangles"].astype(np.int32),
            data["basis"].astype(np.float32),
        )
