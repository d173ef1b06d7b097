"""Build the canonical face mesh and its 52-shape ARKit blendshape basis (`assets/models/canonical_face.npz`).

    python scripts/build_arkit_basis.py            # writes canonical_face.npz, arkit_basis_report.md,
                                                   # arkit_basis_sheet.png into assets/models/
    python scripts/build_arkit_basis.py --out DIR  # ... into DIR instead

1. The mesh: MediaPipe's canonical face (468 vertices, UVs, 898 triangles), decoded by hand from the
   protobuf `geometry_pipeline_metadata_landmarks.binarypb` inside the bundled `face_landmarker.task`
   (`GeometryPipelineMetadata.canonical_mesh` = `Mesh3d{vertex_buffer: 5 floats per vertex (x, y, z, u,
   v), index_buffer: 3 per triangle}`; mediapipe/modules/face_geometry/protos/*.proto). Units are cm;
   x to the viewer's right (the subject's left), y up, z toward the viewer; UV v grows downward (v = 0.107
   at the forehead, 0.954 at the chin). Triangles are counter-clockwise seen from the front (all but 12
   folded ones at the lip corners). The eye and mouth openings are triangulated (14 triangles per eye, 18
   in the mouth); the Laplacian used here cuts those, so upper and lower lids/lips move independently.

2. Anatomical templates, one per shape (`TEMPLATES`): displacements of a few handle vertices (jaw rotation
   about a hinge, lip-corner pulls, lid arcs, brow lifts, ...) spread to the surrounding skin by a
   biharmonic fill over the (cut) tessellation, with a fixed zero region beyond a radius. Each template's
   magnitude is then calibrated: the smallest scale on a grid (0.5x-3x) whose read-back reaches 0.8,
   within the shape's magnitude bound (0.65-2.0 cm, `max_displacement`).

3. A short refinement through `recognition.nets.blendshape_regressor` (the differentiable rebuild of
   MediaPipe's face_blendshapes.tflite): every shape is posed on the canonical mesh, projected by a
   pinhole camera into a 256 px frontal image, and its in-image (x, y) residual is optimised toward the
   regressor reading the target (weight 1) and not the others (low weight), under a strong Laplacian
   smoothness over the tessellation, a soft region mask around the template, a magnitude bound, lids and
   lips that never cross (and lips that stay together for the closed-mouth shapes). Depth
   is never touched by the refinement (the regressor cannot see it). Left shapes are optimised, Right
   shapes are their exact mirror images (the loss sees both), bilateral shapes are kept symmetric.

The mesh has no eyeballs: the 10 iris landmarks (468-477) that the regressor needs come from a small
eyeball model stored alongside (`iris_vertices` (10, 3) at rest, `iris_basis` (52, 10, 3)): gaze
channels (eyeLook*) rotate the iris about an eyeball centre 1.2 cm behind it, and move the lids a little
(the lids follow vertical gaze). tongueOut is zero (the mesh has no tongue). mouthClose is only
meaningful on top of jawOpen (lips together while the jaw is open), so it is read back in that pose.

Outputs in the npz: vertices, uvs, triangles, basis (ARKit order, cm per unit weight), iris_vertices,
iris_basis, readback_scores (52 shapes x 52 ARKit scores at weight 1), readback_target (the diagonal),
readback_half (own score at weight 0.5), readback_max_other, neutral_scores (the rest face),
template_target (read-back of the uncalibrated, unrefined templates), names.
Deterministic (fixed seed, no randomness in the optimisation; single-threaded torch).
"""

from __future__ import annotations

import argparse
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from recognition.nets.blendshape_regressor import (  # noqa: E402
    LANDMARK_SUBSET,
    BlendshapeRegressor,
    to_arkit,
)
from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES  # noqa: E402

TASK = REPO / "assets" / "models" / "face_landmarker.task"
GEOMETRY_MEMBER = "geometry_pipeline_metadata_landmarks.binarypb"
SEED = 0

# --------------------------------------------------------------------------------------------------
# MediaPipe 468-vertex topology: named vertex sets (the subject's Left is +x).

UPPER_LIP_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LOWER_LIP_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
UPPER_LIP_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_LIP_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
MOUTH_CORNERS = {"left": [291, 308], "right": [61, 78]}
# Lid margins, outer corner first (Right eye = subject's right = -x).
EYE = {
    "right": {"upper": [33, 246, 161, 160, 159, 158, 157, 173, 133],
              "lower": [33, 7, 163, 144, 145, 153, 154, 155, 133], "outer": 33, "inner": 133},
    "left": {"upper": [263, 466, 388, 387, 386, 385, 384, 398, 362],
             "lower": [263, 249, 390, 373, 374, 380, 381, 382, 362], "outer": 263, "inner": 362},
}  # fmt: skip
BROW = {
    "right": {"upper": [70, 63, 105, 66, 107], "lower": [46, 53, 52, 65, 55]},
    "left": {"upper": [300, 293, 334, 296, 336], "lower": [276, 283, 282, 295, 285]},
}
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]  # fmt: skip
CHIN = 152
FOREHEAD = 10

# Iris landmarks in the 478 topology: 468-472 the subject's right iris, 473-477 the left; each is the
# centre, then ring points toward image right (+x), up, image left, down (measured on real landmarks).
IRIS = {"right": list(range(468, 473)), "left": list(range(473, 478))}
# Iris shape relative to the eye width (corner to corner), measured on the landmarker's output for the
# sample portrait (both eyes agree to 1%): horizontal radius 0.231, vertical 0.197, centre 0.05 above the
# corner line. The eyeball radius is anatomical (~12 mm).
IRIS_RADIUS_X, IRIS_RADIUS_Y, IRIS_RAISE = 0.231, 0.197, 0.10
EYEBALL_RADIUS = 1.2
GAZE_DEG = {"in": 28.0, "out": 28.0, "up": 22.0, "down": 25.0}

# Camera: pinhole on the +z axis looking at the face, into a 256 px image (like a frontal portrait).
IMAGE_SIZE = 256
CAMERA_DISTANCE = 50.0  # cm from the canonical origin (the face front is ~43 cm from the camera)
FOCAL_PX = 11.5 * (CAMERA_DISTANCE - 4.0)  # ~11.5 px per cm at the face: the face is ~200 px tall

# The shapes that come in Left/Right pairs (Left = +x side, optimised; Right = its mirror).
PAIRS = [(n, n[:-4] + "Right") for n in ARKIT_NAMES if n.endswith("Left")]
LEFT_OF = {r: left for left, r in PAIRS}
MIRROR_SHAPE = {**{a: b for a, b in PAIRS}, **{b: a for a, b in PAIRS}}


# --------------------------------------------------------------------------------------------------
# 1. The canonical mesh from the .task


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _proto_fields(buf: bytes):
    """(field number, wire type, value) of a protobuf message (wire format, no schema needed)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def parse_canonical_mesh(metadata: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GeometryPipelineMetadata bytes -> vertices (468, 3) cm, uvs (468, 2), triangles (898, 3) int32."""
    mesh = next(v for f, w, v in _proto_fields(metadata) if f == 1 and w == 2)  # canonical_mesh
    floats: list[float] = []
    indices: list[int] = []
    for field, wire, value in _proto_fields(mesh):
        if field == 1 and wire == 0 and value != 0:
            raise ValueError("canonical mesh: vertex_type is not VERTEX_PT")
        if field == 3:  # repeated float vertex_buffer (packed or not)
            floats.extend(np.frombuffer(value, "<f4").tolist())
        elif field == 4:  # repeated uint32 index_buffer
            if wire == 2:
                j = 0
                while j < len(value):
                    idx, j = _varint(value, j)
                    indices.append(idx)
            else:
                indices.append(int(value))
    vb = np.asarray(floats, np.float32).reshape(-1, 5)
    return vb[:, :3].copy(), vb[:, 3:].copy(), np.asarray(indices, np.int32).reshape(-1, 3)


def load_canonical_mesh(task: Path = TASK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with zipfile.ZipFile(task) as archive:
        return parse_canonical_mesh(archive.read(GEOMETRY_MEMBER))


# --------------------------------------------------------------------------------------------------
# Mesh helpers


class Mesh:
    def __init__(self, vertices: np.ndarray, triangles: np.ndarray):
        self.v = vertices.astype(np.float64)
        self.t = triangles
        self.n = len(vertices)
        self.mirror = self._mirror_map()
        rings = [set(LOWER_LIP_INNER + UPPER_LIP_INNER)] + [set(e["upper"] + e["lower"]) for e in EYE.values()]
        self.opening = np.array([any(all(int(i) in r for i in tri) for r in rings) for tri in triangles])
        adj = np.zeros((self.n, self.n))
        for tri in triangles[~self.opening]:
            for a, b in ((0, 1), (1, 2), (2, 0)):
                adj[tri[a], tri[b]] = adj[tri[b], tri[a]] = 1.0
        self.adj = adj
        self.lap = np.eye(self.n) - adj / adj.sum(1, keepdims=True)  # uniform, cut at the openings
        self.upper_lip = self._between(UPPER_LIP_OUTER, UPPER_LIP_INNER)
        self.lower_lip = self._between(LOWER_LIP_OUTER, LOWER_LIP_INNER)
        self.jaw_weight = self._jaw_weight()

    def _mirror_map(self) -> np.ndarray:
        flipped = self.v * np.array([-1.0, 1.0, 1.0])
        d = np.linalg.norm(self.v[None] - flipped[:, None], axis=-1)
        mirror = d.argmin(1)
        assert d.min(1).max() < 1e-3 and (mirror[mirror] == np.arange(self.n)).all(), "mesh is not symmetric"
        return mirror

    def _between(self, outer: list[int], inner: list[int]) -> np.ndarray:
        """Vertices of one lip: inside the polygon outer contour + inner contour (xy), contours included."""
        from matplotlib.path import Path as MplPath

        poly = MplPath(self.v[outer + inner[::-1], :2])
        inside = poly.contains_points(self.v[:, :2], radius=1e-6) | poly.contains_points(self.v[:, :2], radius=-1e-6)
        mask = inside.copy()
        mask[outer + inner] = True
        return mask

    def near(self, points: np.ndarray, radius: float) -> np.ndarray:
        """Mask of vertices within `radius` (3D) of any of `points` (k, 3)."""
        d = np.linalg.norm(self.v[:, None] - np.atleast_2d(points)[None], axis=-1).min(1)
        return d < radius

    def dist(self, idx) -> np.ndarray:
        return np.linalg.norm(self.v[:, None] - self.v[np.atleast_1d(idx)][None], axis=-1).min(1)

    def fill(self, handles: dict[int, np.ndarray], radius: float, pinned=(), order: int = 2) -> np.ndarray:
        """(468, 3) displacement: `handles` fixed, zero beyond `radius` of the handles and on `pinned`,
        (bi)harmonic over the cut tessellation in between."""
        idx = np.array(sorted(handles), dtype=int)
        known = np.zeros(self.n, bool)
        known[idx] = True
        fixed = (self.dist(idx) > radius) & ~known
        fixed[list(pinned)] = True
        fixed[idx] = False
        x = np.zeros((self.n, 3))
        x[idx] = np.array([handles[i] for i in idx])
        k = known | fixed
        a = self.lap if order == 1 else self.lap.T @ self.lap
        u = ~k
        if u.any():
            x[u] = np.linalg.solve(a[np.ix_(u, u)], -a[np.ix_(u, k)] @ x[k])
        return x

    def _jaw_weight(self) -> np.ndarray:
        """How much each vertex follows the mandible (0..1): harmonic between the upper face (0) and the
        lower lip, chin and lower jaw line (1), with the mouth opening cut."""
        v = self.v
        w = np.zeros(self.n)
        one = self.lower_lip | (v[:, 1] < -6.0)
        one[[i for i in FACE_OVAL if v[i, 1] < -4.5]] = True  # the jaw line up to the mandible's angle
        zero = self.upper_lip | (v[:, 1] > -1.6)
        for corners in MOUTH_CORNERS.values():
            one[corners] = zero[corners] = False
        k = one | zero
        w[one] = 1.0
        u = ~k
        w[u] = np.linalg.solve(self.lap[np.ix_(u, u)], -self.lap[np.ix_(u, k)] @ w[k])
        return np.clip(w, 0.0, 1.0)

    def mirror_delta(self, d: np.ndarray) -> np.ndarray:
        """The mirror image (x -> -x) of a (468, 3) displacement field."""
        return d[self.mirror] * np.array([-1.0, 1.0, 1.0])


def mirror_iris(d: np.ndarray) -> np.ndarray:
    """Mirror a (10, 3) iris field: right iris <-> left iris, ring +x <-> -x."""
    order = [5, 8, 7, 6, 9, 0, 3, 2, 1, 4]  # 468<-473, 469<-476, 470<-475, 471<-474, 472<-477, ...
    return d[order] * np.array([-1.0, 1.0, 1.0])


# --------------------------------------------------------------------------------------------------
# Eyeball / iris model


def _rot(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    a, b = np.deg2rad(yaw_deg), np.deg2rad(-pitch_deg)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return ry @ rx


def iris_points(v: np.ndarray, gaze: dict[str, tuple[float, float]] | None = None) -> np.ndarray:
    """(10, 3) iris landmarks 468-477 for mesh vertices `v` at rest and a gaze per eye (yaw degrees, +x;
    pitch degrees, up)."""
    out = []
    for side in ("right", "left"):
        e = EYE[side]
        c0, c1 = v[e["outer"]], v[e["inner"]]
        width = float(np.linalg.norm((c0 - c1)[:2]))
        lids = v[e["upper"] + e["lower"]]
        centre = np.array([(c0[0] + c1[0]) / 2, (c0[1] + c1[1]) / 2 + IRIS_RAISE * width, lids[:, 2].max() + 0.1])
        ball = centre - np.array([0.0, 0.0, EYEBALL_RADIUS])
        rx, ry = IRIS_RADIUS_X * width, IRIS_RADIUS_Y * width
        local = np.array([[0, 0, EYEBALL_RADIUS], [rx, 0, EYEBALL_RADIUS], [0, ry, EYEBALL_RADIUS],
                          [-rx, 0, EYEBALL_RADIUS], [0, -ry, EYEBALL_RADIUS]])  # fmt: skip
        yaw, pitch = (gaze or {}).get(side, (0.0, 0.0))
        out.append(ball + local @ _rot(yaw, pitch).T)
    return np.concatenate(out)


# --------------------------------------------------------------------------------------------------
# 2. Anatomical templates. Each returns (468, 3) mesh displacement and (10, 3) iris displacement at
# weight 1, for the subject's Left side where the shape is sided (Right = mirror).

SIGN = {"left": 1.0, "right": -1.0}


def jaw_rotation(mesh: Mesh, degrees: float, forward: float = 0.5) -> np.ndarray:
    """Displacement of a jaw opening: rotation about the condylar hinge axis (x axis through y = 1.0,
    z = -6.0 cm), plus the condyle's forward glide, blended by each vertex's jaw weight."""
    hinge = np.array([0.0, 1.0, -6.0])
    a = np.deg2rad(degrees)
    rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])  # chin down and back
    moved = (mesh.v - hinge) @ rot.T + hinge + np.array([0.0, 0.0, forward])
    return mesh.jaw_weight[:, None] * (moved - mesh.v)


def lid_profile(mesh: Mesh, side: str, which: str) -> tuple[list[int], np.ndarray]:
    """Lid margin vertices without the corners and a 0..1 profile peaking mid-lid."""
    idx = EYE[side][which][1:-1]
    xs = mesh.v[idx, 0]
    c0, c1 = mesh.v[EYE[side]["outer"], 0], mesh.v[EYE[side]["inner"], 0]
    t = (xs - c0) / (c1 - c0)
    return idx, np.sin(np.pi * np.clip(t, 0, 1)) ** 0.7


def lid_target(mesh: Mesh, side: str, frac: float) -> dict[int, np.ndarray]:
    """Handles closing the eye: each upper-lid vertex moves onto the lower lid at the same x, raised by
    `frac` of the gap; the lower lid rises by `frac` of the gap; the corners stay."""
    up, low = EYE[side]["upper"], EYE[side]["lower"]
    lo = mesh.v[low]
    order = np.argsort(lo[:, 0])
    h: dict[int, np.ndarray] = {EYE[side]["outer"]: np.zeros(3), EYE[side]["inner"]: np.zeros(3)}
    for i in up[1:-1]:
        p = mesh.v[i]
        ly = np.interp(p[0], lo[order, 0], lo[order, 1])
        lz = np.interp(p[0], lo[order, 0], lo[order, 2])
        gap = p[1] - ly
        h[i] = np.array([0.0, -(1 - frac) * gap, max(lz - p[2], 0.0) + 0.05 * (1 - frac)])
    up_sorted = mesh.v[up][np.argsort(mesh.v[up][:, 0])]
    for i in low[1:-1]:
        p = mesh.v[i]
        uy = np.interp(p[0], up_sorted[:, 0], up_sorted[:, 1])
        h[i] = np.array([0.0, frac * (uy - p[1]), 0.05])
    return h


def t_eye_blink(mesh, side="left"):
    h = lid_target(mesh, side, 0.18)
    d = mesh.fill(h, radius=1.6, pinned=np.where(mesh.dist(BROW[side]["lower"]) < 0.3)[0])
    return d, np.zeros((10, 3))


def t_eye_wide(mesh, side="left"):
    up, prof = lid_profile(mesh, side, "upper")
    low, lprof = lid_profile(mesh, side, "lower")
    h = {EYE[side]["outer"]: np.zeros(3), EYE[side]["inner"]: np.zeros(3)}
    h.update({i: np.array([0.0, 0.32 * p, 0.05 * p]) for i, p in zip(up, prof, strict=True)})
    h.update({i: np.array([0.0, -0.07 * p, 0.0]) for i, p in zip(low, lprof, strict=True)})
    return mesh.fill(h, radius=1.5, pinned=np.where(mesh.dist(BROW[side]["lower"]) < 0.3)[0]), np.zeros((10, 3))


def t_eye_squint(mesh, side="left"):
    up, prof = lid_profile(mesh, side, "upper")
    low, lprof = lid_profile(mesh, side, "lower")
    h = {EYE[side]["outer"]: np.zeros(3), EYE[side]["inner"]: np.zeros(3)}
    h.update({i: np.array([0.0, -0.08 * p, 0.0]) for i, p in zip(up, prof, strict=True)})
    h.update({i: np.array([0.0, 0.2 * p, 0.06 * p]) for i, p in zip(low, lprof, strict=True)})
    return mesh.fill(h, radius=1.5), np.zeros((10, 3))


def t_eye_look(mesh, side="left", direction="up"):
    s = SIGN[side]
    yaw = {"in": -s * GAZE_DEG["in"], "out": s * GAZE_DEG["out"]}.get(direction, 0.0)
    pitch = {"up": GAZE_DEG["up"], "down": -GAZE_DEG["down"]}.get(direction, 0.0)
    rest = iris_points(mesh.v)
    iris = iris_points(mesh.v, {side: (yaw, pitch)}) - rest
    shift = iris[IRIS[side][0] - 468]  # the iris centre's displacement
    up, prof = lid_profile(mesh, side, "upper")
    low, lprof = lid_profile(mesh, side, "lower")
    h = {EYE[side]["outer"]: np.zeros(3), EYE[side]["inner"]: np.zeros(3)}
    # The upper lid follows vertical gaze closely, the lower lid less; a little horizontal drift.
    fu = 0.55 if shift[1] < 0 else 0.45
    fl = 0.25 if shift[1] < 0 else 0.15
    h.update({i: p * np.array([0.12 * shift[0], fu * shift[1], 0.0]) for i, p in zip(up, prof, strict=True)})
    h.update({i: p * np.array([0.08 * shift[0], fl * shift[1], 0.0]) for i, p in zip(low, lprof, strict=True)})
    return mesh.fill(h, radius=1.2), iris


def lip_side_profile(mesh: Mesh, idx, side: str, peak: float = 1.3, width: float = 1.1) -> np.ndarray:
    """0..1 weight along a lip, peaking at |x| = peak on `side`, zero across the midline."""
    x = mesh.v[idx, 0] * SIGN[side]
    return np.exp(-(((x - peak) / width) ** 2)) * (1 / (1 + np.exp(-x / 0.25)))


def corner_pull(mesh: Mesh, side: str, delta, radius=3.2, pinned_nose=True) -> np.ndarray:
    """The lip corner of `side` displaced by `delta` (x already signed for the side)."""
    h = {i: np.asarray(delta, float) for i in MOUTH_CORNERS[side]}
    for i in MOUTH_CORNERS[side]:  # the corner's immediate neighbours move almost as much
        for j in np.where(mesh.adj[i] > 0)[0]:
            if j not in h and (mesh.upper_lip[j] or mesh.lower_lip[j]):
                h[j] = 0.85 * np.asarray(delta, float)
    pinned = _nose(mesh) if pinned_nose else []
    return mesh.fill(h, radius=radius, pinned=pinned)


def _nose(mesh: Mesh) -> list[int]:
    v = mesh.v
    return list(np.where((np.abs(v[:, 0]) < 1.5) & (v[:, 1] > -1.9) & (v[:, 1] < 3.0) & (v[:, 2] > 5.0))[0])


def t_smile(mesh, side="left"):
    s = SIGN[side]
    d = corner_pull(mesh, side, [0.45 * s, 0.7, -0.3], radius=3.6)
    return d, np.zeros((10, 3))


def t_frown(mesh, side="left"):
    s = SIGN[side]
    d = corner_pull(mesh, side, [0.12 * s, -0.6, -0.05], radius=3.2)
    return d, np.zeros((10, 3))


def t_dimple(mesh, side="left"):
    s = SIGN[side]
    return corner_pull(mesh, side, [0.45 * s, 0.1, -0.4], radius=3.0), np.zeros((10, 3))


def t_stretch(mesh, side="left"):
    s = SIGN[side]
    d = corner_pull(mesh, side, [0.6 * s, -0.3, -0.15], radius=3.4)
    low = np.array(LOWER_LIP_OUTER[1:-1])
    d[low] += lip_side_profile(mesh, low, side)[:, None] * np.array([0.1 * s, -0.12, 0.0])
    return d, np.zeros((10, 3))


def _lip_handles(mesh, items, side=None, peak=1.2, width=1.3) -> dict[int, np.ndarray]:
    """Handles for lip contours: items = [(vertex list, delta)], weighted along the lip for a side."""
    h: dict[int, np.ndarray] = {}
    for idx, delta in items:
        idx = [i for i in idx]
        w = lip_side_profile(mesh, idx, side, peak, width) if side else np.ones(len(idx))
        for i, wi in zip(idx, w, strict=True):
            h[i] = h.get(i, 0) + wi * np.asarray(delta, float)
    return h


def t_press(mesh, side="left"):
    h = _lip_handles(mesh, [(UPPER_LIP_OUTER[1:-1], [0, -0.2, -0.05]), (LOWER_LIP_OUTER[1:-1], [0, 0.22, -0.05]),
                            (UPPER_LIP_INNER[1:-1], [0, -0.12, 0.0]), (LOWER_LIP_INNER[1:-1], [0, 0.12, 0.0])],
                     side, peak=1.1, width=1.2)  # fmt: skip
    for i in MOUTH_CORNERS[side]:
        h[i] = np.array([0.1 * SIGN[side], 0.0, -0.05])
    return mesh.fill(h, radius=2.2, pinned=_nose(mesh)), np.zeros((10, 3))


def t_lower_down(mesh, side="left"):
    items = [(LOWER_LIP_OUTER[1:-1], [0.05 * SIGN[side], -0.5, 0.05]),
             (LOWER_LIP_INNER[1:-1], [0.05 * SIGN[side], -0.45, 0.05])]  # fmt: skip
    h = _lip_handles(mesh, items, side, peak=1.1, width=1.0)
    for i in np.where(mesh.lower_lip)[0]:
        if i not in h:
            h[i] = lip_side_profile(mesh, [i], side, 1.1, 1.0)[0] * np.array([0.05 * SIGN[side], -0.48, 0.05])
    for c in MOUTH_CORNERS[side] + MOUTH_CORNERS["left" if side == "right" else "right"]:
        h[c] = np.zeros(3)
    return mesh.fill(h, radius=2.0), np.zeros((10, 3))


def t_upper_up(mesh, side="left"):
    items = [(UPPER_LIP_OUTER[1:-1], [0.03 * SIGN[side], 0.45, 0.05]),
             (UPPER_LIP_INNER[1:-1], [0.03 * SIGN[side], 0.42, 0.0])]  # fmt: skip
    h = _lip_handles(mesh, items, side, peak=1.0, width=1.0)
    for i in np.where(mesh.upper_lip)[0]:
        if i not in h:
            h[i] = lip_side_profile(mesh, [i], side, 1.0, 1.0)[0] * np.array([0.03 * SIGN[side], 0.44, 0.03])
    for c in MOUTH_CORNERS["left"] + MOUTH_CORNERS["right"]:
        h[c] = np.zeros(3)
    d = mesh.fill(h, radius=2.2, pinned=[i for i in _nose(mesh) if mesh.v[i, 1] > -1.0])
    return d, np.zeros((10, 3))


def t_roll_lower(mesh):
    h = {i: np.array([0, 0.32, -0.3]) for i in LOWER_LIP_OUTER[2:-2]}
    h.update({i: np.array([0, 0.05, -0.25]) for i in LOWER_LIP_INNER[2:-2]})
    for i in np.where(mesh.lower_lip)[0]:
        h.setdefault(int(i), np.array([0, 0.18, -0.28]))
    for c in MOUTH_CORNERS["left"] + MOUTH_CORNERS["right"]:
        h[c] = np.zeros(3)
    return mesh.fill(h, radius=1.6), np.zeros((10, 3))


def t_roll_upper(mesh):
    h = {i: np.array([0, -0.3, -0.3]) for i in UPPER_LIP_OUTER[2:-2]}
    h.update({i: np.array([0, -0.05, -0.25]) for i in UPPER_LIP_INNER[2:-2]})
    for i in np.where(mesh.upper_lip)[0]:
        h.setdefault(int(i), np.array([0, -0.17, -0.28]))
    for c in MOUTH_CORNERS["left"] + MOUTH_CORNERS["right"]:
        h[c] = np.zeros(3)
    return mesh.fill(h, radius=1.6, pinned=_nose(mesh)), np.zeros((10, 3))


def t_shrug_lower(mesh):
    """AU17 (chin raiser): the chin boss and the lower lip push up and forward; the upper lip is pushed
    up a little by the lower one."""
    v = mesh.v
    h = {int(i): np.array([0, 0.3, 0.1]) for i in np.where(mesh.lower_lip)[0]}
    h.update({int(i): np.array([0, 0.12, 0.05]) for i in np.where(mesh.upper_lip)[0]})
    for i in np.where((np.abs(v[:, 0]) < 2.0) & (v[:, 1] < -5.8) & (v[:, 1] > -8.3) & (v[:, 2] > 3.0))[0]:
        h[int(i)] = np.array([0, 0.35, 0.25]) * float(np.exp(-((v[i, 0] / 1.6) ** 2)))
    for c in MOUTH_CORNERS["left"] + MOUTH_CORNERS["right"]:
        h[c] = np.array([0, 0.05, 0])
    return mesh.fill(h, radius=2.0, pinned=_nose(mesh)), np.zeros((10, 3))


def t_shrug_upper(mesh):
    """The upper lip shrugs up and forward in the middle; the lower lip follows, so the lips stay
    together."""
    h = {}
    for i in np.where(mesh.upper_lip | mesh.lower_lip)[0]:
        f = float(np.exp(-((mesh.v[i, 0] / 1.6) ** 2)))
        h[int(i)] = f * (np.array([0, 0.3, 0.1]) if mesh.upper_lip[i] else np.array([0, 0.22, 0.05]))
    for c in MOUTH_CORNERS["left"] + MOUTH_CORNERS["right"]:
        h[c] = np.zeros(3)
    return mesh.fill(h, radius=1.8, pinned=[i for i in _nose(mesh) if mesh.v[i, 1] > -1.3]), np.zeros((10, 3))


def t_funnel(mesh):
    """AU22: the lips flare forward and open into a rounded 'O', the corners come in; the outer
    (vermilion) contours open more than the inner ones, so more lip shows, not less."""
    h: dict[int, np.ndarray] = {}
    for contour, dy in ((UPPER_LIP_INNER, 0.22), (LOWER_LIP_INNER, -0.28), (UPPER_LIP_OUTER, 0.32),
                        (LOWER_LIP_OUTER, -0.38)):  # fmt: skip
        for i in contour[1:-1]:
            x = mesh.v[i, 0]
            h[i] = np.array([-0.3 * x / 2.3, dy * np.cos(x / 2.3 * 1.1), 0.55])
    for side in ("left", "right"):
        for c in MOUTH_CORNERS[side]:
            h[c] = np.array([-0.5 * SIGN[side], 0.0, 0.3])
    return mesh.fill(h, radius=2.6, pinned=_nose(mesh)), np.zeros((10, 3))


def t_pucker(mesh):
    h: dict[int, np.ndarray] = {}
    lips = np.where(mesh.upper_lip | mesh.lower_lip)[0]
    for i in lips:
        x = mesh.v[i, 0]
        h[int(i)] = np.array([-0.32 * x / 2.4, 0.0, 0.55])
    for i in UPPER_LIP_INNER[1:-1]:
        h[i] = h[i] + np.array([0, -0.1, 0])
    for i in LOWER_LIP_INNER[1:-1]:
        h[i] = h[i] + np.array([0, 0.1, 0])
    for side in ("left", "right"):
        for c in MOUTH_CORNERS[side]:
            h[c] = np.array([-0.75 * SIGN[side], 0.0, 0.35])
    return mesh.fill(h, radius=2.8, pinned=_nose(mesh)), np.zeros((10, 3))


def t_mouth_side(mesh, side="left"):
    s = SIGN[side]
    h = {int(i): np.array([0.8 * s, 0.0, -0.05 * s * np.sign(mesh.v[i, 0])])
         for i in np.where(mesh.upper_lip | mesh.lower_lip)[0]}  # fmt: skip
    return mesh.fill(h, radius=2.8, pinned=_nose(mesh)), np.zeros((10, 3))


def t_jaw_open(mesh):
    return jaw_rotation(mesh, JAW_OPEN_DEG), np.zeros((10, 3))


def t_jaw_side(mesh, side="left"):
    """Lateral excursion: the mandible turns about a vertical axis through the working (same-side)
    condyle, so the chin moves sideways ~0.75 cm, the ramus on that side barely, and the other side of
    the jaw comes forward; blended by the jaw weight."""
    s = SIGN[side]
    condyle = np.array([5.0 * s, 0.0, -6.0])
    a = s * 0.75 / (mesh.v[CHIN, 2] - condyle[2])
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    moved = (mesh.v - condyle) @ rot.T + condyle
    return mesh.jaw_weight[:, None] * (moved - mesh.v), np.zeros((10, 3))


def t_jaw_forward(mesh):
    return mesh.jaw_weight[:, None] * np.array([0.0, 0.1, 0.8]), np.zeros((10, 3))


def t_mouth_close(mesh):
    """Lips together on top of jawOpen: the lower lip goes back up by its jawOpen displacement (and the
    upper lip comes down a little); alone it pushes the lower lip into the upper."""
    jaw = jaw_rotation(mesh, JAW_OPEN_DEG)
    gap = float(mesh.v[13, 1] - mesh.v[14, 1]) - 0.05  # the rest gap between the inner lips, closed too
    h = {int(i): -jaw[i] + np.array([0, 0.6 * gap, 0]) for i in np.where(mesh.lower_lip)[0]}
    h.update({int(i): np.array([0, -0.4 * gap, 0]) for i in np.where(mesh.upper_lip)[0]})
    for c in MOUTH_CORNERS["left"] + MOUTH_CORNERS["right"]:
        h[c] = -0.5 * jaw[c]
    return mesh.fill(h, radius=1.8, pinned=_nose(mesh)), np.zeros((10, 3))


def t_brow_down(mesh, side="left"):
    s = SIGN[side]
    b = BROW[side]
    h = {}
    for i in b["upper"] + b["lower"]:
        x = abs(mesh.v[i, 0])
        inner = float(np.clip((5.5 - x) / 4.0, 0.2, 1.0))  # the inner brow moves most
        h[i] = np.array([-0.3 * s * inner, -0.45 * (0.5 + 0.5 * inner), 0.1 * inner])
    h.update({i: np.zeros(3) for i in EYE[side]["upper"] + EYE[side]["lower"]})
    d = mesh.fill(h, radius=2.2, pinned=[i for i in range(mesh.n) if mesh.v[i, 0] * s < -0.3])
    return d, np.zeros((10, 3))


def t_brow_inner_up(mesh):
    h = {}
    for side in ("left", "right"):
        b = BROW[side]
        for i in b["upper"] + b["lower"]:
            x = abs(mesh.v[i, 0])
            inner = float(np.clip((5.5 - x) / 4.0, 0.1, 1.0))
            h[i] = np.array([0.05 * SIGN[side] * inner, 0.6 * inner, 0.0])
        h.update({i: np.zeros(3) for i in EYE[side]["upper"] + EYE[side]["lower"]})
    return mesh.fill(h, radius=3.0), np.zeros((10, 3))


def t_brow_outer_up(mesh, side="left"):
    b = BROW[side]
    h = {}
    for i in b["upper"] + b["lower"]:
        x = abs(mesh.v[i, 0])
        outer = float(np.clip((x - 1.5) / 4.0, 0.05, 1.0))
        h[i] = np.array([0.0, 0.6 * outer, 0.0])
    h.update({i: np.zeros(3) for i in EYE[side]["upper"] + EYE[side]["lower"]})
    return mesh.fill(h, radius=2.6), np.zeros((10, 3))


def t_cheek_puff(mesh):
    """Air in the cheeks: the cheeks and the lower face contour bulge outward and forward, the lips
    close and push forward a little."""
    v = mesh.v
    h = {}
    for side in ("left", "right"):
        s = SIGN[side]
        centre = np.array([5.2 * s, -3.2, 2.5])
        for i in np.where(mesh.near(centre[None], 2.2))[0]:
            f = float(np.exp(-np.sum((v[i] - centre) ** 2) / 1.8**2))
            h[int(i)] = f * np.array([0.55 * s, -0.05, 0.3])
        for i in FACE_OVAL:  # the silhouette of the cheeks
            if v[i, 0] * s > 3.0 and -6.5 < v[i, 1] < 0.5:
                f = float(np.exp(-(((v[i, 1] + 3.0) / 2.2) ** 2)))
                h[i] = f * np.array([0.55 * s, 0.0, 0.1])
        for c in MOUTH_CORNERS[side]:
            h[c] = np.array([-0.1 * s, 0.0, 0.15])
    for i in np.where(mesh.upper_lip | mesh.lower_lip)[0]:
        h.setdefault(int(i), np.array([-0.04 * v[i, 0], 0.0, 0.2]))
    pinned = _nose(mesh) + EYE["left"]["lower"] + EYE["right"]["lower"]
    return mesh.fill(h, radius=2.6, pinned=pinned), np.zeros((10, 3))


def t_cheek_squint(mesh, side="left"):
    s = SIGN[side]
    v = mesh.v
    centre = np.array([3.4 * s, 0.9, 4.2])
    h = {}
    for i in np.where(mesh.near(centre[None], 1.3))[0]:
        if i in EYE[side]["lower"]:
            continue
        f = float(np.exp(-np.sum((v[i] - centre) ** 2) / 1.3**2))
        h[int(i)] = f * np.array([0.04 * s, 0.4, 0.12])
    low, prof = lid_profile(mesh, side, "lower")
    h.update({i: np.array([0, 0.12 * p, 0.03]) for i, p in zip(low, prof, strict=True)})
    h.update({i: np.zeros(3) for i in EYE[side]["upper"]})
    return mesh.fill(h, radius=2.0, pinned=_nose(mesh)), np.zeros((10, 3))


def t_nose_sneer(mesh, side="left"):
    s = SIGN[side]
    v = mesh.v
    h = {}
    centre = np.array([1.5 * s, -0.9, 5.3])  # the nasal ala / nasolabial fold
    for i in np.where(mesh.near(centre[None], 1.0))[0]:
        f = float(np.exp(-np.sum((v[i] - centre) ** 2) / 1.0**2))
        h[int(i)] = f * np.array([0.08 * s, 0.35, 0.05])
    up = [i for i in UPPER_LIP_OUTER[1:-1] if v[i, 0] * s > 0.3]
    h.update({i: np.array([0, 0.12, 0]) * float(np.clip(v[i, 0] * s / 2.0, 0, 1)) for i in up})
    inner_brow = [BROW[side]["lower"][-1], BROW[side]["upper"][-1]]
    h.update({i: np.array([-0.05 * s, -0.15, 0]) for i in inner_brow})
    low, prof = lid_profile(mesh, side, "lower")
    h.update({i: np.array([0, 0.05 * p, 0]) for i, p in zip(low, prof, strict=True)})
    return mesh.fill(h, radius=2.2), np.zeros((10, 3))


JAW_OPEN_DEG = 18.0  # the chin moves ~4 cm at jawOpen = 1: a wide-open mouth (the mandible turns ~25 deg at most)

TEMPLATES = {
    "eyeBlink": t_eye_blink, "eyeWide": t_eye_wide, "eyeSquint": t_eye_squint,
    "eyeLookUp": lambda m, side: t_eye_look(m, side, "up"), "eyeLookDown": lambda m, side: t_eye_look(m, side, "down"),
    "eyeLookIn": lambda m, side: t_eye_look(m, side, "in"), "eyeLookOut": lambda m, side: t_eye_look(m, side, "out"),
    "jawForward": t_jaw_forward, "jaw": t_jaw_side, "jawOpen": t_jaw_open, "mouthClose": t_mouth_close,
    "mouthFunnel": t_funnel, "mouthPucker": t_pucker, "mouth": t_mouth_side,
    "mouthSmile": t_smile, "mouthFrown": t_frown, "mouthDimple": t_dimple, "mouthStretch": t_stretch,
    "mouthRollLower": t_roll_lower, "mouthRollUpper": t_roll_upper,
    "mouthShrugLower": t_shrug_lower, "mouthShrugUpper": t_shrug_upper,
    "mouthPress": t_press, "mouthLowerDown": t_lower_down, "mouthUpperUp": t_upper_up,
    "browDown": t_brow_down, "browInnerUp": t_brow_inner_up, "browOuterUp": t_brow_outer_up,
    "cheekPuff": t_cheek_puff, "cheekSquint": t_cheek_squint, "noseSneer": t_nose_sneer,
}  # fmt: skip


def build_templates(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """(52, 468, 3) and (52, 10, 3) template displacements in ARKit order."""
    basis = np.zeros((52, mesh.n, 3))
    iris = np.zeros((52, 10, 3))
    for k, name in enumerate(ARKIT_NAMES):
        if name == "tongueOut":
            continue
        if name in LEFT_OF:  # Right: mirror of Left, filled in below
            continue
        if name.endswith("Left"):
            base = name[:-4]
            d, i = TEMPLATES[base](mesh, "left")
        else:
            d, i = TEMPLATES[name](mesh)
        basis[k], iris[k] = d, i
    for left, right in PAIRS:
        basis[ARKIT_INDEX[right]] = mesh.mirror_delta(basis[ARKIT_INDEX[left]])
        iris[ARKIT_INDEX[right]] = mirror_iris(iris[ARKIT_INDEX[left]])
    for name in ARKIT_NAMES:  # bilateral shapes: exactly symmetric
        if name not in MIRROR_SHAPE:
            k = ARKIT_INDEX[name]
            basis[k] = 0.5 * (basis[k] + mesh.mirror_delta(basis[k]))
            iris[k] = 0.5 * (iris[k] + mirror_iris(iris[k]))
    return basis, iris


# --------------------------------------------------------------------------------------------------
# 3. Projection, read-back, refinement


def project(points: torch.Tensor) -> torch.Tensor:
    """(..., P, 3) cm -> (..., P, 2) pixels of a 256 px image (pinhole on +z; image y down)."""
    depth = CAMERA_DISTANCE - points[..., 2]
    x = IMAGE_SIZE / 2 + FOCAL_PX * points[..., 0] / depth
    y = IMAGE_SIZE / 2 - FOCAL_PX * points[..., 1] / depth
    return torch.stack([x, y], dim=-1)


class Reader:
    """Poses (N, 468, 3) + (N, 10, 3) -> (N, 52) regressor scores in ARKit order."""

    def __init__(self, regressor: BlendshapeRegressor):
        self.regressor = regressor
        self.subset = torch.tensor(LANDMARK_SUBSET)

    def __call__(self, verts: torch.Tensor, iris: torch.Tensor) -> torch.Tensor:
        pts = torch.cat([verts, iris], dim=1)[:, self.subset]
        return to_arkit(self.regressor(project(pts)))

    def logits(self, verts: torch.Tensor, iris: torch.Tensor) -> torch.Tensor:
        """ARKit-order logits (tongueOut: 0, i.e. a score of 0.5; callers ignore it)."""
        pts = torch.cat([verts, iris], dim=1)[:, self.subset]
        return to_arkit(self.regressor.logits(project(pts)))


def pose_batch(mesh_v, iris_v, basis, iris_basis, jaw_k: int, close_k: int):
    """Each shape at weight 1; mouthClose is posed together with jawOpen."""
    verts = mesh_v[None] + basis
    iris = iris_v[None] + iris_basis
    if len(basis) != len(ARKIT_NAMES):
        return verts, iris
    verts[close_k] = verts[close_k] + basis[jaw_k]
    iris[close_k] = iris[close_k] + iris_basis[jaw_k]
    return verts, iris


def readback(reader: Reader, mesh_v, iris_v, basis, iris_basis) -> np.ndarray:
    jaw_k, close_k = ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]
    with torch.no_grad():
        arrays = (torch.as_tensor(a, dtype=torch.float32) for a in (mesh_v, iris_v, basis, iris_basis))
        verts, iris = pose_batch(*arrays, jaw_k, close_k)
        return reader(verts, iris).numpy()


def refine(mesh: Mesh, reader: Reader, basis: np.ndarray, iris_basis: np.ndarray, neutral: np.ndarray,
           steps: int, log=print) -> np.ndarray:  # fmt: skip
    """Optimise an in-image (x, y) residual of every shape through the regressor; returns the basis."""
    torch.manual_seed(SEED)
    n = mesh.n
    names = list(ARKIT_NAMES)
    jaw_k, close_k, tongue_k = ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"], ARKIT_INDEX["tongueOut"]
    v = torch.tensor(mesh.v, dtype=torch.float32)
    iris_v = torch.tensor(iris_points(mesh.v), dtype=torch.float32)
    template = torch.tensor(basis, dtype=torch.float32)
    iris_t = torch.tensor(iris_basis, dtype=torch.float32)
    lap = torch.tensor(mesh.lap, dtype=torch.float32)
    mirror = torch.tensor(mesh.mirror)
    flip = torch.tensor([-1.0, 1.0, 1.0])

    # Where each shape may change: the template's support, widened smoothly (never the far face).
    mag = np.linalg.norm(basis, axis=-1)  # (52, n)
    dist = np.linalg.norm(mesh.v[:, None] - mesh.v[None], axis=-1)  # (n, n)
    mask = np.zeros((52, n))
    for k in range(52):
        if mag[k].max() == 0:
            continue
        if names[k] in TEMPLATE_ONLY:
            continue
        support = mag[k] > 0.15 * mag[k].max()
        mask[k] = np.exp(-((dist[:, support].min(1) / MASK_WIDTH.get(names[k], 0.8)) ** 2))
    mask_t = torch.tensor(mask, dtype=torch.float32)[..., None]

    # Optimised: Left and bilateral shapes (Right = mirror of Left).
    free = [k for k, nm in enumerate(names) if nm not in LEFT_OF and k != tongue_k]
    right_of = {ARKIT_INDEX[left]: ARKIT_INDEX[right] for left, right in PAIRS}
    bilateral = [k for k in free if names[k] not in MIRROR_SHAPE]
    residual = torch.zeros(52, n, 2, requires_grad=True)
    opt = torch.optim.Adam([residual], lr=0.004)

    target = torch.eye(52)
    base = torch.tensor(np.maximum(neutral, 0.05), dtype=torch.float32)
    # Channels a shape is expected to move too (FACS co-activation): not penalised.
    allowed = torch.zeros(52, 52, dtype=torch.bool)
    for k, nm in enumerate(names):
        for other in COMPANIONS.get(nm, ()):
            allowed[k, ARKIT_INDEX[other]] = True
    max_disp = torch.tensor([MAX_DISPLACEMENT[nm] for nm in names])
    w_lap = torch.tensor([LAPLACIAN_WEIGHT.get(nm, 40.0) for nm in names])
    # Lips that must not part further than at rest (upper-inner / lower-inner pairs at the same x).
    closed = torch.tensor([1.0 if nm in CLOSED_LIPS else 0.0 for nm in names])
    up_i = torch.tensor(UPPER_LIP_INNER[1:-1])
    lo_i = torch.tensor(LOWER_LIP_INNER[1:-1])
    rest_gap = v[up_i, 1] - v[lo_i, 1]
    # Upper lid / lower lid vertex pairs (same position along the lid): never crossing.
    lid_up = torch.tensor([i for e in EYE.values() for i in e["upper"][1:-1]])
    lid_lo = torch.tensor([i for e in EYE.values() for i in e["lower"][1:-1]])
    lid_rest = v[lid_up, 1] - v[lid_lo, 1]
    lid_min = torch.tensor([lid_open_fraction(nm) for nm in names])[:, None] * lid_rest[None]

    def current() -> torch.Tensor:
        r = torch.cat([residual, torch.zeros(52, n, 1)], dim=-1) * mask_t
        d = template + r
        d_m = d[:, mirror] * flip
        sym = torch.zeros(52, 1, 1)
        sym[bilateral] = 1.0
        d = d * (1 - 0.5 * sym) + 0.5 * sym * d_m
        out = d.clone()
        for k, rk in right_of.items():
            out[rk] = d_m[k]
        out[tongue_k] = 0
        return out

    w_target, w_other, w_dev = 1.0, 1.0, 0.3
    for step in range(steps + 1):
        d = current()
        dj = d[jaw_k].detach()
        verts = v[None] + d
        iris = iris_v[None] + iris_t
        verts = torch.cat([verts[:close_k], (verts[close_k] + dj)[None], verts[close_k + 1 :]])
        logits = reader.logits(verts, iris)  # (52, 52)
        scores = torch.sigmoid(logits)
        tgt = torch.diagonal(scores)
        loss_t = torch.nn.functional.softplus(-torch.diagonal(logits))  # -log(score)
        excess = torch.relu(scores - base[None] - 0.05) * (1 - target) * (~allowed)
        loss_o = excess.square().sum(1)
        lap_r = torch.einsum("ij,sjc->sic", lap, residual)
        loss_l = lap_r.square().sum((1, 2))
        loss_d = residual.square().sum((1, 2)) / n
        over = torch.relu(d.norm(dim=-1).amax(1) - max_disp)
        gap = (d[:, up_i, 1] - d[:, lo_i, 1]) + rest_gap
        # mouthClose is posed on top of jawOpen
        gap = torch.cat([gap[:close_k], (gap[close_k] + dj[up_i, 1] - dj[lo_i, 1])[None], gap[close_k + 1 :]])
        loss_c = closed * torch.relu(gap - rest_gap).square().sum(1)
        lid_gap = (v[lid_up, 1] + d[:, lid_up, 1]) - (v[lid_lo, 1] + d[:, lid_lo, 1])
        loss_x = torch.relu(-gap).square().sum(1) + torch.relu(lid_min - lid_gap).square().sum(1)  # no crossing
        loss = (
            w_target * loss_t
            + w_other * loss_o
            + w_lap * loss_l
            + w_dev * loss_d
            + 50 * over.square()
            + 30 * loss_c
            + 300 * loss_x
        )
        loss[tongue_k] = 0
        total = loss.sum()
        if step % 100 == 0 or step == steps:
            log(f"  step {step:4d}: loss {total.item():8.3f}  mean target {tgt[free].mean().item():.3f}")
        if step == steps:
            break
        opt.zero_grad()
        total.backward()
        opt.step()
    with torch.no_grad():
        return current().numpy().astype(np.float64)


# Shapes the regressor does not confirm from any smooth deformation (MediaPipe's model practically never
# outputs cheekPuff, cheekSquint or noseSneer: google-ai-edge/mediapipe issues #4436, #4450; jawForward is
# depth, invisible to a frontal 2D regressor): anatomical template only, no calibration or refinement.
TEMPLATE_ONLY = {"cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "jawForward",
                 "tongueOut"}  # fmt: skip
LAPLACIAN_WEIGHT: dict[str, float] = {}
MASK_WIDTH: dict[str, float] = {}


def lid_open_fraction(name: str) -> float:
    """The least eye opening a shape may leave, as a fraction of the rest opening (lids never cross)."""
    if name.startswith("eyeBlink"):
        return 0.0
    if name.startswith(("eyeSquint", "eyeLookDown")):
        return 0.3
    return 0.6


# Shapes whose lips stay together (no wider than at rest) during the refinement.
CLOSED_LIPS = {"mouthClose", "mouthPucker", "mouthShrugUpper", "mouthShrugLower", "mouthPressLeft", "mouthPressRight",
               "mouthRollLower", "mouthRollUpper", "mouthSmileLeft", "mouthSmileRight", "mouthDimpleLeft",
               "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthLeft", "mouthRight"}  # fmt: skip

# Co-activations that are anatomically expected (not penalised as "other" channels).
COMPANIONS = {
    "mouthSmileLeft": ("cheekSquintLeft", "mouthSmileRight"), "mouthSmileRight": ("cheekSquintRight", "mouthSmileLeft"),
    "eyeBlinkLeft": ("eyeSquintLeft", "eyeBlinkRight", "eyeLookDownLeft"),
    "eyeBlinkRight": ("eyeSquintRight", "eyeBlinkLeft", "eyeLookDownRight"),
    "eyeSquintLeft": ("cheekSquintLeft", "eyeBlinkLeft"), "eyeSquintRight": ("cheekSquintRight", "eyeBlinkRight"),
    "cheekSquintLeft": ("eyeSquintLeft",), "cheekSquintRight": ("eyeSquintRight",),
    "jawOpen": ("mouthLowerDownLeft", "mouthLowerDownRight"),
    "mouthClose": ("jawOpen",),
    "mouthPucker": ("mouthFunnel",), "mouthFunnel": ("mouthPucker", "jawOpen"),
    "browInnerUp": ("browOuterUpLeft", "browOuterUpRight"),
    "noseSneerLeft": ("noseSneerRight", "mouthUpperUpLeft"), "noseSneerRight": ("noseSneerLeft", "mouthUpperUpRight"),
    "mouthUpperUpLeft": ("mouthUpperUpRight",), "mouthUpperUpRight": ("mouthUpperUpLeft",),
    "mouthLowerDownLeft": ("mouthLowerDownRight",), "mouthLowerDownRight": ("mouthLowerDownLeft",),
    "mouthPressLeft": ("mouthPressRight",), "mouthPressRight": ("mouthPressLeft",),
    "eyeLookDownLeft": ("eyeLookDownRight", "eyeBlinkLeft"), "eyeLookDownRight": ("eyeLookDownLeft", "eyeBlinkRight"),
    "eyeLookUpLeft": ("eyeLookUpRight", "eyeWideLeft"), "eyeLookUpRight": ("eyeLookUpLeft", "eyeWideRight"),
}  # fmt: skip


# Magnitude bound per shape (cm, largest vertex displacement). Lids and brows move less than the jaw.
def max_displacement(name: str) -> float:
    if name in ("jawOpen", "mouthClose"):
        return 4.5
    if name.startswith("eyeWide"):
        return 0.65
    if name.startswith("eye"):
        return 0.8
    if name.startswith("browDown"):
        return 0.8
    if name.startswith(("brow", "cheekSquint", "noseSneer", "mouthShrug", "mouthRoll", "mouthPress",
                        "mouthLowerDown", "mouthUpperUp")):  # fmt: skip
        return 1.0
    return 1.2


MAX_DISPLACEMENT = {name: max_displacement(name) for name in ARKIT_NAMES}
CALIBRATION_GRID = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
CALIBRATION_TARGET = 0.8


def calibrate(reader: Reader, mesh: Mesh, iris_v: np.ndarray, template: np.ndarray, iris_basis: np.ndarray,
              log=print) -> np.ndarray:  # fmt: skip
    """A magnitude per shape: the smallest template scale on a grid whose read-back reaches 0.8 within
    the shape's magnitude bound, else the best-reading scale within it. jawOpen is not scaled (its
    hinge angle sets it); Left/Right pairs share one scale."""
    jaw_k = ARKIT_INDEX["jawOpen"]
    grid = np.array(CALIBRATION_GRID)
    scores = np.zeros((len(grid), 52))
    for g, s in enumerate(grid):
        b = template * s
        b[jaw_k] = template[jaw_k]
        scores[g] = np.diagonal(readback(reader, mesh.v, iris_v, b, iris_basis * s))
    mag = np.linalg.norm(template, axis=-1).max(1)
    scales = np.ones(52)
    for k, name in enumerate(ARKIT_NAMES):
        if k == jaw_k or mag[k] == 0 or name in LEFT_OF or name in TEMPLATE_ONLY:
            continue
        sc = scores[:, k]
        if name in MIRROR_SHAPE:
            sc = 0.5 * (sc + scores[:, ARKIT_INDEX[MIRROR_SHAPE[name]]])
        ok = grid * mag[k] <= MAX_DISPLACEMENT[name] + 1e-9
        if not ok.any():
            scales[k] = MAX_DISPLACEMENT[name] / mag[k]
            continue
        reach = np.where(ok & (sc >= CALIBRATION_TARGET))[0]
        g = reach[0] if len(reach) else int(np.where(ok)[0][np.argmax(sc[ok])])
        scales[k] = grid[g]
        if name in MIRROR_SHAPE:
            scales[ARKIT_INDEX[MIRROR_SHAPE[name]]] = grid[g]
    log("calibrated scales: " + ", ".join(f"{n} {scales[k]:g}" for k, n in enumerate(ARKIT_NAMES) if scales[k] != 1))
    return scales


# --------------------------------------------------------------------------------------------------
# Report and contact sheet


def report_table(names, target, half, max_other, other_name, rise, rise_name, template_target, disp) -> str:
    lines = [
        "| # | shape | read-back at 1 | at 0.5 | max other (channel) | largest rise of another channel over "
        "neutral | template only | max disp. cm | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for k, nm in enumerate(names):
        if nm == "tongueOut":
            lines.append(f"| {k} | {nm} | - | - | - | - | - | 0 | not estimated by MediaPipe; zero (no tongue "
                         "in the mesh) |")  # fmt: skip
            continue
        if target[k] > 0.5:
            verdict = "good" if rise[k] < target[k] - 0.1 else "ok (another channel rises as much)"
        else:
            verdict = "weak" + (" (template only)" if nm in TEMPLATE_ONLY else "")
        lines.append(
            f"| {k} | {nm} | {target[k]:.3f} | {half[k]:.3f} | {max_other[k]:.3f} ({other_name[k]}) | "
            f"{rise[k]:+.3f} ({rise_name[k]}) | {template_target[k]:.3f} | {disp[k]:.2f} | {verdict} |"
        )
    return "\n".join(lines)


def draw_face(ax, mesh: Mesh, d: np.ndarray, iris: np.ndarray, edges: bool = False) -> None:
    """Shaded render of the canonical face displaced by `d` (468, 3), irises at `iris` (10, 3), into a
    matplotlib axis in image pixels (the same camera as the read-back). Colour shows the displacement."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    light = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])
    faces = mesh.t
    mouth = set(UPPER_LIP_INNER + LOWER_LIP_INNER)
    mouth_tris = np.array([all(int(i) in mouth for i in t) for t in faces])
    p = mesh.v + d
    pts = project(torch.tensor(p, dtype=torch.float64)).numpy()
    ip = project(torch.tensor(iris, dtype=torch.float64)).numpy()
    tri = p[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    shade = np.clip(normal @ light, 0.05, 1.0)
    heat = np.clip(np.linalg.norm(d, axis=1)[faces].mean(1) / 0.8, 0, 1)
    color = np.stack([0.62 + 0.33 * heat, 0.6 + 0.05 * heat, 0.62 - 0.4 * heat], 1) * shade[:, None]
    color[mesh.opening & ~mouth_tris] = np.array([0.93, 0.93, 0.9])  # sclera
    color[mouth_tris] = np.array([0.3, 0.05, 0.08])  # mouth interior
    order = np.argsort(tri[:, :, 2].mean(1))
    ax.add_collection(PolyCollection(pts[faces][order], facecolors=np.clip(color[order], 0, 1),
                                     edgecolors=(0, 0, 0, 0.25) if edges else "none",
                                     linewidths=0.2))  # fmt: skip
    for side in ("right", "left"):  # irises, clipped to the eye opening
        e = EYE[side]
        lid = np.concatenate([pts[e["upper"]], pts[e["lower"]][::-1]])
        c = ip[IRIS[side][0] - 468]
        rx = np.abs(ip[IRIS[side][1] - 468, 0] - ip[IRIS[side][3] - 468, 0]) / 2
        ry = np.abs(ip[IRIS[side][2] - 468, 1] - ip[IRIS[side][4] - 468, 1]) / 2
        from matplotlib.patches import Ellipse

        iris_patch = Ellipse(c, 2 * rx, 2 * max(rx, ry), color=(0.3, 0.2, 0.12), zorder=3)
        ax.add_patch(iris_patch)
        clip = plt.Polygon(lid, closed=True, transform=ax.transData, fill=False, edgecolor="none")
        ax.add_patch(clip)
        iris_patch.set_clip_path(clip)
        ax.plot(*np.concatenate([lid, lid[:1]]).T, color=(0.1, 0.1, 0.1), lw=0.5, zorder=4)
    for ring in (UPPER_LIP_OUTER, LOWER_LIP_OUTER):
        ax.plot(*pts[ring].T, color=(0.45, 0.1, 0.12), lw=0.6, zorder=4)
    ax.set_aspect("equal")
    ax.set_axis_off()


def render_sheet(path: Path, mesh: Mesh, basis: np.ndarray, iris_v: np.ndarray, iris_basis: np.ndarray,
                 scores: np.ndarray, names: list[str] | None = None, cols: int = 8, crop=None,
                 panel: float = 2.3) -> None:  # fmt: skip
    """Contact sheet: the neutral face and every shape at weight 1 (mouthClose with jawOpen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jaw_k = ARKIT_INDEX["jawOpen"]
    panels = [("neutral", -1)] if names is None else []
    panels += [(nm, ARKIT_INDEX[nm]) for nm in (names or ARKIT_NAMES)]
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * panel, rows * panel * 1.2), dpi=110, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= len(panels):
            continue
        nm, k = panels[i]
        d = np.zeros_like(mesh.v) if k < 0 else basis[k].copy()
        di = np.zeros((10, 3)) if k < 0 else iris_basis[k].copy()
        if nm == "mouthClose":
            d += basis[jaw_k]
            di += iris_basis[jaw_k]
        draw_face(ax, mesh, d, iris_v + di, edges=crop is not None)
        x0, x1, y0, y1 = crop or (20, 236, 14, 236)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y1, y0)
        label = nm if k < 0 else f"{nm}\n{'-' if nm == 'tongueOut' else f'{scores[k, k]:.2f}'}"
        ax.set_title(label, fontsize=8)
    if names is None:
        fig.suptitle("ARKit basis on MediaPipe's canonical face (weight 1; number = regressor read-back; "
                     "mouthClose shown with jawOpen; colour = displacement)", fontsize=10)  # fmt: skip
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    buffer.seek(0)
    # A 256-colour palette keeps the sheet small enough to commit (deterministic: no dithering).
    Image.open(buffer).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "assets" / "models")
    parser.add_argument("--steps", type=int, default=400, help="refinement steps through the regressor")
    parser.add_argument("--no-sheet", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    t0 = time.time()

    vertices, uvs, triangles = load_canonical_mesh()
    assert vertices.shape == (468, 3) and triangles.shape == (898, 3)
    mesh = Mesh(vertices, triangles)
    regressor = BlendshapeRegressor.from_task(TASK)
    for p in regressor.parameters():
        p.requires_grad_(False)
    reader = Reader(regressor)
    iris_v = iris_points(mesh.v)

    neutral = readback(reader, mesh.v, iris_v, np.zeros((1, 468, 3)), np.zeros((1, 10, 3)))[0]
    print("neutral read-back, top:", ", ".join(f"{ARKIT_NAMES[i]} {neutral[i]:.2f}" for i in np.argsort(-neutral)[:4]))

    template, iris_basis = build_templates(mesh)
    template_scores = readback(reader, mesh.v, iris_v, template, iris_basis)
    scales = calibrate(reader, mesh, iris_v, template, iris_basis)
    template = template * scales[:, None, None]
    iris_basis = iris_basis * scales[:, None, None]
    print(f"templates built ({time.time() - t0:.1f} s); refining {args.steps} steps")
    basis = refine(mesh, reader, template, iris_basis, neutral, args.steps) if args.steps else template
    scores = readback(reader, mesh.v, iris_v, basis, iris_basis)

    half = np.diagonal(readback(reader, mesh.v, iris_v, 0.5 * basis, 0.5 * iris_basis)).copy()
    names = list(ARKIT_NAMES)
    jaw_k, close_k, tongue_k = ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"], ARKIT_INDEX["tongueOut"]
    target = np.diagonal(scores).copy()
    others = scores.copy()
    np.fill_diagonal(others, -1)
    others[close_k, jaw_k] = -1  # mouthClose is read in the jawOpen pose: jawOpen there is expected
    others[:, tongue_k] = -1
    max_other = others.max(1)
    other_name = [names[i] for i in others.argmax(1)]
    rises = others - neutral[None]
    rises[others < 0] = -1
    rise = rises.max(1)
    rise_name = [names[i] for i in rises.argmax(1)]
    target[tongue_k] = half[tongue_k] = 0.0
    disp = np.linalg.norm(basis, axis=-1).max(1)
    table = report_table(names, target, half, max_other, other_name, rise, rise_name,
                         np.diagonal(template_scores), disp)  # fmt: skip
    print(table)

    good = [n for k, n in enumerate(names) if target[k] > 0.5 and n != "tongueOut"]
    weak = [n for k, n in enumerate(names) if target[k] <= 0.5 and n != "tongueOut"]
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out / "canonical_face.npz",
        vertices=vertices.astype(np.float32),
        uvs=uvs.astype(np.float32),
        triangles=triangles.astype(np.int32),
        basis=basis.astype(np.float32),
        iris_vertices=iris_v.astype(np.float32),
        iris_basis=iris_basis.astype(np.float32),
        readback_scores=scores.astype(np.float32),
        readback_target=target.astype(np.float32),
        readback_half=half.astype(np.float32),
        readback_max_other=max_other.astype(np.float32),
        neutral_scores=neutral.astype(np.float32),
        template_target=np.diagonal(template_scores).astype(np.float32),
        names=np.array(names),
    )
    md = [
        "# ARKit basis on the canonical face: regressor read-back",
        "",
        "Built by `scripts/build_arkit_basis.py` (deterministic; rerun it to regenerate this file, "
        "`canonical_face.npz` and `arkit_basis_sheet.png`). Each shape is posed on MediaPipe's canonical "
        "face (mouthClose together with jawOpen), projected by a frontal pinhole camera into a "
        f"{IMAGE_SIZE} px image, and read by the PyTorch rebuild of MediaPipe's blendshape regressor "
        "(`recognition/nets/blendshape_regressor.py`, equal to LiteRT within 1e-5).",
        "",
        "Columns: the shape's own score at weight 1 and 0.5; the largest other channel (at rest the "
        "canonical face already reads "
        + ", ".join(f"{names[i]} {neutral[i]:.2f}" for i in np.argsort(-neutral)[:4])
        + ", because its eyes are narrower than the regressor's neutral); the largest rise of another "
        "channel over that neutral read-back; the read-back of the anatomical template before calibration "
        "and refinement; the largest vertex displacement. Verdict: good = read-back > 0.5 and no other "
        "channel rises within 0.1 of it; ok = > 0.5 but another channel rises as much; weak = <= 0.5.",
        "",
        table,
        "",
        f"Read back > 0.5: {len(good)} of 51 estimated shapes. Weak (<= 0.5): {', '.join(weak) or 'none'}.",
        "",
        "Weak, and why: cheekPuff, cheekSquintLeft/Right and noseSneerLeft/Right stay at 0.000 for every "
        "smooth deformation tried (a free, low-smoothness refinement only raised other channels); the "
        "regressor's 146 input points include no cheek-surface or nasal-ala points, and MediaPipe's model is "
        "known to practically never output these channels (google-ai-edge/mediapipe issues #4436, #4450). "
        "jawForward is a depth motion, invisible to a regressor that reads 2D points of a frontal face. "
        "These keep their anatomical templates unrefined. mouthFunnel reads about 0.5 and always together "
        "with a higher mouthPucker: the regressor couples the two. tongueOut is zero: the mesh has no tongue.",
        "",
        "Caveat: the regressor sees only the 2D positions of 146 landmarks; a high read-back means the "
        "landmarks look like the expression to MediaPipe, not that a rendered or warped photo will (a warp "
        "cannot close an eye or open a mouth; judge those by re-detecting rendered frames).",
    ]
    (args.out / "arkit_basis_report.md").write_text("\n".join(md) + "\n")
    if not args.no_sheet:
        render_sheet(args.out / "arkit_basis_sheet.png", mesh, basis, iris_v, iris_basis, scores)
    print(f"read back > 0.5: {len(good)}/51; weak: {', '.join(weak) or 'none'}")
    print(f"wrote {args.out / 'canonical_face.npz'} in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
